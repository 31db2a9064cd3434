package kv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
)

// TestCacheModel runs random operations with expiry times and a moving
// clock against a reference model, on an evicting table small enough to evict
// all the time and on a none table that must never lose a key. The model
// knows values and expiry times; eviction is the one thing it cannot
// predict, so under lru a key the model holds may be gone, after which the
// model forgets it. What may never happen: a wrong value, an expired or
// deleted key returned, a Set refused.
func TestCacheModel(t *testing.T) {
	t.Parallel()
	seed := testproc.Seed(t, *modelSeed, "kv.model.seed")
	for _, tc := range cacheModelCases {
		t.Run(tc.name, func(t *testing.T) {
			runCacheModel(t, seed, tc.opts, tc.keys, tc.evict, *modelOps)
		})
	}
}

var cacheModelCases = []struct {
	name  string
	opts  Options
	keys  int
	evict bool
}{
	// The evicting table's ceiling keeps it to a few hundred entries of the
	// thousand keys; the none table may grow as it likes.
	{"lru", Options{MaxMemory: 128 << 10, Keys: 200, Memory: 200 * 60, MaxKeySize: 32, MaxValueSize: 300, Eviction: EvictS3FIFO}, 1000, true},
	{"none", Options{Keys: 400, Memory: 400 * 100, MaxKeySize: 32, MaxValueSize: 100}, 250, false},
}

// TestCacheModelRegressions replays seeds that once failed.
//
// 1795765846167883559 (lru, step 8835): an Add on a key holding "0" with a
// TTL found it evicted and created it afresh, without a TTL, at 7. The model
// took 0+7 for an update that kept the TTL and later expected the key gone.
// The table was right; the model now asks the table's TTL when both
// readings give the same number.
func TestCacheModelRegressions(t *testing.T) {
	t.Parallel()
	for _, seed := range []uint64{1795765846167883559} {
		for _, tc := range cacheModelCases {
			t.Run(fmt.Sprint(tc.name, "/", seed), func(t *testing.T) {
				runCacheModel(t, seed, tc.opts, tc.keys, tc.evict, max(*modelOps, 10000))
			})
		}
	}
}

type cacheEntry struct {
	value   string
	expires int64 // 0: never
}

