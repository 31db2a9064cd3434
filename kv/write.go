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

// store writes key=value under the lock; l is the key's lookup. It returns
// ErrFull, having changed nothing, when the shard cannot take the entry.
func (s *shard) store(key []byte, h uint64, value []byte, l lookup) error {
	need := entrySize(len(key), len(value))
	live := s.ctlLoad(ctlLiveEntries)
	liveBytes := int64(s.ctlLoad(ctlLiveBytes)) + need
	if l.found {
		liveBytes -= l.hdr.size()
	} else if int(live) >= s.keyCap {
		return ErrFull
	}
	if liveBytes > s.size-s.reserve {
		return ErrFull
	}

	s.beginWrite()
	defer s.endWrite()
	if !l.found && s.ctlLoad(ctlTombstones) >= s.maxTombstones() {
		if err := s.rebuild(); err != nil {
			return err
		}
		s.ctlAdd(ctlRebuilds, 1)
	}
	if err := s.makeRoom(need); err != nil {
		return err
	}
	// Cleaning moves entries and a rebuild moves slots: look again.
	l, err := s.find(key, h)
	if err != nil {
		return err
	}
	version := s.ctlLoad(ctlNextVersion)
	s.ctlStore(ctlNextVersion, version+1)
	head := s.ctlLoad(ctlHead)
	off := int64(head % uint64(s.size))
	s.writeEntry(off, h, key, value, version, 0)
	// The commit point: the entry is in the log from here on, and a rebuild
	// would find it and prefer it to any older version of the key.
	s.ctlStore(ctlHead, head+uint64(need))

	tag := tagOf(h)
	if l.found {
		s.setSlot(l.slot, slotValue(tag, off))
		s.setWord(l.off+entState, entryDead)
	} else {
		if s.slot(l.insert) == slotTombstone {
			s.ctlAdd(ctlTombstones, ^uint64(0))
		}
		s.setSlot(l.insert, slotValue(tag, off))
		s.ctlAdd(ctlLiveEntries, 1)
	}
	s.ctlStore(ctlLiveBytes, uint64(liveBytes))
	s.ctlAdd(ctlSets, 1)
	return nil
}

// remove deletes the found key under the lock.
func (s *shard) remove(l lookup) {
	s.beginWrite()
	// The commit point: a dead entry is skipped by every rebuild.
	s.setWord(l.off+entState, entryDead)
	s.clearSlot(l.slot)
	s.ctlAdd(ctlLiveEntries, ^uint64(0))
	s.ctlAdd(ctlLiveBytes, -uint64(l.hdr.size()))
	s.ctlAdd(ctlDeletes, 1)
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

// makeRoom cleans the log from its tail until need bytes plus one largest
// entry are free. Dead entries at the tail are dropped; live ones are copied
// to the head and their slot moved.
//
// It terminates: the caller has checked that the live bytes, counting an
// old version about to be replaced, leave need plus one largest entry free,
// so after at most one pass over the log, which drops every dead entry,
// there is room. Keeping one largest entry free at all times is what lets a
// live tail entry always be moved.
func (s *shard) makeRoom(need int64) error {
	head, tail := s.ctlLoad(ctlHead), s.ctlLoad(ctlTail)
	size := uint64(s.size)
	if head-tail > size {
		return errCorruptIndex
	}
	steps := (head-tail)/entryHeaderSize + 1
	for size-(head-tail) < uint64(need+s.maxEntry) {
		if steps == 0 || head == tail {
			return errCorruptIndex
		}
		steps--
		toff := int64(tail % size)
		e, ok := s.loadHeader(toff)
		esz := uint64(e.size())
		if !ok || esz > head-tail {
			return errCorruptIndex
		}
		if e.state == entryLive {
			if size-(head-tail) < esz {
				return errCorruptIndex
			}
			hoff := int64(head % size)
			s.copyWithin(hoff, toff, int64(esz))
			head += esz
			s.ctlStore(ctlHead, head)
			if err := s.retarget(s.hashAt(toff, e.klen), toff, hoff); err != nil {
				return err
			}
		}
		tail += esz
		s.ctlStore(ctlTail, tail)
	}
	return nil
}
