package kv

import (
	"bytes"
	"errors"
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
	"github.com/shmkv/shmkv/kv/internal/format"
)

func init() { rawChildren["shared-writer"] = childSharedWriter }

// childSharedWriter: args name role args…: runs the child role on the
// table name, opened read-write as whoever it runs as, which need not own
// it.
func childSharedWriter(args []string) error {
	tb, err := Open(args[0], &Options{NoCreate: true, AllowShared: true})
	if err != nil {
		return err
	}
	defer tb.Close()
	return children[args[1]](tb, args[2:])
}

// stoppedWriter starts a writer that takes key's shard lock and begins a
// write (the counter odd), as role (lock-die, or lock-flag-die, which also
// flags the shard and empties its index), as uid if it is not 0, and
// stops it there with SIGSTOP. It is killed when the test ends.
func stoppedWriter(t *testing.T, name, key, role string, uid int) *testproc.Child {
	t.Helper()
	var w *testproc.Child
	if uid != 0 {
		w = testproc.StartAs(t, uid, "SHMKV_RAW_CHILD=shared-writer", "SHMKV_ARGS="+name+" "+role+" "+key)
	} else {
		w = testproc.Start(t, "SHMKV_CHILD="+role, "SHMKV_ARGS="+name+" "+key)
	}
	w.Expect(t, "locked")
	if err := w.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, w.Cmd.Process.Pid)
	t.Cleanup(w.Kill) // SIGKILL ends a stopped process too
	return w
}

// waitStopped waits until process pid is in the stopped state.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	for range 1000 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err == nil {
			if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && f[0] == "T" {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("process %d never stopped", pid)
}

// stallKeys sets n keys of other shards than that of "k", and "k" and
// four more keys of its shard, and returns them all with their values,
// and those of k's shard.
func stallKeys(t *testing.T, tb *Table, n int) (want map[string]string, same []string) {
	t.Helper()
	want = map[string]string{}
	home := tb.shardFor(format.HashKey(tb.g.Seed, []byte("k")))
	others := 0
	for i := 0; others < n || len(same) < 4; i++ {
		k, v := fmt.Sprint("k", i), fmt.Sprint("value of k", i)
		if tb.shardFor(format.HashKey(tb.g.Seed, []byte(k))) == home {
			if len(same) == 4 {
				continue
			}
			same = append(same, k)
		} else {
			if others == n {
				continue
			}
			others++
		}
		mustSet(t, tb, k, v)
		want[k] = v
	}
	mustSet(t, tb, "k", "before")
	want["k"] = "before"
	same = append(same, "k")
	return want, same
}

