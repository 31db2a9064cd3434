package kv

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// extentDamageTable is a table of n keys in four shards, each grown
// several times, so that shard 0's extent lies inside its span, not at its
// start. It returns every key and value and shard 0's keys.
func extentDamageTable(t *testing.T, n int) (string, *Table, map[string]string, []string) {
	t.Helper()
	name := uniqueName(t)
	tb := openTable(t, name, &Options{MaxMemory: 64 << 20, MaxKeySize: 32, MaxValueSize: 64})
	want := map[string]string{}
	var shard0 []string
	for i := range n {
		k, v := fmt.Sprint("key-", i), fmt.Sprint("value of key ", i)
		mustSet(t, tb, k, v)
		want[k] = v
		if tb.shardFor(format.HashKey(tb.g.Seed, []byte(k))).index == 0 {
			shard0 = append(shard0, k)
		}
	}
	var st Stats
	tb.Stats(&st)
	if st.Shards < 2 || st.Grows == 0 || len(shard0) < n/10 {
		t.Fatalf("%d shards, %d grows, %d keys in shard 0: the test wants a grown shard 0 among others", st.Shards, st.Grows, len(shard0))
	}
	return name, tb, want, shard0
}

// readShard0 reads keys of shard 0 and fails the test on any answer but
// the right value or an error matching ErrCorrupt; it returns how many of
// each it got. A miss is the silent loss the extent's self-description
// exists to prevent.
func readShard0(t *testing.T, tb *Table, want map[string]string, keys []string) (right, corrupt int) {
	t.Helper()
	for _, k := range keys {
		got, ok, err := tb.Get(nil, []byte(k))
		switch {
		case errors.Is(err, ErrCorrupt):
			corrupt++
		case err != nil:
			t.Fatalf("Get(%q): %v", k, err)
		case !ok:
			t.Fatalf("Get(%q): absent, with no error: a silent loss", k)
		case string(got) != want[k]:
			t.Fatalf("Get(%q) = %q, want %q", k, got, want[k])
		default:
			right++
		}
	}
	return right, corrupt
}

// repairAll runs Repair, wants it to have dropped nothing, and then every
// key to read back and Check to be clean.
func repairAll(t *testing.T, tb *Table, want map[string]string) *Report {
	t.Helper()
	rep, err := tb.Repair()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dropped != 0 || rep.Entries != len(want) {
		t.Fatalf("Repair: %d dropped, %d entries, want 0 and %d: %v", rep.Dropped, rep.Entries, len(want), rep.Problems)
	}
	for k, v := range want {
		if got, ok := mustGet(t, tb, k); !ok || got != v {
			t.Fatalf("after Repair %q = %q, %v; want %q", k, got, ok, v)
		}
	}
	mustCheck(t, tb)
	return rep
}

// TestExtentWordOffByOne is issue 21's item 5: shard 0's extent word one
// less (a one-bit flip) named the page before its extent, whose bytes read
// as an empty index: its keys read as absent with no error, Range listed
// the rest, and Repair said "0 dropped" of a shard it had emptied. One
// more made the whole table's Range fail, and Repair give up. Now either
// way reads of shard 0 are ErrCorrupt, other shards read and range as
// before, Check names the word, and Repair finds the extent by its header
// and republishes it: every key reads back, with nothing dropped.
func TestExtentWordOffByOne(t *testing.T) {
	t.Parallel()
	for _, delta := range []int64{-1, +1} {
		t.Run(fmt.Sprint(delta), func(t *testing.T) {
			t.Parallel()
			name, tb, want, shard0 := extentDamageTable(t, 10_000)
			s := &tb.shards[0]
			w := s.ctlLoad(format.CtlExtent)
			bad := uint64(int64(w) + delta)
			if _, ok := format.DecodeExtent(bad, s.spanStart, s.spanEnd); delta < 0 && !ok {
				t.Fatalf("word %#x less one does not decode inside the span: the test does not reach the silent case", w)
			}
			s.ctlStore(format.CtlExtent, bad)

			ro := openTable(t, name, &Options{ReadOnly: true})
			for _, h := range []*Table{tb, ro} {
				if right, corrupt := readShard0(t, h, want, shard0); right != 0 || corrupt != len(shard0) {
					t.Fatalf("readOnly=%v: %d of shard 0's keys read right, %d ErrCorrupt, of %d", h.readOnly, right, corrupt, len(shard0))
				}
			}
			if err := tb.Set([]byte(shard0[0]), []byte("new")); !errors.Is(err, ErrCorrupt) {
				t.Errorf("Set in the damaged shard: %v, want ErrCorrupt", err)
			}
			in0 := map[string]bool{}
			for _, k := range shard0 {
				in0[k] = true
			}
			for _, h := range []*Table{tb, ro} {
				seen := 0
				err := h.Range(func(k, v []byte) bool {
					if in0[string(k)] || want[string(k)] != string(v) {
						t.Fatalf("Range gave %q = %q", k, v)
					}
					seen++
					return true
				})
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "shards [0]") || seen != len(want)-len(shard0) {
					t.Errorf("readOnly=%v: Range saw %d keys and returned %v; want the %d of the other shards and ErrCorrupt naming shard 0", h.readOnly, seen, err, len(want)-len(shard0))
				}
			}
			for _, h := range []*Table{tb, ro} {
				rep, err := h.Check()
				if err != nil {
					t.Fatal(err)
				}
				if len(rep.Problems) != 1 || rep.Problems[0].Shard != 0 || !strings.Contains(rep.Problems[0].What, fmt.Sprintf("%#x", bad)) {
					t.Fatalf("readOnly=%v: Check = %v; want one problem naming shard 0's word %#x", h.readOnly, rep.Problems, bad)
				}
				t.Logf("check: %v", rep.Problems[0])
			}

			rep := repairAll(t, tb, want)
			for _, p := range rep.Problems {
				t.Logf("repair: %v", p)
			}
			if got := s.ctlLoad(format.CtlExtent); got != w {
				t.Errorf("Repair republished %#x, the extent was %#x", got, w)
			}
			if right, _ := readShard0(t, ro, want, shard0); right != len(shard0) {
				t.Errorf("the read-only handle reads %d of shard 0's %d keys after Repair", right, len(shard0))
			}
			// Repair gave back the pages the damaged word's readers touched.
			blocks, err := tb.sh.Blocks()
			if err != nil {
				t.Fatal(err)
			}
			if exp := memoryExpected(t, tb); blocks > exp {
				t.Errorf("after Repair the object takes %d bytes, its header, registry, control and extents %d", blocks, exp)
			}
		})
	}
}

