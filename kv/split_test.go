package kv

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// splitting makes tables that start with a few shards in use and split
// them early: a ceiling of 1 GiB plans 64 shards, of which 16 are in use
// at creation, and a shard splits past an extent of 64 KiB.
func splitting() *Options {
	return &Options{MaxMemory: 1 << 30, splitAbove: 64 << 10}
}

// TestSplitKeepsEveryKey fills a splitting table, and checks that every
// key stays readable, through this handle, whose routes followed the
// splits, and through a new one, whose routes start at the initial
// shards; that Check, Range, Len and Stats agree; and that the classes a
// split moved are written and deleted where they now live.
func TestSplitKeepsEveryKey(t *testing.T) {
	t.Parallel()
	name := uniqueName(t)
	tb := openTable(t, name, splitting())
	var st Stats
	if err := tb.Stats(&st); err != nil {
		t.Fatal(err)
	}
	if st.Shards != 16 || st.MaxShards != 64 {
		t.Fatalf("a new table: %d shards in use of %d; want 16 of 64", st.Shards, st.MaxShards)
	}
	const n = 40000
	key := func(i int) string { return fmt.Sprintf("key-%07d", i) }
	for i := range n {
		mustSet(t, tb, key(i), fmt.Sprintf("value-%d", i))
	}
	if err := tb.Stats(&st); err != nil {
		t.Fatal(err)
	}
	t.Logf("after %d keys: %d shards in use, %d splits, %d grows", n, st.Shards, st.Splits, st.Grows)
	if st.Splits == 0 || st.Shards != 16+int(st.Splits) || st.Entries != n {
		t.Fatalf("%d shards, %d splits, %d entries; want splits, 16 shards more than splits, %d entries", st.Shards, st.Splits, st.Entries, n)
	}
	fresh := openTable(t, name, &Options{NoCreate: true})
	for _, h := range []*Table{tb, fresh} {
		for i := range n {
			if v, ok := mustGet(t, h, key(i)); !ok || v != fmt.Sprintf("value-%d", i) {
				t.Fatalf("Get(%s) = %q, %v", key(i), v, ok)
			}
		}
	}
	// The new handle writes and deletes through its own routes.
	for i := 0; i < n; i += 2 {
		if _, err := fresh.Delete([]byte(key(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := n; i < n+n/2; i++ {
		mustSet(t, fresh, key(i), fmt.Sprintf("value-%d", i))
	}
	want := n/2 + n/2
	if got := tb.Len(); got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
	seen := map[string]int{}
	if err := tb.Range(func(k, v []byte) bool {
		seen[string(k)]++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != want {
		t.Fatalf("Range saw %d keys, want %d", len(seen), want)
	}
	for k, c := range seen {
		if c != 1 {
			t.Fatalf("Range saw %s %d times", k, c)
		}
	}
	for i := range n + n/2 {
		_, ok := mustGet(t, tb, key(i))
		if ok != (i%2 == 1 || i >= n) {
			t.Fatalf("Get(%s) found=%v", key(i), ok)
		}
	}
	checkClean(t, tb)
}

// TestSplitDepthsPartition checks, shard by shard, that the shards in
// use hold every class exactly once, at the depths their extents say.
func TestSplitDepthsPartition(t *testing.T) {
	t.Parallel()
	tb := newTable(t, splitting())
	for i := range 30000 {
		mustSet(t, tb, fmt.Sprintf("k%d", i), "v")
	}
	holders := make([]int, len(tb.shards))
	for i := range tb.shards {
		if !tb.inUse(i) {
			if w := tb.shards[i].ctlLoad(format.CtlExtent); w != 0 {
				t.Errorf("shard %d is not in use but has extent word %#x", i, w)
			}
			continue
		}
		v := viewOf(t, &tb.shards[i])
		for c := i; c < len(tb.shards); c += 1 << v.depth {
			holders[c]++
		}
	}
	for c, n := range holders {
		if n != 1 {
			t.Errorf("class %d is held by %d shards in use", c, n)
		}
	}
}

func checkClean(t *testing.T, tb *Table) {
	t.Helper()
	rep, err := tb.Check()
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("Check: %d problems, the first: %+v", len(rep.Problems), rep.Problems[0])
	}
}

var splitSeed = flag.Uint64("kv.split.seed", 0, "seed of TestSplitConcurrent (0: from the clock)")

// TestSplitConcurrent runs writers on their own keys of a splitting table,
// each checking its reads against its own model, beside readers of the
// whole table (Range, Len, Stats, Check), while the shards split under
// all of them. Run it under -race.
func TestSplitConcurrent(t *testing.T) {
	t.Parallel()
	seed := testproc.Seed(t, *splitSeed, "kv.split.seed")
	o := splitting()
	o.splitAbove = 12 << 10
	tb := newTable(t, o)
	const workers, perWorker = 4, 3000
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			model := map[string]string{}
			var buf []byte
			for step := range perWorker * 3 {
				k := fmt.Sprintf("w%d-%d", w, rng.IntN(perWorker))
				switch op := rng.IntN(10); {
				case op < 6:
					v := fmt.Sprintf("%s=%d-%s", k, step, strings.Repeat("x", rng.IntN(60)))
					if err := tb.Set([]byte(k), []byte(v)); err != nil {
						errs <- fmt.Errorf("seed %d: Set(%s): %v", seed, k, err)
						return
					}
					model[k] = v
				case op < 7:
					if _, err := tb.Delete([]byte(k)); err != nil {
						errs <- fmt.Errorf("seed %d: Delete(%s): %v", seed, k, err)
						return
					}
					delete(model, k)
				default:
					got, ok, err := tb.Get(buf[:0], []byte(k))
					buf = got
					want, in := model[k]
					if err != nil || ok != in || string(got) != want {
						errs <- fmt.Errorf("seed %d: Get(%s) = %q, %v, %v; want %q, %v", seed, k, got, ok, err, want, in)
						return
					}
				}
			}
		}()
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		var st Stats
		for {
			select {
			case <-stop:
				return
			default:
			}
			seen := map[string]bool{}
			if err := tb.Range(func(k, _ []byte) bool {
				if seen[string(k)] {
					errs <- fmt.Errorf("Range saw %s twice", k)
					return false
				}
				seen[string(k)] = true
				return true
			}); err != nil {
				errs <- fmt.Errorf("Range: %v", err)
				return
			}
			tb.Len()
			if err := tb.Stats(&st); err != nil {
				errs <- fmt.Errorf("Stats: %v", err)
				return
			}
			if rep, err := tb.Check(); err != nil || len(rep.Problems) > 0 {
				errs <- fmt.Errorf("Check beside writers: %v, %v", err, rep)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var st Stats
	tb.Stats(&st)
	t.Logf("%d shards in use, %d splits, %d entries", st.Shards, st.Splits, st.Entries)
	if st.Splits == 0 {
		t.Fatal("no split: the test proved nothing")
	}
	checkClean(t, tb)
}

// TestSplitStaleDepthView gives a handle what it would hold had a shard's
// extent word come back at a greater depth (a split that placed the new
// extent where an old one of the same size was): a cached view of the
// shard's current word with the depth it had before it split. Reads of
// the classes the buddies took must still find their keys, and writes
// must go to the buddies, not into the shard.
func TestSplitStaleDepthView(t *testing.T) {
	t.Parallel()
	name := uniqueName(t)
	tb := openTable(t, name, splitting())
	const n = 20000
	key := func(i int) []byte { return fmt.Appendf(nil, "key-%06d", i) }
	for i := range n {
		if err := tb.Set(key(i), key(i)); err != nil {
			t.Fatal(err)
		}
	}
	h := openTable(t, name, &Options{NoCreate: true, splitAbove: 64 << 10})
	// h reads shard 0 at its depth now; then its view of shard 0 is made
	// stale: the same word, the initial depth.
	cur := viewOf(t, &h.shards[0])
	if cur.depth == cur.minDepth {
		t.Fatalf("shard 0 never split (depth %d)", cur.depth)
	}
	stale := *cur
	stale.setDepth(cur.minDepth)
	h.views[0].Store(&stale)
	for i := range h.routes {
		h.routes[i].Store(uint32(i & (h.g.InitialShards - 1)))
	}
	moved := 0
	for i := range n {
		k := key(i)
		hk := format.HashKey(h.g.Seed, k)
		if hk>>cur.classShift&stale.classMask != 0 || cur.owns(hk) {
			continue // not a class shard 0 gave away
		}
		moved++
		if got, ok := mustGet(t, h, string(k)); !ok || got != string(k) {
			t.Fatalf("Get(%s) through a stale view: %q, %v", k, got, ok)
		}
		if err := h.Set(k, []byte("new")); err != nil {
			t.Fatal(err)
		}
	}
	if moved == 0 {
		t.Fatal("no key of a class shard 0 gave away")
	}
	t.Logf("%d keys of classes shard 0 gave away, read and written through a stale view", moved)
	checkClean(t, tb)
	for i := range n {
		k := key(i)
		hk := format.HashKey(h.g.Seed, k)
		if hk>>cur.classShift&stale.classMask == 0 && !cur.owns(hk) {
			if got, _ := mustGet(t, tb, string(k)); got != "new" {
				t.Fatalf("Get(%s) = %q after the stale handle's write", k, got)
			}
		}
	}
}

// TestSplitRouteBesideGrows routes through shards that grow meanwhile:
// new handles, whose routes start at the initial shards, read keys of
// every class while writers grow the shards they walk through. A walk
// that meets an extent a grow just replaced (its header given back)
// must try the new one, not call the shard unreadable.
func TestSplitRouteBesideGrows(t *testing.T) {
	t.Parallel()
	name := uniqueName(t)
	tb := openTable(t, name, splitting())
	const n = 30000
	for i := range n {
		mustSet(t, tb, fmt.Sprintf("k%d", i), "v")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := tb.Set(fmt.Appendf(nil, "grow-%d-%d", w, i), []byte("some value to grow the shards")); err != nil {
					t.Errorf("Set: %v", err)
					return
				}
			}
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	rounds := 0
	for ; time.Now().Before(deadline) && !t.Failed(); rounds++ {
		h, err := Open(name, &Options{NoCreate: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i += 97 {
			if _, ok, err := h.Get(nil, fmt.Appendf(nil, "k%d", i)); err != nil || !ok {
				t.Errorf("round %d: Get(k%d): %v, %v", rounds, i, ok, err)
				break
			}
		}
		h.Close()
	}
	close(stop)
	wg.Wait()
	var st Stats
	tb.Stats(&st)
	t.Logf("%d rounds of new handles beside %d grows, %d splits", rounds, st.Grows, st.Splits)
}
