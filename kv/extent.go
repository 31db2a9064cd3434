package kv

import "math/bits"

// Extents. A shard's index and log live together in one extent, a run of
// whole pages inside the shard's span, named by an extent word in the
// shard's control block (layout.go):
//
//	bits  0-33  offset in the object, in pages
//	bits 34-38  log2 of the slot count
//	bits 39-63  size, in pages
//
// One word, so that a grow publishes its new extent with one atomic store
// (grow.go), and a reader that loads it sees a whole extent, old or new.
// Words come from shared memory: every one is checked against the shard's
// span before anything is placed by it.

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
// torn or hostile word, or a shard damaged beyond reading). It copies the
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
// afresh on every read was an eighth of a Get.
func (s *shard) current() (*shard, bool) {
	w := s.ctlLoad(ctlExtent)
	cache := &s.t.views[s.index]
	if v := cache.Load(); v != nil && v.ext.word() == w {
		return v, true
	}
	e, ok := decodeExtent(w, s.spanStart, s.spanEnd)
	if !ok {
		return nil, false
	}
	v := s.at(e)
	cache.Store(&v)
	return &v, true
}

// The log's head and tail live in the extent's header: a new extent
// starts a new log.
func (s *shard) head() uint64     { return s.r.load(s.hdr + extHead/8) }
func (s *shard) tail() uint64     { return s.r.load(s.hdr + extTail/8) }
func (s *shard) setHead(p uint64) { s.r.store(s.hdr+extHead/8, p) }
func (s *shard) setTail(p uint64) { s.r.store(s.hdr+extTail/8, p) }

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
