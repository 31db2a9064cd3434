package kv

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/region"
	"github.com/shmkv/shmkv/shm"
)

// Table is an open shared-memory hash table. Its methods, Close included,
// are safe for concurrent use by many goroutines, and every process that
// opens the same name sees the same keys.
type Table struct {
	name        string
	sh          *shm.Shm
	lockObj     *shm.Shm // the lock object (lockobject.go); nil if it may not be opened
	mapping     *shm.Mapping
	r           region.Region
	g           format.Geometry
	shards      []shard
	shardShift  uint
	readOnly    bool
	lockTimeout time.Duration
	// getMode is how this handle's reads go (tryGet): they mark what they
	// find unless the handle is read-only, and verify entry checksums
	// unless it skips them and the fences make that sound (read.go).
	getMode readMode
	refresh time.Duration // Options.RefreshAhead
	// splitAbove is the size of extent past which a shard splits rather
	// than grows (split.go).
	splitAbove int64
	now        func() time.Time
	slot       int                    // registry slot, when read-write
	owner      uint32                 // lock word owner bits, when read-write
	reads      []readStripe           // this handle's read counters (readStripe)
	denials    []growDenial           // per shard
	views      []atomic.Pointer[view] // per shard, the view readers last used (shard.current)
	stalls     []stall                // per shard, the stall readers last met (around.go)
	routes     []atomic.Uint32        // per class, the shard that held it when last looked (split.go)
	flusher    readFlusher
	closed     atomic.Bool
}

// readStripe is one stripe of a handle's read statistics. They live in
// process memory, not in the region, so that a read makes no store to
// shared memory for them (read.go lists the one store a read can make),
// and in readStripes stripes, each on a cache line of its own, picked by
// the reading goroutine's stack (region.StackStripe): goroutines reading at once
// on different cores then mostly add to lines their own core holds, where
// one counter per shard had every core's reads fight over the same lines
// (a fifth of a Get with two goroutines). Stats sums the stripes.
type readStripe struct {
	hits, misses, retries atomic.Uint64
	_                     [40]byte
}

const (
	readStripeBits = 6
	readStripes    = 1 << readStripeBits
)

// stripe returns the calling goroutine's stripe of the read counters:
// region.StackStripe, spread by a multiplicative hash over the stripes.
func (t *Table) stripe() *readStripe {
	return &t.reads[uint64(region.StackStripe())*0x9e3779b97f4a7c15>>(64-readStripeBits)]
}

// growDenial is when this handle last found a shard unable to grow, and
// to what size (grow.go): it does not ask again for a second.
type growDenial struct {
	at, size atomic.Int64
}

// Name returns the table's name with its leading '/'.
func (t *Table) Name() string { return t.name }

func (t *Table) checkKey(key []byte) error {
	if t.closed.Load() {
		return ErrClosed
	}
	if len(key) == 0 || len(key) > t.g.MaxKey {
		return tooLarge(ErrKeyTooLarge, len(key), t.g.MaxKey)
	}
	return nil
}

func (t *Table) checkWrite(key []byte, valueLen int) error {
	if err := t.checkKey(key); err != nil {
		return err
	}
	if t.readOnly {
		return ErrReadOnly
	}
	if valueLen > t.g.MaxValue {
		return tooLarge(ErrValueTooLarge, valueLen, t.g.MaxValue)
	}
	return nil
}

// stall is what a handle remembers of one shard's last stall, as packed
// (lock word, counter) pairs; 0 is none.
type stall struct {
	around  atomic.Uint64 // read around this pair at once
	failing atomic.Uint64 // reading around this pair failed until a deadline
}

// readFlusher adds a handle's read counters to the table's.
type readFlusher struct {
	mu      sync.Mutex
	started bool
	flushed readCounts // what was added so far
	stop    chan struct{}
	done    chan struct{}
}