// TestReadersBesideStoppedWriter: a writer stopped with SIGSTOP inside a
// write section, holding its shard's lock with the counter odd. Before, a
// read-write Get waited LockTimeout and failed with ErrLockTimeout, and a
// read-only Get took livenessBound on every call. Now every kind of read,
// on both kinds of handle, reads around it within milliseconds: Get and
// GetVersion of keys in its shard and others, Range and Check; a write to
// its shard still waits LockTimeout and fails. The writer runs as this
// user, and as another on a table anyone may write.
func TestReadersBesideStoppedWriter(t *testing.T) {
	for _, uid := range []int{0, 65534} {
		t.Run(fmt.Sprint("writer-uid=", uid), func(t *testing.T) {
			name := uniqueName(t)
			tb := openTable(t, name, &Options{Keys: 1000, Memory: 1 << 20, Mode: 0o666})
			want, same := stallKeys(t, tb, 100)
			versions := map[string]uint64{}
			for k := range want {
				_, versions[k], _ = tb.GetVersion(nil, []byte(k))
			}
			stoppedWriter(t, name, "k", "lock-die", uid)

			const lockTimeout = 300 * time.Millisecond
			rw := openTable(t, name, &Options{NoCreate: true, LockTimeout: lockTimeout})
			ro := openTable(t, name, &Options{ReadOnly: true})
			for _, h := range []struct {
				name string
				tb   *Table
			}{{"read-write", rw}, {"read-only", ro}} {
				// Every call within a liveness bound, with a wide margin:
				// the first judges the writer stuck, the rest remember.
				const calls = 100
				start, slow := time.Now(), 0
				var keys []string
				for k := range want {
					keys = append(keys, k)
				}
				for i := range calls {
					k := same[i%len(same)]
					if i%2 == 1 {
						k = keys[i%len(keys)]
					}
					one := time.Now()
					got, ok, err := h.tb.Get(nil, []byte(k))
					if time.Since(one) >= stuckAfter {
						slow++
					}
					if err != nil || !ok || string(got) != want[k] {
						t.Fatalf("%s Get(%q) beside a stopped writer = %q, %v, %v", h.name, k, got, ok, err)
					}
					v, version, err := h.tb.GetVersion(nil, []byte(k))
					if err != nil || string(v) != want[k] || version != versions[k] {
						t.Fatalf("%s GetVersion(%q) = %q, %#x, %v; want version %#x", h.name, k, v, version, err, versions[k])
					}
				}
				if avg := time.Since(start) / calls; avg > 20*time.Millisecond {
					t.Errorf("%s: Get and GetVersion took %v a pair on average", h.name, avg)
				}
				// Half the Gets are of the stopped writer's shard; only the
				// first must judge it stuck (and a few be unlucky with the
				// scheduler).
				if slow > 10 {
					t.Errorf("%s: %d of %d Gets took stuckAfter or longer", h.name, slow, calls)
				}
				// Range and Check, a few times, within the same bound.
				const whole = 5
				start = time.Now()
				for range whole {
					seen := map[string]string{}
					if err := h.tb.Range(func(k, v []byte) bool { seen[string(k)] = string(v); return true }); err != nil {
						t.Fatalf("%s Range: %v", h.name, err)
					}
					if len(seen) != len(want) {
						t.Errorf("%s Range saw %d keys, want %d", h.name, len(seen), len(want))
					}
					for k, v := range want {
						if seen[k] != v {
							t.Errorf("%s Range: %q = %q, want %q", h.name, k, seen[k], v)
						}
					}
					rep, err := h.tb.Check()
					if err != nil || len(rep.Problems) != 0 || rep.Entries != len(want) {
						t.Fatalf("%s Check beside a stopped writer: %v, %v", h.name, rep, err)
					}
				}
				if avg := time.Since(start) / whole; avg > 200*time.Millisecond {
					t.Errorf("%s: Range and Check took %v a pair on average", h.name, avg)
				}
			}

			// Writers still wait for the lock, bounded, and never steal it.
			start := time.Now()
			if err := rw.Set([]byte("k"), []byte("stolen")); !errors.Is(err, ErrLockTimeout) {
				t.Fatalf("Set to the stopped writer's shard = %v, want ErrLockTimeout", err)
			}
			if d := time.Since(start); d < lockTimeout {
				t.Errorf("Set gave up after %v, before LockTimeout", d)
			}
			other := ""
			for k := range want {
				if tb.shardFor(format.HashKey(tb.g.Seed, []byte(k))) != tb.shardFor(format.HashKey(tb.g.Seed, []byte("k"))) {
					other = k
					break
				}
			}
			mustSet(t, rw, other, "changed")
			if got, _ := mustGet(t, ro, other); got != "changed" {
				t.Errorf("%s = %q after a Set beside the stopped writer", other, got)
			}
			if got, _ := mustGet(t, ro, "k"); got != "before" {
				t.Errorf("k = %q", got)
			}
		})
	}
}

// TestReadersBesideStoppedRebuild: a writer stopped in the middle of a
// rebuild (the shard flagged, its index empty) leaves nothing to read
// around. A read waits for it at most livenessBound, and gives up with
// ErrLockTimeout; while nothing changes, the next read gives up at once.
// Keys of other shards read as usual.
func TestReadersBesideStoppedRebuild(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, &Options{Keys: 1000, Memory: 1 << 20})
	want, same := stallKeys(t, tb, 100)
	stoppedWriter(t, name, "k", "lock-flag-die", 0)
	ro := openTable(t, name, &Options{ReadOnly: true})
	for _, h := range []*Table{tb, ro} {
		for i := range 3 {
			start := time.Now()
			_, _, err := h.Get(nil, []byte(same[i]))
			d := time.Since(start)
			if !errors.Is(err, ErrLockTimeout) {
				t.Fatalf("Get beside a stopped rebuild = %v, want ErrLockTimeout", err)
			}
			if d > livenessBound+500*time.Millisecond || i > 0 && d > 100*time.Millisecond {
				t.Errorf("read %d gave up after %v", i, d)
			}
		}
		for k, v := range want {
			if h.shardFor(format.HashKey(h.g.Seed, []byte(k))) == h.shardFor(format.HashKey(h.g.Seed, []byte("k"))) {
				continue
			}
			if got, _ := mustGet(t, h, k); got != v {
				t.Fatalf("%s = %q, want %q", k, got, v)
			}
		}
	}
}

