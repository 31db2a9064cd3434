package kv

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/region"
)

func init() {
	children["watch"] = childWatch
	children["futex-floor"] = childFutexFloor
}

// childFutexFloor: args times. times times: prints "ready", sleeps on the
// low word of shard 0's sequence counter until it moves, and prints the
// Unix nanosecond it woke: the floor under Watch's wake.
func childFutexFloor(tb *Table, args []string) error {
	times, _ := strconv.Atoi(args[0])
	w := tb.shards[0].seqWord()
	for range times {
		v := atomic.LoadUint32(w)
		fmt.Println("ready")
		for atomic.LoadUint32(w) == v {
			region.FutexWait(w, v, 10*time.Second)
		}
		fmt.Println("woke", time.Now().UnixNano())
	}
	return nil
}

// childWatch: args key [times]. times times (once by default): reads
// key's version, prints "ready", waits for a change, and prints the new
// value and the Unix nanosecond at which it woke.
func childWatch(tb *Table, args []string) error {
	key := []byte(args[0])
	times := 1
	if len(args) > 1 {
		times, _ = strconv.Atoi(args[1])
	}
	for range times {
		_, version, err := tb.GetVersion(nil, key)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		v, next, err := tb.Watch(ctx, nil, key, version)
		woke := time.Now().UnixNano()
		cancel()
		if err != nil {
			return err
		}
		if next == version || next == 0 {
			return fmt.Errorf("version %#x after %#x", next, version)
		}
		fmt.Println(string(v), woke)
	}
	return nil
}

// TestWatchWakesAcrossProcesses: a watcher in another process wakes when
// this one sets the key, and gets the new value.
func TestWatchWakesAcrossProcesses(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, small)
	mustSet(t, tb, "k", "old")
	w := startChild(t, "watch", name, "k")
	w.Expect(t, "ready")
	time.Sleep(50 * time.Millisecond) // asleep by now
	mustSet(t, tb, "other", "x")      // another key of the table: not a change of k
	setAt := time.Now()
	mustSet(t, tb, "k", "new")
	out, _ := w.Rest()
	if err := w.Wait(); err != nil {
		t.Fatalf("watcher: %v", err)
	}
	f := strings.Fields(out)
	if len(f) != 2 || f[0] != "new" {
		t.Fatalf("watcher printed %q", out)
	}
	woke, _ := strconv.ParseInt(f[1], 10, 64)
	t.Logf("woke %v after the Set", time.Unix(0, woke).Sub(setAt))
}

