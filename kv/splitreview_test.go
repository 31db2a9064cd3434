package kv

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// reviewSplitTable fills a splitting table until shard 0 has split into
// shard 16, and returns the table, the keys written with their values,
// and the keys whose class shard 16 holds.
func reviewSplitTable(t *testing.T, n int) (string, *Table, map[string]string, []string) {
	t.Helper()
	name := uniqueName(t)
	tb := openTable(t, name, splitting())
	want := map[string]string{}
	for i := range n {
		k, v := fmt.Sprintf("key-%07d", i), fmt.Sprintf("value-%d", i)
		mustSet(t, tb, k, v)
		want[k] = v
	}
	if !tb.inUse(16) {
		t.Fatalf("shard 0 has not split into 16 after %d keys", n)
	}
	var in16 []string
	for k := range want {
		h := format.HashKey(tb.g.Seed, []byte(k))
		if i, ok := tb.walk(h); ok && i == 16 {
			in16 = append(in16, k)
		}
	}
	if len(in16) == 0 {
		t.Fatal("no key in shard 16")
	}
	return name, tb, want, in16
}

// TestReviewRepairTrustsDamagedDepth damages one word of shard 0's
// extent header: the depth bits of its self shard word, one lower, as
// though shard 0 had never split into 16. Check rightly reports it.
// Repair then "rewrites the self-description" with the damaged depth
// (oneWordOff trusts the shard word when the extent word matches, before
// asking the checksum), so shard 0 claims shard 16's classes again: a
// new handle reads shard 16's keys as absent, silently, and Check is
// clean.
func TestReviewRepairTrustsDamagedDepth(t *testing.T) {
	name, tb, want, in16 := reviewSplitTable(t, 40000)
	v := viewOf(t, &tb.shards[0])
	if v.depth < 5 {
		t.Fatalf("shard 0 at depth %d", v.depth)
	}
	at := v.hdr + format.ExtSelfShard/8
	tb.r.Store(at, uint64(0)|uint64(4)<<32) // one word: depth 4, as before the split into 16
	rep, err := tb.Check()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("check after damage: %v", rep.Problems)
	if len(rep.Problems) == 0 {
		t.Fatal("Check missed the damage")
	}
	rep, err = tb.Repair()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("repair: %v", rep.Problems)
	if d := viewOf(t, &tb.shards[0]).depth; d != v.depth {
		t.Errorf("after Repair shard 0 is at depth %d; it was at %d before the damage", d, v.depth)
	}
	rep, err = tb.Check()
	if err != nil {
		t.Fatal(err)
	}
	fresh := openTable(t, name, &Options{NoCreate: true})
	missing := 0
	for _, k := range in16 {
		if got, ok := mustGet(t, fresh, k); !ok || got != want[k] {
			missing++
		}
	}
	frep, err := fresh.Check()
	if err != nil {
		t.Fatal(err)
	}
	if missing > 0 {
		t.Errorf("after Repair (Check after it: %d problems from the repairing handle, %d from a new one), a new handle misses %d of shard 16's %d keys, with no error", len(rep.Problems), len(frep.Problems), missing, len(in16))
	}
}

// TestReviewSplitLargeValueFull fills a splitting table with small
// entries, then writes values larger than half a split's extent. A write
// whose grow becomes a split gets the view of a half sized for the
// entries already there, not for the one being written: the write then
// finds no room, and a table far below its ceiling answers ErrFull.
func TestReviewSplitLargeValueFull(t *testing.T) {
	for _, evict := range []Policy{NoEviction, EvictS3FIFO} {
		for _, above := range []int64{1 << 40, 64 << 10} {
			t.Run(fmt.Sprintf("eviction=%d/splitAbove=%d", evict, above), func(t *testing.T) { reviewLargeValues(t, above, evict) })
		}
	}
}

