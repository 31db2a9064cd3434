package kv

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

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
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := w; !stop.Load(); n += 2 {
				if err := tb.Set([]byte(fmt.Sprint("k", n%nk)), val); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
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
