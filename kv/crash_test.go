//go:build shmkvfail

package kv

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shmkv/shmkv/kv/internal/failpoint"
	"github.com/shmkv/shmkv/kv/internal/format"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/internal/testshm"
)

// Kill sweep: a child process runs one write and kills itself just before
// its Nth store to the region, for every N the write has. After each death
// the parent, through ordinary operations, must find every earlier write
// intact, the interrupted one wholly done or wholly undone, and Check
// clean.

func init() {
	children["crash-op"] = childCrashOp
}

// sweepOp is one interrupted write: what it does, and the states its key
// may have afterwards: its value (absent is ""), and with ttl, " ttl" if
// it has an expiry time.
type sweepOp struct {
	lru    bool // runs on an evicting table, in TestKillSweepEviction
	name   string
	key    string
	before string
	after  string
	ttl    bool // the state says whether the key expires
	do     func(tb *Table) error
	// then, if set, must succeed after every step, in the parent.
	then func(tb *Table) error
}

// state reads the state of o's key through tb, as before and after
// describe it.
func (o *sweepOp) state(tb *Table) (string, error) {
	v, found, err := tb.Get(nil, []byte(o.key))
	if err != nil || !found || !o.ttl {
		return string(v), err
	}
	d, found, err := tb.TTL([]byte(o.key))
	if err != nil || !found {
		return "", fmt.Errorf("TTL of a key Get found: %v, %v", found, err)
	}
	if d != NoExpiry {
		return string(v) + " ttl", nil
	}
	return string(v), nil
}

// mustState is state that fails the test on an error.
func (o *sweepOp) mustState(t *testing.T, tb *Table) string {
	t.Helper()
	got, err := o.state(tb)
	if err != nil {
		t.Fatalf("state of %q: %v", o.key, err)
	}
	return got
}

// wantTrue turns a write's report that it did nothing into an error.
func wantTrue(ok bool, err error) error {
	if err == nil && !ok {
		err = errors.New("the write did nothing")
	}
	return err
}

var bigValue = strings.Repeat("B", 3000)

var sweepOps = []sweepOp{
	{name: "set new key", key: "fresh", after: "new value", do: func(tb *Table) error { return tb.Set([]byte("fresh"), []byte("new value")) }},
	{name: "set overwrite", key: "k0", before: "value 0", after: "overwritten", do: func(tb *Table) error { return tb.Set([]byte("k0"), []byte("overwritten")) }},
	{name: "set with cleaning", key: "big", after: bigValue, do: func(tb *Table) error { return tb.Set([]byte("big"), []byte(bigValue)) }},
	{name: "delete", key: "k1", before: "value 1", do: func(tb *Table) error {
		_, err := tb.Delete([]byte("k1"))
		return err
	}},
	{name: "add", key: "counter", before: "10", after: "15", do: func(tb *Table) error {
		_, err := tb.Add([]byte("counter"), 5)
		return err
	}},
	{name: "compare and swap", key: "k2", before: "value 2", after: "swapped", do: func(tb *Table) error {
		ok, err := tb.CompareAndSwap([]byte("k2"), []byte("value 2"), []byte("swapped"))
		if err == nil && !ok {
			err = errors.New("not swapped")
		}
		return err
	}},
	{name: "get or load", key: "loaded", after: "loaded value", do: getOrLoadSweep, then: getOrLoadSweep},
	{name: "set if absent with ttl", key: "lease", after: "holder ttl", ttl: true, do: func(tb *Table) error {
		return wantTrue(tb.SetIfAbsentTTL([]byte("lease"), []byte("holder"), time.Hour))
	}},
	{name: "compare and swap with ttl", key: "k3", before: "value 3", after: "renewed ttl", ttl: true, do: func(tb *Table) error {
		return wantTrue(tb.CompareAndSwapTTL([]byte("k3"), []byte("value 3"), []byte("renewed"), time.Hour))
	}},
	{name: "compare and delete", key: "k4", before: "value 4", do: func(tb *Table) error {
		return wantTrue(tb.CompareAndDelete([]byte("k4"), []byte("value 4")))
	}},
	{name: "touch", key: "k5", before: "value 5", after: "value 5 ttl", ttl: true, do: func(tb *Table) error {
		return wantTrue(tb.Touch([]byte("k5"), time.Hour))
	}},
	{lru: true, name: "set evicting", key: "fresh", after: "evicts to fit", do: func(tb *Table) error {
		return tb.Set([]byte("fresh"), []byte("evicts to fit"))
	}},
}

