package kv

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Range calls fn for every entry in the table that has not expired, one
// shard at a time, until fn returns false. Each shard is copied out whole
// (a consistent snapshot of that shard) before fn sees any of it, and fn is
// never called under a lock, so it may use the table. Every key present
// for the whole call is seen at least once; no key deleted before the call
// is seen. key and value are valid only until fn returns. Damage is
// skipped, never silently: entries that fail their checksum, and a shard
// that cannot be read at all (its extent word damaged, say), are left
// out, the other entries and shards are visited, and Range then returns
// an error matching ErrCorrupt that says what it skipped.
func (t *Table) Range(fn func(key, value []byte) bool) (err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if t.closed.Load() {
		return ErrClosed
	}
	var snap snapshot
	now := t.now().UnixNano()
	damaged := 0
	var lost []int // shards skipped whole
	var lostErr error
	// One wait for all the shards (snapshotReadOnly).
	deadline := time.Now().Add(min(livenessBound, t.lockTimeout))
	for i := range t.shards {
		if err := t.snapshotShard(&t.shards[i], &snap, now, deadline); errors.Is(err, ErrCorrupt) {
			// What snap holds is a failed copy's: none of it is seen.
			lost, lostErr = append(lost, i), err
			continue
		} else if err != nil {
			return err
		}
		damaged += snap.damaged
		for _, e := range snap.entries {
			if !fn(snap.buf[e.key:e.value:e.value], snap.buf[e.value:e.end:e.end]) {
				return nil
			}
		}
	}
	switch {
	case len(lost) > 0:
		return fmt.Errorf("%w: shards %v unreadable and skipped (%v), %d damaged entries skipped; 'shmkv check' says why", ErrCorrupt, lost, lostErr, damaged)
	case damaged > 0:
		return fmt.Errorf("%w: %d damaged entries skipped; 'shmkv check --repair' drops them", ErrCorrupt, damaged)
	}
	return nil
}

// snapshot is one shard's live entries, copied out.
type snapshot struct {
	buf     []byte
	entries []snapEntry
	damaged int // entries left out because they fail their checksum
}

type snapEntry struct{ key, value, end int }

// snapshotShard copies s's live entries into snap: optimistically first,
// then under the lock into space sized beforehand, since nothing allocates
// under a lock.
func (t *Table) snapshotShard(s *shard, snap *snapshot, now int64, deadline time.Time) error {
	for range readRetries {
		if s.copyLive(snap, copyOptimistic, now) {
			return nil
		}
	}
	if t.readOnly {
		return t.snapshotReadOnly(s, snap, now, deadline)
	}
	// Room is sized from the shard's counters, clamped to what its extent
	// can hold: they come from shared memory and may be garbage, in which
	// case the locked shard is rebuilt, which recounts them. Writers may
	// fill or grow the shard between sizing and locking; after the first
	// try, room is sized for its whole extent, and a try that found the
	// shard grown again sizes once more.
	for attempt := 0; ; attempt++ {
		v, _ := s.view()
		bytes, entries := uint64(v.size), uint64(v.keyCap)
		if attempt == 0 {
			bytes = min(s.ctlLoad(ctlLiveBytes)+s.ctlLoad(ctlLiveBytes)/4, bytes)
			entries = min(s.ctlLoad(ctlLiveEntries)+s.ctlLoad(ctlLiveEntries)/4, entries)
		}
		snap.reserve(int(bytes), int(entries))
		if err := t.lockShard(s); err != nil {
			return err
		}
		v, ok := s.view()
		if ok && (s.ctlLoad(ctlLiveBytes) > uint64(v.size) || s.ctlLoad(ctlLiveEntries) > uint64(v.keyCap)) {
			ok = t.repair(s) == nil
		}
		if !ok {
			t.unlock(s)
			return ErrCorrupt
		}
		fits := s.ctlLoad(ctlLiveBytes) <= uint64(cap(snap.buf)) && s.ctlLoad(ctlLiveEntries) <= uint64(cap(snap.entries))
		ok = fits && s.copyLive(snap, copyLocked, now)
		if !ok && fits {
			// The index disagrees with the counters or the log.
			if t.repair(s) == nil {
				ok = s.copyLive(snap, copyLocked, now)
			}
		}
		t.unlock(s)
		switch {
		case ok:
			return nil
		case fits && attempt > 2, attempt > 16:
			return ErrCorrupt
		}
	}
}

