package kv

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/region"
)

// Range calls fn for every entry in the table that has not expired, one
// shard at a time, until fn returns false. Each shard is copied out whole
// (a consistent snapshot of that shard; beside a writer stopped or dead
// mid-write, the shard as that writer left it, its write there or not)
// before fn sees any of it, and fn is never called under a lock, so it
// may use the table, writes included. It does not wait for writers, and
// fails as Get does only where a shard's index cannot be read: then it
// stops there, with ErrLockTimeout or ErrOwnerDead. Every key present for
// the whole call is seen once; no key deleted before the call is seen;
// a key written or deleted during the call is seen as its shard was when
// copied. key and value are copies, valid only until fn returns. Damage
// is skipped, never silently: entries that fail their checksum, and a
// shard that cannot be read at all (its extent word damaged, say), are
// left out, the other entries and shards are visited, and Range then
// returns an error matching ErrCorrupt that says what it skipped, also
// when fn stopped it after the damage was skipped.
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
	// One bound for all the shards on how long writers may keep a read
	// out (around.go).
	deadline := time.Now().Add(min(livenessBound, t.lockTimeout))
	// Shard by shard, in the order of their classes: a split during the
	// call moves classes from a shard to a higher-numbered one, so each
	// class is visited once, with the shard that holds it when its turn
	// comes, and seen remembers the classes a snapshot covered. The
	// classes a snapshot covers are those of its shard at its extent's
	// depth; two shards' ever overlap only where one split into the
	// other, after which the one that split no longer covers the other's.
	var seen [format.MaxShards / 64]uint64
	for class := 0; class < len(t.shards); {
		if seen[class/64]&(1<<(class%64)) != 0 {
			class++
			continue
		}
		i, ok := t.walk(t.shards[class].classHash())
		if !ok {
			// Shard i, on the way to the class, is unreadable: its
			// classes, and its buddies', are skipped and it is named.
			if !slices.Contains(lost, i) {
				lost, lostErr = append(lost, i), errUnreadable
			}
			seen[class/64] |= 1 << (class % 64)
			continue
		}
		if err := t.snapshotShard(&t.shards[i], &snap, now, deadline); errors.Is(err, ErrCorrupt) {
			// What snap holds is a failed copy's: none of it is seen.
			lost, lostErr = append(lost, i), err
			seen[class/64] |= 1 << (class % 64)
			continue
		} else if err != nil {
			return err
		}
		for c := i; c < len(t.shards); c += 1 << snap.depth {
			seen[c/64] |= 1 << (c % 64)
		}
		damaged += snap.damaged
		// The bound is on waiting for writers: the time fn takes does
		// not count against it.
		start := time.Now()
		if !t.visit(&snap, fn) {
			break
		}
		deadline = deadline.Add(time.Since(start))
	}
	switch {
	case len(lost) > 0:
		cause := strings.TrimPrefix(lostErr.Error(), ErrCorrupt.Error()+": ")
		return fmt.Errorf("%w: shards %v unreadable and skipped (%s), %d damaged entries skipped; 'shmkv check' says why", ErrCorrupt, lost, cause, damaged)
	case damaged > 0:
		return fmt.Errorf("%w: %d damaged entries skipped; 'shmkv check --repair' drops them", ErrCorrupt, damaged)
	}
	return nil
}

// visit calls fn for each entry of snap, until fn returns false, which it
// reports. fn is the caller's code, and touches no shared memory through
// Range: it runs with the caller's own fault mode, so that a fault of its
// own is not taken for the table's (see guard).
func (t *Table) visit(snap *snapshot, fn func(key, value []byte) bool) bool {
	prev := debug.SetPanicOnFault(false)
	defer debug.SetPanicOnFault(prev)
	for _, e := range snap.entries {
		if !fn(snap.buf[e.key:e.value:e.value], snap.buf[e.value:e.end:e.end]) {
			return false
		}
	}
	return true
}