// getOrLoadSweep loads key "loaded" through GetOrLoad: the claim, the
// store and the end of the claim. After a loader died at any of them,
// another caller must get the value within the liveness bound, not wait
// on the dead loader's claim.
func getOrLoadSweep(tb *Table) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := tb.GetOrLoad(ctx, nil, []byte("loaded"), func(context.Context, []byte) ([]byte, time.Duration, error) { return []byte("loaded value"), 0, nil })
	if err == nil && string(v) != "loaded value" {
		err = fmt.Errorf("GetOrLoad gave %q", v)
	}
	return err
}

// sweepOptions make one shard with a log small enough that the big Set
// must clean it.
var sweepOptions = &Options{MaxMemory: 64 << 10, Keys: 40, Memory: 6000, MaxKeySize: 16, MaxValueSize: 3000}

// sweepSetup fills the table; it returns the acknowledged contents.
func sweepSetup(t *testing.T, tb *Table) map[string]string {
	want := map[string]string{"counter": "10"}
	mustSet(t, tb, "counter", "10")
	// The keys' final values first; then overwrites of filler keys until
	// the big value no longer fits without cleaning, so that cleaning must
	// drop dead filler versions and move the live values behind them.
	for i := range 12 {
		k, v := fmt.Sprint("k", i), fmt.Sprint("value ", i)
		mustSet(t, tb, k, v)
		want[k] = v
	}
	s := viewOf(t, &tb.shards[0])
	need := format.EntrySize(3, len(bigValue), false) + s.reserve(format.EntrySize(3, len(bigValue), false))
	for i := 0; s.size-int64(s.head()-s.tail()) >= need; i++ {
		if i > 10000 {
			t.Fatal("setup never filled the log")
		}
		k, v := fmt.Sprint("f", i%6), fmt.Sprint("filler ", i, strings.Repeat(".", 60))
		mustSet(t, tb, k, v)
		want[k] = v
	}
	return want
}

// arm arms the failpoint at step at, after stopping tb's flusher: its
// ticks make stores of their own (read counters; the release of a retired
// extent a second old, which also changes what the next grow stores) at
// moments no counting run can foresee.
func arm(tb *Table, at int64) {
	tb.stopFlusher()
	failpoint.CrashAt.Store(at)
}

// childCrashOp: args op-index crash-at. Opens first, then arms the
// failpoint, so only the write's own stores count; prints the count.
func childCrashOp(tb *Table, args []string) error {
	i, _ := strconv.Atoi(args[0])
	at, _ := strconv.ParseInt(args[1], 10, 64)
	arm(tb, at)
	err := sweepOps[i].do(tb)
	failpoint.CrashAt.Store(0)
	fmt.Println(failpoint.Steps.Load())
	return err
}

// image and restore copy the whole object out and back, so that every
// child starts from the same bytes.
func image(t *testing.T, name string) []byte {
	return testshm.Copy(t, name)
}

func restore(t *testing.T, name string, img []byte) {
	testshm.Edit(t, name, func(m []byte) { copy(m, img) })
}

func runCrashChild(t *testing.T, name string, op int, at int64) (stdout string, killed bool) {
	t.Helper()
	return runKillable(t, childEnv("crash-op", name, strconv.Itoa(op), strconv.FormatInt(at, 10)))
}

// runKillable runs a child that may kill itself at a failpoint, and
// reports its output and whether it did.
func runKillable(t *testing.T, env []string) (stdout string, killed bool) {
	t.Helper()
	out, err := testproc.Run(t, env...)
	if testproc.Killed(err) {
		return out, true
	}
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	return out, false
}

