package kv

import (
	"runtime"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Lock-free reads: a seqlock per shard.
//
// Writers (write.go) hold the shard lock and bracket every change with two
// atomic increments of the shard's sequence counter, so it is odd while a
// change is under way. A reader loads the counter, gives up at once if it is
// odd or the shard is flagged for rebuild, probes the index and copies the
// entry out through atomic 8-byte loads, then checks the entry's checksum
// against the bytes it copied and loads the counter again. It accepts the
// result only if the checksum matches and the counter is unchanged;
// otherwise it retries, and after readRetries attempts takes the lock.
//
// Why this is correct on amd64 and arm64, under the Go memory model and not
// only under x86's strong ordering:
//   - Every load of the region by a reader, and every increment of the
//     counter by a writer, is a sync/atomic operation. Go's atomics are
//     sequentially consistent with one another, so if a reader's copy saw
//     any word that a write section stored atomically (slot words, head,
//     state words), its second counter load is ordered after that section's
//     first increment and sees the counter changed.
//   - The entry bytes themselves are written with plain copies, whose order
//     relative to the counter Go does not promise to other processes. That
//     gap is closed by the checksum, not by ordering: an entry's bytes are
//     never changed while it is in the log, and space is reused only after
//     the tail has passed it, so a reader that raced with a reuse copies a
//     mix of old and new bytes, and that mix fails the checksum (xxhash64,
//     a 2^-64 chance of passing). A copy that passes is a whole entry that
//     was at that slot while the counter stayed even.
//   - Every offset and length read from the region is checked against the
//     shard's limits before use (loadHeader, slotOffset), and probes are
//     bounded by the slot count, so a torn or hostile word leads to a retry
//     or an error, never to a read out of bounds or an endless loop.
//
// A reader never writes to shared memory: a reader killed mid-read leaves
// nothing behind, and readers in different processes do not contend.
const readRetries = 32

// tryGet is one optimistic read. ok is false when the read raced with a
// writer (or met garbage) and must be retried; out then still has dst's
// contents, in a buffer that may have grown. An entry that has expired by
// the clock is not found; the clock is read only for entries that can
// expire. expires is the found entry's expiry time. With mark, a hit in an
// lru table is recorded as a use (evict.go).
func (s *shard) tryGet(dst, key []byte, h uint64, clock func() time.Time, mark bool) (out []byte, expires uint64, found, ok bool) {
	seq := s.ctlLoad(ctlSeq)
	if seq&1 != 0 || s.ctlLoad(ctlFlags) != 0 {
		return dst, 0, false, false
	}
	tag := tagOf(h)
	i := h & s.mask
	for range s.mask + 1 {
		v := s.slot(i)
		if v == slotEmpty {
			break
		}
		if v != slotTombstone && uint32(v>>32) == tag {
			off, valid := s.slotOffset(v)
			if !valid {
				return dst, 0, false, false
			}
			e, valid := s.loadHeader(off)
			if !valid {
				return dst, 0, false, false
			}
			if e.klen == len(key) && s.equalAt(off+entryHeaderSize, key) {
				if e.state != entryLive {
					return dst, 0, false, false
				}
				if e.expires != 0 && isExpired(&e, clock().UnixNano()) {
					return dst, 0, false, s.ctlLoad(ctlSeq) == seq
				}
				n := len(dst)
				out = s.appendAt(dst, off+entryHeaderSize+int64(e.klen), e.vlen)
				if entryChecksum(h, e.klen, e.vlen, e.version, e.expires, xxhash.Sum64(out[n:])) != e.checksum ||
					s.ctlLoad(ctlSeq) != seq {
					return out[:n], 0, false, false
				}
				if mark && s.evict {
					s.markReferenced(i, v)
				}
				return out, e.expires, true, true
			}
		}
		i = (i + 1) & s.mask
	}
	return dst, 0, false, s.ctlLoad(ctlSeq) == seq
}

// get reads key from shard s: optimistically, then under the lock. It
// also returns the entry's expiry time.
func (t *Table) get(s *shard, c *readCounters, dst, key []byte, h uint64) ([]byte, uint64, bool, error) {
	mark := !t.readOnly
	for attempt := range readRetries {
		out, expires, found, ok := s.tryGet(dst, key, h, t.now, mark)
		if ok {
			return out, expires, found, c.count(found)
		}
		dst = out
		c.retries.Add(1)
		if attempt > 2 {
			runtime.Gosched()
		}
	}
	if t.readOnly {
		return t.getWaiting(s, c, dst, key, h)
	}
	if err := t.lockShard(s); err != nil {
		return dst, 0, false, err
	}
	defer t.unlock(s)
	out, expires, found, ok := s.tryGet(dst, key, h, t.now, mark)
	if !ok {
		if err := t.repair(s); err != nil {
			return dst, 0, false, err
		}
		if out, expires, found, ok = s.tryGet(out, key, h, t.now, mark); !ok {
			return dst, 0, false, ErrCorrupt
		}
	}
	return out, expires, found, c.count(found)
}

// count records a read's outcome; it returns nil so that a caller can
// count and return in one statement.
func (c *readCounters) count(found bool) error {
	if found {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return nil
}

// getWaiting is the fallback of a read-only handle, which may not write the
// lock word: it keeps retrying, sleeping between tries, until LockTimeout.
// A writer that died holding the lock is recovered by the next read-write
// user of the shard.
func (t *Table) getWaiting(s *shard, c *readCounters, dst, key []byte, h uint64) ([]byte, uint64, bool, error) {
	deadline := time.Now().Add(t.lockTimeout)
	for time.Now().Before(deadline) {
		out, expires, found, ok := s.tryGet(dst, key, h, t.now, false)
		if ok {
			return out, expires, found, c.count(found)
		}
		dst = out
		c.retries.Add(1)
		time.Sleep(time.Millisecond)
	}
	return dst, 0, false, ErrLockTimeout
}
