package kv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
)

// atCeiling reports, at the first ErrFull or eviction, whether the
// table was really at its ceiling: the shard of key could not have grown
// its extent by an eighth within MaxMemory (grow.go's fitted).
func atCeiling(t *testing.T, tb *Table, key string) bool {
	s := tb.shardFor(format.HashKey(tb.g.Seed, []byte(key)))
	v := viewOf(t, s)
	committed, err := tb.committedBytes()
	if err != nil {
		t.Fatal(err)
	}
	return committed+v.ext.Size+v.ext.Size/8 > tb.g.MaxMemory
}

// TestCeiling: a table grows, without refusing or evicting, until a grow
// would pass its memory ceiling; then a none table refuses new keys with
// ErrFull and an evicting table evicts. The memory taken never passes the
// ceiling.
//
// Ceilings of several sizes, since where the last grow that fits lands
// depends on it: the table must then grow into what the ceiling leaves.
func TestCeiling(t *testing.T) {
	t.Parallel()
	for _, policy := range []Policy{NoEviction, EvictS3FIFO} {
		for _, ceiling := range []int64{1 << 20, 3 << 19, 2 << 20, 3 << 20, 5 << 20} {
			t.Run(fmt.Sprint(policy, "/", ceiling), func(t *testing.T) { testCeiling(t, policy, ceiling, 100) })
		}
		// Small entries, under a ceiling where the last grow by half
		// leaves a third of it unused.
		t.Run(fmt.Sprint(policy, "/small"), func(t *testing.T) { testCeiling(t, policy, 970352, 16) })
	}
}

func testCeiling(t *testing.T, policy Policy, ceiling int64, valueSize int) {
	tb := newTable(t, &Options{MaxMemory: ceiling, MaxKeySize: 32, MaxValueSize: 200, Eviction: policy})
	var st Stats
	value := strings.Repeat("v", valueSize)
	for i := 0; ; i++ {
		key := fmt.Sprint("key-", i)
		err := tb.Set([]byte(key), []byte(value))
		tb.Stats(&st)
		if st.TotalBytes > st.MaxBytes {
			t.Fatalf("after %d keys the table takes %d bytes, over its ceiling %d", i, st.TotalBytes, st.MaxBytes)
		}
		if errors.Is(err, ErrFull) || st.Evictions > 0 {
			if policy == NoEviction && err == nil {
				t.Fatalf("a none table evicted")
			}
			if policy == EvictS3FIFO && err != nil {
				t.Fatalf("an evicting table refused: %v", err)
			}
			if !atCeiling(t, tb, key) {
				t.Fatalf("refused or evicted at %d keys, %d of %d bytes, with room to grow", i, st.TotalBytes, st.MaxBytes)
			}
			t.Logf("%v at %d keys: %d of %d bytes, %d grows", policy, i, st.TotalBytes, st.MaxBytes, st.Grows)
			break
		}
		if err != nil {
			t.Fatalf("Set %d: %v", i, err)
		}
		if i > 100000 {
			t.Fatal("never reached the ceiling")
		}
	}
	if st.Grows == 0 {
		t.Error("the table never grew")
	}
	if policy == EvictS3FIFO {
		for i := range 5000 {
			if err := tb.Set(fmt.Appendf(nil, "more-%d", i), []byte(value)); err != nil {
				t.Fatalf("lru Set past the ceiling: %v", err)
			}
		}
		tb.Stats(&st)
		if st.TotalBytes > st.MaxBytes {
			t.Fatalf("the evicting table takes %d bytes, over %d", st.TotalBytes, st.MaxBytes)
		}
	}
	mustCheck(t, tb)
}

func init() {
	rawChildren["verify-during-load"] = childVerifyDuringLoad
}

// loadValue is the value the load test stores under key i: about 110
// bytes of key and value together, each value its own.
func loadValue(i int) []byte {
	return fmt.Appendf(nil, "%08d:%s", i, strings.Repeat(string(rune('a'+i%26)), 80))
}

// childVerifyDuringLoad: args name. While another process loads a table,
// reads keys it has acknowledged (those below the "loaded" counter) and
// checks every value; stops at "done" and prints how many it checked.
func childVerifyDuringLoad(args []string) error {
	tb, err := Open(args[0], &Options{NoCreate: true})
	if err != nil {
		return err
	}
	defer tb.Close()
	var buf []byte
	checked := 0
	for i := 0; ; i++ {
		v, _, err := tb.Get(buf[:0], []byte("loaded"))
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(string(v))
		if _, done, _ := tb.Get(nil, []byte("done")); done {
			fmt.Println(checked)
			return nil
		}
		if n == 0 {
			time.Sleep(time.Millisecond)
			continue
		}
		k := (i * 7919) % n
		got, ok, err := tb.Get(buf[:0], fmt.Appendf(nil, "key-%d", k))
		if err != nil || !ok || string(got) != string(loadValue(k)) {
			return fmt.Errorf("key-%d (of %d acknowledged) = %q, %v, %v", k, n, got, ok, err)
		}
		buf = got
		checked++
	}
}