func runCacheModel(t *testing.T, seed uint64, opts Options, nkeys int, evict bool, ops int) {
	rng := rand.New(rand.NewPCG(seed, 11))
	clock := newClock()
	opts.Now = clock.Now
	name := uniqueName(t)
	tb := openTable(t, name, &opts)
	model := map[string]cacheEntry{}
	evicted := 0
	present := func(k string) (cacheEntry, bool) {
		e, ok := model[k]
		if ok && e.expires != 0 && clock.ns.Load() >= e.expires {
			return e, false
		}
		return e, ok
	}
	// lost reports a key the model holds but the table no longer has.
	lost := func(step int, k string) {
		t.Helper()
		if !evict {
			t.Fatalf("seed %d step %d: %q lost from a table that does not evict", seed, step, k)
		}
		delete(model, k)
		evicted++
	}
	value := func() string {
		if rng.IntN(4) == 0 {
			return strconv.Itoa(rng.IntN(100))
		}
		return string(make([]byte, rng.IntN(opts.MaxValueSize)))
	}
	ttl := func() time.Duration {
		if rng.IntN(2) == 0 {
			return 0
		}
		return time.Duration(1+rng.IntN(5000)) * time.Millisecond
	}
	for step := range ops {
		k := fmt.Sprint("k", rng.IntN(nkeys))
		kb := []byte(k)
		want, has := present(k)
		switch op := rng.IntN(100); {
		case op < 30:
			v, d := value(), ttl()
			if err := tb.SetTTL(kb, []byte(v), d); err != nil {
				t.Fatalf("seed %d step %d: SetTTL: %v", seed, step, err)
			}
			model[k] = cacheEntry{v, int64(expiresAt(clock.ns.Load(), d))}
		case op < 60:
			got, ok, err := tb.Get(nil, kb)
			switch {
			case err != nil:
				t.Fatalf("seed %d step %d: Get: %v", seed, step, err)
			case ok && (!has || string(got) != want.value):
				t.Fatalf("seed %d step %d: Get(%q) = %q; model %q, present %v", seed, step, k, got, want.value, has)
			case !ok && has:
				lost(step, k)
			}
		case op < 68:
			del, err := tb.Delete(kb)
			if err != nil || (del && !has) {
				t.Fatalf("seed %d step %d: Delete = %v, %v; present %v", seed, step, del, err, has)
			}
			if has && !del {
				lost(step, k)
			}
			delete(model, k)
		case op < 76:
			cur := int64(0)
			numeric := true
			if has {
				n, ok := parseInt([]byte(want.value))
				cur, numeric = n, ok
			}
			n, err := tb.Add(kb, 7)
			switch {
			case errors.Is(err, ErrNotNumber) && has && !numeric:
			case err != nil:
				if has && !numeric {
					t.Fatalf("seed %d step %d: Add on %q: %v", seed, step, want.value, err)
				}
				t.Fatalf("seed %d step %d: Add: %v", seed, step, err)
			case n == cur+7 && has && cur == 0 && want.expires != 0 && !keepsTTL(t, tb, kb):
				// Evicted, then created afresh at 0+7 without a TTL.
				lost(step, k)
				model[k] = cacheEntry{"7", 0}
			case n == cur+7:
				model[k] = cacheEntry{strconv.FormatInt(n, 10), want.expires * b2i(has)}
			case has && n == 7:
				lost(step, k)
				model[k] = cacheEntry{"7", 0}
			default:
				t.Fatalf("seed %d step %d: Add = %d; model %q present %v", seed, step, n, want.value, has)
			}
		case op < 82:
			nv := value()
			swapped, err := tb.CompareAndSwap(kb, []byte(want.value), []byte(nv))
			if err != nil || (swapped && !has) {
				t.Fatalf("seed %d step %d: CompareAndSwap = %v, %v; present %v", seed, step, swapped, err, has)
			}
			if swapped {
				model[k] = cacheEntry{nv, want.expires}
			} else if has {
				lost(step, k)
			}
		case op < 88:
			v := value()
			stored, err := tb.SetIfAbsent(kb, []byte(v))
			if err != nil {
				t.Fatalf("seed %d step %d: SetIfAbsent: %v", seed, step, err)
			}
			if stored && has {
				lost(step, k)
			}
			if stored {
				model[k] = cacheEntry{v, 0}
			} else if !has {
				t.Fatalf("seed %d step %d: SetIfAbsent refused an absent key", seed, step)
			}
		case op < 96:
			clock.Advance(time.Duration(rng.IntN(1500)) * time.Millisecond)
		default:
			seen := snapshotAll(t, tb)
			for sk, sv := range seen {
				if e, ok := present(sk); !ok || e.value != sv {
					t.Fatalf("seed %d step %d: Range has %q = %q; model %q, present %v", seed, step, sk, sv, e.value, ok)
				}
			}
			for mk := range model {
				if _, ok := present(mk); ok {
					if _, ok := seen[mk]; !ok {
						lost(step, mk)
					}
				}
			}
		}
		if step%2000 == 0 {
			mustCheck(t, tb)
		}
	}
	mustCheck(t, tb)
	var st Stats
	tb.Stats(&st)
	t.Logf("%d ops: %d entries, %d evictions (%d noticed), %d expirations", ops, st.Entries, st.Evictions, evicted, st.Expirations)
	if evict && st.Evictions == 0 {
		t.Error("the evicting table never evicted: the test proved nothing about eviction")
	}
	if st.Expirations == 0 {
		t.Error("nothing expired: the test proved nothing about expiry")
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// keepsTTL reports whether key, just written by Add, still has an expiry.
func keepsTTL(t *testing.T, tb *Table, key []byte) bool {
	t.Helper()
	d, ok, err := tb.TTL(key)
	if err != nil || !ok {
		t.Fatalf("TTL(%q) after Add = %v, %v, %v", key, d, ok, err)
	}
	return d != NoExpiry
}
