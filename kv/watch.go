package kv

import (
	"context"
	"math"
	"runtime/debug"
	"time"

	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/region"
)

// Waiting for a change. A key's version is its entry's checksum (with the
// low bit set; 0 means absent), which covers the value and the expiry
// time: it changes with any write that changes either, and with a delete
// or an expiry, and not with a write of the same value and expiry, nor
// with the moves of cleaning and growing.
//
// A watcher sleeps on the low 32 bits of its shard's sequence counter
// (a futex), which every write moves. The futex contract: the kernel
// compares the word with the value the watcher read and sleeps only if
// they are equal, atomically with respect to a wake. The handshake with
// writers, both sides sync/atomic (sequentially consistent):
//   - the watcher loads the counter, reads the key, finds its version
//     unchanged, stores "watched until" (a time a little past its longest
//     sleep), then sleeps on the counter's value as loaded;
//   - a writer adds to the counter at the end of its write, then loads
//     "watched until", and if it is set wakes every sleeper on the word.
//
// Either the writer's load sees the watcher's store, and it wakes the
// watcher, or the watcher's sleep starts after the writer's add, and the
// kernel sees the word changed and does not sleep. A write that nobody
// watches costs one load of a word on a cache line the write touches
// anyway, and no system call. A watcher that dies leaves "watched until"
// set for at most watchMarkAhead; the first write after that clears it.
// Read-only handles may not store, so they cannot mark a shard watched:
// they check for a change every readOnlyWatchPoll instead.

const (
	// watchSleep is the longest a watcher sleeps before it marks the shard
	// watched again and looks.
	watchSleep = time.Second
	// watchMarkAhead is how far ahead of now a watcher marks the shard:
	// past its longest sleep, so that a live watcher's mark never lapses.
	watchMarkAhead = 2 * watchSleep
	// readOnlyWatchPoll is how often a read-only watcher looks.
	readOnlyWatchPoll = 100 * time.Millisecond
)

// GetVersion is Get that also returns the key's version (0 if it is
// absent), for Watch.
func (t *Table) GetVersion(dst, key []byte) (value []byte, version uint64, err error) {
	if err := t.checkKey(key); err != nil {
		return dst, 0, err
	}
	h := format.HashKey(t.g.Seed, key)
	v, version, _, _, _, err := t.versioned(dst, key, h)
	return v, version, err
}

// Watch waits until key's version differs from version, as GetVersion
// gives it, and returns the key's value, appended to dst, and its new
// version (0: the key is absent). It returns at once if the version
// already differs. A write by any process wakes it through a futex, without
// polling, as does the key's expiry; ctx bounds the wait, and its error is
// returned if it ends first.
//
// Versions change with the value or the expiry time: storing again the
// same value with the same expiry wakes the watcher but is not a change,
// and it waits on; a Touch that gives the key a new expiry time is one,
// and Watch returns the same value at a new version.
func (t *Table) Watch(ctx context.Context, dst, key []byte, version uint64) (value []byte, next uint64, err error) {
	if err := t.checkKey(key); err != nil {
		return dst, 0, err
	}
	h := format.HashKey(t.g.Seed, key)
	for {
		v, next, expires, seq, s, err := t.versioned(dst, key, h)
		if err != nil || next != version {
			return v, next, err
		}
		if err := ctx.Err(); err != nil {
			return dst, 0, err
		}
		d := watchSleep
		if expires != 0 {
			// Wake when it expires: that is a change nobody writes. By the
			// table's clock, which expiry reads: a wall clock ahead of it
			// would call the key expired already, and read it again every
			// millisecond until it is.
			d = min(d, max(time.Duration(int64(expires)-t.now().UnixNano()), 0)+time.Millisecond)
		}
		if err := t.sleepOnShard(ctx, s, seq, d); err != nil {
			return dst, 0, err
		}
	}
}

// versioned reads key, a valid key hashing to h, like Get and also
// returns its version, its expiry time, the shard that holds it, and the
// low 32 bits of that shard's sequence counter as they were before the
// read.
func (t *Table) versioned(dst, key []byte, h uint64) (value []byte, version, expires uint64, seq uint32, s *shard, err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	var meta entryMeta
	var found bool
	err = t.routed(h, func(at *shard) (err error) {
		s = at
		seq = uint32(s.ctlLoad(format.CtlSeq))
		value, meta, found, err = t.get(s, dst, key, h)
		return err
	})
	if err != nil || !found {
		return value, 0, 0, seq, s, err
	}
	return value, meta.checksum | 1, meta.expires, seq, s, nil
}

// sleepOnShard sleeps, for d at most, until a write moves the sequence
// counter of shard s from seq, or ctx ends.
func (t *Table) sleepOnShard(ctx context.Context, s *shard, seq uint32, d time.Duration) (err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if t.readOnly {
		d = min(d, readOnlyWatchPoll)
	} else {
		s.markWatched(uint64(time.Now().Add(watchMarkAhead).UnixNano()))
	}
	return sleepOn(ctx, s.seqWord(), seq, d)
}

// seqWord is the low half of the sequence counter, the watchers' futex.
func (s *shard) seqWord() *uint32 { return s.r.LockWord(s.ctl + format.CtlSeq/8) }

// markWatched moves the shard's "watched until" to until, if that is
// later.
func (s *shard) markWatched(until uint64) {
	for {
		cur := s.ctlLoad(format.CtlWatched)
		if cur >= until || s.r.CAS(s.ctl+format.CtlWatched/8, cur, until) {
			return
		}
	}
}

// wakeWatchers, after a write, wakes the shard's watchers, if any may be
// asleep; once the mark has lapsed, it clears it instead. A mark further
// ahead than any watcher sets one (a hostile word, or the clock stepped
// back) is cleared too, so that it cannot make every write pay a system
// call for good; a live watcher it belonged to marks again within
// watchSleep.
func (s *shard) wakeWatchers() {
	until := s.ctlLoad(format.CtlWatched)
	if until == 0 {
		return
	}
	if now := uint64(time.Now().UnixNano()); now > until || until-now > uint64(watchMarkAhead) {
		s.r.CAS(s.ctl+format.CtlWatched/8, until, 0)
		return
	}
	region.FutexWake(s.seqWord(), math.MaxInt32)
}
