package kv

import "github.com/shmkv/shmkv/kv/internal/format"

// rebuild derives the index from the log, which is the truth (internal/format/layout.go):
// it clears every slot, walks the logs (the small one first, if any) from
// tail to head, and inserts each live entry whose checksum holds. When two
// live entries share a key (a writer died between appending a new version
// and retiring the old, or while moving an entry), the later in the walk
// wins (internal/format/layout.go says why that is the newer); the loser is marked dead.
// Damage in the log (logwalk.go) is stepped over, not indexed: it costs the
// entries it touches, never the shard, and stays in the log for Check to
// report and Repair to drop. It recounts the shard's counters from what it
// found.
//
// It runs under the lock with the sequence counter odd, and moves it by
// two. It is idempotent: it reads only the log, and its only writes to the
// log mark losing duplicates dead, which a second run would do again, so a
// rebuild interrupted by a crash is simply run again by the next lock
// holder, with the same result. format.FlagRebuild stays set until it completes, so readers
// and writers know not to trust the index. It fails, leaving the flag set,
// only when the log's bounds or its live entries cannot be what a table
// holds.
func (v *view) rebuild() error {
	// Readers that read around a writer inside its section (tryGet's dirty
	// reads) ignore the counter's parity but not its changes: a move by two,
	// keeping it odd, tells one whose probe overlapped the emptied index.
	// The flag goes first: a reader loads the counter, then the flags, so
	// one that sees the counter moved also sees the flag (or the flag
	// cleared by a rebuild that has ended), and one that loaded the counter
	// before the move sees it changed at its last check. The other order
	// let a reader load the moved counter and the flag not yet set, probe
	// the emptying index, and pass its last check once the rebuild cleared
	// the flag: a false miss.
	v.ctlStore(format.CtlFlags, format.FlagRebuild)
	v.ctlAdd(format.CtlSeq, 2)
	v.carryMarks()
	for i := range v.mask + 1 {
		v.setSlot(i, format.SlotEmpty)
	}
	var live, liveBytes, smallBytes, expiring, largest uint64
	for _, r := range v.rings() {
		head, tail := v.ringHead(r), v.ringTail(r)
		if head < tail || head-tail > uint64(r.size) {
			return ErrCorrupt
		}
		for p := tail; p != head; {
			it := v.itemIn(r, p, head, true)
			p += it.size
			if it.kind != itemEntry || it.hdr.state == format.EntryDead {
				continue
			}
			e := &it.hdr
			largest = max(largest, it.size)
			h := v.hashAt(it.off, e)
			added, grown, err := v.insertRebuilt(h, it.off, e)
			if err != nil {
				return err
			}
			if added {
				live++
			}
			liveBytes += grown
		}
	}
	for i := range v.mask + 1 {
		if word := v.slot(i); word != format.SlotEmpty && word != format.SlotTombstone {
			if off, _ := v.slotOffset(word); off < v.lo {
				e, _ := v.loadHeader(off)
				smallBytes += uint64(e.size())
			}
		}
	}
	if live > uint64(v.keyCap) || liveBytes > uint64(v.end) {
		return ErrCorrupt
	}
	for i := range v.mask + 1 {
		if sv := v.slot(i); sv != format.SlotEmpty && sv != format.SlotTombstone {
			off, _ := v.slotOffset(sv)
			if e, _ := v.loadHeader(off); e.expires != 0 {
				expiring++
			}
		}
	}
	v.ctlStore(format.CtlExpiring, expiring)
	v.ctlStore(format.CtlLiveEntries, live)
	v.ctlStore(format.CtlLiveBytes, liveBytes)
	v.ctlStore(format.CtlSmallBytes, smallBytes)
	v.ctlStore(format.CtlTombstones, 0)
	v.ctlStore(format.CtlLargest, largest)
	v.ctlStore(format.CtlFlags, 0)
	return nil
}

// carryMarks copies the referenced bits of an evicting table's slots into their
// entries' state words (format.EntryLive|format.EntryMarked), since clearing the slots
// would lose them; insertRebuilt moves them back. A rebuild that dies
// between leaves marked states, which the next rebuild reads as live.
func (v *view) carryMarks() {
	if !v.evict {
		return
	}
	for i := range v.mask + 1 {
		word := v.slot(i)
		if word == format.SlotEmpty || word == format.SlotTombstone || word&format.SlotReferenced == 0 {
			continue
		}
		if off, ok := v.slotOffset(word); ok {
			if e, ok := v.loadHeader(off); ok && e.state == format.EntryLive {
				v.setWord(off+format.EntHead, e.withState(format.EntryLive|format.EntryMarked))
			}
		}
	}
}

// rebuiltSlot is the slot word for the entry at off, taking back a mark
// carryMarks left in its state.
func (v *view) rebuiltSlot(tag uint32, off int64, e *entryHeader) uint64 {
	if e.state == format.EntryLive|format.EntryMarked {
		v.setWord(off+format.EntHead, e.withState(format.EntryLive))
		return slotValue(tag, off) | format.SlotReferenced
	}
	return slotValue(tag, off)
}

// insertRebuilt puts the live entry at off into the index being rebuilt,
// resolving a duplicate key: the walk goes from tail to head, so the entry
// found later, this one, is the newer, and the earlier one is marked dead.
// It reports whether the key was new, and by how much the live bytes grew.
func (v *view) insertRebuilt(h uint64, off int64, e *entryHeader) (added bool, grown uint64, err error) {
	tag := format.TagOf(h)
	i := h & v.mask
	for range v.mask + 1 {
		word := v.slot(i)
		if word == format.SlotEmpty {
			v.setSlot(i, v.rebuiltSlot(tag, off, e))
			return true, uint64(e.size()), nil
		}
		if uint32(word>>32) == tag {
			other, _ := v.slotOffset(word)
			o, _ := v.loadHeader(other)
			if o.klen == e.klen && v.keysEqualAt(other, &o, off, e, e.klen) {
				v.setWord(other+format.EntHead, o.withState(format.EntryDead))
				v.setSlot(i, v.rebuiltSlot(tag, off, e))
				return false, uint64(e.size()) - uint64(o.size()), nil
			}
		}
		i = (i + 1) & v.mask
	}
	return false, 0, ErrCorrupt
}
