package kv

import (
	"runtime"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/region"
)

// Lock-free reads: a seqlock per shard.
//
// Writers (section.go) hold the shard lock and bracket every change with two
// atomic increments of the shard's sequence counter, so it is odd while a
// change is under way. A reader loads the counter, gives up at once if it is
// odd or the shard is flagged for rebuild, probes the index with atomic
// loads of the slot words and entry headers, copies the key and value out
// with plain copies, then (unless its handle skips it) checks the entry's
// checksum against the bytes it copied, and loads the counter again after a
// fence. It accepts the result only if the counter is unchanged and the
// checksum, when checked, matches; otherwise it retries, and after
// readRetries attempts falls back to the ladder of around.go (get,
// getAround), which never waits for a lock.
//
// Why this is correct on amd64 and arm64, under the Go memory model and not
// only under x86's strong ordering:
//   - Every load of a slot word or header word, and every increment of the
//     counter by a writer, is a sync/atomic operation. Go's atomics are
//     sequentially consistent with one another, so if a reader's probe saw
//     any word that a write section stored atomically (slot words, head,
//     state words), its second counter load is ordered after that section's
//     first increment and sees the counter changed.
//   - The key and value bytes are copied with plain loads, whose order
//     relative to the counter loads Go does not promise. Fences close that
//     gap (package region's fences): a writer's StoreFence after its first increment
//     (beginWrite) has every store of the section, plain copies included,
//     observed after the counter went odd, and the reader's LoadFence before
//     its second counter load has every load of its copy performed before
//     it. So a copy that saw any byte a section wrote is followed by a
//     counter load that sees that section's increment: the message passing
//     pattern, which both architectures forbid to fail with these barriers.
//     Bytes a reader can reach also change outside write sections, in two
//     ways, both after a write section that changed the counter: a grow
//     punches the old extent after publishing the new one, with a system
//     call whose zeros a reader sees only after the kernel's TLB
//     invalidation, which comes after the grower's increments are visible
//     (they are locked instructions on amd64, and arm64's invalidation
//     begins with a DSB that waits for earlier stores); and a later grow may
//     build an extent where a retired one was, after taking the lock the
//     publisher released, so its stores are ordered after the publisher's
//     increment by the lock's release-acquire chain. An entry reached
//     through a slot word is wholly written before the atomic store of that
//     slot word, and the reader's atomic load of it synchronizes with that
//     store, so its bytes are visible.
//   - The checksum is verified too unless the handle skips it
//     (Options.SkipReadChecksums), and always where the fences are not
//     built (region.FencedReads), and on dirty reads, which have no counter to
//     trust: an entry's bytes are never changed while it is in the log, and
//     space is reused only after the tail has passed it, so a copy that
//     raced a reuse is a mix of old and new bytes, which fails the checksum
//     (xxhash64, a 2^-64 chance of passing). The checksum is also what
//     catches damage: bytes changed under a stable counter.
//   - Every offset and length read from the region is checked against the
//     shard's limits before use (loadHeader, slotOffset), and probes are
//     bounded by the slot count, so a torn or hostile word leads to a retry
//     or an error, never to a read out of bounds or an endless loop.
//
// A reader makes no store a writer depends on: a reader killed mid-read
// leaves nothing behind. Its only store to the region is the referenced
// bit of an evicting table (space.go), one compare-and-swap on a slot word
// the first time it reads an entry after the cleaner passed it;
// read-only handles never make it, nor reads around a writer. (A
// read-write handle that finds a shard needing recovery recovers it under
// the lock, as a writer: around.go.)
const readRetries = 32

// entryMeta is what a read learns of the entry it found besides its value.
type entryMeta struct {
	expires  uint64 // Unix nanoseconds; 0: never
	checksum uint64 // of the whole entry: it changes with the value or the expiry
}

// readResult is what one optimistic read found.
type readResult int

const (
	readDone    readResult = iota // found or not, with the counter unchanged
	readRaced                     // met a writer or garbage: try again
	readDamaged                   // the key's entry fails its checksum though the counter held
	readMoved                     // the shard no longer holds the key's class: a split moved it (split.go)
)

// readMode says how tryGet reads.
type readMode uint8

const (
	// readMark records a hit in an evicting table as a use (space.go).
	readMark readMode = 1 << iota
	// readVerify checks the value copied against the entry's checksum.
	readVerify
	// readAround reads around a writer that holds the shard still; it
	// always verifies.
	readAround
)

// readModeFor is the readMode of a handle: read-only handles store
// nothing, so they mark nothing.
func readModeFor(readOnly, verify bool) readMode {
	var m readMode
	if !readOnly {
		m |= readMark
	}
	if verify {
		m |= readVerify
	}
	return m
}