// TestWatchChanges: what is a change and what is not, in one process.
func TestWatchChanges(t *testing.T) {
	tb := newTable(t, small)
	key := []byte("k")
	watch := func(version uint64, within time.Duration) (string, uint64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		defer cancel()
		v, next, err := tb.Watch(ctx, nil, key, version)
		return string(v), next, err
	}
	_, absent, _ := tb.GetVersion(nil, key)
	if absent != 0 {
		t.Fatalf("version of an absent key: %#x", absent)
	}
	time.AfterFunc(30*time.Millisecond, func() { tb.Set(key, []byte("a")) })
	v, va, err := watch(0, 5*time.Second)
	if err != nil || v != "a" || va == 0 {
		t.Fatalf("after a Set: %q, %#x, %v", v, va, err)
	}

	// The same value again is not a change.
	time.AfterFunc(30*time.Millisecond, func() { tb.Set(key, []byte("a")) })
	if _, _, err := watch(va, 200*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the same value stored again: %v, want no change", err)
	}
	// An already different version returns at once.
	if v, next, err := watch(va+2, time.Second); err != nil || v != "a" || next != va {
		t.Errorf("stale version: %q, %#x, %v", v, next, err)
	}
	time.AfterFunc(30*time.Millisecond, func() { tb.Delete(key) })
	if v, next, err := watch(va, 5*time.Second); err != nil || next != 0 || v != "" {
		t.Errorf("after a Delete: %q, %#x, %v", v, next, err)
	}

	// An expiry is a change that nobody writes.
	if err := tb.SetTTL(key, []byte("b"), 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	_, vb, _ := tb.GetVersion(nil, key)
	begin := time.Now()
	if _, next, err := watch(vb, 5*time.Second); err != nil || next != 0 {
		t.Errorf("after the expiry: %#x, %v", next, err)
	}
	if took := time.Since(begin); took < 100*time.Millisecond {
		t.Errorf("woke %v after a 150 ms TTL began", took)
	}
}

// TestWatchCancelled: a watcher whose context is cancelled returns at once.
func TestWatchCancelled(t *testing.T) {
	tb := newTable(t, small)
	mustSet(t, tb, "k", "v")
	_, version, _ := tb.GetVersion(nil, []byte("k"))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(30*time.Millisecond, cancel)
	begin := time.Now()
	if _, _, err := tb.Watch(ctx, nil, []byte("k"), version); !errors.Is(err, context.Canceled) {
		t.Errorf("Watch = %v", err)
	}
	if took := time.Since(begin); took > 500*time.Millisecond {
		t.Errorf("returned %v after the cancel", took)
	}
}

// TestWatchReadOnly: a read-only handle, which may not mark the shard
// watched, still sees a change, by looking every readOnlyWatchPoll.
func TestWatchReadOnly(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, small)
	mustSet(t, tb, "k", "old")
	ro := openTable(t, name, &Options{ReadOnly: true})
	_, version, err := ro.GetVersion(nil, []byte("k"))
	if err != nil || version == 0 {
		t.Fatalf("GetVersion = %#x, %v", version, err)
	}
	time.AfterFunc(50*time.Millisecond, func() { tb.Set([]byte("k"), []byte("new")) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, next, err := ro.Watch(ctx, nil, []byte("k"), version)
	if err != nil || string(v) != "new" || next == version {
		t.Errorf("Watch = %q, %#x, %v", v, next, err)
	}
	if w := tb.shards[0].ctlLoad(format.CtlWatched); w != 0 {
		t.Errorf("a read-only watcher marked the shard: %d", w)
	}
}

// TestWatchMarkLapses: once watchers are gone, the first write after the
// mark's lapse clears it, and writes pay nothing more for them.
func TestWatchMarkLapses(t *testing.T) {
	tb := newTable(t, small)
	s := tb.shardFor(format.HashKey(tb.g.Seed, []byte("k")))
	s.markWatched(uint64(time.Now().Add(-time.Millisecond).UnixNano()))
	mustSet(t, tb, "k", "v")
	if w := s.ctlLoad(format.CtlWatched); w != 0 {
		t.Errorf("watched until %d after a write past it", w)
	}
}

// TestWatchMarkTooFarAhead: a mark further ahead than any watcher sets
// (a hostile word, or the clock stepped back) is cleared by the next
// write, which would otherwise wake the word on every write for good.
func TestWatchMarkTooFarAhead(t *testing.T) {
	tb := newTable(t, small)
	s := tb.shardFor(format.HashKey(tb.g.Seed, []byte("k")))
	s.markWatched(^uint64(0))
	mustSet(t, tb, "k", "v")
	if w := s.ctlLoad(format.CtlWatched); w != 0 {
		t.Errorf("watched until %d after a write", w)
	}
	// A live watcher's mark stays.
	live := uint64(time.Now().Add(watchMarkAhead - time.Millisecond).UnixNano())
	s.markWatched(live)
	mustSet(t, tb, "k", "w")
	if w := s.ctlLoad(format.CtlWatched); w != live {
		t.Errorf("watched until %d after a write, want %d", w, live)
	}
}

// BenchmarkFutexWakeFloor is BenchmarkWatchWake without shmkv: a bare
// futex wake of a sleeper in another process, what the machine itself
// takes.
func BenchmarkFutexWakeFloor(b *testing.B) {
	name := uniqueName(b)
	tb := openTable(b, name, small)
	w := testproc.Start(b, childEnv("futex-floor", name, strconv.Itoa(b.N))...)
	word := tb.shards[0].seqWord()
	benchWakes(b, w, func(int) {
		atomic.AddUint32(word, 2)
		region.FutexWake(word, math.MaxInt32)
	})
}

// benchWakes b.N times waits for w to say "ready", gives it a millisecond
// to fall asleep, runs wake, and reads the time w woke; it reports the
// median and the 99th percentile of the delays.
func benchWakes(b *testing.B, w *testproc.Child, wake func(i int)) {
	lat := make([]time.Duration, 0, b.N)
	for i := range b.N {
		w.Expect(b, "ready")
		time.Sleep(time.Millisecond)
		at := time.Now()
		wake(i)
		line, err := w.Line()
		f := strings.Fields(line)
		if err != nil || len(f) != 2 {
			b.Fatalf("sleeper said %q, %v", line, err)
		}
		woke, _ := strconv.ParseInt(f[1], 10, 64)
		lat = append(lat, time.Unix(0, woke).Sub(at))
	}
	if err := w.Wait(); err != nil {
		b.Fatal(err)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkWatchWake: from a Set in this process to the return of a Watch
// of the key in another, b.N times; it reports the median and the 99th
// percentile. The watcher is given a millisecond to fall asleep each time.
func BenchmarkWatchWake(b *testing.B) {
	name := uniqueName(b)
	tb := openTable(b, name, small)
	mustSet(b, tb, "k", "0")
	w := testproc.Start(b, childEnv("watch", name, "k", strconv.Itoa(b.N))...)
	benchWakes(b, w, func(i int) { mustSet(b, tb, "k", strconv.Itoa(i+1)) })
}
