//go:build shmkvfail

package kv

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/kv/internal/failpoint"
	"github.com/shmkv/shmkv/kv/internal/format"
)

func init() {
	children["repair-crash"] = childRepairCrash
}

// childRepairCrash: args crash-at. One Repair with the failpoint armed;
// prints how many steps it took.
func childRepairCrash(tb *Table, args []string) error {
	at, _ := strconv.ParseInt(args[0], 10, 64)
	arm(tb, at)
	_, err := tb.Repair()
	failpoint.CrashAt.Store(0)
	fmt.Println(failpoint.Steps.Load())
	return err
}

// TestKillSweepRepairExtent kills a Repair before each of its steps as it
// finds again the extent of a shard whose word is damaged (one less, the
// case of issue 21) and gives back the rest of the span: after every
// death the next Repair brings every key back with nothing dropped, Check
// finds nothing, and no memory is left behind.
func TestKillSweepRepairExtent(t *testing.T) {
	t.Parallel()
	name := uniqueName(t)
	tb := openTable(t, name, &Options{MaxMemory: 1 << 20, MaxKeySize: 16, MaxValueSize: 64})
	want := map[string]string{}
	var st Stats
	// One grow puts the extent past the span's start, which is all the
	// sweep needs; each more would add its slots to the rebuild's steps.
	for i := 0; st.Grows < 1; i++ {
		if i > 20000 {
			t.Fatal("the shard never grew")
		}
		k, v := fmt.Sprint("k", i), fmt.Sprint("value-", i)
		mustSet(t, tb, k, v)
		want[k] = v
		tb.Stats(&st)
	}
	if st.Shards != 1 {
		t.Fatalf("%d shards; the sweep wants one", st.Shards)
	}
	tb.stopFlusher() // as in TestKillSweepGrow: nothing may change the image between restores
	s := &tb.shards[0]
	w := s.ctlLoad(format.CtlExtent)
	if _, ok := format.DecodeExtent(w-1, s.spanStart, s.spanEnd); !ok {
		t.Fatalf("word %#x less one names no extent of the span: the sweep would not scan from inside it", w)
	}
	img := takeExtentImage(t, tb)
	binary.LittleEndian.PutUint64(img.fixed[s.ctl*8+format.CtlExtent:], w-1)
	run := func(at int64) (string, bool) {
		img.restore(t, name)
		return runKillable(t, childEnv("repair-crash", name, strconv.FormatInt(at, 10)))
	}
	out, killed := run(-1)
	steps, err := strconv.Atoi(strings.TrimSpace(out))
	if killed || err != nil || steps < 3 {
		t.Fatalf("counting run: %q, killed %v", out, killed)
	}
	if got := s.ctlLoad(format.CtlExtent); got != w {
		t.Fatalf("the uninterrupted Repair republished %#x, the extent is %#x", got, w)
	}
	t.Logf("the Repair takes %d steps", steps)
	for n := 1; n <= steps; n++ {
		if out, killed := run(int64(n)); !killed {
			t.Fatalf("step %d: the child was not killed: it made %s stores, the counting run %d", n, strings.TrimSpace(out), steps)
		}
		rep, err := tb.Repair()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Dropped != 0 || rep.Entries != len(want) {
			t.Fatalf("step %d: Repair after the killed one: %d dropped, %d entries of %d: %v", n, rep.Dropped, rep.Entries, len(want), rep.Problems)
		}
		for k, v := range want {
			if got, ok := mustGet(t, tb, k); !ok || got != v {
				t.Fatalf("step %d: %q = %q, %v; want %q", n, k, got, ok, v)
			}
		}
		mustCheck(t, tb)
		if got := s.ctlLoad(format.CtlExtent); got != w {
			t.Fatalf("step %d: the extent word is %#x, the extent %#x", n, got, w)
		}
		blocks, err := tb.sh.Blocks()
		if err != nil {
			t.Fatal(err)
		}
		if exp := memoryExpected(t, tb); blocks > exp {
			t.Fatalf("step %d: the object takes %d bytes, its header, registry, control and extents %d", n, blocks, exp)
		}
	}
}
