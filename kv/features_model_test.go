package kv

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
)

// The model test of features together (issue 21): every feature of a table
// used at once, on tables that grow and on tables that evict at their
// ceiling, against a model. Its first part (here) runs in one process with a
// fake clock and is exact; its second part (features_procs_test.go) runs
// several processes, some stopped and killed at random, and checks
// invariants. Every operation is bounded: an operation that does not return
// within its bound fails the test with the operation, the key and the seed,
// so that no bug makes the test hang.
//
// The seed is printed; -kv.features.seed or SHMKV_MODEL_SEED runs a seed
// again, and seeds that once failed belong in featuresRegressions. The
// exact part is deterministic given its seed; the cross-process part's seed
// fixes each process's choice of operations, keys and loaders, and the
// parent's of stops and kills, but not how the processes interleave.

var featuresSeedFlag = flag.Uint64("kv.features.seed", 0, "seed for TestFeaturesModel (0: SHMKV_MODEL_SEED, else from the clock)")

// featuresSeed is the seed of this run: the flag, else SHMKV_MODEL_SEED,
// else the clock; it is logged.
func featuresSeed(t *testing.T) uint64 {
	t.Helper()
	seed := *featuresSeedFlag
	if seed == 0 {
		if s := os.Getenv("SHMKV_MODEL_SEED"); s != "" {
			n, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				t.Fatalf("SHMKV_MODEL_SEED=%q: %v", s, err)
			}
			seed = n
		}
	}
	return testproc.Seed(t, seed, "kv.features.seed")
}

// featuresRegressions are seeds that once failed TestFeaturesModel.
//
// 1 (exact part, with the operations drawn as they were then: growing
// table step 233, evicting table step 446): a GetOrLoad of a key whose
// entry had expired by the fake clock never ran its loader and spun until
// its context ended (issue 21 item 1). Every seed tried found it within a
// few hundred steps; this one is kept so that the case runs whatever the
// clock says.
var featuresRegressions = []uint64{1}

func TestFeaturesModel(t *testing.T) {
	seed := featuresSeed(t)
	t.Run("exact", func(t *testing.T) { runFeaturesExactCases(t, seed) })
	t.Run("processes", func(t *testing.T) { runFeaturesProcs(t, seed) })
}

func TestFeaturesModelRegressions(t *testing.T) {
	for _, seed := range featuresRegressions {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runFeaturesExactCases(t, seed) })
	}
}

// featuresExactCases are the tables of the exact part: one that starts at
// a few keys and grows, and never evicts, so the model is exact; one small
// enough that it evicts all the time, where a key the model holds may be
// gone (and then the model forgets it), but no wrong value may be read;
// and one whose shards split as it grows, also exact.
var featuresExactCases = []struct {
	name  string
	opts  Options
	keys  int
	evict bool
}{
	{"growing", Options{MaxMemory: 8 << 20, Keys: 8, Memory: 512, MaxKeySize: 32, MaxValueSize: 300}, 300, false},
	{"evicting", Options{MaxMemory: 128 << 10, Keys: 200, Memory: 200 * 60, MaxKeySize: 32, MaxValueSize: 300, Eviction: EvictS3FIFO}, 1000, true},
	// 64 shards, 16 in use at first, which grow and split.
	{"splitting", Options{MaxMemory: 1 << 30, MaxKeySize: 32, MaxValueSize: 300, splitAbove: 8 << 10}, 800, false},
}

func runFeaturesExactCases(t *testing.T, seed uint64) {
	ops := 4000
	if testing.Short() {
		ops = 1500
	}
	for _, tc := range featuresExactCases {
		t.Run(tc.name, func(t *testing.T) {
			runFeaturesExact(t, seed, tc.opts, tc.keys, tc.evict, ops)
		})
	}
}

// errFeatLoad is what a failing loader returns; featPanic is what a
// panicking one panics with.
var (
	errFeatLoad = errors.New("the source is down")
	featPanic   = &struct{ s string }{"loader panicked"}
)

// Loader kinds.
const (
	loadOK         = iota // returns a value with a time to live
	loadFail              // returns errFeatLoad
	loadPanic             // panics with featPanic
	loadSlow              // sleeps, then returns a value
	loadInvalidate        // invalidates its own key, then returns a value
	loadKinds
)

var loadKindNames = [loadKinds]string{"ok", "fail", "panic", "slow", "invalidate"}

