package kv

import (
	"runtime/debug"

	"github.com/cespare/xxhash/v2"
)

// Range calls fn for every entry in the table that has not expired, one
// shard at a time, until fn returns false. Each shard is copied out whole (a consistent snapshot of
// that shard) before fn sees any of it, and fn is never called under a
// lock, so it may use the table. Every key present for the whole call is
// seen at least once; no key deleted before the call is seen. key and value
// are valid only until fn returns.
func (t *Table) Range(fn func(key, value []byte) bool) (err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if t.closed.Load() {
		return ErrClosed
	}
	var snap snapshot
	now := t.now().UnixNano()
	for i := range t.shards {
		if err := t.snapshotShard(&t.shards[i], &snap, now); err != nil {
			return err
		}
		for _, e := range snap.entries {
			if !fn(snap.buf[e.key:e.value:e.value], snap.buf[e.value:e.end:e.end]) {
				return nil
			}
		}
	}
	return nil
}

// snapshot is one shard's live entries, copied out.
type snapshot struct {
	buf     []byte
	entries []snapEntry
}

type snapEntry struct{ key, value, end int }

// snapshotShard copies s's live entries into snap: optimistically first,
// then under the lock into space sized beforehand, since nothing allocates
// under a lock.
func (t *Table) snapshotShard(s *shard, snap *snapshot, now int64) error {
	for range readRetries {
		if s.copyLive(snap, false, now) {
			return nil
		}
	}
	if t.readOnly {
		for range readRetries * 100 {
			if s.copyLive(snap, false, now) {
				return nil
			}
		}
		return ErrLockTimeout
	}
	// Room is sized from the shard's counters, clamped to what the shard
	// can hold: they come from shared memory and may be garbage, in which
	// case the locked shard is rebuilt, which recounts them.
	for attempt := 0; ; attempt++ {
		bytes := min(s.ctlLoad(ctlLiveBytes), uint64(s.size))
		entries := min(s.ctlLoad(ctlLiveEntries), uint64(s.keyCap))
		snap.reserve(int(bytes), int(entries))
		if err := t.lockShard(s); err != nil {
			return err
		}
		if s.ctlLoad(ctlLiveBytes) > uint64(s.size) || s.ctlLoad(ctlLiveEntries) > uint64(s.keyCap) {
			if err := t.repair(s); err != nil {
				t.unlock(s)
				return err
			}
		}
		fits := s.ctlLoad(ctlLiveBytes) <= uint64(cap(snap.buf)) && s.ctlLoad(ctlLiveEntries) <= uint64(cap(snap.entries))
		ok := fits && s.copyLive(snap, true, now)
		if !ok && fits {
			// The index disagrees with the counters or the log.
			if t.repair(s) == nil {
				ok = s.copyLive(snap, true, now)
			}
		}
		t.unlock(s)
		switch {
		case ok:
			return nil
		case attempt > 2:
			return ErrCorrupt
		}
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

// copyLive copies every live entry of s into snap and reports whether the
// copy is consistent. Under the lock it must not allocate: the caller has
// reserved room for the live bytes (which bound keys plus values) and
// entries.
func (s *shard) copyLive(snap *snapshot, locked bool, now int64) bool {
	snap.buf, snap.entries = snap.buf[:0], snap.entries[:0]
	seq := s.ctlLoad(ctlSeq)
	if seq&1 != 0 || s.ctlLoad(ctlFlags) != 0 {
		return false
	}
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
		if locked && (len(snap.buf)+e.klen+e.vlen > cap(snap.buf) || len(snap.entries) == cap(snap.entries)) {
			return false
		}
		k := len(snap.buf)
		snap.buf = s.appendAt(snap.buf, off+entryHeaderSize, e.klen+e.vlen)
		kv := snap.buf[k:]
		sum := entryChecksum(hashKey(s.seed, kv[:e.klen]), e.klen, e.vlen, e.version, e.expires, xxhash.Sum64(kv[e.klen:]))
		if sum != e.checksum {
			return false
		}
		snap.entries = append(snap.entries, snapEntry{key: k, value: k + e.klen, end: len(snap.buf)})
	}
	return s.ctlLoad(ctlSeq) == seq
}
