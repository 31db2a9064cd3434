package kv

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// Extents. A shard's index and log live together in one extent, a run of
// whole pages inside the shard's span, named by an extent word in the
// shard's control block, whose bits layout.go lays out. One word, so that a
// grow publishes its new extent with one atomic store (grow.go), and a
// reader that loads it sees a whole extent, old or new. Words come from
// shared memory: every one is checked against the shard's span before
// anything is placed by it, and against the self-description in the header
// at the place it names (layout.go), which says which shard the extent
// belongs to and which word publishes it, under a checksum keyed by the
// table's seed. A word damaged into another one that still lies in the span
// names a place whose header does not describe it: the shard reads as
// ErrCorrupt instead of as an extent of whatever bytes lie there, and
// Repair finds the extent again by its header.

// extent is a decoded extent word.
type extent struct {
	off   int64 // byte offset in the object
	size  int64 // bytes, a multiple of pageSize
	slots int   // index slots, a power of two
}

const (
	extentOffBits   = 34
	extentSlotsBits = 5
)

// newExtent places an extent of slots slots and at least log bytes of log
// at off; in an evicting table, with the ghost after the log, which is
// then the small log and the main log (evict.go). What follows the index
// is at most maxData, which decodeExtent holds every extent to: an
// evicting table's log gives way to its ghost.
func newExtent(off int64, slots int, log int64, evict bool) extent {
	data := min(log, maxData)
	if evict {
		data = min(log, maxData-ghostBytes(slots)) + ghostBytes(slots)
	}
	index := extHeaderSize + int64(slots)*slotSize
	size := roundUp(index+data, pageSize)
	if size-index > maxData {
		size -= pageSize // rounding up to a page passed the limit
	}
	return extent{off: off, size: size, slots: slots}
}

func (e extent) word() uint64 {
	return uint64(e.off/pageSize) | uint64(bits.TrailingZeros(uint(e.slots)))<<extentOffBits |
		uint64(e.size/pageSize)<<(extentOffBits+extentSlotsBits)
}

// dataBytes is what follows the index: in an evicting table the small
// log, the main log and the ghost, in any other the log.
func (e extent) dataBytes() int64 { return e.size - extHeaderSize - int64(e.slots)*slotSize }

func (e extent) end() int64 { return e.off + e.size }

// decodeExtent decodes w and checks it against the span [start, end): it
// must name an extent inside it, with a slot count and a log within the
// hard limits.
func decodeExtent(w uint64, start, end int64) (extent, bool) {
	e := extent{
		off:   int64(w&(1<<extentOffBits-1)) * pageSize,
		slots: 1 << (w >> extentOffBits & (1<<extentSlotsBits - 1)),
		size:  int64(w>>(extentOffBits+extentSlotsBits)) * pageSize,
	}
	d := e.dataBytes()
	ok := w != 0 && e.off >= start && e.size <= end-e.off &&
		e.slots >= minSlots && e.slots <= maxSlots && d >= minData && d <= maxData
	return e, ok
}

// decode is decodeExtent over s's span, and in an evicting table it also
// wants room for the ghost and a log after the index: at() places the
// ghost last, and a word (and a self-description, forged with the seed
// any opener reads) naming less would place the logs at negative sizes
// and offsets. newExtent gives every extent of an evicting table at least
// minData of log beside its ghost (the first one at least initialData).
func (s *shard) decode(w uint64) (extent, bool) {
	e, ok := decodeExtent(w, s.spanStart, s.spanEnd)
	return e, ok && (!s.evict || e.dataBytes()-ghostBytes(e.slots) >= minData)
}

// selfSum is the checksum of an extent's self-description: of the table's
// seed, then the words at bytes 48..72 of its header (layout.go).
func selfSum(seed, word, shard, gen uint64) uint64 {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[0:], seed)
	binary.LittleEndian.PutUint64(b[8:], word)
	binary.LittleEndian.PutUint64(b[16:], shard)
	binary.LittleEndian.PutUint64(b[24:], gen)
	return xxhash.Sum64(b[:])
}

