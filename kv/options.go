package kv

import (
	"fmt"
	"math"
	"math/bits"
	"os"
	"strconv"
	"time"
)

// Options configure Open. A nil *Options, and every zero field, means the
// default. The geometry fields (Keys, Memory, MaxKeySize, MaxValueSize) shape
// a new table; for an existing one the header decides, and a geometry field
// that is set and that the existing table cannot honour is ErrInvalidOptions.
type Options struct {
	// Keys is how many entries the table must hold. Default 100,000.
	Keys int
	// Memory is how many bytes of keys and values the table must hold.
	// Default 32 MiB.
	Memory int64
	// MaxKeySize is the largest key accepted, in bytes. Default 1 KiB, at
	// most MaxKeyLimit.
	MaxKeySize int
	// MaxValueSize is the largest value accepted, in bytes. Default 1 MiB,
	// at most MaxValueLimit.
	MaxValueSize int
	// Mode is the permission of a created object. Default 0600.
	Mode os.FileMode
	// ReadOnly maps the table read-only: writes return ErrReadOnly, and the
	// process never writes to the region.
	ReadOnly bool
	// Exclusive creates the table and fails with an error matching
	// fs.ErrExist if it already exists.
	Exclusive bool
	// NoCreate opens only an existing table; a missing one is an error
	// matching fs.ErrNotExist.
	NoCreate bool
	// LockTimeout bounds how long an operation waits for a shard lock held
	// by a live process before it returns ErrLockTimeout. Default 10s.
	LockTimeout time.Duration
	// InitTimeout bounds how long Open waits for another process that is
	// creating the table to publish its header. Default 2s.
	InitTimeout time.Duration
	// Eviction is what a full new table does: NoEviction refuses new
	// entries with ErrFull; EvictLRU evicts entries that have not been read
	// recently, expired ones first. Recorded in the header.
	Eviction Policy
	// Now is the clock that expiry reads. Default time.Now; tests inject
	// one.
	Now func() time.Time
	// Populate maps every page of the table into this process at Open, so
	// that no operation later pays a page fault: worth it for long-lived
	// processes and large tables, not for short-lived tools. A failure to
	// populate (a full /dev/shm, say) fails Open.
	Populate bool
	// AllowShared accepts an existing object owned by another user; without
	// it such an object is refused with ErrUnsafeObject, since anyone may
	// create a name in /dev/shm. An object this user owns is accepted
	// whatever its mode: its mode is the one its creator chose.
	AllowShared bool
}

// Policy is what a full table does to make room.
type Policy uint32

const (
	// NoEviction: a full table refuses new entries with ErrFull.
	NoEviction Policy = iota
	// EvictLRU: a full table evicts entries not read recently (an
	// approximation of least-recently-used; see evict.go), expired first.
	EvictLRU
)

func (p Policy) String() string {
	switch p {
	case NoEviction:
		return "none"
	case EvictLRU:
		return "lru"
	}
	return "policy(" + strconv.Itoa(int(p)) + ")"
}

const (
	defaultKeys        = 100_000
	defaultMemory      = 32 << 20
	defaultMaxKey      = 1 << 10
	defaultMaxValue    = 1 << 20
	defaultMode        = 0o600
	defaultLockTimeout = 10 * time.Second
	defaultInitTimeout = 2 * time.Second
	defaultProcs       = maxProcs
	// logSlack is how much larger than the live data a shard's log is.
	logSlack = 1.5
	// maxLoad is the fraction of a shard's slots that may hold live entries.
	maxLoadNum, maxLoadDen = 3, 4
)

// withDefaults returns a copy of o with every zero field filled in.
func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Keys == 0 {
		r.Keys = defaultKeys
	}
	if r.Memory == 0 {
		r.Memory = defaultMemory
	}
	if r.MaxKeySize == 0 {
		r.MaxKeySize = defaultMaxKey
	}
	if r.MaxValueSize == 0 {
		r.MaxValueSize = defaultMaxValue
	}
	if r.Mode == 0 {
		r.Mode = defaultMode
	}
	if r.LockTimeout == 0 {
		r.LockTimeout = defaultLockTimeout
	}
	if r.InitTimeout == 0 {
		r.InitTimeout = defaultInitTimeout
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return r
}