func reviewLargeValues(t *testing.T, above int64, evict Policy) {
	o := splitting()
	o.MaxValueSize = 1 << 20
	o.splitAbove = above
	o.Eviction = evict
	tb := newTable(t, o)
	for i := range 20000 {
		mustSet(t, tb, fmt.Sprintf("small-%d", i), "v")
	}
	big := make([]byte, 40<<10)
	fails := 0
	for i := range 200 {
		if err := tb.Set([]byte(fmt.Sprintf("big-%d", i)), big); err != nil {
			if fails == 0 {
				var st Stats
				tb.Stats(&st)
				t.Logf("Set(big-%d) of %d bytes: %v (table: %d of %d bytes, %d shards in use)", i, len(big), err, st.TotalBytes, st.MaxBytes, st.Shards)
			}
			fails++
		}
	}
	if fails > 0 {
		t.Errorf("%d of 200 Sets of %d bytes failed in a table at a fraction of its ceiling", fails, len(big))
	}
	if rep, err := tb.Check(); err != nil || len(rep.Problems) > 0 {
		t.Errorf("Check after: %v, %v", err, rep)
	}
	var st Stats
	tb.Stats(&st)
	if st.Evictions > 0 {
		t.Errorf("%d entries evicted from a table at %d of its %d bytes", st.Evictions, st.TotalBytes, st.MaxBytes)
	}
}

// TestReviewSplitEvicting fills an EvictS3FIFO table that splits, far
// below its ceiling: no Set may fail and nothing may be evicted.
func TestReviewSplitEvicting(t *testing.T) {
	o := splitting()
	o.Eviction = EvictS3FIFO
	tb := newTable(t, o)
	for i := range 40000 {
		if err := tb.Set([]byte(fmt.Sprintf("small-%d", i)), []byte("v")); err != nil {
			var st Stats
			tb.Stats(&st)
			rep, cerr := tb.Check()
			again := 0
			for range 5 {
				if tb.Set([]byte(fmt.Sprintf("small-%d", i)), []byte("v")) != nil {
					again++
				}
			}
			t.Fatalf("Set(small-%d): %v; %d shards in use, %d splits; Check: %v %+v; the same Set again fails %d times of 5", i, err, st.Shards, st.Splits, cerr, rep, again)
		}
	}
	var st Stats
	tb.Stats(&st)
	if st.Evictions > 0 || st.Splits == 0 {
		t.Errorf("%d evictions, %d splits", st.Evictions, st.Splits)
	}
}

// TestReviewParentWordDamaged damages the extent word of shard 0, which
// has split into 16: a new handle must read shard 16's keys as ErrCorrupt
// or rightly, never as absent; Repair finds shard 0's extent again and
// drops nothing, and every key reads back.
func TestReviewParentWordDamaged(t *testing.T) {
	name, tb, want, in16 := reviewSplitTable(t, 40000)
	s := &tb.shards[0]
	w := s.ctlLoad(format.CtlExtent)
	s.ctlStore(format.CtlExtent, w-1)
	fresh := openTable(t, name, &Options{NoCreate: true})
	absent, corrupt := 0, 0
	for _, k := range in16 {
		got, ok, err := fresh.Get(nil, []byte(k))
		switch {
		case err != nil:
			corrupt++
		case !ok:
			absent++
		case string(got) != want[k]:
			t.Fatalf("Get(%s) = %q", k, got)
		}
	}
	t.Logf("shard 16's %d keys through a new handle: %d ErrCorrupt, %d absent", len(in16), corrupt, absent)
	var st Stats
	serr := fresh.Stats(&st)
	t.Logf("through the new handle: Len %d, Stats: %v, %d entries in %d shards (%d keys written)", fresh.Len(), serr, st.Entries, st.Shards, len(want))
	if absent > 0 {
		t.Errorf("%d keys of shard 16 read as absent", absent)
	}
	rep, err := fresh.Check()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("check from the new handle: %d shards, %d entries, %v", rep.Shards, rep.Entries, rep.Problems)
	rep, err = fresh.Repair()
	if err != nil || rep.Dropped != 0 {
		t.Fatalf("Repair: %v, %+v", err, rep)
	}
	t.Logf("repair: %v", rep.Problems)
	again := openTable(t, name, &Options{NoCreate: true})
	for k, v := range want {
		if got, ok := mustGet(t, again, k); !ok || got != v {
			t.Fatalf("after Repair, Get(%s) = %q, %v", k, got, ok)
		}
	}
	checkClean(t, again)
}

