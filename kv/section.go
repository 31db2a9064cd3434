package kv

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
	"github.com/shmkv/shmkv/kv/internal/failpoint"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/region"
)

// The write section: the primitives every change to a shard is made of,
// below the writes, cleaning and growth that use them. Only a holder of
// the shard's lock calls them.

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

// retire marks the live entry at off dead and takes it out of the live
// counts; its slot is the caller's business. An expired entry counts as an
// expiration.
func (v *view) retire(off int64, e *entryHeader, now int64) {
	v.setWord(off+format.EntHead, e.withState(format.EntryDead))
	v.ctlAdd(format.CtlLiveBytes, -uint64(e.size()))
	if off < v.lo {
		v.ctlAdd(format.CtlSmallBytes, -uint64(e.size()))
	}
	if e.expires != 0 {
		v.ctlAdd(format.CtlExpiring, ^uint64(0))
		if isExpired(e, now) {
			v.ctlAdd(format.CtlExpirations, 1)
		}
	}
}

var zeroPad [8]byte

// writeEntry writes a whole live entry at off, in free log space.
func (v *view) writeEntry(off int64, h uint64, key, value []byte, expires uint64) {
	word := uint64(len(key)) | uint64(len(value))<<format.EntKeyBits | format.EntryLive<<format.EntStateShift
	n := format.EntryHeaderSize
	if expires != 0 {
		word |= format.EntExpiryBit
		n += 8
	}
	sum := format.EntryChecksum(h, word, expires, xxhash.Sum64(value))
	pad := (8 - (len(key)+len(value))%8) % 8
	if end := off + int64(n+len(key)+len(value)+pad); end <= v.end {
		// Most entries do not wrap: one slice of the log, the header's
		// words stored in place, two copies.
		failpoint.Step()
		d := v.r.B[v.data+off : v.data+end]
		binary.LittleEndian.PutUint64(d[format.EntHead:], word)
		binary.LittleEndian.PutUint64(d[format.EntChecksum:], sum)
		if expires != 0 {
			binary.LittleEndian.PutUint64(d[format.EntExpires:], expires)
		}
		m := n + copy(d[n:], key)
		m += copy(d[m:], value)
		clear(d[m:])
		return
	}
	var hdr [format.EntryHeaderSize + 8]byte
	binary.LittleEndian.PutUint64(hdr[format.EntHead:], word)
	binary.LittleEndian.PutUint64(hdr[format.EntChecksum:], sum)
	if expires != 0 {
		binary.LittleEndian.PutUint64(hdr[format.EntExpires:], expires)
	}
	v.writeBytes(off, hdr[:n])
	p := v.wrap(off + int64(n))
	v.writeBytes(p, key)
	p = v.wrap(p + int64(len(key)))
	v.writeBytes(p, value)
	p = v.wrap(p + int64(len(value)))
	v.writeBytes(p, zeroPad[:pad])
}
