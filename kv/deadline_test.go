package kv

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Reads that span every shard (Check, Range) have one deadline for
// waiting on writers; these tests hold them to it beside writers that
// are running, not stopped.

// keepWriting runs two goroutines that overwrite keys k0 to k(nk-1) of tb
// in turn, values of size(n) bytes, until the returned stop is called.
func keepWriting(t *testing.T, tb *Table, nk int, size func(n int) int) (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := w; !done.Load(); n += 2 {
				if err := tb.Set([]byte(fmt.Sprint("k", n%nk)), make([]byte, size(n))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	return func() { done.Store(true); wg.Wait() }
}

// TestCheckHealthyUnderWritesPastDeadline: past Check's deadline
// (min(livenessBound, LockTimeout), one for all shards) copyAround used to
// return its copy without looking at the counter again: a copy torn by a
// running writer, whose problems Check reported on a healthy table
// ("not reachable from its home slot"), on a read-only handle above all.
// A short LockTimeout gets there at once, a Check that takes over a second
// in all too. Now such a copy gives ErrLockTimeout.
func TestCheckHealthyUnderWritesPastDeadline(t *testing.T) {
	name := uniqueName(t)
	o := &Options{MaxMemory: 64 << 20, Keys: 8192, Memory: 4 << 20, MaxKeySize: 64, MaxValueSize: 1024}
	tb := openTable(t, name, o)
	const nk = 6000
	for k := range nk {
		if err := tb.Set([]byte(fmt.Sprint("k", k)), make([]byte, 100+k%50)); err != nil {
			t.Fatal(err)
		}
	}
	defer keepWriting(t, tb, nk, func(n int) int { return 100 + n%70 })()
	for _, ro := range []bool{false, true} {
		h := openTable(t, name, &Options{LockTimeout: 2 * time.Millisecond, ReadOnly: ro})
		for range 5 {
			rep, err := h.Check()
			if errors.Is(err, ErrLockTimeout) {
				// Writers changed a shard under every copy until the
				// (short) deadline: an honest answer.
				continue
			}
			if err != nil {
				t.Errorf("read-only %v: Check: %v", ro, err)
				break
			}
			if len(rep.Problems) > 0 {
				t.Errorf("read-only %v: Check of a healthy table beside running writers: %d problems, first %v", ro, len(rep.Problems), rep.Problems[0])
				break
			}
		}
	}
}

// TestRangeSlowCallbackUnderWrites: Range's one deadline for all shards
// bounds the wait for writers, not the time fn takes. When fn's time
// counted, a Range whose callback took over a second in all failed with
// ErrLockTimeout at the first later shard that running writers kept
// changing, though no writer was stopped or slow.
func TestRangeSlowCallbackUnderWrites(t *testing.T) {
	o := &Options{MaxMemory: 64 << 20, Keys: 8192, Memory: 4 << 20, MaxKeySize: 64, MaxValueSize: 1024}
	tb := newTable(t, o)
	const nk = 6000
	val := make([]byte, 100)
	for k := range nk {
		if err := tb.Set([]byte(fmt.Sprint("k", k)), val); err != nil {
			t.Fatal(err)
		}
	}
	defer keepWriting(t, tb, nk, func(int) int { return len(val) })()
	const slow = 1100 * time.Millisecond
	for round := range 3 {
		first := true
		seen := 0
		err := tb.Range(func(k, v []byte) bool {
			if first {
				first = false
				time.Sleep(slow) // a slow consumer: over livenessBound in all
			}
			seen++
			return true
		})
		if err != nil {
			t.Fatalf("round %d: Range beside running writers, slow callback: %v (seen %d of %d)", round, err, seen, nk)
		}
	}
}