// TestStalledWriterDiesThenReadWriteReadRecovers: a read-write handle
// remembers a writer stopped mid-rebuild as stalled and answers
// ErrLockTimeout; once that writer is killed, with its lock word and
// counter as they were, the handle's next read takes the dead writer's
// lock over, recovers the shard and reads the key, instead of answering
// ErrOwnerDead from the remembered stall for good.
func TestStalledWriterDiesThenReadWriteReadRecovers(t *testing.T) {
	t.Parallel()
	name := uniqueName(t)
	tb := openTable(t, name, &Options{Keys: 1000, Memory: 1 << 20})
	want, same := stallKeys(t, tb, 100)
	w := stoppedWriter(t, name, "k", "lock-flag-die", 0)
	if _, _, err := tb.Get(nil, []byte(same[0])); !errors.Is(err, ErrLockTimeout) {
		t.Fatalf("Get beside a stopped rebuild = %v, want ErrLockTimeout", err)
	}
	w.Kill()
	for _, k := range same {
		if got, _ := mustGet(t, tb, k); got != want[k] {
			t.Fatalf("%s = %q after the stalled writer died, want %q", k, got, want[k])
		}
	}
	ro := openTable(t, name, &Options{ReadOnly: true})
	if got, _ := mustGet(t, ro, same[0]); got != want[same[0]] {
		t.Fatalf("read-only %s = %q, want %q", same[0], got, want[same[0]])
	}
}

// TestStalledWriterDiesThenCheckRecovers is the same for Check: a
// read-write handle's Check beside a writer stopped mid-rebuild remembers
// the stall; once the writer is killed, the next Check takes its lock
// over, recovers the shard and finds it clean, instead of reporting the
// dead writer's half-rebuilt index as damage.
func TestStalledWriterDiesThenCheckRecovers(t *testing.T) {
	t.Parallel()
	name := uniqueName(t)
	tb := openTable(t, name, &Options{Keys: 1000, Memory: 1 << 20})
	want, _ := stallKeys(t, tb, 100)
	w := stoppedWriter(t, name, "k", "lock-flag-die", 0)
	tb.Check() // beside the stopped writer: whatever it says, it remembers the stall
	w.Kill()
	rep, err := tb.Check()
	if err != nil {
		t.Fatalf("Check after the stalled writer died: %v", err)
	}
	if len(rep.Problems) > 0 {
		t.Fatalf("Check after the stalled writer died: %d problems, first %v", len(rep.Problems), rep.Problems[0])
	}
	if rep.Entries < len(want) {
		t.Fatalf("Check after the stalled writer died counts %d entries, want at least %d", rep.Entries, len(want))
	}
}

func init() { rawChildren["ro-cache-reader"] = childROCacheReader }

