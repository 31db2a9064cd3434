package format

import (
	"encoding/binary"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// Extents. A shard's index and log live together in one extent, a run of
// whole pages inside the shard's span, named by an extent word in the
// shard's control block, whose bits layout.go lays out. One word, so that a
// grow publishes its new extent with one atomic store (kv/grow.go), and a
// reader that loads it sees a whole extent, old or new. Words come from
// shared memory: every one is checked against the shard's span before
// anything is placed by it, and against the self-description in the header
// at the place it names (layout.go), which says which shard the extent
// belongs to and which word publishes it, under a checksum keyed by the
// table's seed. A word damaged into another one that still lies in the span
// names a place whose header does not describe it: the shard reads as
// ErrCorrupt instead of as an extent of whatever bytes lie there, and
// Repair finds the extent again by its header.

// Extent is a decoded Extent word.
type Extent struct {
	Off   int64 // byte offset in the object
	Size  int64 // bytes, a multiple of PageSize
	Slots int   // index slots, a power of two
}

const (
	ExtentOffBits   = 34
	ExtentSlotsBits = 5
)

// NewExtent places an extent of slots slots and at least log bytes of log
// at off; in an evicting table, with the ghost after the log, which is
// then the small log and the main log (kv/evict.go). What follows the index
// is at most MaxData, which DecodeExtent holds every extent to: an
// evicting table's log gives way to its ghost.
func NewExtent(off int64, slots int, log int64, evict bool) Extent {
	data := min(log, MaxData)
	if evict {
		data = min(log, MaxData-GhostBytes(slots)) + GhostBytes(slots)
	}
	index := ExtHeaderSize + int64(slots)*SlotSize
	size := RoundUp(index+data, PageSize)
	if size-index > MaxData {
		size -= PageSize // rounding up to a page passed the limit
	}
	return Extent{Off: off, Size: size, Slots: slots}
}

func (e Extent) Word() uint64 {
	return uint64(e.Off/PageSize) | uint64(bits.TrailingZeros(uint(e.Slots)))<<ExtentOffBits |
		uint64(e.Size/PageSize)<<(ExtentOffBits+ExtentSlotsBits)
}

// DataBytes is what follows the index: in an evicting table the small
// log, the main log and the ghost, in any other the log.
func (e Extent) DataBytes() int64 { return e.Size - ExtHeaderSize - int64(e.Slots)*SlotSize }

func (e Extent) End() int64 { return e.Off + e.Size }

// DecodeExtent decodes w and checks it against the span [start, end): it
// must name an extent inside it, with a slot count and a log within the
// hard limits.
func DecodeExtent(w uint64, start, end int64) (Extent, bool) {
	e := Extent{
		Off:   int64(w&(1<<ExtentOffBits-1)) * PageSize,
		Slots: 1 << (w >> ExtentOffBits & (1<<ExtentSlotsBits - 1)),
		Size:  int64(w>>(ExtentOffBits+ExtentSlotsBits)) * PageSize,
	}
	d := e.DataBytes()
	ok := w != 0 && e.Off >= start && e.Size <= end-e.Off &&
		e.Slots >= MinSlots && e.Slots <= MaxSlots && d >= MinData && d <= MaxData
	return e, ok
}

// SelfSum is the checksum of an extent's self-description: of the table's
// seed, then the words at bytes 48..72 of its header (layout.go).
func SelfSum(seed, word, shard, gen uint64) uint64 {
	var b [32]byte
	binary.LittleEndian.PutUint64(b[0:], seed)
	binary.LittleEndian.PutUint64(b[8:], word)
	binary.LittleEndian.PutUint64(b[16:], shard)
	binary.LittleEndian.PutUint64(b[24:], gen)
	return xxhash.Sum64(b[:])
}

// GhostBytes is the size of the ghost of an extent of slots slots: a word
// for every other slot, as many as the main log holds entries at the
// index's usual fill.
func GhostBytes(slots int) int64 { return int64(slots/2) * 8 }

// SmallShareDen: the small log of an evicting table takes 1/SmallShareDen
// of an extent's log space (layout.go).
const SmallShareDen = 10
