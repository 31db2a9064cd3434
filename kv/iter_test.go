package kv

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
)

var iterSeed = flag.Uint64("kv.iter.seed", 0, "seed for TestAllAndKeysModel (0: from the clock)")

// collectAll ranges over tb.All and returns what it saw and its error; it
// fails the test if a key is seen twice.
func collectAll(t *testing.T, tb *Table) (map[string]string, error) {
	t.Helper()
	var err error
	seen := map[string]string{}
	for k, v := range tb.All(&err) {
		if _, dup := seen[string(k)]; dup {
			t.Fatalf("All yielded %q twice", k)
		}
		seen[string(k)] = string(v)
	}
	return seen, err
}

// TestAllAndKeysModel: after random writes, All yields exactly the model's
// entries and Keys exactly its keys with the prefix, on a table of many
// shards; expired keys are not yielded.
func TestAllAndKeysModel(t *testing.T) {
	seed := testproc.Seed(t, *iterSeed, "kv.iter.seed")
	rng := rand.New(rand.NewPCG(seed, 22))
	clock := newClock()
	tb := newTable(t, &Options{Keys: 20000, Memory: 4 << 20, Now: clock.Now})
	if len(tb.shards) < 4 {
		t.Fatalf("%d shards; the test wants several", len(tb.shards))
	}
	model := map[string]string{}
	prefixes := []string{"user:", "session:", "u", ""}
	for i := range 5000 {
		k := fmt.Sprintf("%s%d", prefixes[rng.IntN(3)], rng.IntN(3000))
		switch rng.IntN(10) {
		case 0, 1:
			tb.Delete([]byte(k))
			delete(model, k)
		case 2:
			// Expires at once when the clock moves: never yielded.
			if err := tb.SetTTL([]byte(k), []byte("gone"), time.Millisecond); err != nil {
				t.Fatal(err)
			}
			delete(model, k)
		default:
			v := fmt.Sprint("v", i)
			mustSet(t, tb, k, v)
			model[k] = v
		}
	}
	clock.Advance(time.Millisecond)
	got, err := collectAll(t, tb)
	if err != nil || !maps.Equal(got, model) {
		t.Fatalf("seed %d: All saw %d entries, %v; the model has %d", seed, len(got), err, len(model))
	}
	for _, p := range prefixes {
		var want []string
		for k := range model {
			if strings.HasPrefix(k, p) {
				want = append(want, k)
			}
		}
		var err error
		var keys []string
		for k := range tb.Keys([]byte(p), &err) {
			keys = append(keys, string(k))
		}
		slices.Sort(want)
		slices.Sort(keys)
		if err != nil || !slices.Equal(keys, want) {
			t.Fatalf("seed %d: Keys(%q) gave %d keys, %v; want %d", seed, p, len(keys), err, len(want))
		}
	}
	// Keys(nil) is every key; a nil err is allowed.
	n := 0
	for range tb.Keys(nil, nil) {
		n++
	}
	if n != len(model) {
		t.Fatalf("Keys(nil) gave %d keys, want %d", n, len(model))
	}
}

// TestAllBreak: a break ends the iteration at once, sets err to nil, and
// leaves no shard locked; ranging again starts afresh. The slices are
// capped, so appending to a key does not overwrite its value.
func TestAllBreak(t *testing.T) {
	tb := newTable(t, &Options{Keys: 10000, Memory: 1 << 20})
	for i := range 1000 {
		mustSet(t, tb, fmt.Sprint("k", i), fmt.Sprint("v", i))
	}
	err := errors.New("not set")
	seq := tb.All(&err)
	n := 0
	for k, v := range seq {
		want := "v" + string(k[1:])
		k = append(k, "xxxxxxxx"...)
		if string(v) != want {
			t.Fatalf("appending to the key changed its value to %q", v)
		}
		if n++; n == 10 {
			break
		}
	}
	if n != 10 || err != nil {
		t.Fatalf("after a break: %d entries, err %v", n, err)
	}
	for i := range tb.shards {
		if w := loadLockWord(&tb.shards[i]); w != 0 {
			t.Fatalf("shard %d locked after a break: %#x", i, w)
		}
	}
	n = 0
	for range seq {
		n++
	}
	if n != 1000 || err != nil {
		t.Fatalf("ranging again: %d entries, %v", n, err)
	}
}

