package kv

import (
	"bytes"
	"fmt"
	"math"
	"math/bits"
	"os"
	"strconv"

	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/host"
)

// Planning a new table: how many shards, how large each shard's first
// extent, how large each span. Everything here is fixed at creation except
// the extents, which grow (grow.go).
const (
	minMaxMemory = 64 << 10
	maxMaxMemory = format.MaxTotalSize / spanFactor / 2
	// shardMemory: one shard for each this much of MaxMemory, up to
	// maxAutoShards, so that writers of unrelated keys rarely meet in a
	// large table and a small one stays small.
	shardMemory   = 16 << 20
	maxAutoShards = 256
	// initialAutoShards: a table starts with at most this many shards in
	// use, or as many as its Keys and Memory need, and splits them as its
	// data grows (split.go): a small table then keeps its writers' state
	// in a few cache lines, where one per shard of the ceiling spread a
	// Set over as many. Sixteen keeps writers of unrelated keys apart on
	// the few cores a small table is written from.
	initialAutoShards = 16
	// initialKeys is how many of the keys a table expects (Keys) each
	// shard in use from creation is planned for: 3 MiB of log at 64-byte
	// values, well below the size at which a shard splits. One per 4096
	// keys gave a table of a million keys 256 shards, whose fields and
	// control blocks a Get at random then found out of the L1 cache:
	// about five more misses a Get (bench/RESULTS.md, "Get at 1M keys").
	initialKeys = 32768
	// splitAbove: a shard that would grow into an extent larger than this
	// splits instead, while it may (split.go), so that a large table's
	// shards stay small enough to grow quickly and many enough that
	// writers rarely meet.
	splitAbove = shardMemory
	// initialSlots and initialData make a shard's first extent one page
	// when nothing is expected of it.
	initialSlots = 32
	initialData  = format.PageSize - format.ExtHeaderSize - initialSlots*format.SlotSize
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
	// addressSpaceShare: under a finite address-space limit (RLIMIT_AS,
	// ulimit -v), a default ceiling is lowered until mapping the table
	// takes at most 1/addressSpaceShare of the address space the limit
	// leaves the process. A quarter, because the rest is not this table's
	// to take: the Go runtime reserves address space as its heap grows
	// (in 64 MiB arenas) and for thread stacks (8 MiB each under cgo),
	// and the process may open more tables, each of whose defaults takes
	// a quarter of what is left by then, so that any number of them
	// leaves room. Under ulimit -v 4G a Go process maps about 1.2 GiB
	// before it opens anything, so a default table there maps about
	// 700 MiB, for a ceiling of about 115 MiB, and 2 GiB stay free.
	addressSpaceShare = 4
)

// defaultMaxMemory is a quarter of the /dev/shm filesystem, or 1 GiB if
// its size cannot be read, within the limits.
func defaultMaxMemory() int64 {
	size := host.ShmSize() / 4
	if size <= 0 {
		size = 1 << 30
	}
	return min(max(size, minMaxMemory), maxMaxMemory)
}

// fitAddressSpace lowers o.MaxMemory, which is the default, so that
// mapping the table takes at most the share of the address space that the
// process's limit (RLIMIT_AS) leaves it: every handle maps the whole
// object, spanFactor times the ceiling and the sections before the spans,
// and a mapping past the limit fails. It leaves o alone when there is no
// limit, when the table fits, or when plan rejects o anyway (create
// reports that). The ceiling goes no lower than the least a table has
// (minMaxMemory) nor below o.Memory, which it must hold; if no ceiling
// fits the share, that least one is taken if its mapping fits what the
// limit leaves at all, and otherwise the error is ErrAddressSpace.
//
// Only RLIMIT_AS counts the mapping. Strict overcommit
// (vm.overcommit_memory=2) does not: the kernel charges commit to private
// writable mappings only (accountable_mapping, in mm/mmap.c or, in recent
// kernels, mm/vma.h), and charges a tmpfs file page by page as it is given
// memory (shmem_acct_blocks, mm/shmem.c); see README, Deploying.
func fitAddressSpace(o *Options) error {
	limit := host.AddressSpaceLimit()
	if limit == 0 {
		return nil
	}
	used := addressSpaceUsed()
	left := int64(min(limit, uint64(format.MaxTotalSize))) - max(used, 0)
	budget := max(left, 0) / addressSpaceShare
	g, _, err := plan(o)
	if err != nil || g.TotalSize <= budget {
		return nil
	}
	least := max(int64(minMaxMemory), o.Memory)
	// Each round takes off a sixth of the excess (a page at least): the
	// mapping is spanFactor times the ceiling plus sections that shrink,
	// if at all, with it, so a round or two settles it.
	for m := min(o.MaxMemory, budget/spanFactor) &^ (format.PageSize - 1); m >= least; {
		p := *o
		p.MaxMemory = m
		g, _, err := plan(&p)
		if err != nil {
			break
		}
		if g.TotalSize <= budget {
			o.MaxMemory = m
			return nil
		}
		m = (m - max((g.TotalSize-budget+spanFactor-1)/spanFactor, format.PageSize)) &^ (format.PageSize - 1)
	}
	p := *o
	p.MaxMemory = least
	if g, _, err := plan(&p); err == nil {
		if g.TotalSize <= left {
			o.MaxMemory = least
			return nil
		}
		return &addressSpaceError{need: g.TotalSize, maxMemory: least, limit: limit, used: used, least: least == minMaxMemory}
	}
	return nil
}