func (o *Options) validate() error {
	switch {
	case o.Keys < 1 || int64(o.Keys) > maxShards*maxSlots/2:
		return fmt.Errorf("%w: Keys %d", ErrInvalidOptions, o.Keys)
	case o.Memory < 1 || o.Memory > maxTotalSize/2:
		return fmt.Errorf("%w: Memory %d", ErrInvalidOptions, o.Memory)
	case o.MaxKeySize < 1 || o.MaxKeySize > MaxKeyLimit:
		return fmt.Errorf("%w: MaxKeySize %d (1 to %d)", ErrInvalidOptions, o.MaxKeySize, MaxKeyLimit)
	case o.MaxValueSize < 0 || o.MaxValueSize > MaxValueLimit:
		return fmt.Errorf("%w: MaxValueSize %d (0 to %d)", ErrInvalidOptions, o.MaxValueSize, MaxValueLimit)
	case o.Mode&^os.ModePerm != 0:
		return fmt.Errorf("%w: Mode %v has bits beyond the permissions", ErrInvalidOptions, o.Mode)
	case o.LockTimeout < 0 || o.InitTimeout < 0:
		return fmt.Errorf("%w: negative timeout", ErrInvalidOptions)
	case o.Eviction > EvictLRU:
		return fmt.Errorf("%w: Eviction %v", ErrInvalidOptions, o.Eviction)
	case o.Exclusive && o.NoCreate:
		return fmt.Errorf("%w: Exclusive and NoCreate together", ErrInvalidOptions)
	case o.ReadOnly && o.Exclusive:
		return fmt.Errorf("%w: ReadOnly cannot create a table", ErrInvalidOptions)
	}
	return nil
}

// plan chooses the geometry of a new table for o, which has its defaults.
//
// Shards: enough that each holds a few thousand keys, so that writers of
// unrelated keys rarely meet, but few enough that the per-shard reserve of
// two largest entries stays under an eighth of the memory.
func plan(o *Options) (geometry, error) {
	g := geometry{maxKey: o.MaxKeySize, maxValue: o.MaxValueSize, registrySlots: defaultProcs, eviction: uint32(o.Eviction)}
	shards := ceilPow2(int64(o.Keys) / 4096)
	byMemory := floorPow2(o.Memory / (8 * g.maxEntry()))
	shards = max(1, min(shards, byMemory, maxShards))
	g.shards = int(shards)

	// Hashing spreads keys unevenly: give each shard room for its share plus
	// four standard deviations.
	keysPerShard := float64(o.Keys) / float64(shards)
	slack := 1 + 4/math.Sqrt(keysPerShard)
	slots := ceilPow2(int64(math.Ceil(keysPerShard * slack * maxLoadDen / maxLoadNum)))
	g.slotsPerShard = int(max(slots, minSlots))
	if g.slotsPerShard > maxSlots {
		return g, fmt.Errorf("%w: Keys %d needs more than %d slots per shard", ErrInvalidOptions, o.Keys, maxSlots)
	}
	// Memory counts keys and values; each entry adds a header and up to 7
	// bytes of padding. The log gets half as much again: space is reclaimed
	// by moving live entries from the tail to the head, and with live data
	// at most 2/3 of the log a write moves at most two entries' worth on
	// average.
	logBytes := (float64(o.Memory) + float64(o.Keys)*(entryHeaderSize+7)) * logSlack
	bytesPerShard := logBytes / float64(shards) * slack
	g.dataPerShard = max(roundUp(int64(bytesPerShard), 8)+g.reserve(), g.reserve()+g.maxEntry(), minData)
	if g.dataPerShard > maxData {
		return g, fmt.Errorf("%w: Memory %d needs more than %d bytes per shard", ErrInvalidOptions, o.Memory, maxData)
	}
	g.place()
	if g.totalSize > maxTotalSize {
		return g, fmt.Errorf("%w: the table would take %d bytes", ErrInvalidOptions, g.totalSize)
	}
	return g, nil
}

// keyCapacity is how many entries one shard's index accepts.
func (g *geometry) keyCapacity() int { return g.slotsPerShard * maxLoadNum / maxLoadDen }

// checkAgainst reports an explicitly set geometry option that the existing
// geometry g cannot honour.
func checkAgainst(o *Options, g *geometry) error {
	if o == nil {
		return nil
	}
	switch {
	case o.Eviction != NoEviction && uint32(o.Eviction) != g.eviction:
		return fmt.Errorf("%w: Eviction %v, the table has %v", ErrInvalidOptions, o.Eviction, Policy(g.eviction))
	case o.MaxKeySize != 0 && o.MaxKeySize != g.maxKey:
		return fmt.Errorf("%w: MaxKeySize %d, the table has %d", ErrInvalidOptions, o.MaxKeySize, g.maxKey)
	case o.MaxValueSize != 0 && o.MaxValueSize != g.maxValue:
		return fmt.Errorf("%w: MaxValueSize %d, the table has %d", ErrInvalidOptions, o.MaxValueSize, g.maxValue)
	case o.Keys != 0 && o.Keys > g.keyCapacity()*g.shards:
		return fmt.Errorf("%w: Keys %d, the table holds at most %d", ErrInvalidOptions, o.Keys, g.keyCapacity()*g.shards)
	case o.Memory != 0 && o.Memory > (g.dataPerShard-g.reserve())*int64(g.shards):
		return fmt.Errorf("%w: Memory %d, the table holds at most %d", ErrInvalidOptions, o.Memory, (g.dataPerShard-g.reserve())*int64(g.shards))
	}
	return nil
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
