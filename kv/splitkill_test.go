//go:build shmkvfail

package kv

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// TestKillSweepSplit kills a writer before each step of a Set that splits
// its shard: each store of the two builds, the buddy's counters and
// extent word, the publish, and each release. After every death, through
// a new handle (the image restored under the old one undoes a split,
// which never happens otherwise: a shard's depth only grows), the table
// has every acknowledged entry, the interrupted one wholly or not at all;
// Check finds nothing and Repair drops nothing; the next writer's Set
// stores the key; and the memory of a split that died before its commit
// is given back. Half the steps run Repair first, half Check (which
// recovers the shard the child held): Repair takes a dead writer's lock
// without recovery. In a table of each eviction policy: an evicting
// table's split copies two logs into each half.
func TestKillSweepSplit(t *testing.T) {
	t.Parallel()
	for _, policy := range []Policy{NoEviction, EvictS3FIFO} {
		t.Run(policy.String(), func(t *testing.T) {
			t.Parallel()
			sweepSplit(t, policy)
		})
	}
}

func sweepSplit(t *testing.T, policy Policy) {
	const splitAt = 12 << 10
	opts := func(create bool) *Options {
		o := &Options{MaxMemory: 1 << 30, MaxKeySize: 16, MaxValueSize: 64, splitAbove: splitAt}
		if create {
			o.Eviction = policy
		}
		o.NoCreate = !create
		return o
	}
	name := uniqueName(t)
	tb := openTable(t, name, opts(true))
	tb.stopFlusher() // see TestKillSweepGrow
	want := map[string]string{}
	var st Stats
	var img extentImage
	var key, value string
	for i := 0; ; i++ {
		if i > 20000 {
			t.Fatal("no shard split")
		}
		img = takeExtentImage(t, tb)
		before := st.Splits
		key, value = fmt.Sprint("k", i), fmt.Sprint("value-", i, strings.Repeat(".", i%30))
		mustSet(t, tb, key, value)
		tb.Stats(&st)
		if st.Splits > before {
			break
		}
		want[key] = value
	}
	split := tb.shardFor(format.HashKey(tb.g.Seed, []byte(key))).index
	env := func(at int64) []string {
		return append(childEnv("set-crash", name, key, value, strconv.FormatInt(at, 10)), "SHMKV_SPLIT_ABOVE="+strconv.Itoa(splitAt))
	}
	run := func(at int64) (string, bool) {
		img.restore(t, name)
		return runKillable(t, env(at))
	}
	out, killed := run(-1)
	steps, err := strconv.Atoi(strings.TrimSpace(out))
	if killed || err != nil || steps < 10 {
		t.Fatalf("counting run: %q, killed %v", out, killed)
	}
	t.Logf("the Set that splits (into shard %d) takes %d steps", split, steps)
	sawBefore, sawAfter := false, false
	for n := 1; n <= steps; n++ {
		if out, killed := run(int64(n)); !killed {
			t.Fatalf("step %d: the child was not killed: it made %s stores, the counting run %d", n, strings.TrimSpace(out), steps)
		}
		h, err := Open(name, opts(false))
		if err != nil {
			t.Fatalf("step %d: %v", n, err)
		}
		for k, v := range want {
			if got, ok := mustGet(t, h, k); !ok || got != v {
				t.Fatalf("step %d: acknowledged %q = %q, %v", n, k, got, ok)
			}
		}
		switch got, ok := mustGet(t, h, key); {
		case !ok:
			sawBefore = true
		case got == value:
			sawAfter = true
		default:
			t.Fatalf("step %d: %q = %q", n, key, got)
		}
		repair := func() {
			if rep, err := h.Repair(); err != nil || rep.Dropped != 0 || len(rep.Problems) != 0 {
				t.Fatalf("step %d: Repair: %v, %v", n, rep, err)
			}
		}
		if n%2 == 1 {
			repair()
		}
		// Check, on a read-write handle, recovers the shard the child
		// held, and Repair releases what it finds: what a split that died
		// left is given back by then, not only by the next split.
		mustCheck(t, h)
		memoryBack(t, h, n)
		if n%2 == 0 {
			repair()
		}
		mustSet(t, h, key, value)
		if got, ok := mustGet(t, h, key); !ok || got != value {
			t.Fatalf("step %d: after the next Set, %q = %q, %v", n, key, got, ok)
		}
		memoryBack(t, h, n)
		mustCheck(t, h)
		h.Close()
	}
	if !sawBefore || !sawAfter {
		t.Errorf("the sweep never saw the Set undone (%v) or done (%v)", sawBefore, sawAfter)
	}
}

// memoryBack fails the test if h's object takes more memory than its
// fixed part and the extents of its shards in use.
func memoryBack(t *testing.T, h *Table, step int) {
	t.Helper()
	blocks, err := h.sh.Blocks()
	if err != nil {
		t.Fatal(err)
	}
	if exp := memoryExpected(t, h); blocks > exp {
		t.Fatalf("step %d: the object takes %d bytes, its header, registry, control and extents in use %d: a dead splitter's memory leaked", step, blocks, exp)
	}
}