// describe writes the self-description of e, generation gen of shard s's
// extents, into e's header. It must come before the store of the extent
// word that publishes e: a reader that loads that word (an atomic load,
// ordered after these atomic stores) finds the description in place. Its
// stores are steps of a kill sweep (as every region store): a writer
// killed among them leaves an extent no word names yet, which recovery
// releases (grow.go).
func (s *shard) describe(e extent, gen uint64) { s.writeDescription(e, gen, s.r.Store) }

// writeDescription is describe, with store for the region's.
func (s *shard) writeDescription(e extent, gen uint64, store func(i int64, v uint64)) {
	hdr, w := e.off/8, e.word()
	for _, f := range [...]struct {
		off int64
		v   uint64
	}{
		{extSelfWord, w},
		{extSelfShard, uint64(s.index)},
		{extGeneration, gen},
		{extSelfSum, selfSum(s.seed, w, uint64(s.index), gen)},
	} {
		store(hdr+f.off/8, f.v)
	}
}

// selfDescription is what an extent's header says of it.
type selfDescription struct {
	word, shard, gen, sum uint64
}

// describedAt loads the self-description in the header at byte offset
// off, which must lie in the shard's span with a header's room after it.
func (s *shard) describedAt(off int64) selfDescription {
	hdr := off / 8
	return selfDescription{
		word:  s.r.Load(hdr + extSelfWord/8),
		shard: s.r.Load(hdr + extSelfShard/8),
		gen:   s.r.Load(hdr + extGeneration/8),
		sum:   s.r.Load(hdr + extSelfSum/8),
	}
}

// valid reports whether d is a whole self-description of an extent of
// shard s: its checksum holds, it names s, and its word names an extent
// of s's span at off.
func (d selfDescription) valid(s *shard, off int64) bool {
	if d.sum != selfSum(s.seed, d.word, d.shard, d.gen) || d.shard != uint64(s.index) || d.gen == 0 {
		return false
	}
	e, ok := s.decode(d.word)
	return ok && e.off == off
}

// oneWordOff reports whether d would describe the extent shard s's word
// w names but for one damaged word of the four: the word and the shard
// still match (the generation or the checksum is damaged), or the
// checksum vouches for w and s (the word or the shard is).
func (d selfDescription) oneWordOff(s *shard, w uint64) bool {
	return d.word == w && d.shard == uint64(s.index) || d.sum == selfSum(s.seed, w, uint64(s.index), d.gen)
}

// described returns the generation of extent e of shard s, and whether
// e's header describes it as that: an extent of s, published by exactly
// e's word.
func (s *shard) described(e extent) (uint64, bool) {
	d := s.describedAt(e.off)
	return d.gen, d.word == e.word() && d.valid(s, e.off)
}

// extentProblem says what is wrong with w as shard s's extent word, or
// "" if nothing is: it names an extent of s's span whose header describes
// it. It reads the header afresh, not through the views current caches.
func (s *shard) extentProblem(w uint64) string {
	e, ok := s.decode(w)
	if !ok {
		return fmt.Sprintf("extent word %#x names no extent of the shard's span", w)
	}
	d := s.describedAt(e.off)
	switch {
	case d.word == w && d.valid(s, e.off):
		return ""
	case d.oneWordOff(s, w):
		return fmt.Sprintf("the self-description of the extent at %d, which extent word %#x names, is damaged (word %#x, shard %d, generation %d, checksum %#x)", e.off, w, d.word, d.shard, d.gen, d.sum)
	case d.valid(s, e.off):
		return fmt.Sprintf("extent word %#x names the extent at %d, whose header says it is published as %#x (generation %d)", w, e.off, d.word, d.gen)
	case d.sum == selfSum(s.seed, d.word, d.shard, d.gen) && d.shard != uint64(s.index):
		return fmt.Sprintf("extent word %#x names the extent at %d, whose header says it is shard %d's", w, e.off, d.shard)
	}
	return fmt.Sprintf("extent word %#x names %d, where no extent describes itself: the word is damaged", w, e.off)
}

