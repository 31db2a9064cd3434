package kv

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

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
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := w; !stop.Load(); n += 2 {
				if err := tb.Set([]byte(fmt.Sprint("k", n%nk)), make([]byte, 100+n%70)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer func() { stop.Store(true); wg.Wait() }()
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
