package kv

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// geometry is what the header declares: every fixed size and offset of a
// table. What changes as shards grow (each shard's extent) lives in the
// control blocks.
type geometry struct {
	seed          uint64
	created       int64
	shards        int
	registrySlots int
	maxKey        int
	maxValue      int
	eviction      uint32
	maxMemory     int64
	lockInode     uint64

	registryOffset int64
	controlOffset  int64
	extentsOffset  int64
	span           int64
	totalSize      int64
}

// place computes the section offsets from the counts and the span.
func (g *geometry) place() {
	g.registryOffset = headerSize
	g.controlOffset = roundUp(g.registryOffset+int64(g.registrySlots)*registryRecordSize, pageSize)
	g.extentsOffset = roundUp(g.controlOffset+int64(g.shards)*controlSize, pageSize)
	g.totalSize = g.extentsOffset + int64(g.shards)*g.span
}

// spanOf returns the bytes [start, end) of the object that shard i's
// extents live in.
func (g *geometry) spanOf(i int) (start, end int64) {
	start = g.extentsOffset + int64(i)*g.span
	return start, start + g.span
}

// maxEntry is the log bytes of the largest entry the table accepts.
func (g *geometry) maxEntry() int64 { return entrySize(g.maxKey, g.maxValue, true) }

// encode writes the header, all but its magic, into h.
func (g *geometry) encode(h []byte) {
	le := binary.LittleEndian
	le.PutUint32(h[offLayoutVersion:], layoutVersion)
	le.PutUint32(h[offHeaderSize:], headerSize)
	le.PutUint64(h[offSeed:], g.seed)
	le.PutUint64(h[offCreated:], uint64(g.created))
	le.PutUint32(h[offShards:], uint32(g.shards))
	le.PutUint32(h[offRegistrySlots:], uint32(g.registrySlots))
	le.PutUint32(h[offMaxKey:], uint32(g.maxKey))
	le.PutUint32(h[offMaxValue:], uint32(g.maxValue))
	le.PutUint32(h[offEviction:], g.eviction)
	le.PutUint64(h[offRegistryOffset:], uint64(g.registryOffset))
	le.PutUint64(h[offControlOffset:], uint64(g.controlOffset))
	le.PutUint64(h[offExtentsOffset:], uint64(g.extentsOffset))
	le.PutUint64(h[offSpan:], uint64(g.span))
	le.PutUint64(h[offTotalSize:], uint64(g.totalSize))
	le.PutUint64(h[offMaxMemory:], uint64(g.maxMemory))
	le.PutUint64(h[offLockInode:], g.lockInode)
	le.PutUint64(h[offChecksum:], xxhash.Sum64(h[offLayoutVersion:checksummedEnd]))
}

// decodeHeader reads and checks a header against the size of the object it
// came from. h must hold at least headerSize bytes and its magic must
// already have been checked. Every field is checked before it is used to
// size or place anything.
func decodeHeader(h []byte, objectSize int64) (geometry, error) {
	le := binary.LittleEndian
	if v := le.Uint32(h[offLayoutVersion:]); v != layoutVersion {
		return geometry{}, fmt.Errorf("%w: layout version %d, this package reads %d", ErrVersion, v, layoutVersion)
	}
	if sum := xxhash.Sum64(h[offLayoutVersion:checksummedEnd]); sum != le.Uint64(h[offChecksum:]) {
		return geometry{}, fmt.Errorf("%w: header checksum mismatch", ErrCorrupt)
	}
	if hs := le.Uint32(h[offHeaderSize:]); hs != headerSize {
		return geometry{}, fmt.Errorf("%w: header size %d", ErrCorrupt, hs)
	}
	shards := le.Uint32(h[offShards:])
	procs := le.Uint32(h[offRegistrySlots:])
	maxKey := le.Uint32(h[offMaxKey:])
	maxValue := le.Uint32(h[offMaxValue:])
	span := le.Uint64(h[offSpan:])
	maxMemory := le.Uint64(h[offMaxMemory:])
	switch {
	case shards == 0 || shards > maxShards || bits.OnesCount32(shards) != 1:
		return geometry{}, fmt.Errorf("%w: %d shards", ErrCorrupt, shards)
	case procs == 0 || procs > maxProcs:
		return geometry{}, fmt.Errorf("%w: %d registry slots", ErrCorrupt, procs)
	case maxKey == 0 || maxKey > MaxKeyLimit:
		return geometry{}, fmt.Errorf("%w: max key %d", ErrCorrupt, maxKey)
	case maxValue > MaxValueLimit:
		return geometry{}, fmt.Errorf("%w: max value %d", ErrCorrupt, maxValue)
	case span < pageSize || span > uint64(maxTotalSize) || span%pageSize != 0:
		return geometry{}, fmt.Errorf("%w: span %d", ErrCorrupt, span)
	case maxMemory > uint64(maxTotalSize):
		return geometry{}, fmt.Errorf("%w: max memory %d", ErrCorrupt, maxMemory)
	}
	g := geometry{
		seed:          le.Uint64(h[offSeed:]),
		created:       int64(le.Uint64(h[offCreated:])),
		shards:        int(shards),
		registrySlots: int(procs),
		maxKey:        int(maxKey),
		maxValue:      int(maxValue),
		eviction:      le.Uint32(h[offEviction:]),
		span:          int64(span),
		maxMemory:     int64(maxMemory),
		lockInode:     le.Uint64(h[offLockInode:]),
	}
	if g.eviction > uint32(EvictLRU) {
		return geometry{}, fmt.Errorf("%w: eviction policy %d", ErrVersion, g.eviction)
	}
	// shards and span are bounded above, so none of these overflows.
	g.place()
	if g.totalSize > maxTotalSize {
		return geometry{}, fmt.Errorf("%w: total size %d", ErrCorrupt, g.totalSize)
	}
	if uint64(g.registryOffset) != le.Uint64(h[offRegistryOffset:]) ||
		uint64(g.controlOffset) != le.Uint64(h[offControlOffset:]) ||
		uint64(g.extentsOffset) != le.Uint64(h[offExtentsOffset:]) ||
		uint64(g.totalSize) != le.Uint64(h[offTotalSize:]) {
		return geometry{}, fmt.Errorf("%w: section offsets disagree with the counts", ErrCorrupt)
	}
	if g.totalSize > objectSize {
		return geometry{}, fmt.Errorf("%w: header declares %d bytes, the object has %d", ErrCorrupt, g.totalSize, objectSize)
	}
	return g, nil
}