// childROCacheReader: args name. Opens the table read-only and reads the
// keys of cache-victim, checking each value found, until its stdin
// closes; then prints how many reads it made, how many failed with
// ErrOwnerDead, and the first other error or wrong value, if any.
func childROCacheReader(args []string) error {
	tb, err := Open(args[0], &Options{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tb.Close()
	stop := make(chan struct{})
	go func() {
		io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	fmt.Println("reading")
	var buf []byte
	reads, ownerDead, other := 0, 0, "none"
	for k := 0; ; k = (k + 1) % cacheVictimKeys {
		if k == 0 {
			select {
			case <-stop:
				fmt.Printf("%d %d %q\n", reads, ownerDead, other)
				return nil
			default:
			}
		}
		var ok bool
		buf, ok, err = tb.Get(buf[:0], fmt.Appendf(nil, "c%d", k))
		reads++
		switch {
		case errors.Is(err, ErrOwnerDead):
			ownerDead++
		case err != nil && other == "none":
			other = fmt.Sprintf("c%d: %v", k, err)
		case ok && !strings.HasPrefix(string(buf), fmt.Sprint(k, ":")) && other == "none":
			other = fmt.Sprintf("c%d = %q", k, buf)
		}
	}
}

// TestReadOnlyReaderThroughKills: a read-only process reads while writers
// are killed mid-write over and over, on a small evicting table and on a
// growing one. Before, some of its reads (up to one in twenty on the
// small table) failed with ErrOwnerDead: a read that found the dead
// writer's lock word named it dead, and failed when its read around met
// the index of a live writer that had taken over and was rebuilding it,
// or met a key the dead writer had retired without clearing its slot.
// Now a read around retries while the lock changes hands, and steps over
// a retired key; ErrOwnerDead is left to a writer dead mid-rebuild with no
// one to recover its shard, which here the parent always does at once.
func TestReadOnlyReaderThroughKills(t *testing.T) {
	t.Parallel()
	iterations := 40
	if testing.Short() {
		iterations = 15
	}
	for _, tc := range []struct {
		name string
		o    *Options
	}{
		{"small-evicting", &Options{MaxMemory: 256 << 10, MaxKeySize: 16, MaxValueSize: 64, Eviction: EvictS3FIFO}},
		{"growing", &Options{MaxMemory: 64 << 20, MaxKeySize: 16, MaxValueSize: 64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st Stats
			name := uniqueName(t)
			tb := openTable(t, name, tc.o)
			seed := testproc.Seed(t, *killSeed, "kv.kills.seed")
			rng := rand.New(rand.NewPCG(seed, 7))
			reader := testproc.Start(t, "SHMKV_RAW_CHILD=ro-cache-reader", "SHMKV_ARGS="+name)
			reader.Expect(t, "reading")
			for it := 0; it < iterations || st.Recoveries < 3 && it < 10*iterations; it++ {
				var victims []*testproc.Child
				for range 2 {
					v := startChild(t, "cache-victim", name, strconv.Itoa(it))
					if _, err := v.Line(); err != nil {
						t.Fatalf("iteration %d: the victim never started: %v", it, err)
					}
					victims = append(victims, v)
				}
				time.Sleep(time.Duration(rng.IntN(20000)) * time.Microsecond)
				for _, v := range victims {
					v.Cmd.Process.Signal(syscall.SIGKILL)
				}
				for _, v := range victims {
					v.Rest()
					v.Wait()
				}
				// Recover every shard a victim died in.
				if rep := mustCheck(t, tb); len(rep.Problems) > 0 {
					t.Fatalf("iteration %d: Check found problems", it)
				}
				tb.Stats(&st)
			}
			reader.Stdin.Close()
			line, err := reader.Line()
			if err != nil {
				t.Fatal(err)
			}
			if err := reader.Wait(); err != nil {
				t.Fatalf("reader: %v", err)
			}
			var reads, ownerDead int
			var other string
			if _, err := fmt.Sscanf(line, "%d %d %q", &reads, &ownerDead, &other); err != nil {
				t.Fatalf("reader said %q: %v", line, err)
			}
			t.Logf("%d reads, %d ErrOwnerDead; %d evictions, %d grows, %d recoveries", reads, ownerDead, st.Evictions, st.Grows, st.Recoveries)
			if ownerDead != 0 || other != "none" {
				t.Errorf("the read-only reader got ErrOwnerDead %d times in %d reads; other failure: %s", ownerDead, reads, other)
			}
			if st.Recoveries == 0 || reads < 1000 {
				t.Error("no victim died mid-write, or the reader hardly read: the test proved nothing")
			}
			if tc.o.Eviction == EvictS3FIFO && st.Evictions == 0 || tc.o.Eviction != EvictS3FIFO && st.Grows == 0 {
				t.Error("the table never evicted, or never grew")
			}
		})
	}
}

// TestReadOnlyReadWaitsOutRecovery: a read-only read of a shard whose
// writer died mid-rebuild, while a read-write user takes the dead
// writer's lock over and recovers the shard, returns the value. Before,
// it failed with ErrOwnerDead at once, recovery or not.
func TestReadOnlyReadWaitsOutRecovery(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, small)
	mustSet(t, tb, "k", "v")
	dead := testproc.Start(t, "SHMKV_CHILD=lock-flag-die", "SHMKV_ARGS="+name+" k")
	dead.Expect(t, "locked")
	dead.Kill()
	ro := openTable(t, name, &Options{ReadOnly: true})
	type result struct {
		v   string
		ok  bool
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, ok, err := ro.Get(nil, []byte("k"))
		done <- result{string(v), ok, err}
	}()
	time.Sleep(50 * time.Millisecond)
	if got, _ := mustGet(t, tb, "k"); got != "v" {
		t.Fatalf("read-write Get, which recovers the shard = %q", got)
	}
	if r := <-done; r.err != nil || !r.ok || r.v != "v" {
		t.Fatalf("read-only Get beside the recovery = %q, %v, %v", r.v, r.ok, r.err)
	}
}
