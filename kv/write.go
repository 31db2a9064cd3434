package kv

import (
	"encoding/binary"
	"errors"

	"github.com/cespare/xxhash/v2"
)

// errCorruptIndex is internal: the index disagrees with the log, and a
// rebuild from the log will fix it.
var errCorruptIndex = errors.New("shmkv: index disagrees with the log")

// beginWrite and endWrite bracket every change to a shard with atomic
// increments of its sequence counter, which is odd in between. Readers that
// see it odd, or see it change across their read, retry (read.go).
func (s *shard) beginWrite() { s.ctlAdd(ctlSeq, 1) }
func (s *shard) endWrite()   { s.ctlAdd(ctlSeq, 1) }

// store writes key=value under the lock; l is the key's lookup, expires
// when the entry expires (0 never), now the writer's clock. It returns
// ErrFull, having changed nothing a reader can see, when the shard cannot
// take the entry: in a NoEviction table once expired entries are dropped,
// never in an EvictLRU table.
func (s *shard) store(key []byte, h uint64, value []byte, expires uint64, l lookup, now int64) error {
	need := entrySize(len(key), len(value))
	if !s.fits(need, l) && !s.evict && s.ctlLoad(ctlExpiring) == 0 {
		return ErrFull // nothing could be dropped to make room
	}

	s.beginWrite()
	defer s.endWrite()
	if !l.found && s.ctlLoad(ctlTombstones) >= s.maxTombstones() {
		if err := s.rebuild(); err != nil {
			return err
		}
		s.ctlAdd(ctlRebuilds, 1)
		var err error
		if l, err = s.find(key, h, now); err != nil {
			return err
		}
	}
	dropped, err := s.makeRoom(need, &l, now)
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
	version := s.ctlLoad(ctlNextVersion)
	s.ctlStore(ctlNextVersion, version+1)
	head := s.ctlLoad(ctlHead)
	off := int64(head % uint64(s.size))
	s.writeEntry(off, h, key, value, version, expires)
	// The commit point: the entry is in the log from here on, and a rebuild
	// would find it and prefer it to any older version of the key.
	s.ctlStore(ctlHead, head+uint64(need))

	tag := tagOf(h)
	if l.found {
		s.setSlot(l.slot, slotValue(tag, off))
		s.retire(l.off, &l.hdr, now)
	} else {
		if s.slot(l.insert) == slotTombstone {
			s.ctlAdd(ctlTombstones, ^uint64(0))
		}
		s.setSlot(l.insert, slotValue(tag, off))
		s.ctlAdd(ctlLiveEntries, 1)
	}
	s.ctlAdd(ctlLiveBytes, uint64(need))
	if expires != 0 {
		s.ctlAdd(ctlExpiring, 1)
	}
	s.ctlAdd(ctlSets, 1)
	return nil
}

// fits reports whether an entry of need bytes, replacing l's entry if
// found, fits the shard's key and byte limits as they stand.
func (s *shard) fits(need int64, l lookup) bool {
	liveBytes := int64(s.ctlLoad(ctlLiveBytes)) + need
	if l.found {
		liveBytes -= l.hdr.size()
	} else if int(s.ctlLoad(ctlLiveEntries)) >= s.keyCap {
		return false
	}
	return liveBytes <= s.size-s.reserve
}

// retire marks the live entry at off dead and takes it out of the live
// counts; its slot is the caller's business. An expired entry counts as an
// expiration.
func (s *shard) retire(off int64, e *entryHeader, now int64) {
	s.setWord(off+entState, entryDead)
	s.ctlAdd(ctlLiveBytes, -uint64(e.size()))
	if e.expires != 0 {
		s.ctlAdd(ctlExpiring, ^uint64(0))
		if isExpired(e, now) {
			s.ctlAdd(ctlExpirations, 1)
		}
	}
}

// remove deletes the found key under the lock.
func (s *shard) remove(l lookup, now int64) {
	s.beginWrite()
	// The commit point: a dead entry is skipped by every rebuild.
	s.retire(l.off, &l.hdr, now)
	s.clearSlot(l.slot)
	s.ctlAdd(ctlLiveEntries, ^uint64(0))
	if !l.expired {
		s.ctlAdd(ctlDeletes, 1)
	}
	s.endWrite()
}

var zeroPad [8]byte