// tryGet is one optimistic read. On any result but readDone, out still has
// dst's contents, in a buffer that may have grown. An entry that has
// expired by the clock is not found; the clock is read only for entries
// that can expire. meta is the found entry's expiry time and checksum.
//
// With readAround, the read ignores the counter's parity but not its changes:
// it reads around a writer that holds the shard still (around.go), dead,
// stopped or slow, whose counter stays odd. Dirty reads are sound for the
// reasons above (each slot word is one atomic store, each entry reached
// through one is whole, the checksum catches a torn copy), and also
// beside a writer that is running inside its write section, whose stores
// the counter does not announce:
//   - a slot changes in place (an overwrite, a move by the cleaner), so a
//     probe that loaded a slot whose tag matched but whose key did not
//     loads it again and calls any change a race: the entry it pointed at
//     may have been moved and its space reused;
//   - a slot cleared leaves no live key beyond it in any probe chain
//     (clearSlot), and a key inserted is found or not, either being true
//     at some moment of the read;
//   - a delete or an eviction retires the entry before it clears the slot,
//     while an overwrite repoints the slot before it retires the old
//     entry: so a retired entry under a slot that still points at it is a
//     key removed, and the probe goes on past it;
//   - a rebuild, which empties every slot, moves the counter by two first
//     (rebuild.go), and a grow changes the extent word, so a read that
//     overlapped either fails on its last check of both.
//
// A miss is trusted on the same terms: the counter unchanged, the shard
// not flagged for rebuild before or after, its extent the same.
func (s *shard) tryGet(dst, key []byte, h uint64, clock func() time.Time, mode readMode) (out []byte, meta entryMeta, found bool, res readResult) {
	dirty := mode&readAround != 0
	seq := s.ctlLoad(format.CtlSeq)
	if (seq&1 != 0 && !dirty) || s.ctlLoad(format.CtlFlags) != 0 {
		return dst, entryMeta{}, false, readRaced
	}
	// The extent word is loaded after the counter: an extent published by
	// a grow before this load is the new one, and one published after it
	// changes the counter (grow.go).
	cur, ok := s.current()
	if !ok {
		return dst, entryMeta{}, false, readRaced
	}
	if !cur.owns(h) {
		// For good: a shard's depth only grows.
		return dst, entryMeta{}, false, readMoved
	}
	verify := mode&readVerify != 0 || dirty
	tag := format.TagOf(h)
	i := h & cur.mask
	for range cur.mask + 1 {
		v := cur.slot(i)
		if v == format.SlotEmpty {
			break
		}
		if v != format.SlotTombstone && uint32(v>>32) == tag {
			off, valid := cur.slotOffset(v)
			if !valid {
				return dst, entryMeta{}, false, readRaced
			}
			e, valid := cur.loadHeader(off)
			if !valid {
				return dst, entryMeta{}, false, readRaced
			}
			if e.klen == len(key) && cur.equalAt(e.keyAt(off), key) {
				if dirty && e.state == format.EntryDead && cur.slot(i)&^format.SlotReferenced == v&^format.SlotReferenced {
					// Retired while its slot still points at it: a
					// delete or an eviction past its commit point,
					// whose writer has yet to clear the slot (an
					// overwrite points the slot elsewhere first).
					i = (i + 1) & cur.mask
					continue
				}
				if e.state != format.EntryLive {
					return dst, entryMeta{}, false, readRaced
				}
				if e.expires != 0 && isExpired(&e, clock().UnixNano()) {
					return dst, entryMeta{}, false, cur.settled(seq, dirty)
				}
				n := len(dst)
				out = cur.appendAt(dst, e.valueAt(off), e.vlen)
				if verify && format.EntryChecksum(h, e.head, e.expires, xxhash.Sum64(out[n:])) != e.checksum {
					if cur.settled(seq, dirty) == readDone {
						return out[:n], entryMeta{}, false, readDamaged
					}
					return out[:n], entryMeta{}, false, readRaced
				}
				if cur.settled(seq, dirty) != readDone {
					return out[:n], entryMeta{}, false, readRaced
				}
				if mode&readMark != 0 && cur.evict {
					cur.markReferenced(i, v)
				}
				return out, entryMeta{e.expires, e.checksum}, true, readDone
			}
			if dirty && cur.slot(i) != v {
				return dst, entryMeta{}, false, readRaced
			}
		}
		i = (i + 1) & cur.mask
	}
	if !cur.sameDepth() {
		// A view of an earlier extent at the same word (split.go): the
		// key's class may be the buddy's now. Look again, with a new view.
		s.t.views[s.index].CompareAndSwap(cur, nil)
		return dst, entryMeta{}, false, readRaced
	}
	return dst, entryMeta{}, false, cur.settled(seq, dirty)
}