// TestGrowWhileReading loads a default table — no size given — with many
// keys of about 110 bytes while another process reads and checks keys
// already acknowledged: it grows online, and no read misses or tears.
func TestGrowWhileReading(t *testing.T) {
	t.Parallel()
	keys := 1_500_000
	if raceEnabled || testing.Short() {
		keys = 150_000 // the race detector makes each write some ten times slower
	}
	name := uniqueName(t)
	tb := openTable(t, name, nil)
	reader := testproc.Start(t, "SHMKV_RAW_CHILD=verify-during-load", "SHMKV_ARGS="+name)
	start := time.Now()
	for i := range keys {
		if err := tb.Set(fmt.Appendf(nil, "key-%d", i), loadValue(i)); err != nil {
			t.Fatalf("Set %d: %v", i, err)
		}
		if i%1000 == 999 {
			mustSet(t, tb, "loaded", strconv.Itoa(i+1))
		}
	}
	elapsed := time.Since(start)
	mustSet(t, tb, "done", "1")
	out, _ := reader.Rest()
	if err := reader.Wait(); err != nil {
		t.Fatalf("reader: %v", err)
	}
	checked, _ := strconv.Atoi(strings.TrimSpace(out))
	var st Stats
	tb.Stats(&st)
	t.Logf("%d keys in %v (%.0f ns a key); %d grows; %d bytes taken (%.0f a key); the reader checked %d values",
		keys, elapsed, float64(elapsed.Nanoseconds())/float64(keys), st.Grows, st.TotalBytes, float64(st.TotalBytes)/float64(keys), checked)
	if checked == 0 || st.Grows == 0 || st.Entries != uint64(keys)+2 {
		t.Fatalf("checked %d, grows %d, entries %d", checked, st.Grows, st.Entries)
	}
	for i := 0; i < keys; i += 997 {
		if got, ok := mustGet(t, tb, fmt.Sprint("key-", i)); !ok || got != string(loadValue(i)) {
			t.Fatalf("key-%d = %q, %v", i, got, ok)
		}
	}
	mustCheck(t, tb)
}

// memoryExpected is what tb's memory should be once no grow is under way:
// the fixed part and each shard's current extent.
func memoryExpected(t *testing.T, tb *Table) int64 {
	n := tb.g.ExtentsOffset
	for i := range tb.shards {
		if tb.inUse(i) {
			n += viewOf(t, &tb.shards[i]).ext.Size
		}
	}
	return n
}

func init() {
	children["grow-victim"] = childGrowVictim
}

// childGrowVictim: args first. Writes new keys from first on, each value
// its own, printing each key's number once its Set has returned, until it
// is killed.
func childGrowVictim(tb *Table, args []string) error {
	first, _ := strconv.Atoi(args[0])
	fmt.Println("started")
	for i := first; ; i++ {
		if err := tb.Set(fmt.Appendf(nil, "key-%d", i), loadValue(i)); err != nil {
			return err
		}
		fmt.Println(i)
	}
}

// TestRandomKillsWhileGrowing kills writers at random moments while they
// load new keys into a growing table, so that some die inside grows: every
// key a writer was told is stored stays readable, Check finds nothing, and
// the memory taken is the table's extents and no more.
func TestRandomKillsWhileGrowing(t *testing.T) {
	t.Parallel()
	iterations := 60
	if testing.Short() {
		iterations = 15
	}
	seed := testproc.Seed(t, *killSeed, "kv.kills.seed")
	rng := rand.New(rand.NewPCG(seed, 9))
	name := uniqueName(t)
	tb := openTable(t, name, &Options{MaxMemory: 256 << 20})
	acked := 0 // keys 0..acked-1 were acknowledged
	for it := range iterations {
		victim := startChild(t, "grow-victim", name, strconv.Itoa(acked))
		victim.Expect(t, "started")
		time.Sleep(time.Duration(rng.IntN(20_000)) * time.Microsecond)
		victim.Cmd.Process.Signal(syscall.SIGKILL)
		rest, _ := victim.Rest()
		victim.Wait()
		for _, line := range strings.Fields(rest) {
			n, err := strconv.Atoi(line)
			if err != nil || n != acked {
				t.Fatalf("iteration %d: the victim said %q after key %d", it, line, acked-1)
			}
			acked++
		}
		for i := 0; i < acked; i += 1 + rng.IntN(50) {
			if got, ok := mustGet(t, tb, fmt.Sprint("key-", i)); !ok || got != string(loadValue(i)) {
				t.Fatalf("iteration %d: acknowledged key-%d = %q, %v", it, i, got, ok)
			}
		}
		mustCheck(t, tb) // recovers every shard a victim left locked
	}
	var st Stats
	tb.Stats(&st)
	blocks, _ := tb.sh.Blocks()
	if exp := memoryExpected(t, tb); blocks > exp {
		t.Errorf("the object takes %d bytes, its extents and fixed part %d", blocks, exp)
	}
	t.Logf("%d keys acknowledged over %d kills; %d grows, %d recoveries", acked, iterations, st.Grows, st.Recoveries)
	if st.Grows == 0 || acked == 0 {
		t.Error("no grow happened: the test proved nothing")
	}
}
