package kv

import (
	"fmt"
	"testing"

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