// featOp is the operation under way, for the watchdog.
type featOp struct {
	desc  string
	start time.Time
	bound time.Duration // in a child: how long it may take (features_procs_test.go)
}

// watchdog fails loudly if an operation stays under way past bound. A
// goroutine cannot stop a call that never returns, and t.Fatal from it
// would not either, so it panics, which ends the test binary with the
// operation and the seed: a hang becomes a failure. Every operation has a
// deadline far inside the bound; this is the backstop.
type watchdog struct {
	cur  atomic.Pointer[featOp]
	stop chan struct{}
}

func startWatchdog(t *testing.T, seed uint64, bound time.Duration) *watchdog {
	w := &watchdog{stop: make(chan struct{})}
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
			if op := w.cur.Load(); op != nil && time.Since(op.start) > bound {
				panic(fmt.Sprintf("%s: seed %d: %s has not returned after %v", t.Name(), seed, op.desc, time.Since(op.start)))
			}
		}
	}()
	t.Cleanup(func() { close(w.stop) })
	return w
}

func (w *watchdog) begin(format string, args ...any) {
	w.cur.Store(&featOp{desc: fmt.Sprintf(format, args...), start: time.Now()})
}

func (w *watchdog) end() time.Duration {
	op := w.cur.Swap(nil)
	return time.Since(op.start)
}

