package kv

import (
	"bytes"
	"math/bits"

	"github.com/shmkv/shmkv/kv/internal/failpoint"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/region"
)

// shard is the fixed handle of one shard: its places that never change
// (control block, span) and the table's limits. The table keeps one per
// shard; an operation works on a view of it over the shard's current
// extent (view, below). It holds no state of its own: everything that
// changes lives in the region.
//
// The fields a read uses come first, so that they share as few cache
// lines as they can: in a table of many shards, a Get at random meets
// its shard's fields cold. (With 256 shards in use, putting them first
// took a Get from 11.95 L1 misses to 11.19: bench/RESULTS.md.)
type shard struct {
	r        region.Region
	ctl      int64  // word index of the control block
	t        *Table // for what only the table can do: grow (grow.go)
	index    int
	maxKey   int
	maxValue int
	// classShift shifts a key's hash down to its class (split.go), of
	// maxDepth bits: log2 of the table's shards.
	classShift uint
	evict      bool // EvictS3FIFO

	lockWord  *uint32
	spanStart int64 // the bytes [spanStart, spanEnd) of the object hold this shard's extents
	spanEnd   int64
	seed      uint64
	maxEntry  int64 // log bytes of the largest entry the table accepts
	maxDepth  int
	// minDepth is the initial shards' depth, below which no extent's is.
	minDepth int
}

// view is a shard over one extent, its current one when it was made: the
// shard's fixed places with the extent's filled in (at, extent.go). A
// handle's readers and writers share one per shard and word (current),
// which none of them changes: a grow makes a new one (grow.go).
//
// As in shard, the fields a read uses come first, then the shard's, whose
// own come first too.
type view struct {
	extWord   uint64 // ext.Word(), which current compares on every read
	classMask uint64 // 1<<depth - 1
	mask      uint64 // slots - 1
	slots     int64  // word index of slot 0
	data      int64  // byte offset of the data: the small log, then the main log
	lo        int64  // data offset where the main log starts: the small log's size (0: none)
	size      int64  // main log bytes, a multiple of 8
	end       int64  // lo + size: the data's end

	shard

	ext       format.Extent
	gen       uint64 // the extent's generation (its self-description)
	hdr       int64  // word index of the extent's header
	ghost     int64  // word index of the ghost (evict.go), in an evicting table
	ghostMask uint64 // ghost words - 1
	keyCap    int    // how many entries the index accepts
	depth     int    // the extent's depth: the low bits of a class this shard holds (split.go)
	self      uint64 // the self shard word of its description: the shard and the depth
	// logFull: the main log had memory to its end when this view was
	// made, so allocateFor has nothing to do (logmemory.go).
	logFull bool
}

func newShard(t *Table, g *format.Geometry, i int) shard {
	ctl := (g.ControlOffset + int64(i)*format.ControlSize) / 8
	start, end := g.SpanOf(i)
	return shard{
		t:         t,
		index:     i,
		r:         t.r,
		lockWord:  t.r.LockWord(ctl + format.CtlLock/8),
		ctl:       ctl,
		spanStart: start,
		spanEnd:   end,
		seed:      g.Seed,
		maxKey:    g.MaxKey,
		maxValue:  g.MaxValue,
		maxEntry:  g.MaxEntry(),
		evict:     g.Eviction == uint32(EvictS3FIFO),

		classShift: uint(64 - bits.TrailingZeros(uint(g.Shards))),
		maxDepth:   bits.TrailingZeros(uint(g.Shards)),
		minDepth:   bits.TrailingZeros(uint(g.InitialShards)),
	}
}

// largest is the largest entry the shard holds, or need if that is larger.
// The counter comes from shared memory: a value past the largest entry the
// table accepts, which no entry can have, is taken as that (a rebuild
// recounts it).
func (s *shard) largest(need int64) int64 {
	return max(int64(min(s.ctlLoad(format.CtlLargest), uint64(s.maxEntry))), need)
}

// reserve is the free log a shard keeps beyond its live data when it
// stores an entry of need bytes: room to move the largest entry from the
// tail (cleaning), and room for an overwrite while the old version is
// still live.
func (s *shard) reserve(need int64) int64 { return 2 * s.largest(need) }

func (s *shard) ctlLoad(field int64) uint64     { return s.r.Load(s.ctl + field/8) }
func (s *shard) ctlStore(field int64, v uint64) { s.r.Store(s.ctl+field/8, v) }
func (s *shard) ctlAdd(field int64, d uint64)   { s.r.Add(s.ctl+field/8, d) }

func (v *view) slot(i uint64) uint64          { return v.r.Load(v.slots + int64(i)) }
func (v *view) setSlot(i uint64, word uint64) { v.r.Store(v.slots+int64(i), word) }

// Slot words: see internal/format/layout.go. The offset is stored plus one so that no live
// slot is 0 (empty); it is at most format.MaxData/8, below format.SlotReferenced, so none
// is format.SlotTombstone.
// off is a data offset, never negative: a shift divides it by 8 in one
// instruction where a signed division takes four.
func slotValue(tag uint32, off int64) uint64 { return uint64(tag)<<32 | (uint64(off)>>3 + 1) }

// slotOffset returns the data offset a live slot word points at, and
// whether it lies inside the data area.
func (v *view) slotOffset(word uint64) (int64, bool) {
	u := int64(word & (format.SlotReferenced - 1))
	off := (u - 1) * 8
	return off, u >= 1 && off < v.end
}

// Data offsets: the small log, if any, is [0, lo), and its entries never
// wrap (evict.go); the main log is [lo, end), and an entry that runs past
// its end goes on at lo. So an offset past end, reached by adding to the
// offset of an entry, belongs to the main log and folds back by size.