// settled says whether a read of v that loaded the counter as seq, and
// its extent word after it, read a shard nothing changed meanwhile (for
// a dirty read, also not flagged for rebuild and not moved to another
// extent).
func (v *view) settled(seq uint64, dirty bool) readResult {
	region.LoadFence() // the copy's loads before the counter's
	if v.ctlLoad(format.CtlSeq) != seq || dirty && (v.ctlLoad(format.CtlFlags) != 0 || v.ctlLoad(format.CtlExtent) != v.extWord) {
		return readRaced
	}
	return readDone
}

// get reads key from shard s: optimistically, and if writers keep it out,
// by getAround. It also returns the entry's expiry time.
func (t *Table) get(s *shard, dst, key []byte, h uint64) ([]byte, entryMeta, bool, error) {
	c := t.stripe()
	for attempt := range readRetries {
		out, meta, found, res := s.tryGet(dst, key, h, t.now, t.getMode)
		switch res {
		case readDone:
			return out, meta, found, c.count(found)
		case readMoved:
			return dst, entryMeta{}, false, errClassMoved
		}
		dst = out
		c.retries.Add(1)
		if attempt > 2 {
			runtime.Gosched()
		}
	}
	return t.getAround(s, c, dst, key, h)
}

// count records a read's outcome; it returns nil so that a caller can
// count and return in one statement.
func (c *readStripe) count(found bool) error {
	if found {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return nil
}

// livenessBound is the longest a reader waits for a writer that keeps
// the index of a shard untrustworthy (a rebuild under way) to finish, or
// for a read-write user to recover a shard a dead writer left so (around.go);
// LockTimeout, if shorter, bounds it too. A read-write user takes over a
// dead writer's lock within about lockSlice of wanting it.
const livenessBound = time.Second

// getAround is get's fallback, the ladder of around.go: it never waits
// for a lock, and reads around a writer that holds the shard still (dead,
// stopped, or just slow) once it has judged so. It answers the value, a
// miss, or a specific error:
//   - ErrCorrupt for a key whose entry fails its checksum (damage), or a
//     shard flagged for rebuild or unreadable with no writer to finish it
//     (a read-write handle first tries to recover it);
//   - ErrLockTimeout when a writer that may be alive keeps the shard's
//     index untrustworthy (it is stopped mid-rebuild, say) for
//     livenessBound, or LockTimeout if shorter;
//   - ErrOwnerDead, to a read-only handle, when a writer died leaving the
//     index untrustworthy (mid-rebuild) and no read-write user began to
//     recover the shard within that bound.
//
// The last two come after that wait only the first time: while the
// shard's lock word and counter stay the same, later reads that cannot
// get around return them at once.
func (t *Table) getAround(s *shard, c *readStripe, dst, key []byte, h uint64) ([]byte, entryMeta, bool, error) {
	a := t.around(s, time.Now().Add(min(livenessBound, t.lockTimeout)))
	damaged := 0
	for {
		mv, err := a.next()
		if err != nil {
			return dst, entryMeta{}, false, err
		}
		if mv == moveLocked {
			return t.getLocked(s, c, dst, key, h)
		}
		mode := t.getMode
		if mv == moveAround {
			// A read around marks nothing: it stores nothing in the region.
			mode = mode&^readMark | readAround
		}
		out, meta, found, res := s.tryGet(dst, key, h, t.now, mode)
		switch res {
		case readDone:
			return out, meta, found, c.count(found)
		case readMoved:
			return dst, entryMeta{}, false, errClassMoved
		case readDamaged:
			// A checksum that fails while the counter held still: damage,
			// or on arm64 a race. Damage stays.
			if damaged++; damaged >= 3 {
				return dst, entryMeta{}, false, errDamaged(key)
			}
		}
		dst = out
		c.retries.Add(1)
		if mv == moveAround && res == readRaced {
			if err := a.failed(); err != nil {
				return dst, entryMeta{}, false, err
			}
		}
	}
}

// getLocked reads key from shard s, which this read has locked and
// readied (lockShard), and unlocks it.
func (t *Table) getLocked(s *shard, c *readStripe, dst, key []byte, h uint64) ([]byte, entryMeta, bool, error) {
	defer t.unlock(s)
	// Under the lock nothing changes: a checksum that fails now is damage,
	// which costs this key and not the shard's other keys.
	out, meta, found, res := s.tryGet(dst, key, h, t.now, t.getMode)
	if res == readRaced {
		if err := t.recoverLocked(s); err != nil {
			return dst, entryMeta{}, false, err
		}
		out, meta, found, res = s.tryGet(out, key, h, t.now, t.getMode)
	}
	switch res {
	case readDamaged:
		return dst, entryMeta{}, false, errDamaged(key)
	case readRaced:
		return dst, entryMeta{}, false, ErrCorrupt
	case readMoved:
		return dst, entryMeta{}, false, errClassMoved
	}
	return out, meta, found, c.count(found)
}
