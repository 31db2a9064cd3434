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

	seed := testproc.Seed(t, *killSeed, "kv.kills.seed")
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
	tb := openTable(t, name, &Options{Keys: 100, Memory: 64 << 10, Eviction: EvictS3FIFO})
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

func init() {
	children["cache-victim"] = childCacheVictim
}

const cacheVictimKeys = 3000

// childCacheVictim: args iteration. Uses the table as a cache, reading
// keys with a skew and writing each one it misses, c<k> = "<k>:<iteration>:<j>",
// so that its small log evicts and promotes all the time (evict.go), until
// killed. It prints one line when it starts, and no more: output would
// take most of its time, and the kills would seldom land in a write.
func childCacheVictim(tb *Table, args []string) error {
	fmt.Println("started")
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 9))
	var buf []byte
	for j := 0; ; j++ {
		k := int(rng.ExpFloat64()*cacheVictimKeys/8) % cacheVictimKeys
		key := fmt.Appendf(nil, "c%d", k)
		var ok bool
		var err error
		if buf, ok, err = tb.Get(buf[:0], key); err != nil {
			return err
		}
		if !ok {
			if err := tb.Set(key, fmt.Appendf(nil, "%d:%s:%d", k, args[0], j)); err != nil {
				return err
			}
		}
		// And a key nobody reads: it goes through the small log and out.
		k = rng.IntN(cacheVictimKeys)
		if err := tb.Set(fmt.Appendf(nil, "c%d", k), fmt.Appendf(nil, "%d:%s:%d", k, args[0], j)); err != nil {
			return err
		}
	}
}

// TestRandomKillsEvicting kills processes at random moments while they use
// a full evicting table as a cache, so that many deaths interrupt an eviction
// or a promotion: Check is clean after every one, and every key present
// holds a value written for that key, whole. It goes on past its
// iterations until three deaths have left a write to recover.
func TestRandomKillsEvicting(t *testing.T) {
	t.Parallel()
	iterations := *killIterations / 3
	if testing.Short() {
		iterations = 20
	}
	var st Stats
	name := uniqueName(t)
	tb := openTable(t, name, &Options{MaxMemory: 256 << 10, MaxKeySize: 16, MaxValueSize: 64, Eviction: EvictS3FIFO})
	seed := testproc.Seed(t, *killSeed, "kv.kills.seed")
	rng := rand.New(rand.NewPCG(seed, 4))
	for it := 0; it < iterations || st.Recoveries < 3 && it < 10*iterations; it++ {
		victim := startChild(t, "cache-victim", name, strconv.Itoa(it))
		if _, err := victim.Line(); err != nil {
			t.Fatalf("iteration %d: the victim never started: %v", it, err)
		}
		time.Sleep(time.Duration(rng.IntN(20000)) * time.Microsecond)
		victim.Cmd.Process.Signal(syscall.SIGKILL)
		victim.Rest()
		victim.Wait()
		if err := tb.Set([]byte("c0"), []byte("0:parent:0")); err != nil {
			t.Fatalf("iteration %d: Set after the kill: %v", it, err)
		}
		for k := range cacheVictimKeys {
			got, ok := mustGet(t, tb, fmt.Sprint("c", k))
			if ok && !strings.HasPrefix(got, fmt.Sprint(k, ":")) {
				t.Fatalf("iteration %d: c%d = %q", it, k, got)
			}
		}
		if rep := mustCheck(t, tb); len(rep.Problems) > 0 {
			t.Fatalf("iteration %d: Check found problems", it)
		}
		tb.Stats(&st)
	}
	t.Logf("%d evictions, %d promotions, %d recoveries", st.Evictions, st.Promotions, st.Recoveries)
	if st.Evictions == 0 || st.Promotions == 0 || st.Recoveries == 0 {
		t.Error("the victims never evicted, promoted or died mid-write: the test proved nothing")
	}
}