// at returns the view of shard s over extent e: s with the extent's
// places filled in.
func (s shard) at(e extent) shard {
	s.ext = e
	s.hdr = e.off / 8
	s.slots = (e.off + extHeaderSize) / 8
	s.mask = uint64(e.slots - 1)
	s.data = e.off + extHeaderSize + int64(e.slots)*slotSize
	s.keyCap = e.slots * maxLoadNum / maxLoadDen
	s.size, s.lo, s.ghost, s.ghostMask = e.dataBytes(), 0, 0, 0
	if s.evict {
		s.splitForEviction()
	}
	s.end = s.lo + s.size
	return s
}

// splitForEviction places the small log, the main log and the ghost in
// the data of an evicting table's view. The ghost goes last, so that the
// index and the log lie together as in a table that does not evict:
// between them it made every read of an lru table slower.
func (s *shard) splitForEviction() {
	d := s.size - ghostBytes(s.ext.slots)
	s.ghost = (s.data + d) / 8
	s.ghostMask = uint64(s.ext.slots/2 - 1)
	s.lo = d / smallShareDen &^ 7
	s.size = d - s.lo
}

// view returns a copy of s over its current extent, for a writer, or
// false if the extent word is not one this shard could have written (a
// damaged or hostile word, one whose extent's header does not describe it,
// or a shard damaged beyond reading). It copies the
// view readers share (current), which decoding the word and placing the
// logs afresh on every write would cost more than.
func (s *shard) view() (shard, bool) {
	v, ok := s.current()
	if !ok {
		return shard{}, false
	}
	return *v, true
}

// current returns the view of s over its current extent for a reader,
// which must not change it: the one this handle built for the same extent
// word before, or a new one, kept for the next reader. A view depends on
// nothing but the shard's fixed places and the word, so one built for a
// word serves every later read that loads the same word; building it
// afresh on every read was an eighth of a Get. So the header's
// self-description is checked only here, when a view is built for a word
// this handle has not used: the one word this read trusts is what it
// checks, and later damage to the header (not to the word) is Check's to
// find.
//
// A reader that loaded a word a grow has since replaced may find its
// extent's header already given back (zeros) and report false: it retries,
// as on any race, and finds the sequence counter changed.
func (s *shard) current() (*shard, bool) {
	w := s.ctlLoad(ctlExtent)
	cache := &s.t.views[s.index]
	if v := cache.Load(); v != nil && v.ext.word() == w {
		return v, true
	}
	e, ok := s.decode(w)
	if !ok {
		return nil, false
	}
	gen, ok := s.described(e)
	if !ok {
		return nil, false
	}
	v := s.at(e)
	v.gen = gen
	cache.Store(&v)
	return &v, true
}

// The log's head and tail live in the extent's header: a new extent
// starts a new log.
func (s *shard) head() uint64     { return s.r.Load(s.hdr + extHead/8) }
func (s *shard) tail() uint64     { return s.r.Load(s.hdr + extTail/8) }
func (s *shard) setHead(p uint64) { s.r.Store(s.hdr+extHead/8, p) }
func (s *shard) setTail(p uint64) { s.r.Store(s.hdr+extTail/8, p) }

// ghostRange is the byte offset and size of the ghost, which gets memory
// whole when the extent is made; none outside an evicting table.
func (s *shard) ghostRange() (off, n int64) {
	if !s.evict {
		return 0, 0
	}
	return s.ghost * 8, ghostBytes(s.ext.slots)
}

// mainOff is the data offset of main log position p.
func (s *shard) mainOff(p uint64) int64 { return s.lo + int64(p%uint64(s.size)) }
