package kv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
)

func init() {
	children["get-or-load-for"] = childGetOrLoadFor
	children["lock-hold"] = childLockHold
	rawChildren["get-or-load-bounded"] = childGetOrLoadBounded
}

// childGetOrLoadFor: args key startAt loadLog sleep timeout. As
// get-or-load, with a context that ends after timeout; it prints the value
// it got, or "error:" and the error.
func childGetOrLoadFor(tb *Table, args []string) error {
	key := []byte(args[0])
	startAt, _ := strconv.ParseInt(args[1], 10, 64)
	sleep, _ := time.ParseDuration(args[3])
	timeout, _ := time.ParseDuration(args[4])
	time.Sleep(time.Until(time.Unix(0, startAt)))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	v, err := getOrLoad(tb, ctx, nil, key, 0, func() ([]byte, error) {
		if err := appendLine(args[2], strconv.Itoa(os.Getpid())); err != nil {
			return nil, err
		}
		time.Sleep(sleep)
		return fmt.Appendf(nil, "value-%d", os.Getpid()), nil
	})
	if err != nil {
		fmt.Println("error:", err)
		return nil
	}
	fmt.Println(string(v))
	return nil
}

// appendLine appends line to the file at path.
func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(f, line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// childLockHold: args key. Takes the lock of key's shard, prints
// "locked", and holds it, without writing, until its stdin ends; then
// unlocks and prints "unlocked".
func childLockHold(tb *Table, args []string) error {
	s := tb.shardFor(format.HashKey(tb.g.Seed, []byte(args[0])))
	if err := tb.lockShard(s); err != nil {
		return err
	}
	fmt.Println("locked")
	var b [1]byte
	for {
		if _, err := os.Stdin.Read(b[:]); err != nil {
			break
		}
	}
	tb.unlock(s)
	fmt.Println("unlocked")
	return nil
}

// childGetOrLoadBounded: args name key lockTimeout ctxTimeout. Opens the
// table with the given LockTimeout, calls GetOrLoad(key) under a context
// that ends after ctxTimeout with a load that returns "child-load", and
// prints one line: "value <v>" or "error <err>", then the milliseconds the
// call took.
func childGetOrLoadBounded(args []string) error {
	lockTimeout, _ := time.ParseDuration(args[2])
	ctxTimeout, _ := time.ParseDuration(args[3])
	tb, err := Open(args[0], &Options{NoCreate: true, LockTimeout: lockTimeout})
	if err != nil {
		return err
	}
	defer tb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), ctxTimeout)
	defer cancel()
	begin := time.Now()
	v, err := getOrLoad(tb, ctx, nil, []byte(args[1]), 0, func() ([]byte, error) { return []byte("child-load"), nil })
	took := time.Since(begin).Milliseconds()
	switch {
	case errors.Is(err, ErrLockTimeout):
		fmt.Println("error ErrLockTimeout", took)
	case err != nil:
		fmt.Printf("error %q %d\n", err, took)
	default:
		fmt.Printf("value %s %d\n", v, took)
	}
	return nil
}

// TestGetOrLoadExpiredKey (issue 21, item 1): GetOrLoad of a key whose
// entry has expired runs the load once and returns its value at once; it
// used to find the expired entry under the lock, call it present, and read
// again, for ever. With the real clock, a fake one (Options.Now), and
// RefreshAhead, whose hits take another path.
func TestGetOrLoadExpiredKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts func() (*Options, func(time.Duration))
	}{
		{"real clock", func() (*Options, func(time.Duration)) {
			return small, time.Sleep
		}},
		{"fake clock", func() (*Options, func(time.Duration)) {
			c := newClock()
			o := *small
			o.Now = c.Now
			return &o, c.Advance
		}},
		{"refresh ahead", func() (*Options, func(time.Duration)) {
			o := *small
			o.RefreshAhead = time.Second
			return &o, time.Sleep
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, pass := tc.opts()
			tb := newTable(t, o)
			key := []byte("hot")
			if err := tb.SetTTL(key, []byte("old"), 10*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			pass(20 * time.Millisecond)
			var st0 Stats
			tb.Stats(&st0)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			loads := 0
			begin := time.Now()
			v, err := getOrLoad(tb, ctx, nil, key, time.Hour, func() ([]byte, error) {
				loads++
				return []byte("new"), nil
			})
			took := time.Since(begin)
			if err != nil || string(v) != "new" || loads != 1 {
				t.Fatalf("GetOrLoad of an expired key = %q, %v after %v, %d loads; want \"new\", 1 load", v, err, took, loads)
			}
			if took > 500*time.Millisecond {
				t.Errorf("GetOrLoad of an expired key took %v", took)
			}
			var st Stats
			tb.Stats(&st)
			if misses := st.Misses - st0.Misses; misses > 2 {
				t.Errorf("%d misses counted for one GetOrLoad", misses)
			}
			if got, _ := mustGet(t, tb, "hot"); got != "new" {
				t.Errorf("after the load: %q", got)
			}
			mustCheck(t, tb)
		})
	}
}