// All returns an iterator over every entry in the table that has not
// expired: Range as a range-over-func sequence, with its guarantees (one
// shard's snapshot at a time; every key present throughout seen once;
// the loop body runs under no lock and may use the table, writes
// included).
//
// key and value are copies, valid until the loop body's next iteration
// begins: a slice kept past it must be copied (bytes.Clone).
//
// An iterator cannot return an error, so All reports its own through err,
// which it sets after the last iteration of every range over it, a break
// included: nil, or what Range would return. A shard's damage is skipped
// and the loop goes on through the rest of the table; *err then matches
// ErrCorrupt and says what was skipped (also after a break, for damage
// met before it). A shard whose index cannot be read ends the loop there,
// with ErrLockTimeout or ErrOwnerDead, and a closed table ends it at once
// with ErrClosed. err may be nil to ignore the error, a choice to make
// knowingly: the loop then cannot tell a table it saw whole from one it
// did not.
//
//	var err error
//	for key, value := range t.All(&err) {
//		...
//	}
//	if err != nil {
//		...
//	}
func (t *Table) All(err *error) iter.Seq2[[]byte, []byte] {
	return func(yield func(key, value []byte) bool) {
		e := t.Range(yield)
		if err != nil {
			*err = e
		}
	}
}

// Keys returns an iterator over the keys in the table that begin with
// prefix (every key, for an empty prefix), as All visits them, and reports
// its error through err as All does. A table is not ordered: a prefix
// saves no work, every entry is visited. For the values of those keys,
// range over All and test the key with bytes.HasPrefix.
func (t *Table) Keys(prefix []byte, err *error) iter.Seq[[]byte] {
	return func(yield func(key []byte) bool) {
		e := t.Range(func(key, _ []byte) bool {
			return !bytes.HasPrefix(key, prefix) || yield(key)
		})
		if err != nil {
			*err = e
		}
	}
}

// snapshot is one shard's live entries, copied out.
type snapshot struct {
	buf     []byte
	entries []snapEntry
	damaged int // entries left out because they fail their checksum
	depth   int // of the extent copied: the classes it holds (split.go)
}

type snapEntry struct{ key, value, end int }

// snapshotShard copies s's live entries into snap: optimistically first,
// then by the ladder of around.go: around a writer that holds the shard
// still, or under the lock where a read-write handle must recover the
// shard first. A read around that finds damage takes it for damage only
// when it finds it three times, as getAround does.
func (t *Table) snapshotShard(s *shard, snap *snapshot, now int64, deadline time.Time) error {
	for range readRetries {
		if s.copyLive(snap, copyOptimistic, now) {
			return nil
		}
	}
	a := t.around(s, deadline)
	damaged, locked := 0, 0
	for {
		if !t.readOnly {
			// next may take the lock, and nothing allocates under one.
			snap.sizeFor(s, locked)
		}
		mv, err := a.next()
		if err != nil {
			return err
		}
		switch mv {
		case moveWait:
			if s.copyLive(snap, copyOptimistic, now) {
				return nil
			}
		case moveAround:
			if s.copyLive(snap, copyDirty, now) {
				if snap.damaged == 0 {
					return nil
				}
				if damaged++; damaged >= 3 {
					return nil
				}
				continue
			}
			if err := a.failed(); err != nil {
				return err
			}
		case moveLocked:
			if done, err := t.snapshotLocked(s, snap, now, locked); done || err != nil {
				return err
			}
			locked++
		}
	}
}

// sizeFor reserves room for a copy of s under the lock, the attempt-th.
// Room is sized from the shard's counters, clamped to what its extent can
// hold: they come from shared memory and may be garbage, in which case the
// locked shard is rebuilt, which recounts them. Writers may fill or grow
// the shard between sizing and locking; after the first try, room is sized
// for its whole extent, and a try that found the shard grown again sizes
// once more.
func (snap *snapshot) sizeFor(s *shard, attempt int) {
	v, _ := s.view()
	bytes, entries := uint64(v.size), uint64(v.keyCap)
	if attempt == 0 {
		bytes = min(s.ctlLoad(format.CtlLiveBytes)+s.ctlLoad(format.CtlLiveBytes)/4, bytes)
		entries = min(s.ctlLoad(format.CtlLiveEntries)+s.ctlLoad(format.CtlLiveEntries)/4, entries)
	}
	snap.reserve(int(bytes), int(entries))
}

