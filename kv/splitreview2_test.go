package kv

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// TestReview2LogFullStaleAfterDeadSplit: a handle that cached a view of a
// buddy's extent that a split which died before its commit left (Open
// with Populate does, and so does Repair's leastDepth) keeps it, logFull
// and all, when a later split of the same shard publishes the buddy's
// extent at the same word and the same depth, with less of its log
// allocated. noteLogFull says a split's word "may have been used before,
// but at a lesser depth": not so for the buddy's. The handle then writes
// past the allocated word without fallocate, breaking logmemory.go's
// invariant (head <= allocated), and Check, which copies only what is
// allocated, reports live entries as damage.
func TestReview2LogFullStaleAfterDeadSplit(t *testing.T) {
	name := uniqueName(t)
	opts := func(create bool) *Options {
		return &Options{MaxMemory: 1 << 30, MaxKeySize: 16, MaxValueSize: 2048, splitAbove: 1 << 40, NoCreate: !create, Populate: !create}
	}
	tb := openTable(t, name, opts(true))
	tb.stopFlusher()
	c := &tb.shards[0]
	d := viewOf(t, c).depth
	if d >= c.maxDepth {
		t.Fatalf("shard 0 cannot split (depth %d of %d)", d, c.maxDepth)
	}
	b := &tb.shards[1<<d]
	hash := func(k string) uint64 { return format.HashKey(tb.g.Seed, []byte(k)) }
	// keys of shard 0's classes that go to half (0 stays, 1 to the buddy).
	keys := func(half, n int, prefix string) []string {
		var out []string
		for i := 0; len(out) < n; i++ {
			k := fmt.Sprintf("%s%07d", prefix, i)
			if cls := hash(k) >> tb.shardShift; cls&(2<<d-1) == uint64(half)<<d {
				out = append(out, k)
			}
		}
		return out
	}
	small, mid, stay := keys(1, 20, "s"), keys(1, 11, "m"), keys(0, 10, "c")
	for _, k := range small {
		mustSet(t, tb, k, strings.Repeat("s", 16))
	}
	for _, k := range mid {
		mustSet(t, tb, k, strings.Repeat("m", 228))
	}
	for _, k := range stay {
		mustSet(t, tb, k, strings.Repeat("c", 100))
	}
	splitNow := func() view {
		t.Helper()
		if _, err := tb.lock(c); err != nil {
			t.Fatal(err)
		}
		defer tb.unlock(c)
		v, ok := c.currentChecked()
		if !ok {
			t.Fatal("shard 0 unreadable")
		}
		nc, err := tb.split(v, format.EntrySize(8, 100, false), hash(stay[0]))
		if err != nil {
			t.Fatalf("split: %v", err)
		}
		return nc
	}
	bExtent := func() (uint64, view) {
		w := b.ctlLoad(format.CtlExtent)
		e, ok := b.decode(w)
		if !ok {
			t.Fatalf("buddy's extent word %#x", w)
		}
		return w, b.at(e)
	}

	// A split of shard 0 that dies after it stored the buddy's extent
	// word and before its commit: run it, then put shard 0 back as it
	// was, its new extent pending.
	old := viewOf(t, c).ext
	oldBytes := append([]byte(nil), tb.r.B[old.Off:old.End()]...)
	oldCtl := append([]byte(nil), tb.r.B[c.ctl*8:c.ctl*8+format.ControlSize]...)
	nc := splitNow()
	if err := tb.sh.AllocateRange(old.Off, old.Size); err != nil {
		t.Fatal(err)
	}
	copy(tb.r.B[old.Off:], oldBytes)
	copy(tb.r.B[c.ctl*8:], oldCtl)
	c.ctlStore(format.CtlPending, nc.ext.Word())
	tb.views[0].Store(nil)
	w1, b1 := bExtent()
	alloc1 := b1.allocated()
	if alloc1 != b1.size {
		t.Fatalf("setup: the dead split's buddy extent has %d of %d bytes of log allocated, want all", alloc1, b1.size)
	}

	// Another process opens the table meanwhile, with Populate.
	p := openTable(t, name, opts(false))
	p.stopFlusher()
	if pv := p.views[b.index].Load(); pv != nil {
		t.Logf("the opener keeps a view of the buddy's extent %#x, logFull %v", pv.extWord, pv.logFull)
	}

	// The next holder of shard 0's lock recovers it (as a taker-over of
	// the dead splitter's lock would): the buddy's span is given back.
	if _, err := tb.lock(c); err != nil {
		t.Fatal(err)
	}
	tb.recoverShard(c)
	tb.unlock(c)
	if w := b.ctlLoad(format.CtlExtent); w != 0 {
		t.Fatalf("recovery left the buddy's extent word %#x", w)
	}

	// The buddy's half changes: fewer bytes, one larger entry. Then
	// shard 0 splits for good.
	for _, k := range mid {
		if _, err := tb.Delete([]byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	big := keys(1, 1, "b")[0]
	mustSet(t, tb, big, strings.Repeat("b", 800))
	splitNow()
	w2, b2 := bExtent()
	if w2 != w1 {
		t.Fatalf("setup: the second split placed the buddy at %#x, not %#x as the first", w2, w1)
	}
	t.Logf("buddy %d: extent word %#x both times; log allocated %d of %d after the dead split, %d now", b.index, w1, alloc1, b1.size, b2.allocated())
	if b2.allocated() == b2.size {
		t.Fatalf("setup: the buddy's log is allocated whole again")
	}

	pv, ok := p.shards[b.index].currentChecked()
	if !ok {
		t.Fatal("the opener cannot read the buddy")
	}
	if pv.logFull && pv.allocated() < pv.size {
		t.Errorf("the opener's view of the buddy says its log has memory to its end (logFull), but %d of %d bytes are allocated: the view cached for the dead split's extent at the same word and depth", pv.allocated(), pv.size)
	}
	// Writes through the opener go past the allocated word: overwrites,
	// which move the head and not the live bytes a grow looks at.
	more := keys(1, 1, "w")
	for i := range 24 {
		if err := p.Set([]byte(more[0]), []byte(strings.Repeat(string(rune('a'+i)), 200))); err != nil {
			t.Fatal(err)
		}
	}
	bv := viewOf(t, b)
	if head, alloc := bv.head(), bv.allocated(); alloc < bv.size && int64(head) > alloc {
		t.Errorf("the buddy's log head %d is past its allocated %d (logmemory.go's invariant: head <= allocated)", head, alloc)
	}
	rep, err := tb.Check()
	if err != nil {
		t.Fatal(err)
	}
	for i, pr := range rep.Problems {
		if i < 3 {
			t.Errorf("Check of a table nothing damaged: %+v", pr)
		}
	}
	if rep, err := tb.Repair(); err != nil || rep.Dropped > 0 {
		t.Errorf("Repair after: dropped %d, %v", rep.Dropped, err)
	}
	for _, k := range more {
		if got, ok := mustGet(t, tb, k); !ok || len(got) != 200 {
			t.Errorf("Get(%s): %d bytes, %v", k, len(got), ok)
		}
	}
}