// TestAllBodyWrites: the loop body may write the table, here deleting
// every key it is given, and each key present from the start is still
// yielded once.
func TestAllBodyWrites(t *testing.T) {
	tb := newTable(t, &Options{Keys: 10000, Memory: 1 << 20})
	want := map[string]string{}
	for i := range 2000 {
		k, v := fmt.Sprint("k", i), fmt.Sprint("v", i)
		mustSet(t, tb, k, v)
		want[k] = v
	}
	var err error
	seen := map[string]string{}
	for k, v := range tb.All(&err) {
		if _, dup := seen[string(k)]; dup {
			t.Fatalf("%q yielded twice", k)
		}
		seen[string(k)] = string(v)
		if ok, derr := tb.Delete(k); derr != nil || !ok {
			t.Fatalf("Delete(%q) in the loop: %v, %v", k, ok, derr)
		}
		mustSet(t, tb, "new-"+string(k), "x") // may or may not be yielded
	}
	for k, v := range seen {
		if strings.HasPrefix(k, "new-") {
			delete(seen, k)
		} else if want[k] != v {
			t.Fatalf("%q = %q, want %q", k, v, want[k])
		}
	}
	if err != nil || !maps.Equal(seen, want) {
		t.Fatalf("saw %d of %d keys, %v", len(seen), len(want), err)
	}
	for k := range want {
		if _, found := mustGet(t, tb, k); found {
			t.Fatalf("%q still there", k)
		}
	}
}

// TestAllConcurrentWriters: while other goroutines write and delete keys,
// every yielded value is one some writer stored under that key (never torn
// or another key's), every key that stays throughout is yielded exactly
// once with its value, and no key deleted before the iteration is seen.
func TestAllConcurrentWriters(t *testing.T) {
	tb := newTable(t, &Options{Keys: 20000, Memory: 4 << 20})
	stable := map[string]string{}
	for i := range 500 {
		k := fmt.Sprint("stable-", i)
		stable[k] = "value of " + k
		mustSet(t, tb, k, stable[k])
	}
	for i := range 200 {
		mustSet(t, tb, fmt.Sprint("deleted-", i), "x")
		tb.Delete(fmt.Append(nil, "deleted-", i))
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes atomic.Int64
	for g := range 2 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("churn-%d-%d", g, rng.IntN(300))
				if rng.IntN(3) == 0 {
					tb.Delete([]byte(k))
				} else {
					v := fmt.Sprintf("value of %s #%d%s", k, rng.IntN(1000), strings.Repeat(".", rng.IntN(200)))
					if err := tb.Set([]byte(k), []byte(v)); err != nil {
						t.Error(err)
						return
					}
				}
				writes.Add(1)
			}
		})
	}
	// Rounds until the writers have raced them for a while.
	end := time.Now().Add(10 * time.Second)
	round := 0
	for ; round < 20 || writes.Load() < 20000 && time.Now().Before(end); round++ {
		var err error
		seen := map[string]bool{}
		for k, v := range tb.All(&err) {
			ks := string(k)
			if seen[ks] {
				t.Fatalf("round %d: %q yielded twice", round, k)
			}
			seen[ks] = true
			switch {
			case strings.HasPrefix(ks, "deleted-"):
				t.Fatalf("round %d: a key deleted before the iteration: %q", round, k)
			case strings.HasPrefix(ks, "stable-"):
				if string(v) != stable[ks] {
					t.Fatalf("round %d: %q = %q", round, k, v)
				}
			case !bytes.HasPrefix(v, []byte("value of "+ks+" #")):
				t.Fatalf("round %d: %q = %q, not a value written under it", round, k, v)
			}
		}
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		for k := range stable {
			if !seen[k] {
				t.Fatalf("round %d: %q, present throughout, not yielded", round, k)
			}
		}
	}
	close(stop)
	wg.Wait()
	if writes.Load() < 1000 {
		t.Fatalf("%d writes raced the iterations: too few to prove anything", writes.Load())
	}
	t.Logf("%d writes during %d iterations", writes.Load(), round)
}

