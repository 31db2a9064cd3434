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
func (s *shard) rebuild() error {
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
	s.ctlStore(format.CtlFlags, format.FlagRebuild)
	s.ctlAdd(format.CtlSeq, 2)
	s.carryMarks()
	for i := range s.mask + 1 {
		s.setSlot(i, format.SlotEmpty)
	}
	var live, liveBytes, smallBytes, expiring, largest uint64
	for _, r := range s.rings() {
		head, tail := s.ringHead(r), s.ringTail(r)
		if head < tail || head-tail > uint64(r.size) {
			return ErrCorrupt
		}
		for p := tail; p != head; {
			it := s.itemIn(r, p, head, true)
			p += it.size
			if it.kind != itemEntry || it.hdr.state == format.EntryDead {
				continue
			}
			e := &it.hdr
			largest = max(largest, it.size)
			h := s.hashAt(it.off, e)
			added, grown, err := s.insertRebuilt(h, it.off, e)
			if err != nil {
				return err
			}
			if added {
				live++
			}
			liveBytes += grown
		}
	}
	for i := range s.mask + 1 {
		if v := s.slot(i); v != format.SlotEmpty && v != format.SlotTombstone {
			if off, _ := s.slotOffset(v); off < s.lo {
				e, _ := s.loadHeader(off)
				smallBytes += uint64(e.size())
			}
		}
	}
	if live > uint64(s.keyCap) || liveBytes > uint64(s.end) {
		return ErrCorrupt
	}
	for i := range s.mask + 1 {
		if v := s.slot(i); v != format.SlotEmpty && v != format.SlotTombstone {
			off, _ := s.slotOffset(v)
			if e, _ := s.loadHeader(off); e.expires != 0 {
				expiring++
			}
		}
	}
	s.ctlStore(format.CtlExpiring, expiring)
	s.ctlStore(format.CtlLiveEntries, live)
	s.ctlStore(format.CtlLiveBytes, liveBytes)
	s.ctlStore(format.CtlSmallBytes, smallBytes)
	s.ctlStore(format.CtlTombstones, 0)
	s.ctlStore(format.CtlLargest, largest)
	s.ctlStore(format.CtlFlags, 0)
	return nil
}

// carryMarks copies the referenced bits of an evicting table's slots into their
// entries' state words (format.EntryLive|format.EntryMarked), since clearing the slots
// would lose them; insertRebuilt moves them back. A rebuild that dies
// between leaves marked states, which the next rebuild reads as live.
func (s *shard) carryMarks() {
	if !s.evict {
		return
	}
	for i := range s.mask + 1 {
		v := s.slot(i)
		if v == format.SlotEmpty || v == format.SlotTombstone || v&format.SlotReferenced == 0 {
			continue
		}
		if off, ok := s.slotOffset(v); ok {
			if e, ok := s.loadHeader(off); ok && e.state == format.EntryLive {
				s.setWord(off+format.EntHead, e.withState(format.EntryLive|format.EntryMarked))
			}
		}
	}
}

// rebuiltSlot is the slot word for the entry at off, taking back a mark
// carryMarks left in its state.
func (s *shard) rebuiltSlot(tag uint32, off int64, e *entryHeader) uint64 {
	if e.state == format.EntryLive|format.EntryMarked {
		s.setWord(off+format.EntHead, e.withState(format.EntryLive))
		return slotValue(tag, off) | format.SlotReferenced
	}
	return slotValue(tag, off)
}

// insertRebuilt puts the live entry at off into the index being rebuilt,
// resolving a duplicate key: the walk goes from tail to head, so the entry
// found later, this one, is the newer, and the earlier one is marked dead.
// It reports whether the key was new, and by how much the live bytes grew.
func (s *shard) insertRebuilt(h uint64, off int64, e *entryHeader) (added bool, grown uint64, err error) {
	tag := format.TagOf(h)
	i := h & s.mask
	for range s.mask + 1 {
		v := s.slot(i)
		if v == format.SlotEmpty {
			s.setSlot(i, s.rebuiltSlot(tag, off, e))
			return true, uint64(e.size()), nil
		}
		if uint32(v>>32) == tag {
			other, _ := s.slotOffset(v)
			o, _ := s.loadHeader(other)
			if o.klen == e.klen && s.keysEqualAt(other, &o, off, e, e.klen) {
				s.setWord(other+format.EntHead, o.withState(format.EntryDead))
				s.setSlot(i, s.rebuiltSlot(tag, off, e))
				return false, uint64(e.size()) - uint64(o.size()), nil
			}
		}
		i = (i + 1) & s.mask
	}
	return false, 0, ErrCorrupt
}
