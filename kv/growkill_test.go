//go:build shmkvfail

package kv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/kv/internal/failpoint"
	"github.com/shmkv/shmkv/kv/internal/format"

	"github.com/shmkv/shmkv/internal/testshm"
	"github.com/shmkv/shmkv/shm"
)

func init() {
	children["set-crash"] = childSetCrash
}

// childSetCrash: args key value crash-at. One Set with the failpoint armed;
// prints how many steps it took.
func childSetCrash(tb *Table, args []string) error {
	at, _ := strconv.ParseInt(args[2], 10, 64)
	arm(tb, at)
	err := tb.Set([]byte(args[0]), []byte(args[1]))
	failpoint.CrashAt.Store(0)
	fmt.Println(failpoint.Steps.Load())
	return err
}

// extentImage is a table's memory, as it is, without reading its holes
// (which would allocate them): the fixed part and each shard's extent.
type extentImage struct {
	fixed   []byte
	extents map[int64][]byte // by offset
}

func takeExtentImage(t *testing.T, tb *Table) extentImage {
	img := extentImage{fixed: append([]byte(nil), tb.r.B[:tb.g.ExtentsOffset]...), extents: map[int64][]byte{}}
	for i := range tb.shards {
		if tb.inUse(i) {
			v := viewOf(t, &tb.shards[i])
			img.extents[v.ext.Off] = append([]byte(nil), tb.r.B[v.ext.Off:v.ext.End()]...)
		}
	}
	return img
}

// restore puts the image back: every span is released first, so that what
// a killed child allocated is gone too.
func (img extentImage) restore(t *testing.T, name string) {
	sh, err := shm.Open(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	size, _ := sh.Size()
	ext := int64(len(img.fixed))
	if err := sh.Release(ext, size-ext); err != nil {
		t.Fatal(err)
	}
	for off, b := range img.extents {
		if err := sh.AllocateRange(off, int64(len(b))); err != nil {
			t.Fatal(err)
		}
	}
	testshm.Edit(t, name, func(m []byte) {
		copy(m, img.fixed)
		for off, b := range img.extents {
			copy(m[off:], b)
		}
	})
}

// TestKillSweepGrow kills a writer before each step of a Set that grows
// its shard: each store of the build and the publish, and each allocation
// and release. After every death the table has every acknowledged entry,
// the interrupted one wholly or not at all, Check finds nothing, Repair
// drops and reports nothing, the next
// writer's Set grows the shard after all, and no memory is left behind.
func TestKillSweepGrow(t *testing.T) {
	t.Parallel()
	name := uniqueName(t)
	tb := openTable(t, name, &Options{MaxMemory: 1 << 20, MaxKeySize: 16, MaxValueSize: 64})
	want := map[string]string{}
	var st Stats
	var img extentImage
	var retired uint64
	var key, value string
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("the shard never grew")
		}
		img, retired = takeExtentImage(t, tb), viewOf(t, &tb.shards[0]).ctlLoad(format.CtlRetired)
		before := st.Grows
		key, value = fmt.Sprint("k", i), fmt.Sprint("value-", i, strings.Repeat(".", i%30)) // no spaces: SHMKV_ARGS splits on them
		mustSet(t, tb, key, value)
		tb.Stats(&st)
		if st.Grows > before && i > 50 {
			break
		}
		want[key] = value
	}
	if st.Shards != 1 {
		t.Fatalf("%d shards; the sweep wants one", st.Shards)
	}
	if retired == 0 {
		t.Fatal("no grow retired an extent before the growing Set: the sweep would not kill the Set while it releases one")
	}
	// The image holds the extent an earlier grow retired. Once it is a
	// second old, this handle's flusher would release it again and clear
	// the retired word, and doing so between a restore and a child's Set
	// leaves the child fewer steps than the counting run took.
	tb.stopFlusher()
	run := func(at int64) (string, bool) {
		img.restore(t, name)
		return runKillable(t, childEnv("set-crash", name, key, value, strconv.FormatInt(at, 10)))
	}
	out, killed := run(-1)
	steps, err := strconv.Atoi(strings.TrimSpace(out))
	if killed || err != nil || steps < 10 {
		t.Fatalf("counting run: %q, killed %v", out, killed)
	}
	if _, same := img.extents[viewOf(t, &tb.shards[0]).ext.Off]; same {
		t.Fatal("the uninterrupted Set did not move the shard to a new extent")
	}
	t.Logf("the growing Set takes %d steps", steps)
	sawBefore, sawAfter := false, false
	for n := 1; n <= steps; n++ {
		if out, killed := run(int64(n)); !killed {
			t.Fatalf("step %d: the child was not killed: it made %s stores, the counting run %d", n, strings.TrimSpace(out), steps)
		}
		for k, v := range want {
			if got, ok := mustGet(t, tb, k); !ok || got != v {
				t.Fatalf("step %d: acknowledged %q = %q, %v", n, k, got, ok)
			}
		}
		switch got, ok := mustGet(t, tb, key); {
		case !ok:
			sawBefore = true
		case got == value:
			sawAfter = true
		default:
			t.Fatalf("step %d: %q = %q", n, key, got)
		}
		mustCheck(t, tb)
		// Repair after the death (it takes the lock without lockShard's
		// recovery) finds the word and its extent whole and drops nothing.
		if rep, err := tb.Repair(); err != nil || rep.Dropped != 0 || len(rep.Problems) != 0 {
			t.Fatalf("step %d: Repair: %v, %v", n, rep, err)
		}
		// The next writer finishes what the dead one could not: the key is
		// stored and the shard grown.
		mustSet(t, tb, key, value)
		v := viewOf(t, &tb.shards[0])
		if p, r := v.ctlLoad(format.CtlPending), v.ctlLoad(format.CtlRetired); p != 0 {
			t.Fatalf("step %d: a pending grow survived recovery: %#x (retired %#x)", n, p, r)
		}
		blocks, err := tb.sh.Blocks()
		if err != nil {
			t.Fatal(err)
		}
		if exp := memoryExpected(t, tb); blocks > exp {
			t.Fatalf("step %d: the object takes %d bytes, its header, registry, control and extents %d: a dead grower's memory leaked", n, blocks, exp)
		}
		mustCheck(t, tb)
	}
	if !sawBefore || !sawAfter {
		t.Errorf("the sweep never saw the Set undone (%v) or done (%v)", sawBefore, sawAfter)
	}
}