// TestReviewRangeNamesTheUnreadableShard damages the extent word of
// shard 16 (which shard 0 split into). Range through a new handle, whose
// routes start at shard 0, must name shard 16 as the one skipped, not
// shard 0, which reads fine.
func TestReviewRangeNamesTheUnreadableShard(t *testing.T) {
	name, tb, _, _ := reviewSplitTable(t, 40000)
	s := &tb.shards[16]
	s.ctlStore(format.CtlExtent, s.ctlLoad(format.CtlExtent)-1)
	fresh := openTable(t, name, &Options{NoCreate: true})
	err := fresh.Range(func(k, v []byte) bool { return true })
	t.Logf("Range: %v", err)
	if err == nil || !strings.Contains(err.Error(), "shards [16]") {
		t.Errorf("Range through a new handle: %v; want shard 16, alone, named", err)
	}
}

// TestReviewRangeStaleRouteDuplicates: holder walks to the class's
// holder, then loads the handle's route again instead of using what the
// walk returned. Another goroutine of the handle whose walk began before
// a split may store the older route in between (walk stores routes with
// a plain Store, last writer wins), and Range then snapshots a shard that
// no longer holds the class: one whose classes it has already visited.
// The goroutine here stores the older route directly, as such a walk
// would; Range must still see every key once.
func TestReviewRangeStaleRouteDuplicates(t *testing.T) {
	o := splitting()
	o.splitAbove = 8 << 10
	tb := newTable(t, o)
	for i := range 4000 {
		mustSet(t, tb, fmt.Sprintf("key-%d", i), "v")
	}
	var st Stats
	tb.Stats(&st)
	if st.Shards < 32 {
		t.Fatalf("%d shards in use of %d", st.Shards, len(tb.shards))
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			for c := 16; c < len(tb.routes); c++ {
				tb.routes[c].Store(uint32(c & 15)) // a walk from before the splits
			}
		}
	}()
	defer func() { close(stop); <-done }()
	deadline := time.Now().Add(20 * time.Second)
	for round := 0; time.Now().Before(deadline); round++ {
		seen := make(map[string]int, 4000)
		if err := tb.Range(func(k, _ []byte) bool { seen[string(k)]++; return true }); err != nil {
			t.Fatal(err)
		}
		dups := 0
		for _, n := range seen {
			if n > 1 {
				dups++
			}
		}
		if dups > 0 {
			t.Fatalf("round %d: Range saw %d keys more than once", round, dups)
		}
	}
}

// TestReviewRepairDepthBelowInitial: one damaged word, shard 0's depth
// bits set to 0 in a table that has not split at all (16 initial shards
// of depth 4). Repair accepts depth 0, below the initial shards' depth
// (names and leastDepth allow it), and its reclaimSplit then takes shard
// 1, an initial shard in use, for a dead split's buddy and releases it.
func TestReviewRepairDepthBelowInitial(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, splitting())
	want := map[string]string{}
	for i := range 300 {
		k, v := fmt.Sprintf("key-%d", i), fmt.Sprintf("value-%d", i)
		mustSet(t, tb, k, v)
		want[k] = v
	}
	var st Stats
	tb.Stats(&st)
	if st.Splits != 0 {
		t.Fatalf("%d splits", st.Splits)
	}
	v := viewOf(t, &tb.shards[0])
	tb.r.Store(v.hdr+format.ExtSelfShard/8, 0) // shard 0, depth 0
	rep, err := tb.Repair()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("repair: %d dropped: %v", rep.Dropped, rep.Problems)
	fresh := openTable(t, name, &Options{NoCreate: true})
	lost, corrupt := 0, 0
	for k, v := range want {
		got, ok, err := fresh.Get(nil, []byte(k))
		switch {
		case err != nil:
			corrupt++
		case !ok || string(got) != v:
			lost++
		}
	}
	if lost+corrupt > 0 {
		t.Errorf("after Repair of one damaged word, a new handle reads %d of %d keys as absent and %d as ErrCorrupt", lost, len(want), corrupt)
	}
}