// runFeaturesExact runs ops random operations on a fresh table with
// options opts and a fake clock, checking each against a model of values
// and expiry times. Two handles share the table: tb, and rtb with
// RefreshAhead, whose GetOrLoad refreshes keys close to expiry.
func runFeaturesExact(t *testing.T, seed uint64, opts Options, nkeys int, evict bool, ops int) {
	rng := rand.New(rand.NewPCG(seed, 21))
	clock := newClock()
	opts.Now = clock.Now
	name := uniqueName(t)
	tb := openTable(t, name, &opts)
	const refresh = 2 * time.Second
	rtb := openTable(t, name, &Options{NoCreate: true, Now: clock.Now, RefreshAhead: refresh, splitAbove: opts.splitAbove})
	const opBound = 3 * time.Second // every call here ends far sooner
	wd := startWatchdog(t, seed, 4*opBound)

	model := map[string]cacheEntry{}
	now := func() int64 { return clock.ns.Load() }
	present := func(k string) (cacheEntry, bool) {
		e, ok := model[k]
		if ok && e.expires != 0 && now() >= e.expires {
			return e, false
		}
		return e, ok
	}
	step := 0
	var opDesc string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d, step %d, %s: %s", seed, step, opDesc, fmt.Sprintf(format, args...))
	}
	evicted, loads, refreshes, expiredLoads := 0, 0, 0, 0
	lost := func(k string) {
		t.Helper()
		if !evict {
			fail("%q lost from a table that does not evict", k)
		}
		delete(model, k)
		evicted++
	}
	value := func() string {
		if rng.IntN(4) == 0 {
			return strconv.Itoa(rng.IntN(100))
		}
		v := fmt.Sprintf("v%d-", step)
		return v + strings.Repeat("x", rng.IntN(opts.MaxValueSize-len(v)))
	}
	ttl := func() time.Duration {
		switch rng.IntN(4) {
		case 0, 1:
			return 0
		case 2:
			return time.Duration(1+rng.IntN(50)) * time.Millisecond
		}
		return time.Duration(1+rng.IntN(3000)) * time.Millisecond
	}
	// call runs fn as operation desc under the watchdog and fails the
	// step if it took longer than opBound.
	call := func(desc string, fn func()) {
		t.Helper()
		opDesc = desc
		wd.begin("seed %d, step %d, %s", seed, step, desc)
		fn()
		if d := wd.end(); d > opBound {
			fail("took %v", d)
		}
	}

	for step = range ops {
		k := fmt.Sprint("k", rng.IntN(nkeys))
		kb := []byte(k)
		want, has := present(k)
		switch op := rng.IntN(108); {
		case op < 14:
			v, d := value(), ttl()
			var err error
			call(fmt.Sprintf("SetTTL(%s, %v)", k, d), func() { err = tb.SetTTL(kb, []byte(v), d) })
			if err != nil {
				fail("%v", err)
			}
			model[k] = cacheEntry{v, int64(expiresAt(now(), d))}
		case op < 18:
			v := value()
			var err error
			call(fmt.Sprintf("Set(%s)", k), func() { err = tb.Set(kb, []byte(v)) })
			if err != nil {
				fail("%v", err)
			}
			model[k] = cacheEntry{v, 0}
		case op < 30:
			var got []byte
			var ok bool
			var err error
			call(fmt.Sprintf("Get(%s)", k), func() { got, ok, err = tb.Get(nil, kb) })
			switch {
			case err != nil:
				fail("%v", err)
			case ok && (!has || string(got) != want.value):
				fail("= %q; model %q, present %v", got, want.value, has)
			case !ok && has:
				lost(k)
			}
		case op < 34:
			var d time.Duration
			var ok bool
			var err error
			call(fmt.Sprintf("TTL(%s)", k), func() { d, ok, err = tb.TTL(kb) })
			switch {
			case err != nil:
				fail("%v", err)
			case ok && !has:
				fail("= %v, found; the model has it absent", d)
			case !ok && has:
				lost(k)
			case ok && want.expires == 0 && d != NoExpiry:
				fail("= %v; model: no expiry", d)
			case ok && want.expires != 0 && d != time.Duration(want.expires-now()):
				fail("= %v; model %v", d, time.Duration(want.expires-now()))
			}
		case op < 40:
			var del bool
			var err error
			invalidate := rng.IntN(2) == 0
			if invalidate {
				call(fmt.Sprintf("Invalidate(%s)", k), func() { del, err = tb.Invalidate(kb) })
			} else {
				call(fmt.Sprintf("Delete(%s)", k), func() { del, err = tb.Delete(kb) })
			}
			if err != nil || (del && !has) {
				fail("= %v, %v; present %v", del, err, has)
			}
			if has && !del {
				lost(k)
			}
			delete(model, k)
		case op < 46:
			d := rng.Int64N(20) - 10
			cur, numeric := int64(0), true
			if has {
				cur, numeric = parseInt([]byte(want.value))
			}
			var n int64
			var err error
			call(fmt.Sprintf("Add(%s, %d)", k, d), func() { n, err = tb.Add(kb, d) })
			switch {
			case errors.Is(err, ErrNotNumber) && has && !numeric:
			case err != nil:
				fail("%v; model %q present %v", err, want.value, has)
			case has && !numeric:
				// The non-number was evicted; Add started afresh.
				if n != d {
					fail("= %d; model %q", n, want.value)
				}
				lost(k)
				model[k] = cacheEntry{strconv.FormatInt(n, 10), 0}
			case n == cur+d && has && cur == 0 && want.expires != 0 && !keepsTTL(t, tb, kb):
				lost(k)
				model[k] = cacheEntry{strconv.FormatInt(n, 10), 0}
			case n == cur+d:
				model[k] = cacheEntry{strconv.FormatInt(n, 10), want.expires * b2i(has)}
			case has && n == d:
				lost(k)
				model[k] = cacheEntry{strconv.FormatInt(n, 10), 0}
			default:
				fail("= %d; model %q present %v", n, want.value, has)
			}
		case op < 52:
			old, nv := []byte(want.value), value()
			if rng.IntN(3) == 0 {
				old = []byte(value())
			}
			var swapped bool
			var err error
			call(fmt.Sprintf("CompareAndSwap(%s)", k), func() { swapped, err = tb.CompareAndSwap(kb, old, []byte(nv)) })
			wantSwap := has && string(old) == want.value
			switch {
			case err != nil || (swapped && !wantSwap):
				fail("= %v, %v; want %v", swapped, err, wantSwap)
			case swapped:
				model[k] = cacheEntry{nv, want.expires}
			case wantSwap:
				lost(k)
			}
		case op < 57:
			v := value()
			var stored bool
			var err error
			call(fmt.Sprintf("SetIfAbsent(%s)", k), func() { stored, err = tb.SetIfAbsent(kb, []byte(v)) })
			switch {
			case err != nil:
				fail("%v", err)
			case stored && has:
				lost(k)
			case !stored && !has:
				fail("refused an absent key")
			}
			if stored {
				model[k] = cacheEntry{v, 0}
			}
		case op < 82:
			h, refreshing := tb, false
			if rng.IntN(3) == 0 {
				h = rtb
				// Half the time, a key in its refresh window, if any.
				if rng.IntN(2) == 0 {
					for i, start := 0, rng.IntN(nkeys); i < nkeys; i++ {
						ck := fmt.Sprint("k", (start+i)%nkeys)
						if e, ok := present(ck); ok && e.expires != 0 && e.expires-now() < int64(refresh) {
							k, kb, want, has = ck, []byte(ck), e, true
							break
						}
					}
				}
				refreshing = has && want.expires != 0 && want.expires-now() < int64(refresh)
			}
			kind, v, d := rng.IntN(loadKinds), value(), ttl()
			ran := 0
			load := func(context.Context, []byte) ([]byte, time.Duration, error) {
				ran++
				switch kind {
				case loadFail:
					return nil, 0, errFeatLoad
				case loadPanic:
					panic(featPanic)
				case loadSlow:
					time.Sleep(time.Duration(1+rng.IntN(3)) * time.Millisecond)
				case loadInvalidate:
					if _, err := tb.Invalidate(kb); err != nil {
						return nil, 0, err
					}
				}
				return []byte(v), d, nil
			}
			var got []byte
			var err error
			var panicked any
			desc := fmt.Sprintf("GetOrLoad(%s), loader %s with ttl %v, refresh-ahead handle %v", k, loadKindNames[kind], d, h == rtb)
			call(desc, func() {
				defer func() { panicked = recover() }()
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				got, err = h.GetOrLoad(ctx, nil, kb, load)
			})
			if panicked != nil && panicked != featPanic {
				fail("panicked: %v", panicked)
			}
			if ran == 0 {
				switch {
				case errors.Is(err, context.DeadlineExceeded) && !has:
					_, expired := model[k]
					fail("never ran its loader and spun until its context ended; the model has the key absent (expired: %v); %s%s",
						expired, diagnoseLoad(tb, kb), featItem1(expired))
				case !has:
					fail("= %q, %v without running its loader; the model has the key absent", got, err)
				case refreshing && !evict:
					fail("did not refresh a key %v from its expiry", time.Duration(want.expires-now()))
				case err != nil || string(got) != want.value:
					fail("= %q, %v; model %q", got, err, want.value)
				}
				break
			}
			if ran > 1 {
				fail("ran its loader %d times", ran)
			}
			loads++
			if _, inModel := model[k]; inModel && !has {
				expiredLoads++
			}
			if has && !refreshing {
				lost(k) // and so absent: a load like any other
				has = false
			}
			if has {
				refreshes++
			}
			switch kind {
			case loadOK, loadSlow:
				if err != nil || string(got) != v {
					fail("= %q, %v; the loader returned %q", got, err, v)
				}
				model[k] = cacheEntry{v, int64(expiresAt(now(), d))}
			case loadInvalidate:
				if err != nil || string(got) != v {
					fail("= %q, %v; the loader returned %q", got, err, v)
				}
				delete(model, k)
			case loadFail:
				switch {
				case has && evict && errors.Is(err, errFeatLoad):
					// Evicted before the call: a plain load failed.
					lost(k)
				case has:
					if err != nil || string(got) != want.value {
						fail("a failed refresh = %q, %v; want the current %q", got, err, want.value)
					}
				default:
					if !errors.Is(err, errFeatLoad) || len(got) != 0 {
						fail("= %q, %v; want the loader's error", got, err)
					}
					delete(model, k)
				}
			case loadPanic:
				if panicked == nil {
					fail("= %q, %v; the loader's panic was lost", got, err)
				}
				if !has {
					delete(model, k)
				}
			}
			// The load ended, however it ended: its claim must have.
			if c := claimsInUse(tb); len(c) > 0 {
				fail("claims still held after the load ended: %s (issue 21 item 2: a claim leaks)", strings.Join(c, "; "))
			}
		case op < 85:
			// Watch a version that is not the key's: it answers at once.
			var got []byte
			var next uint64
			var err error
			call(fmt.Sprintf("Watch(%s, a stale version)", k), func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				got, next, err = tb.Watch(ctx, nil, kb, 1)
			})
			switch {
			case err != nil:
				fail("%v", err)
			case next != 0 && (!has || string(got) != want.value):
				fail("= %q, version %#x; model %q, present %v", got, next, want.value, has)
			case next == 0 && has:
				lost(k)
			}
		case op < 87:
			// Watch the key's version while this goroutine changes it.
			var ver uint64
			var err error
			var cur []byte
			call(fmt.Sprintf("GetVersion(%s)", k), func() { cur, ver, err = tb.GetVersion(nil, kb) })
			switch {
			case err != nil:
				fail("%v", err)
			case ver != 0 && (!has || string(cur) != want.value):
				fail("= %q; model %q, present %v", cur, want.value, has)
			case ver == 0 && has:
				lost(k)
			}
			type watched struct {
				v    []byte
				next uint64
				err  error
			}
			done := make(chan watched, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				v, next, err := rtb.Watch(ctx, nil, kb, ver)
				done <- watched{v, next, err}
			}()
			nv := fmt.Sprintf("watched-%d", step)
			call(fmt.Sprintf("Set(%s) under a Watch", k), func() { err = tb.Set(kb, []byte(nv)) })
			if err != nil {
				fail("%v", err)
			}
			model[k] = cacheEntry{nv, 0}
			var w watched
			call(fmt.Sprintf("Watch(%s) woken by a Set", k), func() { w = <-done })
			switch {
			case w.err != nil:
				fail("= %v; a Set of the key should have woken it", w.err)
			case w.next == 0 && evict:
				lost(k)
			case string(w.v) != nv || w.next == ver:
				fail("= %q, version %#x (was %#x); want %q", w.v, w.next, ver, nv)
			}
		case op < 96:
			// Exactly to a key's expiry now and then: the boundary.
			d := time.Duration(rng.IntN(1500)) * time.Millisecond
			if e, ok := model[k]; ok && e.expires > now() && rng.IntN(3) == 0 {
				d = time.Duration(e.expires - now())
			}
			clock.Advance(d)
		case op < 98:
			var seen map[string]string
			call("Range", func() { seen = snapshotAll(t, tb) })
			for sk, sv := range seen {
				if e, ok := present(sk); !ok || e.value != sv {
					fail("Range has %q = %q; model %q, present %v", sk, sv, e.value, ok)
				}
			}
			for mk := range model {
				if _, ok := present(mk); ok {
					if _, ok := seen[mk]; !ok {
						lost(mk)
					}
				}
			}
		case op < 99:
			call("Check", func() { mustCheck(t, tb) })
		case op < 100:
			call("Close and Open", func() {
				tb.Close()
				tb = openTable(t, name, &Options{NoCreate: true, Now: clock.Now, splitAbove: opts.splitAbove})
			})
		case op < 102:
			v, d := value(), ttl()
			var stored bool
			var err error
			call(fmt.Sprintf("SetIfAbsentTTL(%s, %v)", k, d), func() { stored, err = tb.SetIfAbsentTTL(kb, []byte(v), d) })
			switch {
			case err != nil:
				fail("%v", err)
			case stored && has:
				lost(k)
			case !stored && !has:
				fail("refused an absent key")
			}
			if stored {
				model[k] = cacheEntry{v, int64(expiresAt(now(), d))}
			}
		case op < 104:
			old, nv, d := []byte(want.value), value(), ttl()
			if rng.IntN(3) == 0 {
				old = []byte(value())
			}
			var swapped bool
			var err error
			call(fmt.Sprintf("CompareAndSwapTTL(%s, %v)", k, d), func() { swapped, err = tb.CompareAndSwapTTL(kb, old, []byte(nv), d) })
			wantSwap := has && string(old) == want.value
			switch {
			case err != nil || (swapped && !wantSwap):
				fail("= %v, %v; want %v", swapped, err, wantSwap)
			case swapped:
				model[k] = cacheEntry{nv, int64(expiresAt(now(), d))}
			case wantSwap:
				lost(k)
			}
		case op < 106:
			old := []byte(want.value)
			if rng.IntN(3) == 0 {
				old = []byte(value())
			}
			var deleted bool
			var err error
			call(fmt.Sprintf("CompareAndDelete(%s)", k), func() { deleted, err = tb.CompareAndDelete(kb, old) })
			wantDel := has && string(old) == want.value
			switch {
			case err != nil || (deleted && !wantDel):
				fail("= %v, %v; want %v", deleted, err, wantDel)
			case deleted:
				delete(model, k)
			case wantDel:
				lost(k)
			}
		default:
			d := ttl()
			var found bool
			var err error
			call(fmt.Sprintf("Touch(%s, %v)", k, d), func() { found, err = tb.Touch(kb, d) })
			switch {
			case err != nil || (found && !has):
				fail("= %v, %v; present %v", found, err, has)
			case found:
				model[k] = cacheEntry{want.value, int64(expiresAt(now(), d))}
			case has:
				lost(k)
			}
		}
	}
	mustCheck(t, tb)
	if c := claimsInUse(tb); len(c) > 0 {
		t.Fatalf("seed %d: claims still held at the end: %s", seed, strings.Join(c, "; "))
	}
	var st Stats
	tb.Stats(&st)
	t.Logf("%d ops: %d entries, %d loads (%d of expired keys, %d refreshes), %d grows, %d splits, %d evictions (%d noticed), %d expirations",
		ops, st.Entries, loads, expiredLoads, refreshes, st.Grows, st.Splits, st.Evictions, evicted, st.Expirations)
	switch {
	case opts.splitAbove != 0 && st.Splits == 0:
		t.Error("the splitting table never split: the test proved nothing about splits")
	case evict && st.Evictions == 0:
		t.Error("the evicting table never evicted: the test proved nothing about eviction")
	case !evict && st.Grows == 0:
		t.Error("the growing table never grew: the test proved nothing about growth")
	case expiredLoads == 0 || refreshes == 0:
		t.Error("no load of an expired key, or no refresh: the test proved nothing about them")
	}
}

