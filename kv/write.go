package kv

import (
	"github.com/shmkv/shmkv/kv/internal/format"
)

// put writes key=value under the lock; l is the key's lookup, expires
// when the entry expires (0 never), now the writer's clock. It grows the
// shard first if it is short of room and the table may take more memory
// (grow.go), which makes s a view of the new extent. It returns ErrFull,
// having changed nothing a reader can see, when the shard cannot take the
// entry: in a NoEviction table at its memory ceiling once expired entries
// are dropped, never in an EvictS3FIFO table.
func (s *shard) put(key []byte, h uint64, value []byte, expires uint64, l lookup, now int64) error {
	need := format.EntrySize(len(key), len(value), expires != 0)
	if err := s.growFor(need, &l, key, h, now); err != nil {
		return err
	}
	if !s.fits(need, l) && !s.evict && s.ctlLoad(format.CtlExpiring) == 0 {
		return ErrFull // nothing could be dropped to make room
	}
	if err := s.allocateFor(need, l); err != nil {
		return err
	}

	s.beginWrite()
	defer s.endWrite()
	if !l.found && s.ctlLoad(format.CtlTombstones) >= s.maxTombstones() {
		if err := s.rebuild(); err != nil {
			return err
		}
		s.ctlAdd(format.CtlRebuilds, 1)
		var err error
		if l, err = s.find(key, h, now); err != nil {
			return err
		}
		// The rebuild recounted the shard, which can change what cleaning
		// will do: give the log the memory that asks for (a system call
		// inside the write section, on this rare path only).
		if err := s.allocateFor(need, l); err != nil {
			return err
		}
	}
	small := s.toSmall(need, &l, h)
	var dropped bool
	var err error
	if small {
		dropped, err = s.makeSmallRoom(need, &l, now)
		if err == nil && l.found && l.off >= s.lo {
			// Cleaning moved the key's old version to the main log: the
			// new one goes there too, never into the small log while an
			// older one is live in the main log (internal/format/layout.go).
			small = false
		}
	}
	if !small && err == nil {
		var d bool
		d, err = s.makeRoom(need, &l, now)
		dropped = dropped || d
	}
	if err != nil {
		return err
	}
	if dropped {
		// Clearing a dropped entry's slot can empty slots on the key's
		// probe path: look again. (Moves only rewrite slot words in place,
		// and makeRoom keeps l's own offset up to date.)
		if l, err = s.find(key, h, now); err != nil {
			return err
		}
	}
	if uint64(need) > s.ctlLoad(format.CtlLargest) {
		s.ctlStore(format.CtlLargest, uint64(need))
	}
	var off int64
	if small {
		off = s.appendSmall(need, h, key, value, expires)
	} else {
		head := s.head()
		off = s.mainOff(head)
		s.writeEntry(off, h, key, value, expires)
		// The commit point: the entry is in the log from here on, and a
		// rebuild would find it and prefer it, later in the log, to any
		// older version of the key (which is in this log or the small one).
		s.setHead(head + uint64(need))
	}

	tag := format.TagOf(h)
	if l.found {
		s.setSlot(l.slot, slotValue(tag, off))
		s.retire(l.off, &l.hdr, now)
	} else {
		if s.slot(l.insert) == format.SlotTombstone {
			s.ctlAdd(format.CtlTombstones, ^uint64(0))
		}
		s.setSlot(l.insert, slotValue(tag, off))
		s.ctlAdd(format.CtlLiveEntries, 1)
	}
	s.ctlAdd(format.CtlLiveBytes, uint64(need))
	if expires != 0 {
		s.ctlAdd(format.CtlExpiring, 1)
	}
	s.ctlAdd(format.CtlSets, 1)
	return nil
}

// remove deletes the found key under the lock.
func (s *shard) remove(l lookup, now int64) {
	s.beginWrite()
	// The commit point: a dead entry is skipped by every rebuild.
	s.retire(l.off, &l.hdr, now)
	s.clearSlot(l.slot)
	s.ctlAdd(format.CtlLiveEntries, ^uint64(0))
	if !l.expired {
		s.ctlAdd(format.CtlDeletes, 1)
	}
	s.endWrite()
}
