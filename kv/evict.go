package kv

import (
	"errors"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// Eviction (EvictS3FIFO tables): S3-FIFO (Yang et al., SOSP '23) laid over
// two logs. Each extent of an evicting table holds, beside its index, a
// small log of about a tenth of its log space, a main log of the rest, and
// a ghost: the hashes of keys recently evicted from the small log.
//
//   - A new key goes to the small log, unless the ghost remembers it, when
//     it goes straight to the main log; an overwrite stays in the log its
//     key is in.
//   - Cleaning the small log (makeSmallRoom) takes its oldest entry: one read
//     since it was written moves to the main log; one nobody read is evicted,
//     and its hash goes to the ghost, unless the main log has room to spare
//     (the table is filling, not full, or the main log's oldest entries
//     have expired and go first), when it moves there too.
//   - Cleaning the main log (makeRoom, space.go) takes its oldest entry:
//     one read since cleaning last passed it, or with credit left, moves to
//     the head; one nobody read and without credit is evicted while the
//     shard is over its limits.
//
// Most keys of a skewed workload are read once or never: they leave from
// the small log after a tenth of the space's worth of writes, where LRU or
// CLOCK would keep each for a whole pass, and a scan of cold keys flows
// through the small log without touching the main one.
//
// Recording use costs readers what CLOCK did: a reader sets the
// format.SlotReferenced bit of the slot it read through, once, with one
// compare-and-swap (markReferenced). Frequency beyond that one bit is kept by
// the cleaner, not by readers: an entry moved to the head of the main log
// because it was read gains a credit (format.EntCreditMask in its head word, up
// to maxCredit), and one moved without having been read spends one. An
// entry read in most passes so outlives one read once, as S3-FIFO's
// two-bit counters would have it, for one bit written per pass.
//
// Entries of the small log never wrap: one that would run past its end
// goes at its start, after a skip record over the rest (logwalk.go). So the
// data offset of any entry says which log it is in (below lo: the small
// one), and readers need no other change.
//
// The ghost is a hint, not state: a direct-mapped table of slots/2 words,
// each the high 32 bits of an evicted key's hash and the low 32 bits of
// the extent's ghost clock (the count of small-log evictions) when it was
// evicted. A key is remembered while its word holds its hash and fewer
// evictions than the ghost has words came after it. A collision forgets a
// key, a torn or hostile word makes one key go to the wrong log: neither
// can make a read wrong, so the ghost is neither checked nor rebuilt, and a
// grow starts an empty one.

// remembered reports whether the ghost remembers the key hashing to h.
func (v *view) remembered(h uint64) bool {
	if v.ghostMask == 0 {
		return false
	}
	w := v.r.Load(v.ghost + int64(h>>8&v.ghostMask))
	clock := uint32(v.r.Load(v.hdr + format.ExtGhostClock/8))
	return w != 0 && uint32(w>>32) == uint32(h>>32) && clock-uint32(w) < uint32(v.ghostMask+1)
}

// remember records the key hashing to h as evicted.
func (v *view) remember(h uint64) {
	clock := v.r.Add(v.hdr+format.ExtGhostClock/8, 1)
	v.r.Store(v.ghost+int64(h>>8&v.ghostMask), h>>32<<32|uint64(uint32(clock)))
}

// toSmall reports whether an entry of need bytes for l's key goes to the
// small log: a new key the ghost does not remember, or a key already there,
// if the entry is small enough that the small log holds several.
func (v *view) toSmall(need int64, l *lookup, h uint64) bool {
	if v.lo == 0 || need > v.lo/4 {
		return false
	}
	if l.found {
		return l.off < v.lo
	}
	return !v.remembered(h)
}

func (v *view) smallHead() uint64     { return v.r.Load(v.hdr + format.ExtSmallHead/8) }
func (v *view) smallTail() uint64     { return v.r.Load(v.hdr + format.ExtSmallTail/8) }
func (v *view) setSmallHead(p uint64) { v.r.Store(v.hdr+format.ExtSmallHead/8, p) }
func (v *view) setSmallTail(p uint64) { v.r.Store(v.hdr+format.ExtSmallTail/8, p) }

// smallPad is how many bytes of skip record an entry of need bytes at
// small log position p needs before it: the rest of the log, if the entry
// would run past its end.
func (v *view) smallPad(p uint64, need int64) int64 {
	if at := int64(p % uint64(v.lo)); at+need > v.lo {
		return v.lo - at
	}
	return 0
}

// appendSmall writes key=value at the head of the small log, which
// makeSmallRoom made room for, after a skip record if the entry would run
// past the log's end, and commits it by moving the head. It returns the
// entry's offset.
func (v *view) appendSmall(need int64, h uint64, key, value []byte, expires uint64) int64 {
	head := v.smallHead()
	if pad := v.smallPad(head, need); pad > 0 {
		v.setWord(int64(head%uint64(v.lo)), uint64(pad)<<32)
		head += uint64(pad)
	}
	off := int64(head % uint64(v.lo))
	v.writeEntry(off, h, key, value, expires)
	// The commit point, as setHead is for the main log.
	v.setSmallHead(head + uint64(need))
	v.ctlAdd(format.CtlSmallBytes, uint64(need))
	return off
}

// makeSmallRoom cleans the small log from its tail until an entry of need
// bytes fits at its head, and, if l's key is new and the shard holds as
// many keys as its index takes, has the main log evict one (or, with
// nothing live there, the small log); it reports whether it dropped any
// entry. Each entry cleaning takes is dropped (dead or
// expired), moved to the main log (read since it was written, or the main
// log has room to spare) or evicted and remembered by the ghost. Damage is
// handled as makeRoom handles it.
//
// It terminates: each step takes one item off the small log, which is
// empty, and has room, after as many steps as it held items; by then what
// it held is evicted or in the main log, where makeRoom evicts.
func (v *view) makeSmallRoom(need int64, l *lookup, now int64) (dropped bool, err error) {
	for {
		head, tail := v.smallHead(), v.smallTail()
		if head < tail || head-tail > uint64(v.lo) {
			return dropped, errCorruptIndex
		}
		if uint64(v.lo)-(head-tail) >= uint64(need+v.smallPad(head, need)) {
			if l.found || int(v.ctlLoad(format.CtlLiveEntries)) < v.keyCap {
				return dropped, nil
			}
			// The index is full: as in S3-FIFO, the small log gives up an
			// entry while it holds its share, and the main log otherwise.
			if v.mainLive() > 0 && int64(v.ctlLoad(format.CtlSmallBytes))*format.SmallShareDen < int64(v.ctlLoad(format.CtlLiveBytes)) {
				a := v.admit(0)
				d, err := v.makeRoom(&a, l, now, a.fits(v, l))
				return dropped || d, err
			}
		}
		if head == tail {
			return dropped, errCorruptIndex
		}
		it := v.itemIn(v.smallRing(), tail, head, false)
		damaged := it.kind == itemDamage
		if it.kind == itemEntry && it.hdr.state != format.EntryDead {
			d, err := v.cleanSmallEntry(it.off, &it.hdr, l, now)
			damaged = err == errUnindexedDamage
			if err != nil && !damaged {
				return dropped, err
			}
			dropped = dropped || d
		}
		if damaged {
			// As in makeRoom: drop it, and have the caller rebuild the
			// index, since a slot may point into what was dropped.
			v.ctlAdd(format.CtlDamaged, 1)
			v.setSmallTail(tail + it.size)
			return dropped, errCorruptIndex
		}
		v.setSmallTail(tail + it.size)
	}
}

// errUnindexedDamage is internal: cleaning met an entry that fails its
// checksum and that no slot points at.
var errUnindexedDamage = errors.New("shmkv: damaged entry outside the index")

// cleanSmallEntry takes the live entry e at off, the small log's tail, out
// of the small log: it drops it if it expired, moves it to the main log if
// it was read or the main log has room to spare (once the main log has
// dropped what expired at its tail: reclaimMain), and evicts it otherwise.
// l is the lookup of the key being written, which a drop may turn into not
// found. An entry that fails its checksum and that no slot points at is
// errUnindexedDamage, for the caller to drop.
func (v *view) cleanSmallEntry(off int64, e *entryHeader, l *lookup, now int64) (dropped bool, err error) {
	if e.state != format.EntryLive {
		return false, errCorruptIndex
	}
	h := v.hashAt(off, e)
	i, word, err := v.slotOf(h, off)
	if err != nil {
		if v.checksumAt(off, e) != e.checksum {
			return false, errUnindexedDamage
		}
		return false, err
	}
	size := e.size()
	self := lookup{found: true, off: off, hdr: *e}
	read := word&format.SlotReferenced != 0
	if !isExpired(e, now) && !read && !v.mainHasRoom(size) && v.ctlLoad(format.CtlExpiring) != 0 {
		// Expired entries go first: before this one is evicted for want
		// of room in the main log, the main log drops what has expired at
		// its tail.
		d, err := v.reclaimMain(size, l, now)
		if err != nil {
			return d, err
		}
		dropped = d
	}
	if !isExpired(e, now) && (read || v.mainHasRoom(size)) {
		// Promote: make room in the main log (which may evict there), then
		// copy the entry to its head. Until the small log's tail passes the
		// original, the key has two live entries; a rebuild keeps the one
		// in the main log (rings).
		a := v.admit(size)
		d, err := v.makeRoom(&a, &self, now, a.fits(v, &self))
		dropped = dropped || d
		if err != nil {
			return dropped, err
		}
		head := v.head()
		hoff := v.mainOff(head)
		v.copyWithin(hoff, off, size)
		v.setHead(head + uint64(size))
		v.setSlot(i, slotValue(format.TagOf(h), hoff))
		v.ctlAdd(format.CtlSmallBytes, -uint64(size))
		v.ctlAdd(format.CtlPromotions, 1)
		if l.found && l.off == off {
			l.off = hoff
		}
		return dropped, nil
	}
	if !isExpired(e, now) {
		v.remember(h)
	}
	v.drop(i, off, e, now)
	if l.found && l.off == off {
		*l = lookup{}
	}
	return true, nil
}

// reclaimMain drops the dead and expired entries at the main log's tail,
// until it has room for an entry of size bytes or meets a live one, and
// reports whether it dropped any; l is the lookup of the key being
// written, which a drop may turn into not found. It leaves damage, and
// everything else, to makeRoom.
func (v *view) reclaimMain(size int64, l *lookup, now int64) (dropped bool, err error) {
	head, tail := v.head(), v.tail()
	if head < tail || head-tail > uint64(v.size) {
		return false, errCorruptIndex
	}
	for tail != head && !v.mainHasRoom(size) {
		it := v.itemAt(tail, head, false)
		if it.kind == itemDamage {
			break
		}
		if it.kind == itemEntry && it.hdr.state != format.EntryDead {
			if it.hdr.state != format.EntryLive {
				return dropped, errCorruptIndex
			}
			if !isExpired(&it.hdr, now) {
				break
			}
			i, _, err := v.slotOf(v.hashAt(it.off, &it.hdr), it.off)
			if err != nil {
				return dropped, err
			}
			v.drop(i, it.off, &it.hdr, now)
			dropped = true
			if l.found && l.off == it.off {
				*l = lookup{}
			}
		}
		tail += it.size
		v.setTail(tail)
	}
	return dropped, nil
}

// mainHasRoom reports whether the main log takes an entry of size bytes
// without cleaning, and the index has room: the table is filling, and
// nothing need be evicted.
func (v *view) mainHasRoom(size int64) bool {
	head, tail := v.head(), v.tail()
	return head >= tail && uint64(v.size)-(head-tail) >= uint64(size+v.reserve(size)) &&
		v.mainLive()+size <= v.size-v.reserve(size) && int(v.ctlLoad(format.CtlLiveEntries)) < v.keyCap
}
