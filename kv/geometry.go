package kv

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// geometry is what the header declares: every size and offset of a table.
type geometry struct {
	seed          uint64
	created       int64
	shards        int
	slotsPerShard int
	dataPerShard  int64
	maxKey        int
	maxValue      int
	registrySlots int
	eviction      uint32
	lockInode     uint64

	registryOffset int64
	controlOffset  int64
	slotsOffset    int64
	dataOffset     int64
	totalSize      int64
}

// place computes the section offsets from the counts.
func (g *geometry) place() {
	g.registryOffset = headerSize
	g.controlOffset = roundUp(g.registryOffset+int64(g.registrySlots)*registryRecordSize, 4096)
	g.slotsOffset = roundUp(g.controlOffset+int64(g.shards)*controlSize, 4096)
	g.dataOffset = roundUp(g.slotsOffset+int64(g.shards)*int64(g.slotsPerShard)*slotSize, 4096)
	g.totalSize = roundUp(g.dataOffset+int64(g.shards)*g.dataPerShard, 4096)
}

// maxEntry is the log bytes of the largest entry the table accepts.
func (g *geometry) maxEntry() int64 { return entrySize(g.maxKey, g.maxValue) }

// reserve is the free log space a shard keeps beyond its live data: one
// largest entry so that cleaning can always move the tail entry, and one
// more so that an overwrite fits while the old version is still live.
func (g *geometry) reserve() int64 { return 2 * g.maxEntry() }

// encode writes the header, all but its magic, into h.
func (g *geometry) encode(h []byte) {
	le := binary.LittleEndian
	le.PutUint32(h[offLayoutVersion:], layoutVersion)
	le.PutUint32(h[offHeaderSize:], headerSize)
	le.PutUint64(h[offSeed:], g.seed)
	le.PutUint64(h[offCreated:], uint64(g.created))
	le.PutUint32(h[offShards:], uint32(g.shards))
	le.PutUint32(h[offSlotsPerShard:], uint32(g.slotsPerShard))
	le.PutUint64(h[offDataPerShard:], uint64(g.dataPerShard))
	le.PutUint32(h[offMaxKey:], uint32(g.maxKey))
	le.PutUint32(h[offMaxValue:], uint32(g.maxValue))
	le.PutUint32(h[offRegistrySlots:], uint32(g.registrySlots))
	le.PutUint32(h[offEviction:], g.eviction)
	le.PutUint64(h[offRegistryOffset:], uint64(g.registryOffset))
	le.PutUint64(h[offControlOffset:], uint64(g.controlOffset))
	le.PutUint64(h[offSlotsOffset:], uint64(g.slotsOffset))
	le.PutUint64(h[offDataOffset:], uint64(g.dataOffset))
	le.PutUint64(h[offTotalSize:], uint64(g.totalSize))
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
	slots := le.Uint32(h[offSlotsPerShard:])
	data := le.Uint64(h[offDataPerShard:])
	maxKey := le.Uint32(h[offMaxKey:])
	maxValue := le.Uint32(h[offMaxValue:])
	procs := le.Uint32(h[offRegistrySlots:])
	switch {
	case shards == 0 || shards > maxShards || bits.OnesCount32(shards) != 1:
		return geometry{}, fmt.Errorf("%w: %d shards", ErrCorrupt, shards)
	case slots < minSlots || slots > maxSlots || bits.OnesCount32(slots) != 1:
		return geometry{}, fmt.Errorf("%w: %d slots per shard", ErrCorrupt, slots)
	case data < minData || data > uint64(maxData) || data%8 != 0:
		return geometry{}, fmt.Errorf("%w: %d data bytes per shard", ErrCorrupt, data)
	case maxKey == 0 || maxKey > MaxKeyLimit:
		return geometry{}, fmt.Errorf("%w: max key %d", ErrCorrupt, maxKey)
	case maxValue > MaxValueLimit:
		return geometry{}, fmt.Errorf("%w: max value %d", ErrCorrupt, maxValue)
	case procs == 0 || procs > maxProcs:
		return geometry{}, fmt.Errorf("%w: %d registry slots", ErrCorrupt, procs)
	}
	g := geometry{
		seed:          le.Uint64(h[offSeed:]),
		created:       int64(le.Uint64(h[offCreated:])),
		shards:        int(shards),
		slotsPerShard: int(slots),
		dataPerShard:  int64(data),
		maxKey:        int(maxKey),
		maxValue:      int(maxValue),
		registrySlots: int(procs),
		eviction:      le.Uint32(h[offEviction:]),
		lockInode:     le.Uint64(h[offLockInode:]),
	}
	if g.eviction > uint32(EvictLRU) {
		return geometry{}, fmt.Errorf("%w: eviction policy %d", ErrVersion, g.eviction)
	}
	// All counts are bounded above, so none of these products overflows.
	g.place()
	if g.totalSize > maxTotalSize {
		return geometry{}, fmt.Errorf("%w: total size %d", ErrCorrupt, g.totalSize)
	}
	if uint64(g.registryOffset) != le.Uint64(h[offRegistryOffset:]) ||
		uint64(g.controlOffset) != le.Uint64(h[offControlOffset:]) ||
		uint64(g.slotsOffset) != le.Uint64(h[offSlotsOffset:]) ||
		uint64(g.dataOffset) != le.Uint64(h[offDataOffset:]) ||
		uint64(g.totalSize) != le.Uint64(h[offTotalSize:]) {
		return geometry{}, fmt.Errorf("%w: section offsets disagree with the counts", ErrCorrupt)
	}
	if g.totalSize > objectSize {
		return geometry{}, fmt.Errorf("%w: header declares %d bytes, the object has %d", ErrCorrupt, g.totalSize, objectSize)
	}
	if g.dataPerShard < g.reserve()+g.maxEntry() {
		return geometry{}, fmt.Errorf("%w: %d data bytes per shard cannot hold a largest entry", ErrCorrupt, g.dataPerShard)
	}
	return g, nil
}