// seesawClock steps back and forth: each call returns the time before the
// entry's expiry or after it, in turn.
type seesawClock struct {
	early, late int64
	calls       atomic.Int64
}

func (c *seesawClock) Now() time.Time {
	if c.calls.Add(1)%2 == 1 {
		return time.Unix(0, c.late)
	}
	return time.Unix(0, c.early)
}

// TestGetOrLoadClockStepsBack: a clock that steps back between the
// lock-free read (which finds the key expired) and the look under the lock
// (which finds it live) must not make GetOrLoad read again and again: it
// returns the value it found under the lock.
func TestGetOrLoadClockStepsBack(t *testing.T) {
	base := time.Now().UnixNano()
	c := &seesawClock{early: base, late: base + int64(time.Minute)}
	o := *small
	o.Now = func() time.Time { return time.Unix(0, base) }
	name := uniqueName(t)
	tb := openTable(t, name, &o)
	if err := tb.SetTTL([]byte("k"), []byte("live"), time.Second); err != nil {
		t.Fatal(err)
	}
	tb.now = c.Now // every read from here on alternates
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	loads := 0
	v, err := getOrLoad(tb, ctx, nil, []byte("k"), 0, func() ([]byte, error) {
		loads++
		return []byte("loaded"), nil
	})
	if err != nil || (string(v) != "live" && string(v) != "loaded") {
		t.Fatalf("GetOrLoad = %q, %v (%d clock reads)", v, err, c.calls.Load())
	}
	if n := c.calls.Load(); n > 10 {
		t.Errorf("%d clock reads for one GetOrLoad", n)
	}
	t.Logf("got %q after %d clock reads, %d loads", v, c.calls.Load(), loads)
}

// TestGetOrLoadExpiredKeyStampede: many goroutines here and two other
// processes miss one expired key at once; one load runs among them all,
// and everyone gets its value.
func TestGetOrLoadExpiredKeyStampede(t *testing.T) {
	const goroutines = 16
	name := uniqueName(t)
	tb := openTable(t, name, small)
	path, loads := loadLog(t)
	if err := tb.SetTTL([]byte("hot"), []byte("old"), 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	startAt := time.Now().Add(500 * time.Millisecond)
	at := strconv.FormatInt(startAt.UnixNano(), 10)
	var procs []*testproc.Child
	for range 2 {
		procs = append(procs, startChild(t, "get-or-load-for", name, "hot", at, path, "300ms", "5s"))
	}
	values := make([]string, goroutines)
	var wg sync.WaitGroup
	for i := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(startAt))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			v, err := getOrLoad(tb, ctx, nil, []byte("hot"), 0, func() ([]byte, error) {
				if err := appendLine(path, "parent"); err != nil {
					return nil, err
				}
				time.Sleep(300 * time.Millisecond)
				return []byte("value-parent"), nil
			})
			if err != nil {
				v = []byte("error: " + err.Error())
			}
			values[i] = string(v)
		}()
	}
	wg.Wait()
	for i, p := range procs {
		out, _ := p.Rest()
		if err := p.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
		values = append(values, strings.TrimSpace(out))
	}
	if n := loads(); n != 1 {
		t.Errorf("%d loads, want 1", n)
	}
	for i, v := range values {
		if !strings.HasPrefix(v, "value-") || v != values[0] {
			t.Errorf("caller %d got %q, caller 0 %q", i, v, values[0])
		}
	}
	mustCheck(t, tb)
}