// snapshotLocked copies s, which this read has locked and readied, into
// snap, sized by sizeFor for the attempt-th time, and unlocks it. It
// reports whether it is done, or why it cannot be: false and no error
// asks for another attempt with more room.
func (t *Table) snapshotLocked(s *shard, snap *snapshot, now int64, attempt int) (bool, error) {
	v, ok := s.view()
	if ok && (s.ctlLoad(format.CtlLiveBytes) > uint64(v.size) || s.ctlLoad(format.CtlLiveEntries) > uint64(v.keyCap)) {
		ok = t.recoverLocked(s) == nil
	}
	if !ok {
		t.unlock(s)
		return false, ErrCorrupt
	}
	fits := s.ctlLoad(format.CtlLiveBytes) <= uint64(cap(snap.buf)) && s.ctlLoad(format.CtlLiveEntries) <= uint64(cap(snap.entries))
	ok = fits && s.copyLive(snap, copyLocked, now)
	if !ok && fits {
		// The index disagrees with the counters or the log.
		if t.recoverLocked(s) == nil {
			ok = s.copyLive(snap, copyLocked, now)
		}
	}
	t.unlock(s)
	switch {
	case ok:
		return true, nil
	case fits && attempt > 2, attempt > 16:
		return false, ErrCorrupt
	}
	return false, nil
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
	copyDirty                      // around a writer (around.go): likewise, and the counter must hold still
)

// copyLive copies every live entry of s into snap and reports whether the
// copy is consistent. Under the lock it must not allocate: the caller has
// reserved room for the live bytes (which bound keys plus values) and
// entries.
func (s *shard) copyLive(snap *snapshot, mode copyMode, now int64) bool {
	snap.buf, snap.entries, snap.damaged = snap.buf[:0], snap.entries[:0], 0
	seq := s.ctlLoad(format.CtlSeq)
	if (seq&1 != 0 && mode != copyDirty) || s.ctlLoad(format.CtlFlags) != 0 {
		return false
	}
	// As in tryGet: the extent after the counter.
	cur, ok := s.view()
	if !ok {
		return false
	}
	snap.depth = cur.depth
	for i := range cur.mask + 1 {
		v := cur.slot(i)
		if v == format.SlotEmpty || v == format.SlotTombstone {
			continue
		}
		off, ok := cur.slotOffset(v)
		if !ok {
			return false
		}
		e, ok := cur.loadHeader(off)
		if ok && mode == copyDirty && e.state == format.EntryDead && cur.slot(i)&^format.SlotReferenced == v&^format.SlotReferenced {
			continue // a key removed, its slot not cleared yet (tryGet)
		}
		if !ok || e.state != format.EntryLive {
			return false
		}
		if isExpired(&e, now) {
			continue
		}
		if mode == copyLocked && (len(snap.buf)+e.klen+e.vlen > cap(snap.buf) || len(snap.entries) == cap(snap.entries)) {
			return false
		}
		k := len(snap.buf)
		snap.buf = cur.appendAt(snap.buf, e.keyAt(off), e.klen+e.vlen)
		kv := snap.buf[k:]
		sum := format.EntryChecksum(format.HashKey(cur.seed, kv[:e.klen]), e.head, e.expires, xxhash.Sum64(kv[e.klen:]))
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
	region.LoadFence() // the copy's loads before the counter's
	if mode == copyDirty && (cur.ctlLoad(format.CtlFlags) != 0 || cur.ctlLoad(format.CtlExtent) != cur.ext.Word()) {
		return false
	}
	return cur.ctlLoad(format.CtlSeq) == seq
}
