package kv

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
)

var killIterations = flag.Int("kv.kills", 300, "iterations of TestRandomKills")
var killSeed = flag.Uint64("kv.kills.seed", 0, "seed for TestRandomKills' kill delays (0: from the clock)")

func init() {
	children["victim"] = childVictim
	children["survivor"] = childSurvivor
}

const victimKeys = 100

// childVictim: args iteration. Sets v<j%100> = "<iteration>:<j>" for
// j = 0, 1, …, printing j after each Set has returned, until killed.
func childVictim(tb *Table, args []string) error {
	w := bufio.NewWriter(os.Stdout)
	for j := 0; ; j++ {
		if err := tb.Set(fmt.Appendf(nil, "v%d", j%victimKeys), fmt.Appendf(nil, "%s:%d", args[0], j)); err != nil {
			return err
		}
		fmt.Fprintln(w, j)
		w.Flush()
	}
}

// childSurvivor: reads and writes its own keys until its standard input
// closes, checking each read, then prints the longest any operation took.
func childSurvivor(tb *Table, args []string) error {
	stop := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	var longest time.Duration
	var buf []byte
	for i := 0; ; i++ {
		select {
		case <-stop:
			fmt.Println(int64(longest))
			return nil
		default:
		}
		key := fmt.Appendf(nil, "s%d-%d", os.Getpid(), i%50)
		val := fmt.Appendf(nil, "%d", i)
		start := time.Now()
		if err := tb.Set(key, val); err != nil {
			return err
		}
		var ok bool
		var err error
		buf, ok, err = tb.Get(buf[:0], key)
		if err != nil || !ok || string(buf) != string(val) {
			return fmt.Errorf("read back %q = %q, %v, %v", key, buf, ok, err)
		}
		if _, err := tb.Add([]byte("survivor-ops"), 1); err != nil {
			return err
		}
		longest = max(longest, time.Since(start))
	}
}

// TestRandomKills kills writer processes at random moments while other
// processes read and write, for -kv.kills iterations. No survivor waits
// more than 1s past a death, Check is clean after every iteration, and
// every write a victim reported done is there.
func TestRandomKills(t *testing.T) {
	iterations := *killIterations
	if testing.Short() {
		iterations = 30
	}
	name := uniqueName(t)
	tb := openTable(t, name, &Options{Keys: 2000, Memory: 256 << 10, MaxKeySize: 64, MaxValueSize: 256})

	var survivors []*testproc.Child
	for range 2 {
		survivors = append(survivors, startChild(t, "survivor", name))
	}

	seed := seedFor(t, *killSeed, "kv.kills.seed")
	rng := rand.New(rand.NewPCG(seed, 3))
	var longest time.Duration
	for it := range iterations {
		victim := startChild(t, "victim", name, strconv.Itoa(it))
		if _, err := victim.Line(); err != nil {
			t.Fatalf("iteration %d: the victim never wrote: %v", it, err)
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		victim.Cmd.Process.Signal(syscall.SIGKILL)
		died := time.Now()
		acked := []int{0}
		rest, _ := victim.Rest()
		for _, line := range strings.Fields(rest) {
			j, _ := strconv.Atoi(line)
			acked = append(acked, j)
		}
		victim.Wait()

		// A write of our own on the dead victim's shard waits at most for
		// the takeover.
		if err := tb.Set([]byte("v0"), []byte(fmt.Sprintf("%d:parent", it))); err != nil {
			t.Fatalf("iteration %d: Set after the kill: %v", it, err)
		}
		longest = max(longest, time.Since(died))

		last := acked[len(acked)-1]
		latest := map[int]int{}
		for _, j := range acked {
			latest[j%victimKeys] = j
		}
		for k, j := range latest {
			if k == 0 {
				continue // the parent just overwrote it
			}
			got, ok := mustGet(t, tb, fmt.Sprint("v", k))
			want := fmt.Sprintf("%d:%d", it, j)
			inFlight := fmt.Sprintf("%d:%d", it, last+1)
			if !ok || (got != want && !((last+1)%victimKeys == k && got == inFlight)) {
				t.Fatalf("iteration %d: v%d = %q, want %q (last acknowledged write %d)", it, k, got, want, last)
			}
		}
		if rep := mustCheck(t, tb); len(rep.Problems) > 0 {
			t.Fatalf("iteration %d: Check found problems", it)
		}
	}
	for i, s := range survivors {
		s.Stdin.Close()
		out, _ := s.Rest()
		if err := s.Wait(); err != nil {
			t.Fatalf("survivor %d: %v", i, err)
		}
		ns, _ := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
		t.Logf("survivor %d: longest operation %v", i, time.Duration(ns))
		if time.Duration(ns) > time.Second {
			t.Errorf("survivor %d waited %v for one operation", i, time.Duration(ns))
		}
	}
	var st Stats
	tb.Stats(&st)
	ops, _ := mustGet(t, tb, "survivor-ops")
	t.Logf("%d kills; parent's longest wait after a kill %v; %d recoveries; survivors did %s operations", iterations, longest, st.Recoveries, ops)
	if longest > time.Second {
		t.Errorf("a write after a kill waited %v", longest)
	}
	if st.Recoveries == 0 {
		t.Error("no kill interrupted a write: the test proved nothing")
	}
}

func init() {
	children["reader"] = childReader
}

// childReader reads key "r" in a loop until killed.
func childReader(tb *Table, args []string) error {
	fmt.Println("reading")
	var buf []byte
	for {
		buf, _, _ = tb.Get(buf[:0], []byte("r"))
	}
}

// TestKilledReadersBlockNobody kills reading processes at random moments;
// the writer never waits on them, since readers hold no lock.
func TestKilledReadersBlockNobody(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, &Options{Keys: 100, Memory: 64 << 10, Eviction: EvictLRU})
	mustSet(t, tb, "r", "value")
	rng := rand.New(rand.NewPCG(5, 6))
	for it := range 20 {
		reader := startChild(t, "reader", name)
		reader.Line()
		time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
		reader.Kill()
		start := time.Now()
		for i := range 100 {
			mustSet(t, tb, "r", fmt.Sprint(it, ":", i))
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("iteration %d: 100 writes after a reader died took %v", it, d)
		}
	}
	mustCheck(t, tb)
}
