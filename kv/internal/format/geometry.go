package format

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// Geometry is what the header declares: every fixed size and offset of a
// table. What changes as shards grow (each shard's extent) lives in the
// control blocks.
type Geometry struct {
	Seed          uint64
	Created       int64
	Shards        int
	InitialShards int // the shards in use from creation; the others are split into (layout.go)
	RegistrySlots int
	MaxKey        int
	MaxValue      int
	Eviction      uint32
	MaxMemory     int64
	LockInode     uint64

	RegistryOffset int64
	ControlOffset  int64
	ExtentsOffset  int64
	Span           int64
	TotalSize      int64
}

// Place computes the section offsets from the counts and the span.
func (g *Geometry) Place() {
	g.RegistryOffset = HeaderSize
	g.ControlOffset = RoundUp(g.RegistryOffset+int64(g.RegistrySlots)*RegistryRecordSize, PageSize)
	g.ExtentsOffset = RoundUp(g.ControlOffset+int64(g.Shards)*ControlSize, PageSize)
	g.TotalSize = g.ExtentsOffset + int64(g.Shards)*g.Span
}

// SpanOf returns the bytes [start, end) of the object that shard i's
// extents live in.
func (g *Geometry) SpanOf(i int) (start, end int64) {
	start = g.ExtentsOffset + int64(i)*g.Span
	return start, start + g.Span
}

// MaxEntry is the log bytes of the largest entry the table accepts.
func (g *Geometry) MaxEntry() int64 { return EntrySize(g.MaxKey, g.MaxValue, true) }

// Encode writes the header, all but its magic, into h.
func (g *Geometry) Encode(h []byte) {
	le := binary.LittleEndian
	le.PutUint32(h[OffLayoutVersion:], LayoutVersion)
	le.PutUint32(h[OffHeaderSize:], HeaderSize)
	le.PutUint64(h[OffSeed:], g.Seed)
	le.PutUint64(h[OffCreated:], uint64(g.Created))
	le.PutUint32(h[OffShards:], uint32(g.Shards))
	le.PutUint32(h[OffRegistrySlots:], uint32(g.RegistrySlots))
	le.PutUint32(h[OffMaxKey:], uint32(g.MaxKey))
	le.PutUint32(h[OffMaxValue:], uint32(g.MaxValue))
	le.PutUint32(h[OffEviction:], g.Eviction)
	le.PutUint32(h[OffInitialShards:], uint32(g.InitialShards))
	le.PutUint64(h[OffRegistryOffset:], uint64(g.RegistryOffset))
	le.PutUint64(h[OffControlOffset:], uint64(g.ControlOffset))
	le.PutUint64(h[OffExtentsOffset:], uint64(g.ExtentsOffset))
	le.PutUint64(h[OffSpan:], uint64(g.Span))
	le.PutUint64(h[OffTotalSize:], uint64(g.TotalSize))
	le.PutUint64(h[OffMaxMemory:], uint64(g.MaxMemory))
	le.PutUint64(h[OffLockInode:], g.LockInode)
	le.PutUint64(h[OffChecksum:], xxhash.Sum64(h[OffLayoutVersion:ChecksummedEnd]))
}

// DecodeHeader reads and checks a header against the size of the object it
// came from. h must hold at least HeaderSize bytes and its magic must
// already have been checked. Every field is checked before it is used to
// size or place anything.
func DecodeHeader(h []byte, objectSize int64) (Geometry, error) {
	le := binary.LittleEndian
	if v := le.Uint32(h[OffLayoutVersion:]); v != LayoutVersion {
		return Geometry{}, fmt.Errorf("%w: layout version %d, this package reads %d", ErrVersion, v, LayoutVersion)
	}
	if sum := xxhash.Sum64(h[OffLayoutVersion:ChecksummedEnd]); sum != le.Uint64(h[OffChecksum:]) {
		return Geometry{}, fmt.Errorf("%w: header checksum mismatch", ErrCorrupt)
	}
	if hs := le.Uint32(h[OffHeaderSize:]); hs != HeaderSize {
		return Geometry{}, fmt.Errorf("%w: header size %d", ErrCorrupt, hs)
	}
	shards := le.Uint32(h[OffShards:])
	initial := le.Uint32(h[OffInitialShards:])
	procs := le.Uint32(h[OffRegistrySlots:])
	maxKey := le.Uint32(h[OffMaxKey:])
	maxValue := le.Uint32(h[OffMaxValue:])
	span := le.Uint64(h[OffSpan:])
	maxMemory := le.Uint64(h[OffMaxMemory:])
	switch {
	case shards == 0 || shards > MaxShards || bits.OnesCount32(shards) != 1:
		return Geometry{}, fmt.Errorf("%w: %d shards", ErrCorrupt, shards)
	case initial == 0 || initial > shards || bits.OnesCount32(initial) != 1:
		return Geometry{}, fmt.Errorf("%w: %d initial shards of %d", ErrCorrupt, initial, shards)
	case procs == 0 || procs > MaxProcs:
		return Geometry{}, fmt.Errorf("%w: %d registry slots", ErrCorrupt, procs)
	case maxKey == 0 || maxKey > MaxKeyLimit:
		return Geometry{}, fmt.Errorf("%w: max key %d", ErrCorrupt, maxKey)
	case maxValue > MaxValueLimit:
		return Geometry{}, fmt.Errorf("%w: max value %d", ErrCorrupt, maxValue)
	case span < PageSize || span > uint64(MaxTotalSize) || span%PageSize != 0:
		return Geometry{}, fmt.Errorf("%w: span %d", ErrCorrupt, span)
	case maxMemory > uint64(MaxTotalSize):
		return Geometry{}, fmt.Errorf("%w: max memory %d", ErrCorrupt, maxMemory)
	}
	g := Geometry{
		Seed:          le.Uint64(h[OffSeed:]),
		Created:       int64(le.Uint64(h[OffCreated:])),
		Shards:        int(shards),
		InitialShards: int(initial),
		RegistrySlots: int(procs),
		MaxKey:        int(maxKey),
		MaxValue:      int(maxValue),
		Eviction:      le.Uint32(h[OffEviction:]),
		Span:          int64(span),
		MaxMemory:     int64(maxMemory),
		LockInode:     le.Uint64(h[OffLockInode:]),
	}
	if g.Eviction > EvictS3FIFO {
		return Geometry{}, fmt.Errorf("%w: eviction policy %d", ErrVersion, g.Eviction)
	}
	// shards and span are bounded above, so none of these overflows.
	g.Place()
	if g.TotalSize > MaxTotalSize {
		return Geometry{}, fmt.Errorf("%w: total size %d", ErrCorrupt, g.TotalSize)
	}
	if uint64(g.RegistryOffset) != le.Uint64(h[OffRegistryOffset:]) ||
		uint64(g.ControlOffset) != le.Uint64(h[OffControlOffset:]) ||
		uint64(g.ExtentsOffset) != le.Uint64(h[OffExtentsOffset:]) ||
		uint64(g.TotalSize) != le.Uint64(h[OffTotalSize:]) {
		return Geometry{}, fmt.Errorf("%w: section offsets disagree with the counts", ErrCorrupt)
	}
	if g.TotalSize > objectSize {
		return Geometry{}, fmt.Errorf("%w: header declares %d bytes, the object has %d", ErrCorrupt, g.TotalSize, objectSize)
	}
	return g, nil
}
