package kv

import (
	"runtime"
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
	// verifyReads: optimistic reads verify entry checksums (not if the
	// handle skips them and the fences make that sound: read.go).
	verifyReads bool
	refresh     time.Duration // Options.RefreshAhead
	now         func() time.Time
	slot        int                     // registry slot, when read-write
	owner       uint32                  // lock word owner bits, when read-write
	reads       []readStripe            // this handle's read counters (readStripe)
	denials     []growDenial            // per shard
	views       []atomic.Pointer[shard] // per shard, the view readers last used (shard.current)
	stalls      []stall                 // per shard, the stall readers last met (around.go)
	flusher     readFlusher
	closed      atomic.Bool
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

// Close gives up this handle's registry slot and its view of the table.
// Calling it again does nothing; any other use after it returns ErrClosed.
//
// A call still under way on another goroutine when Close runs returns
// ErrClosed too, having done all, some or none of its work; what it left
// half done is recovered like the work of a process that died, so no other
// user of the table sees it. Close does not wait for such calls. Instead
// it revokes the mapping, in this order:
//  1. The mapping's pages become an inaccessible reservation of the same
//     addresses (shm.Mapping.Revoke): a late access faults, and the call
//     that made it returns ErrClosed. The addresses stay
//     reserved, so no table opened later can be mapped where a late access
//     would land and be written by it.
//  2. Only then is the descriptor closed, which drops this handle's
//     liveness lock. Other processes may take over a lock it held only once
//     nothing of this handle can write to the table any more.
//  3. The reservation is released once t is unreachable, which it is not
//     while any method of t is under way.
func (t *Table) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	t.stopFlusher()
	if err := t.mapping.Revoke(); err != nil {
		// Without the guard in place, closing the descriptor would let
		// another process recover a shard that a call of this handle may
		// still be writing. Keep both: a leak, but no corruption.
		return err
	}
	err := t.sh.Close()
	if t.lockObj != nil {
		// This drops the handle's liveness lock.
		if lerr := t.lockObj.Close(); err == nil {
			err = lerr
		}
	}
	runtime.AddCleanup(t, func(m *shm.Mapping) { m.Unmap() }, t.mapping)
	return err
}

// Name returns the table's name with its leading '/'.
func (t *Table) Name() string { return t.name }

func (t *Table) shardFor(h uint64) *shard {
	return &t.shards[h>>t.shardShift]
}

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

// lockShard takes s's lock and makes the shard usable: a shard taken over
// from a dead owner, or left flagged or mid-write, is rebuilt first.
func (t *Table) lockShard(s *shard) error {
	tookOver, err := t.lock(s)
	if err != nil {
		return err
	}
	return t.readyLocked(s, tookOver)
}

// readyLocked is lockShard's second half, for s just locked: it recovers
// the shard if it must, and unlocks it again if it stays unusable.
func (t *Table) readyLocked(s *shard, tookOver bool) error {
	if tookOver || s.ctlLoad(format.CtlFlags) != 0 || s.ctlLoad(format.CtlSeq)&1 != 0 {
		t.recoverShard(s)
	}
	if s.ctlLoad(format.CtlFlags) != 0 {
		t.unlock(s)
		return ErrCorrupt
	}
	return nil
}

// recoverShard recovers s under the lock: it finishes or undoes what a
// dead grower left (grow.go) and rebuilds the index from the log. A
// failure leaves format.FlagRebuild set, so that every use reports ErrCorrupt and
// Check can say why.
func (t *Table) recoverShard(s *shard) {
	if s.ctlLoad(format.CtlSeq)&1 == 0 {
		s.beginWrite()
	}
	if v, ok := s.view(); ok {
		t.reclaimGrow(&v)
		v.rebuild()
	} else {
		s.ctlStore(format.CtlFlags, format.FlagRebuild)
	}
	s.ctlAdd(format.CtlRecoveries, 1)
	s.endWrite()
}

// repair recovers s, held locked, and reports whether it is usable.
func (t *Table) repair(s *shard) error {
	t.recoverShard(s)
	if s.ctlLoad(format.CtlFlags) != 0 {
		return ErrCorrupt
	}
	return nil
}

// update runs fn on key's shard under its lock with the key's lookup and
// the time. If the index turns out not to match the log, it is rebuilt and
// fn retried once.
//
// The clock is read only where an expiry time can matter: when the write
// sets one (needClock), or when the shard holds live entries that have one
// (every use of now is for such an entry). It is read under the lock, so
// that a long wait for the lock can neither store a value that has already
// expired nor shorten a TTL.
//
// fn gets a copy of the shard's view over its current extent (a copy, so
// that it stays on the stack), which a grow inside fn replaces (grow.go).
func (t *Table) update(key []byte, h uint64, needClock bool, fn func(s shard, l lookup, now int64) error) error {
	s := t.shardFor(h)
	if err := t.lockShard(s); err != nil {
		return err
	}
	defer t.unlock(s)
	var now int64
	if needClock || s.ctlLoad(format.CtlExpiring) != 0 {
		now = t.now().UnixNano()
	}
	for attempt := 0; ; attempt++ {
		v, ok := s.view()
		if !ok {
			return ErrCorrupt
		}
		l, err := v.find(key, h, now)
		if err == nil {
			err = fn(v, l, now)
		}
		if err != errCorruptIndex {
			return err
		}
		if attempt > 0 || t.repair(s) != nil {
			return ErrCorrupt
		}
	}
}