// TestExtentWordEveryBit flips each bit of shard 0's extent word in turn:
// every flip is caught (shard 0's keys read ErrCorrupt, never absent or
// wrong) or harmless, and Repair brings every key back each time, with
// nothing dropped.
func TestExtentWordEveryBit(t *testing.T) {
	t.Parallel()
	// Fewer keys than the 10,000: Repair rebuilds every shard 64
	// times here.
	_, tb, want, shard0 := extentDamageTable(t, 2000)
	s := &tb.shards[0]
	w := s.ctlLoad(format.CtlExtent)
	sample := shard0[:100]
	caught := 0
	for bit := range 64 {
		s.ctlStore(format.CtlExtent, w^1<<bit)
		right, corrupt := readShard0(t, tb, want, sample)
		if corrupt > 0 {
			caught++
		}
		if right > 0 && corrupt > 0 {
			t.Errorf("bit %d: %d keys read right and %d ErrCorrupt", bit, right, corrupt)
		}
		repairAll(t, tb, want)
		if got := s.ctlLoad(format.CtlExtent); got != w {
			t.Fatalf("bit %d: Repair republished %#x, the extent was %#x", bit, got, w)
		}
	}
	t.Logf("%d of 64 flips caught, the rest harmless", caught)
	if caught != 64 {
		t.Errorf("%d of 64 flips caught: a flipped word named an extent that describes itself as that word", caught)
	}
}

// TestExtentSelfDescriptionDamaged damages each field of shard 0's
// extent's self-description in turn. A handle that has not yet checked
// the extent reads shard 0 as ErrCorrupt, never as absent; Check names
// the damage; Repair describes the extent again, dropping nothing.
func TestExtentSelfDescriptionDamaged(t *testing.T) {
	name, tb, want, shard0 := extentDamageTable(t, 2000)
	v := viewOf(t, &tb.shards[0])
	for _, field := range []int64{format.ExtSelfWord, format.ExtSelfShard, format.ExtGeneration, format.ExtSelfSum} {
		at := v.hdr + field/8
		tb.r.Store(at, tb.r.Load(at)^1<<17)
		fresh := openTable(t, name, &Options{NoCreate: true})
		if right, corrupt := readShard0(t, fresh, want, shard0[:100]); corrupt != 100 {
			t.Errorf("field %d: %d keys read right, %d ErrCorrupt; want all ErrCorrupt", field, right, corrupt)
		}
		rep, err := tb.Check()
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != 1 || rep.Problems[0].Shard != 0 {
			t.Fatalf("field %d: Check = %v; want one problem in shard 0", field, rep.Problems)
		}
		t.Logf("field %d: check: %v", field, rep.Problems[0])
		rep = repairAll(t, fresh, want)
		t.Logf("field %d: repair: %v", field, rep.Problems)
		if d := v.describedAt(v.ext.Off); !d.valid(&v.shard, v.ext.Off) || d.word != v.ext.Word() {
			t.Fatalf("field %d: after Repair the self-description is %+v", field, d)
		}
		fresh.Close()
	}
}

// TestExtentLostWholly: a shard whose word is damaged and whose extent's
// header is too is not silently emptied: Repair says it cannot repair it
// and counts its entries lost, the other shards stay whole, and Check
// still names it.
func TestExtentLostWholly(t *testing.T) {
	_, tb, want, shard0 := extentDamageTable(t, 2000)
	s := &tb.shards[0]
	v := viewOf(t, s)
	w := s.ctlLoad(format.CtlExtent)
	tb.r.Store(v.hdr+format.ExtSelfWord/8, 0)
	tb.r.Store(v.hdr+format.ExtSelfSum/8, 0)
	s.ctlStore(format.CtlExtent, w-1)
	rep, err := tb.Repair()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Dropped != len(shard0) || rep.Entries != len(want)-len(shard0) {
		t.Errorf("Repair: %d dropped, %d entries; want shard 0's %d lost and the other %d kept: %v", rep.Dropped, rep.Entries, len(shard0), len(want)-len(shard0), rep.Problems)
	}
	for _, p := range rep.Problems {
		t.Logf("repair: %v", p)
	}
	if right, corrupt := readShard0(t, tb, want, shard0[:100]); corrupt != 100 {
		t.Errorf("%d keys of the lost shard read right, %d ErrCorrupt", right, corrupt)
	}
	if rep, err := tb.Check(); err != nil || len(rep.Problems) == 0 {
		t.Errorf("Check after Repair of a lost shard: %v, %v", rep, err)
	}
}
