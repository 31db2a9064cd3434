package kv

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
)

// TestExtentDamagedGenerationGrows: a generation damaged to the largest
// value, with the word and the shard intact, is described again by Repair;
// the shard must then grow into an extent that reads, not one whose
// generation wrapped to 0, which no reader accepts.
func TestExtentDamagedGenerationGrows(t *testing.T) {
	name, tb, want, shard0 := extentDamageTable(t, 2000)
	v := viewOf(t, &tb.shards[0])
	tb.r.Store(v.hdr+format.ExtGeneration/8, math.MaxUint64)
	fresh := openTable(t, name, &Options{NoCreate: true})
	repairAll(t, fresh, want)
	var st Stats
	fresh.Stats(&st)
	grows := st.Grows
	for i := 0; st.Grows == grows; i++ {
		k := fmt.Sprint("more-", i)
		if fresh.shardFor(format.HashKey(fresh.g.Seed, []byte(k))).index != 0 {
			continue
		}
		if err := fresh.Set([]byte(k), []byte("v")); err != nil {
			t.Fatalf("Set %q after %d: %v", k, i, err)
		}
		want[k] = "v"
		fresh.Stats(&st)
	}
	again := openTable(t, name, &Options{NoCreate: true})
	if right, corrupt := readShard0(t, again, want, shard0[:100]); corrupt != 0 {
		t.Fatalf("after a grow, %d of shard 0's keys read right and %d ErrCorrupt", right, corrupt)
	}
	mustCheck(t, again)
}

// TestExtentForgedGhostLargerThanData: a peer forges, with the table's
// seed, a self-described extent of an evicting table whose ghost is
// larger than what follows its index. Reads, Check and Repair must give
// errors, not panic or read out of bounds.
func TestExtentForgedGhostLargerThanData(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, &Options{MaxMemory: 64 << 20, MaxKeySize: 32, MaxValueSize: 64, Eviction: EvictS3FIFO})
	var keys []string
	for i := range 200 {
		k := fmt.Sprint("key-", i)
		mustSet(t, tb, k, "v")
		if tb.shardFor(format.HashKey(tb.g.Seed, []byte(k))).index == 0 {
			keys = append(keys, k)
		}
	}
	s := &tb.shards[0]
	v := viewOf(t, s)
	slots := 1 << 12
	e := format.Extent{Off: v.ext.Off, Slots: slots, Size: format.RoundUp(format.ExtHeaderSize+int64(slots)*format.SlotSize+2048, format.PageSize)}
	if _, ok := format.DecodeExtent(e.Word(), s.spanStart, s.spanEnd); !ok {
		t.Fatalf("forged extent %+v does not decode in [%d, %d)", e, s.spanStart, s.spanEnd)
	}
	t.Logf("forged %+v: data %d bytes, ghost %d", e, e.DataBytes(), format.GhostBytes(slots))
	s.describe(e, 99, v.depth)
	s.ctlStore(format.CtlExtent, e.Word())
	fresh := openTable(t, name, &Options{NoCreate: true})
	for _, k := range keys {
		if got, ok, err := fresh.Get(nil, []byte(k)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Get(%q) = %q, %v, %v; want ErrCorrupt", k, got, ok, err)
		}
		if err := fresh.Set([]byte(k), []byte("w")); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Set(%q): %v; want ErrCorrupt", k, err)
		}
	}
	rep, err := fresh.Check()
	if err != nil || len(rep.Problems) == 0 || rep.Problems[0].Shard != 0 {
		t.Fatalf("Check: %v, %v; want shard 0 named", rep, err)
	}
	t.Logf("check: %v", rep.Problems[0])
	rep, err = fresh.Repair()
	if err != nil || len(rep.Problems) == 0 || rep.Problems[0].Shard != 0 {
		t.Fatalf("Repair: %v, %v; want shard 0 named", rep, err)
	}
	t.Logf("repair: %v (%d dropped)", rep.Problems, rep.Dropped)
}

// TestExtentRefoundSmallerReportsLoss: Repair refinds, for a shard whose
// word is damaged, a newer extent (here forged by a peer) of fewer slots
// than the entries the shard's counters held. It may adopt it (the
// description is whole), but must report what the shard lost, not
// "0 dropped".
func TestExtentRefoundSmallerReportsLoss(t *testing.T) {
	_, tb, want, shard0 := extentDamageTable(t, 2000)
	s := &tb.shards[0]
	v := viewOf(t, s)
	off := s.spanStart
	if off+format.PageSize > v.ext.Off {
		off = v.ext.End()
	}
	e := format.Extent{Off: off, Slots: format.MinSlots, Size: format.PageSize}
	if _, ok := s.decode(e.Word()); !ok {
		t.Fatalf("forged extent %+v does not decode", e)
	}
	s.describe(e, v.gen+5, v.depth)
	s.ctlStore(format.CtlExtent, v.ext.Word()-1)
	rep, err := tb.Repair()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("repair: %v (%d dropped, %d entries)", rep.Problems, rep.Dropped, rep.Entries)
	if lost := len(want) - rep.Entries; rep.Dropped != lost {
		t.Fatalf("Repair kept %d of %d entries (shard 0 had %d) and reported %d dropped", rep.Entries, len(want), len(shard0), rep.Dropped)
	}
}

// TestRepairBesideGrowingWriters: Repair, run again and again on a whole
// table while another process writes it (flipping a key and adding new
// ones, so that the shard grows) and another reads it, finds nothing to
// drop and nothing wrong, and the reader never sees a torn or missing
// value: Repair's extent checks, its rebuild and its releases are safe
// beside live users of the table.
func TestRepairBesideGrowingWriters(t *testing.T) {
	t.Parallel()
	const d = "1500ms"
	name := uniqueName(t)
	tb := openTable(t, name, &Options{MaxMemory: 16 << 20, MaxValueSize: 2048})
	mustSet(t, tb, "flip", string(patternA))
	cmds := []*testproc.Child{
		startChild(t, "flip", name, d, "grow"),
		startChild(t, "read-soak", name, d),
	}
	end := time.Now().Add(1200 * time.Millisecond)
	repairs := 0
	for time.Now().Before(end) {
		rep, err := tb.Repair()
		if err != nil {
			t.Fatalf("Repair %d: %v", repairs, err)
		}
		if rep.Dropped != 0 || len(rep.Problems) != 0 {
			t.Fatalf("Repair %d of a whole table: %d dropped, %v", repairs, rep.Dropped, rep.Problems)
		}
		repairs++
	}
	waitAll(t, cmds)
	var st Stats
	tb.Stats(&st)
	t.Logf("%d repairs, %d grows", repairs, st.Grows)
	if st.Grows == 0 {
		t.Error("the shard never grew under Repair")
	}
	mustCheck(t, tb)
}
