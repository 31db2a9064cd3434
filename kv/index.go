package kv

import "github.com/shmkv/shmkv/kv/internal/format"

// The index: linear probing over a shard's slots from the hash's low bits.
// Invariants kept under the shard lock:
//   - every live entry in the log has exactly one slot pointing at it, and
//     that slot lies on the probe path from the key's home slot with no
//     empty slot between them;
//   - live entries never exceed keyCap (3/4 of the slots) and tombstones
//     never exceed maxTombstones (1/8), so a probe always meets an empty
//     slot.

// lookup is what find learned about a key under the lock.
type lookup struct {
	found   bool
	expired bool        // found, but expired: absent to every caller
	slot    uint64      // the key's slot, if found
	off     int64       // its entry's offset, if found
	hdr     entryHeader // its entry's header, if found
	insert  uint64      // where to insert it, if not found
}

// present reports whether the lookup found a key that has not expired.
func (l *lookup) present() bool { return l.found && !l.expired }

// verified reports whether the entry l found passes its checksum. A write
// that builds on the old value (Add, CompareAndSwap) checks it first: a
// damaged value must not be taken for the old one.
func (v *view) verified(l *lookup) bool { return v.checksumAt(l.off, &l.hdr) == l.hdr.checksum }

// find looks key up at time now, into l. It returns errCorruptIndex if the probe meets a slot
// that points outside the log, or never meets an empty slot: the caller
// rebuilds the index from the log and tries again. (It fills the caller's
// lookup, ten words, rather than return one, which a write would copy.)
func (v *view) find(key []byte, h uint64, now int64, l *lookup) error {
	tag := format.TagOf(h)
	i := h & v.mask
	insertAt, haveInsert := uint64(0), false
	for range v.mask + 1 {
		word := v.slot(i)
		switch {
		case word == format.SlotEmpty:
			if !haveInsert {
				insertAt = i
			}
			*l = lookup{insert: insertAt}
			return nil
		case word == format.SlotTombstone:
			if !haveInsert {
				insertAt, haveInsert = i, true
			}
		case uint32(word>>32) == tag:
			off, ok := v.slotOffset(word)
			if !ok {
				return errCorruptIndex
			}
			e, ok := v.loadHeader(off)
			if !ok || e.state != format.EntryLive {
				return errCorruptIndex
			}
			if e.klen == len(key) && v.equalAt(e.keyAt(off), key) {
				*l = lookup{found: true, expired: isExpired(&e, now), slot: i, off: off, hdr: e}
				return nil
			}
		}
		i = (i + 1) & v.mask
	}
	return errCorruptIndex
}

// maxTombstones is how many tombstones a shard's index may hold before an
// insert rebuilds it. Live entries are at most 3/4 of the slots, so with
// tombstones at most 1/8 more a probe always meets an empty slot soon, and
// rebuilds, each O(slots), come at most once per slots/8 deletes.
func (v *view) maxTombstones() uint64 { return (v.mask + 1) / 8 }

// clearSlot removes slot i from the index. A slot followed by an empty one
// ends every probe chain through it, so it becomes empty, and so do the
// tombstones before it; otherwise it becomes a tombstone.
func (v *view) clearSlot(i uint64) {
	if v.slot((i+1)&v.mask) != format.SlotEmpty {
		v.setSlot(i, format.SlotTombstone)
		v.ctlAdd(format.CtlTombstones, 1)
		return
	}
	v.setSlot(i, format.SlotEmpty)
	freed := uint64(0)
	for j := (i - 1) & v.mask; j != i && v.slot(j) == format.SlotTombstone; j = (j - 1) & v.mask {
		v.setSlot(j, format.SlotEmpty)
		freed++
	}
	if freed > 0 {
		v.ctlAdd(format.CtlTombstones, -freed)
	}
}

// slotOf finds the slot that points at the entry at off, whose key hashes
// to h, and returns its index and word.
func (v *view) slotOf(h uint64, off int64) (uint64, uint64, error) {
	want := slotValue(format.TagOf(h), off)
	i := h & v.mask
	for range v.mask + 1 {
		word := v.slot(i)
		if word != format.SlotTombstone && word&^format.SlotReferenced == want {
			return i, word, nil
		}
		if word == format.SlotEmpty {
			break
		}
		i = (i + 1) & v.mask
	}
	return 0, 0, errCorruptIndex
}