func TestKillSweep(t *testing.T) {
	t.Parallel()
	for op := range sweepOps {
		if sweepOps[op].lru {
			continue
		}
		t.Run(sweepOps[op].name, func(t *testing.T) {
			o := sweepOps[op]
			name := uniqueName(t)
			tb := openTable(t, name, sweepOptions)
			tb.stopFlusher() // its ticks could take a lock a restore then rewrites
			want := sweepSetup(t, tb)
			img := image(t, name)
			ro := openTable(t, name, &Options{ReadOnly: true})

			out, killed := runCrashChild(t, name, op, -1)
			steps, err := strconv.Atoi(strings.TrimSpace(out))
			if killed || err != nil || steps < 3 {
				t.Fatalf("counting run: %q, killed %v", out, killed)
			}
			if got := o.mustState(t, tb); got != o.after {
				t.Fatalf("the uninterrupted write left %q = %q", o.key, got)
			}
			t.Logf("%d stores", steps)
			sawBefore, sawAfter, recovered := false, false, 0
			for n := 1; n <= steps; n++ {
				restore(t, name, img)
				if out, killed := runCrashChild(t, name, op, int64(n)); !killed {
					t.Fatalf("step %d: the child was not killed: it made %s stores, the counting run %d", n, strings.TrimSpace(out), steps)
				}
				// Before anyone recovers the shard, a read-only handle reads
				// around the dead writer: every key as acknowledged, the
				// key written as before or after, never ErrOwnerDead.
				for k, v := range want {
					if k == o.key {
						continue
					}
					if got, ok, err := ro.Get(nil, []byte(k)); err != nil || !ok || string(got) != v {
						t.Fatalf("step %d: read-only Get(%q) = %q, %v, %v; want %q", n, k, got, ok, err, v)
					}
				}
				if got, err := o.state(ro); err != nil || got != o.before && got != o.after {
					t.Fatalf("step %d: read-only read of %q = %q, %v; want %q or %q", n, o.key, got, err, o.before, o.after)
				}
				for k, v := range want {
					if k == o.key {
						continue
					}
					if got, ok := mustGet(t, tb, k); !ok || got != v {
						t.Fatalf("step %d: acknowledged %q = %q, %v; want %q", n, k, got, ok, v)
					}
				}
				got := o.mustState(t, tb)
				switch got {
				case o.before:
					sawBefore = true
				case o.after:
					sawAfter = true
				default:
					t.Fatalf("step %d: %q = %q, neither before (%q) nor after", n, o.key, got, o.before)
				}
				if rep := mustCheck(t, tb); len(rep.Problems) > 0 {
					t.Fatalf("step %d: Check found problems", n)
				}
				if o.then != nil {
					if err := o.then(tb); err != nil {
						t.Fatalf("step %d: after the death: %v", n, err)
					}
				}
				// The table takes writes again.
				mustSet(t, tb, "probe", strconv.Itoa(n))
				var st Stats
				tb.Stats(&st) // the image restored for this step counted none
				recovered += int(st.Recoveries)
			}
			if recovered == 0 {
				t.Error("no step needed a recovery: the sweep did not interrupt a write")
			}
			t.Logf("%d of %d steps recovered a dead writer's shard", recovered, steps)
			if !sawBefore || !sawAfter {
				t.Errorf("the sweep never saw the write undone (%v) or done (%v)", sawBefore, sawAfter)
			}
		})
	}
}

func init() {
	children["recover"] = childRecover
}

// recoveredAtOpen is childRecover's answer when its Open recovered the
// shard before the failpoint was armed.
const recoveredAtOpen = "recovered at open"

// childRecover: args key crash-at. Takes over the lock of key's shard from
// its dead writer, then recovers the shard with the failpoint armed; prints
// the stores the recovery made. The takeover is not counted: how often the
// wait sleeps before it finds the owner dead (a signal cuts a futex sleep
// short) depends on the scheduler, and a kill before the takeover's
// compare-and-swap leaves the image the sweep starts from anyway.
func childRecover(tb *Table, args []string) error {
	at, _ := strconv.ParseInt(args[1], 10, 64)
	s := tb.shardFor(format.HashKey(tb.g.Seed, []byte(args[0])))
	tookOver, err := tb.lock(s)
	if err != nil {
		return err
	}
	if !tookOver {
		// This child's registry slot (from its pid) is the dead
		// writer's, and Open already recovered the shard
		// (recoverOwnSlot), unarmed. The parent runs another child.
		tb.unlock(s)
		fmt.Println(recoveredAtOpen)
		return nil
	}
	arm(tb, at)
	err = tb.readyLocked(s, true)
	failpoint.CrashAt.Store(0)
	if err != nil {
		return err
	}
	tb.unlock(s)
	fmt.Println(failpoint.Steps.Load())
	return nil
}