// wrap folds a data offset in [0, end+size) back into [0, end).
func (v *view) wrap(off int64) int64 {
	if off >= v.end {
		off -= v.size
	}
	return off
}

// word loads the 8-byte word at data offset off, which is 8-byte aligned
// and in [0, end+size). (As in slotValue, the offset is not negative, and
// a shift divides it.)
func (v *view) word(off int64) uint64 { return v.r.Load((v.data + v.wrap(off)) >> 3) }

func (v *view) setWord(off int64, word uint64) { v.r.Store((v.data+v.wrap(off))>>3, word) }

// entryHeader is an entry's header words as loaded.
type entryHeader struct {
	klen, vlen int
	head       uint64 // the head word as loaded
	state      uint64 // its state field: format.EntryLive, format.EntryDead, possibly with format.EntryMarked
	expires    uint64 // 0 for never
	checksum   uint64
}

func (e *entryHeader) hasExpiry() bool { return e.head&format.EntExpiryBit != 0 }

// size is the log bytes the entry takes.
func (e *entryHeader) size() int64 { return format.EntrySize(e.klen, e.vlen, e.hasExpiry()) }

// keyAt is where the key of the entry at off starts.
func (e *entryHeader) keyAt(off int64) int64 {
	if e.hasExpiry() {
		return off + format.EntryHeaderSize + 8
	}
	return off + format.EntryHeaderSize
}

// valueAt is where its value starts.
func (e *entryHeader) valueAt(off int64) int64 { return e.keyAt(off) + int64(e.klen) }

// withState is the entry's head word with its state set to state.
func (e *entryHeader) withState(state uint64) uint64 {
	return e.head&^format.EntStateMask | state<<format.EntStateShift
}

// loadHeader loads the header of the entry at off and checks its lengths
// against the table's limits and against the log it is in: no entry is
// larger than the main log, and none in the small log runs past its end,
// which is what makes every read of its key and value (pieces) stay in
// the data. Everything it returns may be garbage written by a torn write or
// a hostile peer; ok only means it is safe to follow.
func (v *view) loadHeader(off int64) (e entryHeader, ok bool) {
	if off < 0 || off >= v.end || off%8 != 0 {
		return e, false
	}
	e.head = v.word(off + format.EntHead)
	e.klen = int(e.head & (1<<format.EntKeyBits - 1))
	e.vlen = int(e.head >> format.EntKeyBits & (1<<format.EntValueBits - 1))
	if e.klen < 1 || e.klen > v.maxKey || e.vlen > v.maxValue || e.head&format.EntUnknownBits != 0 {
		return e, false
	}
	if n := e.size(); n > v.size || off < v.lo && off+n > v.lo {
		return e, false
	}
	e.state = e.head >> format.EntStateShift & 7
	e.checksum = v.word(off + format.EntChecksum)
	if e.hasExpiry() {
		e.expires = v.word(off + format.EntExpires)
	}
	return e, true
}

// pieces returns the one or two contiguous runs of the n data bytes at
// off, which may wrap around the end of the main log. off must be in
// [0, end+size) and n at most size.
func (v *view) pieces(off int64, n int) (a, b []byte) {
	off = v.wrap(off)
	first := min(int64(n), v.end-off)
	return v.r.B[v.data+off : v.data+off+first], v.r.B[v.data+v.lo : v.data+v.lo+int64(n)-first]
}

// equalAt compares the len(b) data bytes at off with b. Lock-free readers
// use it too: the bytes may be changing, which the entry checksum catches.
// Most runs do not wrap, and take one slice and one comparison.
func (v *view) equalAt(off int64, b []byte) bool {
	if off = v.wrap(off); off+int64(len(b)) <= v.end {
		return bytes.Equal(v.r.B[v.data+off:v.data+off+int64(len(b))], b)
	}
	x, y := v.pieces(off, len(b))
	return bytes.Equal(x, b[:len(x)]) && bytes.Equal(y, b[len(x):])
}

// appendAt appends the n data bytes at off to dst. It allocates only if
// dst has less than n bytes of spare capacity. Like equalAt, it takes a
// run that does not wrap as one slice.
func (v *view) appendAt(dst []byte, off int64, n int) []byte {
	if off = v.wrap(off); off+int64(n) <= v.end {
		return append(dst, v.r.B[v.data+off:v.data+off+int64(n)]...)
	}
	x, y := v.pieces(off, n)
	return append(append(dst, x...), y...)
}

// writeBytes copies b into the data area at offset off (in [0, end)),
// wrapping at the end. Only writers holding the lock call it, between the
// two sequence increments.
func (v *view) writeBytes(off int64, b []byte) {
	failpoint.Step()
	first := min(int64(len(b)), v.end-off)
	copy(v.r.B[v.data+off:], b[:first])
	copy(v.r.B[v.data+v.lo:], b[first:])
}

// copyWithin copies n bytes inside the data area from src to dst (both in
// [0, end)), wrapping at the end. The two ranges must not overlap.
func (v *view) copyWithin(dst, src, n int64) {
	failpoint.Step()
	for n > 0 {
		chunk := min(n, v.end-dst, v.end-src)
		copy(v.r.B[v.data+dst:v.data+dst+chunk], v.r.B[v.data+src:v.data+src+chunk])
		dst, src, n = v.wrap(dst+chunk), v.wrap(src+chunk), n-chunk
	}
}

// isExpired reports whether e has expired at now (Unix nanoseconds).
func isExpired(e *entryHeader, now int64) bool {
	return e.expires != 0 && now >= int64(e.expires)
}