// writeEntry writes a whole live entry at off, in free log space.
func (s *shard) writeEntry(off int64, h uint64, key, value []byte, version, expires uint64) {
	var hdr [entryHeaderSize]byte
	le := binary.LittleEndian
	le.PutUint64(hdr[entLengths:], uint64(uint32(len(key)))|uint64(uint32(len(value)))<<32)
	le.PutUint64(hdr[entState:], entryLive)
	le.PutUint64(hdr[entVersion:], version)
	le.PutUint64(hdr[entExpires:], expires)
	le.PutUint64(hdr[entChecksum:], entryChecksum(h, len(key), len(value), version, expires, xxhash.Sum64(value)))
	s.writeBytes(off, hdr[:])
	p := s.wrap(off + entryHeaderSize)
	s.writeBytes(p, key)
	p = s.wrap(p + int64(len(key)))
	s.writeBytes(p, value)
	p = s.wrap(p + int64(len(value)))
	s.writeBytes(p, zeroPad[:(8-(len(key)+len(value))%8)%8])
}

// makeRoom cleans the log from its tail until an entry of need bytes fits,
// and reports whether it dropped any entry:
// one largest entry more than need free in the log, and the entry within
// the shard's key and byte limits (l is the key's lookup, which a drop may
// turn into not found). At the tail, a dead entry is dropped and an expired
// one too; in an EvictLRU table an entry nobody read since cleaning last
// passed it is evicted while the limits are exceeded; any other live entry
// is copied to the head, with its referenced mark cleared, and its slot
// moved. A damaged stretch at the tail, or an entry there that fails its
// checksum and that no slot points at, is dropped and counted
// (ctlDamaged); since a slot may point into what was dropped, makeRoom then
// returns errCorruptIndex and the caller rebuilds the index and retries.
//
// It terminates: every step drops an entry or moves one, and it stops after
// passing over the log twice, by which time every dead and expired entry is
// gone and, in an lru table, every entry has lost its mark and then been
// evicted if need be. In a NoEviction table the limits may still be
// exceeded then: that is ErrFull, and what was moved or dropped changed
// nothing a reader can see. Keeping one largest entry free at all times is
// what lets a live tail entry always be moved.
func (s *shard) makeRoom(need int64, l *lookup, now int64) (dropped bool, err error) {
	head, tail := s.ctlLoad(ctlHead), s.ctlLoad(ctlTail)
	size := uint64(s.size)
	if head-tail > size {
		return false, errCorruptIndex
	}
	// Past one pass, readers in other processes may have marked again
	// what the first pass cleared: the second pass ignores the marks, so
	// that an lru table always makes room.
	firstPass := head - tail
	budget := 2*firstPass + 1
	for {
		limitsOK := s.fits(need, *l)
		if limitsOK && size-(head-tail) >= uint64(need+s.maxEntry) {
			return dropped, nil
		}
		if head == tail || budget == 0 {
			if !limitsOK {
				return dropped, ErrFull
			}
			return dropped, errCorruptIndex
		}
		it := s.itemAt(tail, head, false)
		toff, esz, e := it.off, it.size, it.hdr
		budget -= min(budget, esz)
		switch {
		case it.kind == itemDamage:
			// Nothing readable to keep: drop the stretch. A slot may still
			// point into it, so have the caller rebuild the index.
			s.ctlAdd(ctlDamaged, 1)
			s.ctlStore(ctlTail, tail+esz)
			return dropped, errCorruptIndex
		case it.kind == itemEntry && e.state != entryDead:
			if e.state != entryLive {
				return dropped, errCorruptIndex
			}
			h := s.hashAt(toff, e.klen)
			i, v, err := s.slotOf(h, toff)
			if err != nil {
				if s.checksumAt(toff, &e) != e.checksum {
					// Damage the index never held (rebuild steps over it).
					s.ctlAdd(ctlDamaged, 1)
					s.ctlStore(ctlTail, tail+esz)
					return dropped, errCorruptIndex
				}
				return dropped, err
			}
			unused := v&slotReferenced == 0 || budget <= firstPass
			if isExpired(&e, now) || (s.evict && !limitsOK && unused) {
				s.drop(i, toff, &e, now)
				dropped = true
				if l.found && l.off == toff {
					*l = lookup{} // the key's old entry is gone: it is a new key now
				}
			} else {
				if size-(head-tail) < esz {
					return dropped, errCorruptIndex
				}
				hoff := int64(head % size)
				s.copyWithin(hoff, toff, int64(esz))
				head += esz
				s.ctlStore(ctlHead, head)
				// Written afresh, the slot loses its referenced bit: the
				// entry's second chance.
				s.setSlot(i, slotValue(tagOf(h), hoff))
				if l.found && l.off == toff {
					l.off = hoff
				}
			}
		}
		tail += esz
		s.ctlStore(ctlTail, tail)
	}
}
