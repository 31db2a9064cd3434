package kv

import (
	"fmt"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// decode is format.DecodeExtent over s's span, and in an evicting table it also
// wants room for the ghost and a log after the index: at() places the
// ghost last, and a word (and a self-description, forged with the seed
// any opener reads) naming less would place the logs at negative sizes
// and offsets. format.NewExtent gives every extent of an evicting table at least
// format.MinData of log beside its ghost (the first one at least initialData).
func (s *shard) decode(w uint64) (format.Extent, bool) {
	e, ok := format.DecodeExtent(w, s.spanStart, s.spanEnd)
	return e, ok && (!s.evict || e.DataBytes()-format.GhostBytes(e.Slots) >= format.MinData)
}

// describe writes the self-description of e, generation gen of shard s's
// extents, into e's header. It must come before the store of the extent
// word that publishes e: a reader that loads that word (an atomic load,
// ordered after these atomic stores) finds the description in place. Its
// stores are steps of a kill sweep (as every region store): a writer
// killed among them leaves an extent no word names yet, which recovery
// releases (grow.go).
func (s *shard) describe(e format.Extent, gen uint64, depth int) {
	s.writeDescription(e, gen, depth, s.r.Store)
}

// writeDescription is describe, with store for the region's.
func (s *shard) writeDescription(e format.Extent, gen uint64, depth int, store func(i int64, v uint64)) {
	hdr, w, self := e.Off/8, e.Word(), s.selfWord(depth)
	for _, f := range [...]struct {
		off int64
		v   uint64
	}{
		{format.ExtSelfWord, w},
		{format.ExtSelfShard, self},
		{format.ExtGeneration, gen},
		{format.ExtSelfSum, format.SelfSum(s.seed, w, self, gen)},
	} {
		store(hdr+f.off/8, f.v)
	}
}

// selfWord is the self shard word of an extent of s at depth depth.
func (s *shard) selfWord(depth int) uint64 { return uint64(s.index) | uint64(depth)<<32 }

// selfDescription is what an extent's header says of it.
type selfDescription struct {
	word, shard, gen, sum uint64
}

// depth is the shard depth d's shard word gives.
func (d selfDescription) depth() int { return int(d.shard >> 32) }

// names reports whether d's shard word names shard s at a depth s may
// have: one that holds s's own class (s's number is below 2^depth) and
// no more than the table's shards allow.
func (d selfDescription) names(s *shard) bool {
	depth := d.shard >> 32
	return uint32(d.shard) == uint32(s.index) && depth >= uint64(s.minDepth) && depth <= uint64(s.maxDepth) && uint64(s.index) < 1<<depth
}

// describedAt loads the self-description in the header at byte offset
// off, which must lie in the shard's span with a header's room after it.
func (s *shard) describedAt(off int64) selfDescription {
	hdr := off / 8
	return selfDescription{
		word:  s.r.Load(hdr + format.ExtSelfWord/8),
		shard: s.r.Load(hdr + format.ExtSelfShard/8),
		gen:   s.r.Load(hdr + format.ExtGeneration/8),
		sum:   s.r.Load(hdr + format.ExtSelfSum/8),
	}
}

// valid reports whether d is a whole self-description of an extent of
// shard s: its checksum holds, it names s, and its word names an extent
// of s's span at off.
func (d selfDescription) valid(s *shard, off int64) bool {
	if d.sum != format.SelfSum(s.seed, d.word, d.shard, d.gen) || !d.names(s) || d.gen == 0 {
		return false
	}
	e, ok := s.decode(d.word)
	return ok && e.Off == off
}

// oneWordOff reports whether d would describe the extent shard s's word
// w names but for one damaged word of the four, and returns the shard
// word, with the depth, that it would have. The checksum is asked first:
// if it vouches for w and s at some depth (with d's generation), the word
// or the shard word is the damaged one, and the depth is the one it
// vouches for (vouched). Otherwise, if the word and the shard word still
// name w and s, the generation or the checksum is damaged, and the shard
// word, depth included, is taken as it stands.
func (d selfDescription) oneWordOff(s *shard, w uint64) (self uint64, vouched, ok bool) {
	for depth := s.minDepth; depth <= s.maxDepth; depth++ {
		if self := s.selfWord(depth); s.index < 1<<depth && d.sum == format.SelfSum(s.seed, w, self, d.gen) {
			return self, true, true
		}
	}
	if d.word == w && d.names(s) {
		return d.shard, false, true
	}
	return 0, false, false
}

// described returns the self-description of extent e of shard s, and
// whether e's header describes it as that: an extent of s, published by
// exactly e's word.
func (s *shard) described(e format.Extent) (selfDescription, bool) {
	d := s.describedAt(e.Off)
	return d, d.word == e.Word() && d.valid(s, e.Off)
}

// extentProblem says what is wrong with w as shard s's extent word, or
// "" if nothing is: it names an extent of s's span whose header describes
// it. It reads the header afresh, not through the views current caches.
func (s *shard) extentProblem(w uint64) string {
	e, ok := s.decode(w)
	if !ok {
		return fmt.Sprintf("extent word %#x names no extent of the shard's span", w)
	}
	d := s.describedAt(e.Off)
	switch {
	case d.word == w && d.valid(s, e.Off):
		return ""
	case func() bool { _, _, ok := d.oneWordOff(s, w); return ok }():
		return fmt.Sprintf("the self-description of the extent at %d, which extent word %#x names, is damaged (word %#x, shard %d, generation %d, checksum %#x)", e.Off, w, d.word, d.shard, d.gen, d.sum)
	case d.valid(s, e.Off):
		return fmt.Sprintf("extent word %#x names the extent at %d, whose header says it is published as %#x (generation %d)", w, e.Off, d.word, d.gen)
	case d.sum == format.SelfSum(s.seed, d.word, d.shard, d.gen) && uint32(d.shard) != uint32(s.index):
		return fmt.Sprintf("extent word %#x names the extent at %d, whose header says it is shard %d's", w, e.Off, uint32(d.shard))
	}
	return fmt.Sprintf("extent word %#x names %d, where no extent describes itself: the word is damaged", w, e.Off)
}

// at returns the view of shard s over extent e: s with the extent's
// places filled in.
func (s *shard) at(e format.Extent) view {
	v := view{shard: *s, ext: e, extWord: e.Word()}
	v.hdr = e.Off / 8
	v.slots = (e.Off + format.ExtHeaderSize) / 8
	v.mask = uint64(e.Slots - 1)
	v.data = e.Off + format.ExtHeaderSize + int64(e.Slots)*format.SlotSize
	v.keyCap = e.Slots * maxLoadNum / maxLoadDen
	v.size = e.DataBytes()
	if v.evict {
		v.splitForEviction()
	}
	v.end = v.lo + v.size
	return v
}

// splitForEviction places the small log, the main log and the ghost in
// the data of an evicting table's view. The ghost goes last, so that the
// index and the log lie together as in a table that does not evict:
// between them it made every read of an evicting table slower.
func (v *view) splitForEviction() {
	d := v.size - format.GhostBytes(v.ext.Slots)
	v.ghost = (v.data + d) / 8
	v.ghostMask = uint64(v.ext.Slots/2 - 1)
	v.lo = d / format.SmallShareDen &^ 7
	v.size = d - v.lo
}

// peek is the view of s over its current extent, or false as current
// says, made afresh and not kept: for a shard that may not be in use,
// whose extent is what a split that died left (split.go). A view kept for
// it would serve the next split's extent of the buddy, which can come at
// the same word and the same depth, with less of its log allocated
// (logFull, logmemory.go).
func (s *shard) peek() (view, bool) {
	e, ok := s.decode(s.ctlLoad(format.CtlExtent))
	if !ok {
		return view{}, false
	}
	d, ok := s.described(e)
	if !ok {
		return view{}, false
	}
	v := s.at(e)
	v.gen = d.gen
	v.setDepth(d.depth())
	return v, true
}

// view returns a copy of s over its current extent, for recovery, Check
// and the like, or false if the extent word is not one this shard could
// have written (a damaged or hostile word, one whose extent's header does
// not describe it, or a shard damaged beyond reading). It copies the view
// readers and writers share (current, its depth checked: currentChecked);
// update's writes use that one itself.
func (s *shard) view() (view, bool) {
	v, ok := s.currentChecked()
	if !ok {
		return view{}, false
	}
	return *v, true
}

// current returns the view of s over its current extent for a reader, or
// for a writer in update, neither of which may change it: the one this
// handle built for the same extent word before, or a new one, kept for
// the next caller. A view depends on
// the shard's fixed places and the word, and on the depth in the extent's
// header, so one built for a word serves every later read that loads the
// same word, but for the depth, which a word can come back with greater
// (sameDepth, split.go, says who checks it); building it afresh on every
// read was an eighth of a Get. So the header's self-description is checked
// only here, when a view is built for a word this handle has not used:
// the one word this read trusts is what it checks, and later damage to the
// header (not to the word) is Check's to find.
//
// A reader that loaded a word a grow has since replaced may find its
// extent's header already given back (zeros) and report false: it retries,
// as on any race, and finds the sequence counter changed.
func (s *shard) current() (*view, bool) {
	w := s.ctlLoad(format.CtlExtent)
	cache := &s.t.views[s.index]
	if v := cache.Load(); v != nil && v.extWord == w {
		return v, true
	}
	e, ok := s.decode(w)
	if !ok {
		return nil, false
	}
	d, ok := s.described(e)
	if !ok {
		return nil, false
	}
	v := s.at(e)
	v.gen = d.gen
	v.setDepth(d.depth())
	v.logFull = v.allocated() == v.size
	cache.Store(&v)
	return &v, true
}

// The log's head and tail live in the extent's header: a new extent
// starts a new log.
func (v *view) head() uint64     { return v.r.Load(v.hdr + format.ExtHead/8) }
func (v *view) tail() uint64     { return v.r.Load(v.hdr + format.ExtTail/8) }
func (v *view) setHead(p uint64) { v.r.Store(v.hdr+format.ExtHead/8, p) }
func (v *view) setTail(p uint64) { v.r.Store(v.hdr+format.ExtTail/8, p) }

// ghostRange is the byte offset and size of the ghost, which gets memory
// whole when the extent is made; none outside an evicting table.
func (v *view) ghostRange() (off, n int64) {
	if !v.evict {
		return 0, 0
	}
	return v.ghost * 8, format.GhostBytes(v.ext.Slots)
}

// mainOff is the data offset of main log position p.
func (v *view) mainOff(p uint64) int64 { return v.lo + int64(p%uint64(v.size)) }