// featItem1 names the issue item a GetOrLoad that spun seems to be.
func featItem1(expired bool) string {
	if expired {
		return " (issue 21 item 1: GetOrLoad of an expired key livelocks)"
	}
	return ""
}

// claimsInUse lists the claim records of tb's shards that are held (an
// owner in the done word: load.go), with their owners and whether each
// lives. An ended record keeps its tag.
func claimsInUse(tb *Table) []string {
	var in []string
	for i := range tb.shards {
		s := &tb.shards[i]
		for j := range format.ClaimCount {
			c := claimOf(s, j)
			if tag := c.tag(); c.owner() != 0 {
				in = append(in, fmt.Sprintf("shard %d record %d tag %#x %s", i, j, tag, describeOwner(tb, c.owner())))
			}
		}
	}
	return in
}

// describeOwner says who owner (lock-word owner bits) is: its registry
// slot's pid, and whether it lives.
func describeOwner(tb *Table, owner uint32) string {
	if owner == 0 {
		return "owner none"
	}
	live := map[liveness]string{ownerDead: "dead", ownerLive: "alive", ownerUnknown: "unknown"}[tb.probeOwner(owner)]
	pid := ownerPid(tb, owner)
	return fmt.Sprintf("owner %#x (pid %d, %s%s)", owner, pid, live, procState(pid))
}