// TestDeathDuringRecovery kills a writer half way through a Set, then kills
// the process recovering after it at every store of the recovery: the next
// process completes it, and the table comes out as one clean recovery
// leaves it.
func TestDeathDuringRecovery(t *testing.T) {
	t.Parallel()
	name := uniqueName(t)
	tb := openTable(t, name, sweepOptions)
	tb.stopFlusher() // its ticks could take a lock a restore then rewrites
	want := sweepSetup(t, tb)
	img := image(t, name)
	// Die half way through the cleaning Set (op 2).
	out, _ := runCrashChild(t, name, 2, -1)
	steps, _ := strconv.Atoi(strings.TrimSpace(out))
	restore(t, name, img)
	if _, killed := runCrashChild(t, name, 2, int64(steps/2)); !killed {
		t.Fatal("writer not killed")
	}
	dead := image(t, name)

	// The reference: one recovery, uninterrupted.
	recoverChild := func(at int64) (string, bool) {
		// A child whose pid gives it the dead writer's registry slot has
		// one chance in RegistrySlots; five in a row would be something
		// else taking the lock.
		for range 5 {
			out, killed := runKillable(t, childEnv("recover", name, "big", strconv.FormatInt(at, 10)))
			if killed || strings.TrimSpace(out) != recoveredAtOpen {
				return out, killed
			}
			t.Logf("a recovering child had the dead writer's registry slot, and its Open recovered the shard: running another")
			restore(t, name, dead) // undo the recovery its Open made
		}
		t.Fatal("five recovering children in a row found the dead writer's lock released")
		return "", false
	}
	out, _ = recoverChild(-1)
	recSteps, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || recSteps < 10 {
		t.Fatalf("counting recovery stores: %q", out)
	}
	ref := snapshotAll(t, tb)
	for k, v := range want {
		if ref[k] != v {
			t.Fatalf("after one recovery, acknowledged %q = %q, want %q", k, ref[k], v)
		}
	}
	t.Logf("recovery makes %d stores", recSteps)

	for n := 1; n <= recSteps; n++ {
		restore(t, name, dead)
		if out, killed := recoverChild(int64(n)); !killed {
			t.Fatalf("step %d: the recovering child was not killed: it made %s stores, the counting run %d", n, strings.TrimSpace(out), recSteps)
		}
		// The parent finishes the recovery, and gets the same table.
		if got := snapshotAll(t, tb); !maps.Equal(got, ref) {
			t.Fatalf("step %d: %d entries after a recovery that died, %d after one that did not", n, len(got), len(ref))
		}
		mustCheck(t, tb)
	}
	// Recovering an already recovered table changes nothing.
	restore(t, name, dead)
	before := snapshotAll(t, tb)
	s := tb.shardFor(format.HashKey(tb.g.Seed, []byte("big")))
	if err := tb.lockShard(s); err != nil {
		t.Fatal(err)
	}
	tb.recoverShard(s)
	tb.unlock(s)
	if got := snapshotAll(t, tb); !maps.Equal(got, before) {
		t.Fatal("a second recovery changed the table")
	}
	mustCheck(t, tb)
}

// TestKillSweepEviction kills a Set at every store while it evicts from a
// full evicting table: the Set is all or nothing, no key has a wrong value, no
// more keys are gone than the whole Set evicts, and Check is clean. In the
// first table the Set's entry is too large for the small log and the main
// log evicts; in the second it goes to the small log, whose cleaning moves
// the entries read since they were written to the main log and evicts
// the others (evict.go); in the third the main log holds only expired
// entries, which its tail drops before the small log evicts anything.
func TestKillSweepEviction(t *testing.T) {
	t.Run("main log", func(t *testing.T) {
		killSweepEviction(t, &Options{MaxMemory: 64 << 10, Keys: 12, Memory: 12 * 40, MaxKeySize: 16, MaxValueSize: 64, Eviction: EvictS3FIFO}, false, false)
	})
	t.Run("small log", func(t *testing.T) {
		killSweepEviction(t, &Options{MaxMemory: 64 << 10, Keys: 40, Memory: 40 * 30, MaxKeySize: 16, MaxValueSize: 64, Eviction: EvictS3FIFO}, true, false)
	})
	t.Run("expired main log", func(t *testing.T) {
		killSweepEviction(t, &Options{MaxMemory: 64 << 10, Keys: 40, Memory: 40 * 30, MaxKeySize: 16, MaxValueSize: 64, Eviction: EvictS3FIFO}, false, true)
	})
}

// smallFullOfLive reports whether the small log of key's shard has no
// room for an entry of 48 bytes and holds no entry that expires, while its
// main log does.
func smallFullOfLive(t *testing.T, tb *Table, key string) bool {
	v := viewOf(t, tb.shardFor(format.HashKey(tb.g.Seed, []byte(key))))
	head, tail := v.smallHead(), v.smallTail()
	if v.ctlLoad(format.CtlExpiring) == 0 || head == tail || uint64(v.lo)-(head-tail) >= uint64(48+v.smallPad(head, 48)) {
		return false
	}
	for p := tail; p != head; {
		it := v.itemIn(v.smallRing(), p, head, false)
		if it.kind == itemEntry && it.hdr.state == format.EntryLive && it.hdr.hasExpiry() {
			return false
		}
		p += it.size
	}
	return true
}