// snapshotReadOnly is snapshotShard for a read-only handle, which may not
// lock: as getReadOnly, it reads around a writer that is provably dead, or
// that has held the shard past the deadline (one for the whole Range), or
// a shard that keeps failing with no writer at all, and then takes entries
// that fail their checksum for damage.
func (t *Table) snapshotReadOnly(s *shard, snap *snapshot, now int64, deadline time.Time) error {
	for tries := 0; ; tries++ {
		w := loadLockWord(s)
		owner := ownerLive
		if w != 0 {
			owner = t.probeOwner(w)
		}
		// With no writer at work, a copy that keeps failing will not
		// succeed by waiting.
		late := time.Now().After(deadline) || (w == 0 && tries >= 3)
		if late || owner == ownerDead {
			if s.copyLive(snap, copyDirty, now) {
				return nil
			}
			switch {
			case owner == ownerDead:
				return ErrOwnerDead
			case w == 0:
				return fmt.Errorf("%w: shard unreadable with no writer at work; 'shmkv check' says why", ErrCorrupt)
			}
			return ErrLockTimeout
		}
		if s.copyLive(snap, copyOptimistic, now) {
			return nil
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func (snap *snapshot) reserve(bytes, entries int) {
	if cap(snap.buf) < bytes {
		snap.buf = make([]byte, 0, bytes)
	}
	if cap(snap.entries) < entries {
		snap.entries = make([]snapEntry, 0, entries)
	}
}

// copyMode is how copyLive reads.
type copyMode int

const (
	copyOptimistic copyMode = iota // under the sequence counter; any checksum failure is a race
	copyLocked                     // under the lock: a checksum failure is damage, skipped
	copyDirty                      // around a stuck counter (getReadOnly): likewise
)

// copyLive copies every live entry of s into snap and reports whether the
// copy is consistent. Under the lock it must not allocate: the caller has
// reserved room for the live bytes (which bound keys plus values) and
// entries.
func (s *shard) copyLive(snap *snapshot, mode copyMode, now int64) bool {
	snap.buf, snap.entries, snap.damaged = snap.buf[:0], snap.entries[:0], 0
	seq := s.ctlLoad(ctlSeq)
	if (seq&1 != 0 && mode != copyDirty) || s.ctlLoad(ctlFlags) != 0 {
		return false
	}
	// As in tryGet: the extent after the counter.
	v, ok := s.view()
	if !ok {
		return false
	}
	s = &v
	for i := range s.mask + 1 {
		v := s.slot(i)
		if v == slotEmpty || v == slotTombstone {
			continue
		}
		off, ok := s.slotOffset(v)
		if !ok {
			return false
		}
		e, ok := s.loadHeader(off)
		if !ok || e.state != entryLive {
			return false
		}
		if isExpired(&e, now) {
			continue
		}
		if mode == copyLocked && (len(snap.buf)+e.klen+e.vlen > cap(snap.buf) || len(snap.entries) == cap(snap.entries)) {
			return false
		}
		k := len(snap.buf)
		snap.buf = s.appendAt(snap.buf, e.keyAt(off), e.klen+e.vlen)
		kv := snap.buf[k:]
		sum := entryChecksum(hashKey(s.seed, kv[:e.klen]), e.head, e.expires, xxhash.Sum64(kv[e.klen:]))
		if sum != e.checksum {
			if mode == copyOptimistic {
				return false
			}
			snap.buf = snap.buf[:k]
			snap.damaged++
			continue
		}
		snap.entries = append(snap.entries, snapEntry{key: k, value: k + e.klen, end: len(snap.buf)})
	}
	if mode == copyDirty {
		return s.ctlLoad(ctlFlags) == 0 && s.ctlLoad(ctlExtent) == v.ext.word()
	}
	return s.ctlLoad(ctlSeq) == seq
}
