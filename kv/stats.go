package kv

import (
	"runtime/debug"
	"time"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// Stats describes a table. Filling one allocates nothing.
//
// The counters are the table's, not the process's: they live in the
// table's shared memory and count the work of every process that has
// used it, so every process that fills a Stats of the same table reads
// the same numbers. Two processes that each export them as metrics (to
// Prometheus, say) export the same counters twice, and a sum over the two
// counts everything twice. Export a table's Stats from one process; or,
// where several do, each under its own instance label, have queries take
// one of them (max by table), never their sum. A process's own share of
// the work is not recorded.
//
// The write counters are kept in the table as each write happens. Read
// counters (Gets, Hits, Misses, ReadRetries) are first counted in the
// reading handle's own memory, so that a read stores nothing to shared
// memory for them, and are added to the table's about every second, on
// Stats and on Close: another process's Stats may lag this one's reads by
// that much. Reads by read-only handles, which never write to the table,
// are not counted.
type Stats struct {
	Entries    uint64 // keys in the table
	BytesUsed  uint64 // log bytes the live entries take, headers included
	BytesFree  uint64 // log bytes the shards' current extents can still take, before they grow
	TotalBytes uint64 // memory the shared-memory object takes now (its allocated blocks)
	MaxBytes   uint64 // the ceiling on TotalBytes (Options.MaxMemory)
	Grows      uint64 // shards moved into larger extents
	Splits     uint64 // shards split in two

	Sets       uint64 // writes that stored an entry
	Deletes    uint64 // deletes that removed a key
	LockWaits  uint64 // lock acquisitions that had to wait
	Recoveries uint64 // shards rebuilt after a dead writer or a bad index
	Rebuilds   uint64 // index rebuilds to drop tombstones

	Evictions   uint64 // entries evicted to make room (EvictS3FIFO tables)
	Promotions  uint64 // entries moved from the small log to the main log (EvictS3FIFO tables)
	Expirations uint64 // expired entries whose space was taken back
	Damaged     uint64 // damaged entries or stretches of log dropped by cleaning or Repair

	Gets        uint64 // reads
	Hits        uint64 // reads that found their key
	Misses      uint64 // reads that did not
	ReadRetries uint64 // optimistic reads that raced a writer and ran again

	Shards       int    // shards in use: a shard splits in two as the table grows
	MaxShards    int    // the most shards the table may come to have
	Slots        int    // index slots in all shards' current extents
	MaxKeySize   int    // largest key accepted
	MaxValueSize int    // largest value accepted
	KeyCapacity  int    // most keys the current extents hold, before they grow
	Eviction     Policy // what a table at its ceiling does
}

// flushInterval is how often a handle adds its read counters to the
// table's.
const flushInterval = time.Second

// Stats fills st. It is a sum of per-shard counters read at slightly
// different moments. A shard whose extent cannot be read leaves out the
// shards it split into, whose place only it knows; Check names it.
func (t *Table) Stats(st *Stats) (err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if t.closed.Load() {
		return ErrClosed
	}
	t.flushReads()
	blocks, err := t.sh.Blocks()
	if err != nil {
		return err
	}
	*st = Stats{
		TotalBytes:   uint64(blocks),
		MaxBytes:     uint64(t.g.MaxMemory),
		MaxShards:    t.g.Shards,
		MaxKeySize:   t.g.MaxKey,
		MaxValueSize: t.g.MaxValue,
		Eviction:     Policy(t.g.Eviction),
	}
	for i := range t.shards {
		if !t.inUse(i) {
			continue
		}
		st.Shards++
		s := &t.shards[i]
		st.Entries += s.ctlLoad(format.CtlLiveEntries)
		used := s.ctlLoad(format.CtlLiveBytes)
		st.BytesUsed += used
		if v, ok := s.view(); ok {
			st.Slots += v.ext.Slots
			st.KeyCapacity += v.keyCap
			if limit := uint64(v.end - v.reserve(0)); used < limit {
				st.BytesFree += limit - used
			}
		}
		st.Grows += s.ctlLoad(format.CtlGrows)
		st.Splits += s.ctlLoad(format.CtlSplits)
		st.Sets += s.ctlLoad(format.CtlSets)
		st.Deletes += s.ctlLoad(format.CtlDeletes)
		st.LockWaits += s.ctlLoad(format.CtlLockWaits)
		st.Recoveries += s.ctlLoad(format.CtlRecoveries)
		st.Rebuilds += s.ctlLoad(format.CtlRebuilds)
		st.Evictions += s.ctlLoad(format.CtlEvictions)
		st.Promotions += s.ctlLoad(format.CtlPromotions)
		st.Expirations += s.ctlLoad(format.CtlExpirations)
		st.Damaged += s.ctlLoad(format.CtlDamaged)
		st.Hits += s.ctlLoad(format.CtlHits)
		st.Misses += s.ctlLoad(format.CtlMisses)
		st.ReadRetries += s.ctlLoad(format.CtlReadRetries)
	}
	st.Gets = st.Hits + st.Misses
	return nil
}

type readCounts struct{ hits, misses, retries uint64 }

// startFlusher starts the goroutine that flushes every flushInterval.
func (t *Table) startFlusher() {
	f := &t.flusher
	f.started = true
	f.stop, f.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(f.done)
		tick := time.NewTicker(flushInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				t.flushGuarded()
				t.releaseStaleGuarded()
			case <-f.stop:
				return
			}
		}
	}()
}

// stopFlusher stops the goroutine, if it runs, and flushes what is left.
// Called again, it only flushes.
func (t *Table) stopFlusher() {
	f := &t.flusher
	if f.stop != nil {
		close(f.stop)
		<-f.done
		f.stop = nil
	}
	t.flushGuarded()
}

// flushGuarded is the ticker's flush: a fault there has no caller to
// report to, and the next operation will meet the truncation too.
func (t *Table) flushGuarded() {
	var err error
	defer t.guard(debug.SetPanicOnFault(true), &err)
	t.flushReads()
}

// releaseStaleGuarded is the ticker's releaseStale (grow.go).
func (t *Table) releaseStaleGuarded() {
	var err error
	defer t.guard(debug.SetPanicOnFault(true), &err)
	t.releaseStale()
}

func (t *Table) flushReads() {
	f := &t.flusher
	if !f.started {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var now readCounts
	for i := range t.reads {
		c := &t.reads[i]
		now.hits += c.hits.Load()
		now.misses += c.misses.Load()
		now.retries += c.retries.Load()
	}
	// The table's read counters are the sums over its shards' control
	// blocks; a handle keeps its own without shards, and adds them to
	// shard 0's.
	s, prev := &t.shards[0], &f.flushed
	if d := now.hits - prev.hits; d != 0 {
		s.ctlAdd(format.CtlHits, d)
	}
	if d := now.misses - prev.misses; d != 0 {
		s.ctlAdd(format.CtlMisses, d)
	}
	if d := now.retries - prev.retries; d != 0 {
		s.ctlAdd(format.CtlReadRetries, d)
	}
	*prev = now
}