// TestAllDamage: a damaged entry is left out, every other entry is
// yielded, and err matches ErrCorrupt, also after a break, since the
// damage was skipped before it; Range alike. Before, Range returned nil
// when fn stopped it, and the skipped damage went unsaid.
func TestAllDamage(t *testing.T) {
	tb := newTable(t, damageOptions)
	want := fillDamageTable(t, tb)
	s, l := entryOf(t, tb, "key-7")
	tb.r.B[s.data+l.off+format.EntryHeaderSize+int64(l.hdr.klen)+3] ^= 0x20
	delete(want, "key-7")
	got, err := collectAll(t, tb)
	if !errors.Is(err, ErrCorrupt) || !maps.Equal(got, want) {
		t.Fatalf("All saw %d of %d entries, %v; want ErrCorrupt", len(got), len(want), err)
	}
	err = nil
	for range tb.Keys(nil, &err) {
		break
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Keys after a break in the damaged shard: %v, want ErrCorrupt", err)
	}
	if err := tb.Range(func(k, v []byte) bool { return false }); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Range stopped in the damaged shard: %v, want ErrCorrupt", err)
	}
}

// TestAllStalledShard: a shard whose index a stopped writer left
// unreadable (mid-rebuild) ends the loop there with ErrLockTimeout, after
// the shards before it, whose entries are all yielded.
func TestAllStalledShard(t *testing.T) {
	t.Parallel()
	name := uniqueName(t)
	tb := openTable(t, name, &Options{Keys: 1000, Memory: 1 << 20})
	want, _ := stallKeys(t, tb, 300)
	stalled := tb.shardFor(format.HashKey(tb.g.Seed, []byte("k"))).index
	before := map[string]string{}
	for k, v := range want {
		if tb.shardFor(format.HashKey(tb.g.Seed, []byte(k))).index < stalled {
			before[k] = v
		}
	}
	stoppedWriter(t, name, "k", "lock-flag-die", 0)
	ro := openTable(t, name, &Options{ReadOnly: true})
	for _, h := range []*Table{tb, ro} {
		got, err := collectAll(t, h)
		if !errors.Is(err, ErrLockTimeout) || !maps.Equal(got, before) {
			t.Fatalf("readOnly=%v: All saw %d entries, %v; want the %d of the %d shards before shard %d, and ErrLockTimeout", h.readOnly, len(got), err, len(before), stalled, stalled)
		}
	}
}

// TestAllClosed: a closed table yields nothing and reports ErrClosed.
func TestAllClosed(t *testing.T) {
	tb := newTable(t, nil)
	mustSet(t, tb, "k", "v")
	tb.Close()
	got, err := collectAll(t, tb)
	if len(got) != 0 || !errors.Is(err, ErrClosed) {
		t.Fatalf("closed: %d entries, %v", len(got), err)
	}
}

// TestAllBodyPanics: a panic in the loop body reaches the caller as it
// was raised, and leaves the table as it was; the body runs with the
// caller's fault mode, so that a fault of its own is not taken for the
// table's and reported as ErrCorrupt.
func TestAllBodyPanics(t *testing.T) {
	tb := newTable(t, nil)
	mustSet(t, tb, "k", "v")
	type boom struct{}
	func() {
		defer func() {
			if r := recover(); r != (boom{}) {
				t.Fatalf("recovered %v, want the body's panic", r)
			}
		}()
		for range tb.All(nil) {
			panic(boom{})
		}
	}()
	if got, _ := mustGet(t, tb, "k"); got != "v" {
		t.Fatal("the table changed")
	}
	mustSet(t, tb, "k", "w")
	faultMode := true
	for range tb.All(nil) {
		faultMode = debug.SetPanicOnFault(false)
	}
	if faultMode {
		t.Error("the loop body ran with panic-on-fault set by the table")
	}
}
