package kv

import (
	"encoding/binary"
	"errors"

	"github.com/cespare/xxhash/v2"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/region"
)

// errCorruptIndex is internal: the index disagrees with the log, and a
// rebuild from the log will fix it.
var errCorruptIndex = errors.New("shmkv: index disagrees with the log")

// beginWrite and endWrite bracket every change to a shard with atomic
// increments of its sequence counter, which is odd in between. Readers that
// see it odd, or see it change across their read, retry (read.go). The
// counter is also what watchers sleep on: endWrite wakes them (watch.go).
//
// The fence after the first increment makes every store of the change,
// plain copies included, observed after the counter went odd, which a
// reader that skips checksums relies on (read.go). endWrite needs none:
// its increment is an atomic read-modify-write, observed after every store
// before it: on amd64 a LOCK XADD (memmove's non-temporal stores, the only
// ones a locked instruction might not order, end with its own SFENCE), on
// arm64 an LDADDAL or a store-release exclusive.
func (s *shard) beginWrite() {
	s.ctlAdd(format.CtlSeq, 1)
	region.StoreFence()
}
func (s *shard) endWrite() {
	s.ctlAdd(format.CtlSeq, 1)
	if s.ctlLoad(format.CtlWatched) != 0 {
		s.wakeWatchers()
	}
}

// store writes key=value under the lock; l is the key's lookup, expires
// when the entry expires (0 never), now the writer's clock. It grows the
// shard first if it is short of room and the table may take more memory
// (grow.go), which makes s a view of the new extent. It returns ErrFull,
// having changed nothing a reader can see, when the shard cannot take the
// entry: in a NoEviction table at its memory ceiling once expired entries
// are dropped, never in an EvictLRU table.
func (s *shard) store(key []byte, h uint64, value []byte, expires uint64, l lookup, now int64) error {
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

// fits reports whether an entry of need bytes in the main log, replacing
// l's entry if found, fits the shard's key and byte limits as they stand.
func (s *shard) fits(need int64, l lookup) bool {
	liveBytes := s.mainLive() + need
	if l.found {
		if l.off >= s.lo {
			liveBytes -= l.hdr.size()
		}
	} else if int(s.ctlLoad(format.CtlLiveEntries)) >= s.keyCap {
		return false
	}
	return liveBytes <= s.size-s.reserve(need)
}

// retire marks the live entry at off dead and takes it out of the live
// counts; its slot is the caller's business. An expired entry counts as an
// expiration.
func (s *shard) retire(off int64, e *entryHeader, now int64) {
	s.setWord(off+format.EntHead, e.withState(format.EntryDead))
	s.ctlAdd(format.CtlLiveBytes, -uint64(e.size()))
	if off < s.lo {
		s.ctlAdd(format.CtlSmallBytes, -uint64(e.size()))
	}
	if e.expires != 0 {
		s.ctlAdd(format.CtlExpiring, ^uint64(0))
		if isExpired(e, now) {
			s.ctlAdd(format.CtlExpirations, 1)
		}
	}
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

var zeroPad [8]byte

// writeEntry writes a whole live entry at off, in free log space.
func (s *shard) writeEntry(off int64, h uint64, key, value []byte, expires uint64) {
	var hdr [format.EntryHeaderSize + 8]byte
	word := uint64(len(key)) | uint64(len(value))<<format.EntKeyBits | format.EntryLive<<format.EntStateShift
	n := format.EntryHeaderSize
	if expires != 0 {
		word |= format.EntExpiryBit
		binary.LittleEndian.PutUint64(hdr[format.EntExpires:], expires)
		n += 8
	}
	binary.LittleEndian.PutUint64(hdr[format.EntHead:], word)
	binary.LittleEndian.PutUint64(hdr[format.EntChecksum:], format.EntryChecksum(h, word, expires, xxhash.Sum64(value)))
	s.writeBytes(off, hdr[:n])
	p := s.wrap(off + int64(n))
	s.writeBytes(p, key)
	p = s.wrap(p + int64(len(key)))
	s.writeBytes(p, value)
	p = s.wrap(p + int64(len(value)))
	s.writeBytes(p, zeroPad[:(8-(len(key)+len(value))%8)%8])
}
