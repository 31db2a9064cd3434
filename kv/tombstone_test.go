package kv

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// probeStats returns the mean probe length of a hit over every live key,
// and the mean distance from each slot to the next empty one (what a miss
// pays).
func probeStats(tb *Table) (hit, miss float64) {
	var hits, nkeys, missSum, slots float64
	for i := range tb.shards {
		s, ok := tb.shards[i].view()
		if !ok {
			continue // a shard not in use
		}
		n := s.mask + 1
		for j := range n {
			d := uint64(0)
			for s.slot((j+d)&s.mask) != format.SlotEmpty && d < n {
				d++
			}
			missSum += float64(d + 1)
			slots++
			v := s.slot(j)
			if v == format.SlotEmpty || v == format.SlotTombstone {
				continue
			}
			off, _ := s.slotOffset(v)
			e, _ := s.loadHeader(off)
			home := s.hashAt(off, &e)
			hits += float64((j-home)&s.mask + 1)
			nkeys++
		}
	}
	return hits / nkeys, missSum / slots
}

// TestNoSlowDeathByTombstones runs millions of mixed sets and deletes and
// requires the index to probe no longer than it did when first filled.
func TestNoSlowDeathByTombstones(t *testing.T) {
	t.Parallel()
	ops := 2_000_000
	if testing.Short() {
		ops = 300_000
	}
	tb := newTable(t, &Options{Keys: 20000, Memory: 20000 * 40, MaxKeySize: 32, MaxValueSize: 16})
	rng := rand.New(rand.NewPCG(1, 2))
	var st Stats
	tb.Stats(&st)
	// Keys drawn from the table's whole capacity, set 3 times in 5: about
	// 60% of it live, so probe chains are long enough for tombstones to
	// pile up and force index rebuilds.
	space := st.KeyCapacity
	for i := range space * 3 / 5 {
		if err := tb.Set(fmt.Appendf(nil, "k%d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	hit0, miss0 := probeStats(tb)
	var key []byte
	for i := range ops {
		key = fmt.Appendf(key[:0], "k%d", rng.IntN(space))
		if i%5 < 3 {
			if err := tb.Set(key, []byte("v")); err != nil {
				t.Fatalf("op %d: %v", i, err)
			}
		} else if _, err := tb.Delete(key); err != nil {
			t.Fatalf("op %d: %v", i, err)
		}
	}
	hit1, miss1 := probeStats(tb)
	tb.Stats(&st)
	t.Logf("after fill: hit %.2f, miss %.2f probes; after %d ops: hit %.2f, miss %.2f; %d rebuilds", hit0, miss0, ops, hit1, miss1, st.Rebuilds)
	for i := range tb.shards {
		if !tb.inUse(i) {
			continue
		}
		s := viewOf(t, &tb.shards[i])
		// Deletes only turn live slots into tombstones; inserts rebuild
		// past the mark: so the used slots never pass keyCap plus the mark.
		live, tomb := s.ctlLoad(format.CtlLiveEntries), s.ctlLoad(format.CtlTombstones)
		if live+tomb > uint64(s.keyCap)+s.maxTombstones() {
			t.Errorf("shard %d: %d live + %d tombstones, over %d + %d", i, live, tomb, s.keyCap, s.maxTombstones())
		}
	}
	if st.Rebuilds == 0 {
		t.Error("no index rebuild: the test did not reach the tombstone limit")
	}
	if hit1 > 2*hit0 || miss1 > 2*miss0 {
		t.Errorf("probe lengths grew: hit %.2f -> %.2f, miss %.2f -> %.2f", hit0, hit1, miss0, miss1)
	}
	mustCheck(t, tb)
}