// addressSpaceUsed returns the address space this process maps now
// (VmSize in /proc/self/status), what RLIMIT_AS is checked against, or -1
// if it cannot be read.
func addressSpaceUsed() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range bytes.Lines(status) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmSize:")); ok {
			f := bytes.Fields(rest) // "1227180 kB"
			if len(f) == 2 && string(f[1]) == "kB" {
				if kb, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	return -1
}

// plan chooses the geometry of a new table for o, which has its defaults,
// and the extent each shard starts with (at offset 0 of its span).
func plan(o *Options) (format.Geometry, format.Extent, error) {
	g := format.Geometry{
		MaxKey: o.MaxKeySize, MaxValue: o.MaxValueSize, RegistrySlots: defaultProcs,
		Eviction: uint32(o.Eviction), MaxMemory: o.MaxMemory,
	}
	// The most shards: one per shardMemory of the ceiling, or per
	// initialKeys of the keys expected. Keys count as the initial shards
	// do (below), so that those shards' first extents, sized for their
	// share of the keys, fit the spans the ceiling gives them: with more
	// shards planned than that, every span, those of shards not yet in use
	// too, was made three such extents large, and the object mapped about
	// twenty times the ceiling where it maps six.
	shards := min(max(floorPow2(o.MaxMemory/shardMemory), ceilPow2(int64(o.Keys)/initialKeys)), maxAutoShards)
	if o.Keys > maxAutoShards*initialKeys {
		shards = min(ceilPow2(int64(o.Keys)/initialKeys), format.MaxShards)
	}
	g.Shards = int(max(shards, 1))
	// In use from creation: a few, or as many as what is expected needs
	// (a shard for each initialKeys keys or shardMemory bytes); the rest
	// are split into as the data comes.
	g.InitialShards = int(min(max(initialAutoShards, ceilPow2(int64(o.Keys)/initialKeys), ceilPow2(o.Memory/shardMemory)), int64(g.Shards)))

	// Hashing spreads keys unevenly: give each shard room for its share of
	// what is expected plus four standard deviations.
	slots, data := int64(initialSlots), int64(initialData)
	expected := o.Keys > 0 || o.Memory > 0
	if expected {
		keys := float64(o.Keys) / float64(g.InitialShards)
		slack := 1 + 4/math.Sqrt(max(keys, 1))
		slots = max(slots, ceilPow2(int64(math.Ceil(keys*slack*maxLoadDen/maxLoadNum))))
		bytes := (float64(o.Memory) + float64(o.Keys)*(format.EntryHeaderSize+7)) * logSlack / float64(g.InitialShards) * slack
		data = max(data, format.RoundUp(int64(bytes), 8))
	}
	if slots > format.MaxSlots || data > format.MaxData {
		return g, format.Extent{}, &OptionError{Option: "Keys", Value: int64(o.Keys), Reason: fmt.Sprintf(
			"Options.Keys %d and Options.Memory %s need more than one shard can hold", o.Keys, sizeText(o.Memory))}
	}
	// With nothing expected, the first extent is one page, whatever it
	// holds beside the log; otherwise the log is what was asked for.
	first := format.NewExtent(0, int(slots), data, expected && o.Eviction == EvictS3FIFO)
	g.Span = format.RoundUp(max(spanFactor*o.MaxMemory/int64(g.Shards), 3*first.Size), format.PageSize)
	g.Place()
	if start := g.ExtentsOffset + int64(g.InitialShards)*first.Size; start > o.MaxMemory {
		if start > maxMaxMemory {
			return g, format.Extent{}, &OptionError{Option: "Keys", Value: int64(o.Keys), Reason: fmt.Sprintf(
				"Options.Keys %d and Options.Memory %s need %s at creation, more than the largest Options.MaxMemory, %s",
				o.Keys, sizeText(o.Memory), sizeText(start), sizeText(maxMaxMemory))}
		}
		// The smallest ceiling that holds what the table starts with.
		return g, format.Extent{}, &OptionError{Option: "MaxMemory", Value: o.MaxMemory, Min: start, Max: maxMaxMemory, InRange: true}
	}
	if g.TotalSize > format.MaxTotalSize {
		return g, format.Extent{}, &OptionError{Option: "Keys", Value: int64(o.Keys), Reason: fmt.Sprintf(
			"Options.Keys %d makes a table of %s, more than the %s one may map", o.Keys, sizeText(g.TotalSize), sizeText(format.MaxTotalSize))}
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