// heldClaims returns the claim records of key's shard that are held.
func heldClaims(tb *Table, key string) []claim {
	s := tb.shardFor(format.HashKey(tb.g.Seed, []byte(key)))
	var held []claim
	for i := range format.ClaimCount {
		if c := claimOf(s, i); c.owner() != 0 {
			held = append(held, c)
		}
	}
	return held
}

// result is what a GetOrLoad in a goroutine returned.
type result struct {
	v   string
	err error
}

// goGetOrLoad runs GetOrLoad(key) in a goroutine with ctx and a load that
// returns value, and returns where its result will go.
func goGetOrLoad(tb *Table, ctx context.Context, key, value string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		v, err := getOrLoad(tb, ctx, nil, []byte(key), 0, func() ([]byte, error) { return []byte(value), nil })
		ch <- result{string(v), err}
	}()
	return ch
}

// within waits for ch for d at most.
func within(t *testing.T, what string, ch <-chan result, d time.Duration) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(d):
		t.Fatalf("%s: no answer within %v", what, d)
		return result{}
	}
}

// boundedGetOrLoad runs GetOrLoad(key) in a new process, with LockTimeout
// 300 ms and a context of 5 s, and returns its line: "value <v> <ms>" or
// "error <err> <ms>".
func boundedGetOrLoad(t *testing.T, name, key string) string {
	t.Helper()
	p := testproc.Start(t, "SHMKV_RAW_CHILD=get-or-load-bounded", "SHMKV_ARGS="+name+" "+key+" 300ms 5s")
	out, _ := p.Rest()
	if err := p.Wait(); err != nil {
		t.Fatalf("the new process: %v", err)
	}
	return strings.TrimSpace(out)
}

// TestGetOrLoadLockHeldByStoppedProcess (issue 21, item 2): a process
// stopped while it holds the key's shard lock, past LockTimeout, must not
// leave the key's claim held for as long as the loader's process lives.
// The loader's store times out, but its claim ends all the same; every
// caller meanwhile gets ErrLockTimeout within its LockTimeout, the waiters
// included, since they look again under the lock at least every
// loadCheckInterval; and once the stopped process goes on and lets go,
// a new process loads the key at once instead of waiting on a claim that
// no one would end.
func TestGetOrLoadLockHeldByStoppedProcess(t *testing.T) {
	name := uniqueName(t)
	o := *small
	o.LockTimeout = 300 * time.Millisecond
	a := openTable(t, name, &o)
	b := openTable(t, name, &Options{LockTimeout: 300 * time.Millisecond})

	started, release := make(chan struct{}), make(chan struct{})
	loader := make(chan result, 1)
	go func() {
		v, err := getOrLoad(a, context.Background(), nil, []byte("k"), 0, func() ([]byte, error) {
			close(started)
			<-release
			return []byte("loaded"), nil
		})
		loader <- result{string(v), err}
	}()
	<-started
	waiter := goGetOrLoad(b, context.Background(), "k", "waiter-load")
	time.Sleep(50 * time.Millisecond) // it sleeps on the claim by now

	holder := startChild(t, "lock-hold", name, "k")
	holder.Expect(t, "locked")
	holder.Cmd.Process.Signal(syscall.SIGSTOP)
	stopped := true
	defer func() {
		if stopped {
			holder.Cmd.Process.Signal(syscall.SIGCONT)
		}
	}()

	// The waiter's claim never ends while the load is held back; it looks
	// again, needs the lock, and gets ErrLockTimeout.
	if r := within(t, "the waiter (no deadline) while the lock is held", waiter, 3*time.Second); !errors.Is(r.err, ErrLockTimeout) {
		t.Errorf("the waiter got %q, %v; want ErrLockTimeout", r.v, r.err)
	}
	close(release)
	if r := within(t, "the loader", loader, 3*time.Second); r.v != "loaded" || !errors.Is(r.err, ErrLockTimeout) {
		t.Errorf("the loader got %q, %v; want its value with ErrLockTimeout", r.v, r.err)
	}
	if held := heldClaims(a, "k"); len(held) != 0 {
		t.Errorf("the loader's claim is still held: owner %#x", held[0].owner())
	}
	if line := boundedGetOrLoad(t, name, "k"); !strings.HasPrefix(line, "error ErrLockTimeout ") {
		t.Errorf("a new process while the lock is held: %s; want ErrLockTimeout", line)
	}

	holder.Cmd.Process.Signal(syscall.SIGCONT)
	stopped = false
	holder.Stdin.Close()
	holder.Expect(t, "unlocked")
	if err := holder.Wait(); err != nil {
		t.Fatal(err)
	}
	line := boundedGetOrLoad(t, name, "k")
	var ms int
	if _, err := fmt.Sscanf(line, "value child-load %d", &ms); err != nil {
		t.Fatalf("a new process after the lock is let go: %s; want its own load", line)
	}
	if ms > 1000 {
		t.Errorf("the new process's GetOrLoad took %d ms", ms)
	}
	if r := within(t, "a goroutine (no deadline) after the lock is let go", goGetOrLoad(b, context.Background(), "k", "b-load"), 5*time.Second); r.err != nil || r.v != "child-load" {
		t.Errorf("a goroutine after: %q, %v; want the new process's value", r.v, r.err)
	}
	mustCheck(t, a)
}