// procState says whether pid is stopped or a zombie, from /proc.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ", no such process"
	}
	i := strings.LastIndexByte(string(b), ')')
	if f := strings.Fields(string(b[i+1:])); len(f) > 0 {
		switch f[0] {
		case "T", "t":
			return ", stopped"
		case "Z":
			return ", zombie"
		}
	}
	return ""
}

// diagnoseLoad describes, for a GetOrLoad of key that did not end, the
// key's claim, its entry and its shard's lock, reading them without the
// lock (so it may see them mid-change; it is a diagnosis, not a check).
func diagnoseLoad(tb *Table, key []byte) (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf("(diagnosis failed: %v)", r)
		}
	}()
	h := format.HashKey(tb.g.Seed, key)
	s := tb.shardFor(h)
	var parts []string
	claimed := false
	for j := range format.ClaimCount {
		if c := claimOf(s, j); c.tag() == h|1 && c.owner() != 0 {
			claimed = true
			parts = append(parts, fmt.Sprintf("the key's claim (record %d, stale %v) is held by %s", j, c.stale(), describeOwner(tb, c.owner())))
		}
	}
	if !claimed {
		parts = append(parts, "no claim on the key")
	}
	if v, ok := s.view(); ok {
		var l lookup
		err := v.find(key, h, tb.now().UnixNano(), &l)
		switch {
		case err != nil:
			parts = append(parts, fmt.Sprintf("index: %v", err))
		case l.found && l.expired:
			parts = append(parts, "its entry has expired but is still indexed")
		case l.found:
			parts = append(parts, "its entry is live")
		default:
			parts = append(parts, "no entry")
		}
	}
	if w := loadLockWord(s); w != 0 {
		parts = append(parts, fmt.Sprintf("the shard's lock is held by %s, sequence %d", describeOwner(tb, w&^lockStateMask), s.ctlLoad(format.CtlSeq)))
	}
	return strings.Join(parts, "; ")
}
