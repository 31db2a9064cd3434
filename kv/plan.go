package kv

import (
	"fmt"
	"math"
	"math/bits"
)

// Planning a new table: how many shards, how large each shard's first
// extent, how large each span. Everything here is fixed at creation except
// the extents, which grow (grow.go).
const (
	minMaxMemory = 64 << 10
	maxMaxMemory = maxTotalSize / spanFactor / 2
	// shardMemory: one shard for each this much of MaxMemory, up to
	// maxAutoShards, so that writers of unrelated keys rarely meet in a
	// large table and a small one stays small.
	shardMemory   = 16 << 20
	maxAutoShards = 256
	// initialSlots and initialData make a shard's first extent one page
	// when nothing is expected of it.
	initialSlots = 32
	initialData  = pageSize - extHeaderSize - initialSlots*slotSize
	// spanFactor: each span holds spanFactor times its shard's share of
	// MaxMemory, room for the current extent and a grown one beside it
	// even when hashing gives a shard twice its share.
	spanFactor = 6
	// maxLoad is the fraction of a shard's slots that may hold live
	// entries.
	maxLoadNum, maxLoadDen = 3, 4
	// logSlack is how much larger than its expected live data a shard's
	// log is made when Keys or Memory says what to expect.
	logSlack = 1.5
)

// defaultMaxMemory is a quarter of the /dev/shm filesystem, or 1 GiB if
// its size cannot be read, within the limits.
func defaultMaxMemory() int64 {
	size := shmFilesystemSize() / 4
	if size <= 0 {
		size = 1 << 30
	}
	return min(max(size, minMaxMemory), maxMaxMemory)
}

// plan chooses the geometry of a new table for o, which has its defaults,
// and the extent each shard starts with (at offset 0 of its span).
func plan(o *Options) (geometry, extent, error) {
	g := geometry{
		maxKey: o.MaxKeySize, maxValue: o.MaxValueSize, registrySlots: defaultProcs,
		eviction: uint32(o.Eviction), maxMemory: o.MaxMemory,
	}
	shards := min(max(floorPow2(o.MaxMemory/shardMemory), ceilPow2(int64(o.Keys)/4096)), maxAutoShards)
	if o.Keys > maxAutoShards*4096 {
		shards = min(ceilPow2(int64(o.Keys)/4096), maxShards)
	}
	g.shards = int(max(shards, 1))

	// Hashing spreads keys unevenly: give each shard room for its share of
	// what is expected plus four standard deviations.
	slots, data := int64(initialSlots), int64(initialData)
	expected := o.Keys > 0 || o.Memory > 0
	if expected {
		keys := float64(o.Keys) / float64(g.shards)
		slack := 1 + 4/math.Sqrt(max(keys, 1))
		slots = max(slots, ceilPow2(int64(math.Ceil(keys*slack*maxLoadDen/maxLoadNum))))
		bytes := (float64(o.Memory) + float64(o.Keys)*(entryHeaderSize+7)) * logSlack / float64(g.shards) * slack
		data = max(data, roundUp(int64(bytes), 8))
	}
	if slots > maxSlots || data > maxData {
		return g, extent{}, fmt.Errorf("%w: Keys %d and Memory %d need more than one shard can hold", ErrInvalidOptions, o.Keys, o.Memory)
	}
	// With nothing expected, the first extent is one page, whatever it
	// holds beside the log; otherwise the log is what was asked for.
	first := newExtent(0, int(slots), data, expected && o.Eviction == EvictLRU)
	g.span = roundUp(max(spanFactor*o.MaxMemory/int64(g.shards), 3*first.size), pageSize)
	g.place()
	if start := g.extentsOffset + int64(g.shards)*first.size; start > o.MaxMemory {
		return g, extent{}, fmt.Errorf("%w: MaxMemory %d cannot hold the %d bytes the table starts with", ErrInvalidOptions, o.MaxMemory, start)
	}
	if g.totalSize > maxTotalSize {
		return g, extent{}, fmt.Errorf("%w: the table would span %d bytes", ErrInvalidOptions, g.totalSize)
	}
	return g, first, nil
}

func ceilPow2(n int64) int64 {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len64(uint64(n-1))
}

func floorPow2(n int64) int64 {
	if n < 1 {
		return 1
	}
	return 1 << (bits.Len64(uint64(n)) - 1)
}
