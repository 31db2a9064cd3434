package kv

import (
	"github.com/shmkv/shmkv/kv/internal/format"
)

// put writes key=value under the lock; l is the key's lookup, expires
// when the entry expires (0 never), now the writer's clock. It grows the
// shard first if it is short of room and the table may take more memory
// (grow.go), which makes v a view of the new extent. It returns ErrFull,
// having changed nothing a reader can see, when the shard cannot take the
// entry: in a NoEviction table at its memory ceiling once expired entries
// are dropped, never in an EvictS3FIFO table.
func (v *view) put(key []byte, h uint64, value []byte, expires uint64, l *lookup, now int64) error {
	need := format.EntrySize(len(key), len(value), expires != 0)
	// The shard's counts, loaded once for every check below (admission).
	a := v.admit(need)
	if a.growWanted(v, l) {
		grown, err := v.growFor(need, l, key, h, now)
		if err != nil {
			return err
		}
		if grown != nil {
			v = grown
			a = v.admit(need) // the grow recounted the shard
		}
	}
	limitsOK := a.fits(v, l)
	if !limitsOK && !v.evict && v.ctlLoad(format.CtlExpiring) == 0 {
		return ErrFull // nothing could be dropped to make room
	}
	if err := v.allocateFor(&a, l); err != nil {
		return err
	}

	v.beginWrite()
	defer v.endWrite()
	if !l.found && v.ctlLoad(format.CtlTombstones) >= v.maxTombstones() {
		if err := v.rebuild(); err != nil {
			return err
		}
		v.ctlAdd(format.CtlRebuilds, 1)
		if err := v.find(key, h, now, l); err != nil {
			return err
		}
		// The rebuild recounted the shard, which can change what cleaning
		// will do: give the log the memory that asks for (a system call
		// inside the write section, on this rare path only).
		a = v.admit(need)
		limitsOK = a.fits(v, l)
		if err := v.allocateFor(&a, l); err != nil {
			return err
		}
	}
	small := v.toSmall(need, l, h)
	var dropped bool
	var err error
	if small {
		dropped, err = v.makeSmallRoom(need, l, now)
		a.reload(v) // the small log's cleaning changes the counts
		limitsOK = a.fits(v, l)
		if err == nil && l.found && l.off >= v.lo {
			// Cleaning moved the key's old version to the main log: the
			// new one goes there too, never into the small log while an
			// older one is live in the main log (internal/format/layout.go).
			small = false
		}
	}
	if !small && err == nil {
		var d bool
		d, err = v.makeRoom(&a, l, now, limitsOK)
		dropped = dropped || d
	}
	if err != nil {
		return err
	}
	if dropped {
		// Clearing a dropped entry's slot can empty slots on the key's
		// probe path: look again. (Moves only rewrite slot words in place,
		// and makeRoom keeps l's own offset up to date.)
		if err = v.find(key, h, now, l); err != nil {
			return err
		}
	}
	if need > a.held { // as loaded: only a grow or a rebuild (above) changes it
		v.ctlStore(format.CtlLargest, uint64(need))
	}
	var off int64
	if small {
		off = v.appendSmall(need, h, key, value, expires)
	} else {
		head := v.head()
		off = v.mainOff(head)
		v.writeEntry(off, h, key, value, expires)
		// The commit point: the entry is in the log from here on, and a
		// rebuild would find it and prefer it, later in the log, to any
		// older version of the key (which is in this log or the small one).
		v.setHead(head + uint64(need))
	}

	tag := format.TagOf(h)
	if l.found {
		v.setSlot(l.slot, slotValue(tag, off))
		v.retire(l.off, &l.hdr, now)
	} else {
		if v.slot(l.insert) == format.SlotTombstone {
			v.ctlAdd(format.CtlTombstones, ^uint64(0))
		}
		v.setSlot(l.insert, slotValue(tag, off))
		v.ctlAdd(format.CtlLiveEntries, 1)
	}
	v.ctlAdd(format.CtlLiveBytes, uint64(need))
	if expires != 0 {
		v.ctlAdd(format.CtlExpiring, 1)
	}
	v.ctlAdd(format.CtlSets, 1)
	return nil
}

// remove deletes the found key under the lock.
func (v *view) remove(l *lookup, now int64) {
	v.beginWrite()
	// The commit point: a dead entry is skipped by every rebuild.
	v.retire(l.off, &l.hdr, now)
	v.clearSlot(l.slot)
	v.ctlAdd(format.CtlLiveEntries, ^uint64(0))
	if !l.expired {
		v.ctlAdd(format.CtlDeletes, 1)
	}
	v.endWrite()
}