func killSweepEviction(t *testing.T, opts *Options, small, expired bool) {
	op := len(sweepOps) - 1
	o := sweepOps[op]
	name := uniqueName(t)
	tb := openTable(t, name, opts)
	tb.stopFlusher() // its ticks could take a lock a restore then rewrites
	want := map[string]string{}
	var st Stats
	const ttl = 200 * time.Millisecond
	for i := 0; ; i++ {
		tb.Stats(&st)
		if st.Evictions > 0 {
			break // full: the last Set evicted
		}
		k, v := fmt.Sprint("k", i), fmt.Sprint("value ", i, strings.Repeat("-", 20))
		if expired {
			if err := tb.SetTTL([]byte(k), []byte(v), ttl); err != nil {
				t.Fatal(err)
			}
			continue
		}
		mustSet(t, tb, k, v)
		want[k] = v
	}
	if expired {
		// Fill the small log with keys that do not expire, then let
		// everything else expire: the Set must make room in the main log,
		// all expired, before the small log evicts.
		for i := 0; !smallFullOfLive(t, tb, o.key); i++ {
			if i > 1000 {
				t.Fatal("the small log never filled with keys that do not expire")
			}
			k, v := fmt.Sprint("n", i), fmt.Sprint("value ", i, strings.Repeat("-", 20))
			mustSet(t, tb, k, v)
			want[k] = v
		}
		time.Sleep(ttl + 50*time.Millisecond)
	}
	// A read-only handle's reads do not mark entries as used, which would
	// make the Set move every entry before it evicts one.
	ro := openTable(t, name, &Options{ReadOnly: true})
	for k := range want {
		if _, ok := mustGet(t, ro, k); !ok {
			delete(want, k) // evicted while filling
		}
	}
	if small {
		// Mark every other entry of the small log read, from its tail on,
		// so that the small log's cleaning, which starts at the tail,
		// promotes (into the full main log, which evicts) whatever the
		// small log's size makes its tail. (Every other key by name
		// depended on that size: it missed when the extent header grew.)
		v := viewOf(t, tb.shardFor(format.HashKey(tb.g.Seed, []byte(o.key))))
		head, tail := v.smallHead(), v.smallTail()
		var keys []string
		for p := tail; p != head; {
			it := v.itemIn(v.smallRing(), p, head, false)
			if it.kind == itemEntry && it.hdr.state == format.EntryLive {
				keys = append(keys, v.keyString(it.off, &it.hdr))
			}
			p += it.size
		}
		for i := 0; i < len(keys); i += 2 {
			tb.Get(nil, []byte(keys[i]))
		}
	}
	img := image(t, name)

	out, _ := runCrashChild(t, name, op, -1)
	steps, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || steps < 3 {
		t.Fatalf("counting run: %q", out)
	}
	tb.Stats(&st)
	fullEvictions, promotions, expirations := st.Evictions, st.Promotions, st.Expirations
	restore(t, name, img)
	tb.Stats(&st)
	fullEvictions -= st.Evictions
	promotions -= st.Promotions
	expirations -= st.Expirations
	switch {
	case expired && (expirations == 0 || fullEvictions != 0):
		t.Fatalf("the Set expired %d entries and evicted %d: want expirations and no eviction", expirations, fullEvictions)
	case !expired && fullEvictions == 0:
		t.Fatal("the Set did not evict")
	case small && promotions == 0:
		t.Fatal("the Set promoted nothing from the small log")
	}
	t.Logf("%d stores, %d evictions, %d promotions, %d expirations", steps, fullEvictions, promotions, expirations)
	for n := 1; n <= steps; n++ {
		restore(t, name, img)
		if out, killed := runCrashChild(t, name, op, int64(n)); !killed {
			t.Fatalf("step %d: the child was not killed: it made %s stores, the counting run %d", n, strings.TrimSpace(out), steps)
		}
		gone := 0
		for k, v := range want {
			got, ok := mustGet(t, tb, k)
			if !ok {
				gone++
			} else if got != v {
				t.Fatalf("step %d: %q = %q, want %q", n, k, got, v)
			}
		}
		if gone > int(fullEvictions) {
			t.Fatalf("step %d: %d keys gone; the whole Set evicts %d", n, gone, fullEvictions)
		}
		if got, ok := mustGet(t, tb, o.key); ok && got != o.after {
			t.Fatalf("step %d: %q = %q", n, o.key, got)
		}
		mustCheck(t, tb)
	}
}