// TestGetOrLoadLoaderPanics: a load that panics ends its claim on the way
// out, so that a caller waiting on it loads at once instead of waiting on
// a live process's claim for good, and the panic reaches its caller.
func TestGetOrLoadLoaderPanics(t *testing.T) {
	tb := newTable(t, small)
	started, release := make(chan struct{}), make(chan struct{})
	recovered := make(chan any, 1)
	go func() {
		defer func() { recovered <- recover() }()
		getOrLoad(tb, context.Background(), nil, []byte("k"), 0, func() ([]byte, error) {
			close(started)
			<-release
			panic("the loader panics")
		})
	}()
	<-started
	waiter := goGetOrLoad(tb, context.Background(), "k", "waiter-load")
	time.Sleep(50 * time.Millisecond)
	close(release)
	if r := <-recovered; r != "the loader panics" {
		t.Errorf("the loader's caller recovered %v", r)
	}
	if r := within(t, "the waiter", waiter, 2*time.Second); r.err != nil || r.v != "waiter-load" {
		t.Errorf("the waiter got %q, %v; want its own load's value", r.v, r.err)
	}
	if held := heldClaims(tb, "k"); len(held) != 0 {
		t.Errorf("a claim is still held: owner %#x", held[0].owner())
	}
}

// TestWatchExpiryByTableClock: Watch's wake for a key's expiry is timed
// by the table's clock (Options.Now), which expiry reads. Timed by the
// wall clock, a key that expires within the hour by a clock behind the
// wall clock had "expired" already, and Watch read it again every
// millisecond until ctx ended.
func TestWatchExpiryByTableClock(t *testing.T) {
	clock := newClock() // 2026-01-01, behind the wall clock
	o := *small
	o.Now = clock.Now
	tb := newTable(t, &o)
	if err := tb.SetTTL([]byte("k"), []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	_, version, err := tb.GetVersion(nil, []byte("k"))
	if err != nil || version == 0 {
		t.Fatalf("GetVersion = %d, %v", version, err)
	}
	var st0, st Stats
	tb.Stats(&st0)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, _, err := tb.Watch(ctx, nil, []byte("k"), version); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Watch = %v, want the deadline", err)
	}
	tb.Stats(&st)
	if reads := st.Hits - st0.Hits; reads > 5 {
		t.Errorf("Watch read the key %d times in 300 ms", reads)
	}
}

// lateContext has a deadline that has passed but reports no error until
// its Done channel closes, some time later: the moment between a
// deadline and the timer that ends the context.
type lateContext struct {
	context.Context
	deadline time.Time
	done     chan struct{}
}

func (c *lateContext) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *lateContext) Done() <-chan struct{}       { return c.done }
func (c *lateContext) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// TestSleepOnPastDeadline: a sleep under a context whose deadline has
// passed, but which has not ended yet, sleeps until it ends instead of
// returning at once to a caller that would look again and sleep again, a
// spin for as long as the context takes to end.
func TestSleepOnPastDeadline(t *testing.T) {
	ctx := &lateContext{Context: context.Background(), deadline: time.Now().Add(-time.Second), done: make(chan struct{})}
	time.AfterFunc(50*time.Millisecond, func() { close(ctx.done) })
	var w uint32
	calls := 0
	for sleepOn(ctx, &w, 0, loadCheckInterval) == nil {
		calls++
	}
	if calls > 60 {
		t.Errorf("%d sleeps returned at once in the 50 ms before the context ended", calls)
	}
}
