package kv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
)

// Cross-process tests re-execute the test binary in a child role, chosen by
// SHMKV_CHILD; the race detector cannot see across processes, so these are
// real processes sharing real memory.
func TestMain(m *testing.M) {
	if role := os.Getenv("SHMKV_RAW_CHILD"); role != "" {
		if err := rawChildren[role](strings.Fields(os.Getenv("SHMKV_ARGS"))); err != nil {
			fmt.Fprintf(os.Stderr, "child %s: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if role := os.Getenv("SHMKV_CHILD"); role != "" {
		if err := runChild(role, strings.Fields(os.Getenv("SHMKV_ARGS"))); err != nil {
			fmt.Fprintf(os.Stderr, "child %s: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var children = map[string]func(tb *Table, args []string) error{
	"add":         childAdd,
	"write-range": childWriteRange,
	"flip":        childFlip,
	"read-soak":   childReadSoak,
	"lock-die":    childLockAndDie,
}

// rawChildren are roles that open what they need themselves.
var rawChildren = map[string]func(args []string) error{}

func runChild(role string, args []string) error {
	fn, ok := children[role]
	if !ok {
		return fmt.Errorf("unknown role")
	}
	o := &Options{NoCreate: true}
	if n, err := strconv.ParseInt(os.Getenv("SHMKV_SPLIT_ABOVE"), 10, 64); err == nil {
		o.splitAbove = n // a splitting table's (split_test.go)
	}
	tb, err := Open(args[0], o)
	if err != nil {
		return err
	}
	defer tb.Close()
	return fn(tb, args[1:])
}

// childEnv is the environment that runs the test binary in role with args.
func childEnv(role string, args ...string) []string {
	return []string{"SHMKV_CHILD=" + role, "SHMKV_ARGS=" + strings.Join(args, " ")}
}

// startChild starts the test binary in role with args.
func startChild(t *testing.T, role string, args ...string) *testproc.Child {
	t.Helper()
	return testproc.Start(t, childEnv(role, args...)...)
}

// waitAll waits for every child to finish, reading what each printed.
func waitAll(t *testing.T, children []*testproc.Child) {
	t.Helper()
	for i, c := range children {
		c.Rest()
		if err := c.Wait(); err != nil {
			t.Errorf("child %d: %v", i, err)
		}
	}
}

// childAdd: args n keys: n times Add(counter-(i%keys), 1).
func childAdd(tb *Table, args []string) error {
	n, _ := strconv.Atoi(args[0])
	keys, _ := strconv.Atoi(args[1])
	for i := range n {
		if _, err := tb.Add(fmt.Appendf(nil, "counter-%d", i%keys), 1); err != nil {
			return err
		}
	}
	return nil
}

func TestProcessesAddExactly(t *testing.T) {
	t.Parallel()
	const procs, n, keys = 4, 20000, 3
	name := uniqueName(t)
	tb := openTable(t, name, small)
	var cmds []*testproc.Child
	for range procs {
		cmds = append(cmds, startChild(t, "add", name, strconv.Itoa(n), strconv.Itoa(keys)))
	}
	waitAll(t, cmds)
	total := int64(0)
	for k := range keys {
		v, _ := mustGet(t, tb, fmt.Sprint("counter-", k))
		got, _ := strconv.ParseInt(v, 10, 64)
		perProc := int64(n / keys)
		if k < n%keys {
			perProc++
		}
		want := procs * perProc
		if got != want {
			t.Errorf("counter-%d = %d, want %d", k, got, want)
		}
		total += got
	}
	if total != procs*n {
		t.Errorf("total %d, want %d", total, procs*n)
	}
	mustCheck(t, tb)
}

// childWriteRange: args id procs per: writes its range, signals, waits for
// everyone, then reads every range.
func childWriteRange(tb *Table, args []string) error {
	id, _ := strconv.Atoi(args[0])
	procs, _ := strconv.Atoi(args[1])
	per, _ := strconv.Atoi(args[2])
	for i := range per {
		if err := tb.Set(fmt.Appendf(nil, "p%d-%d", id, i), fmt.Appendf(nil, "value %d of %d", i, id)); err != nil {
			return err
		}
	}
	if _, err := tb.Add([]byte("done"), 1); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, _, err := tb.Get(nil, []byte("done"))
		if err != nil {
			return err
		}
		if string(v) == strconv.Itoa(procs) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("others never finished: done = %q", v)
		}
		time.Sleep(time.Millisecond)
	}
	var buf []byte
	for p := range procs {
		for i := range per {
			var ok bool
			var err error
			buf, ok, err = tb.Get(buf[:0], fmt.Appendf(nil, "p%d-%d", p, i))
			if err != nil || !ok || string(buf) != fmt.Sprintf("value %d of %d", i, p) {
				return fmt.Errorf("p%d-%d: %q, %v, %v", p, i, buf, ok, err)
			}
		}
	}
	return nil
}

func TestProcessesDisjointRanges(t *testing.T) {
	t.Parallel()
	const procs, per = 4, 2000
	name := uniqueName(t)
	tb := openTable(t, name, &Options{Keys: procs*per + 10, Memory: (procs*per + 10) * 40})
	var cmds []*testproc.Child
	for id := range procs {
		cmds = append(cmds, startChild(t, "write-range", name, strconv.Itoa(id), strconv.Itoa(procs), strconv.Itoa(per)))
	}
	waitAll(t, cmds)
	if tb.Len() != procs*per+1 {
		t.Errorf("Len = %d, want %d", tb.Len(), procs*per+1)
	}
	mustCheck(t, tb)
}

var (
	patternA = bytes.Repeat([]byte{'A'}, 1024)
	patternB = bytes.Repeat([]byte{'B'}, 1024)
)

// childFlip: args d [grow]: alternates "flip" between the two patterns
// for d, with other keys written between to keep the log moving; with
// grow, each of those is a new key, so that the shard grows while it is
// read, until the ceiling refuses new keys.
func childFlip(tb *Table, args []string) error {
	d, _ := time.ParseDuration(args[0])
	grow := len(args) > 1 && args[1] == "grow"
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		v := patternA
		if i%2 == 1 {
			v = patternB
		}
		if err := tb.Set([]byte("flip"), v); err != nil {
			return err
		}
		other, n := fmt.Appendf(nil, "noise-%d", i%50), i%1024
		if grow {
			// Small entries: the index grows, as well as the log.
			other, n = fmt.Appendf(nil, "grow-%d", i), i%16
		}
		err := tb.Set(other, v[:n])
		if grow && errors.Is(err, ErrFull) {
			grow, err = false, nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func init() { rawChildren["read-soak-unverified"] = childReadSoakUnverified }

// childReadSoakUnverified: args name d: childReadSoak on a handle that
// skips checksums, so that only the sequence counter and its fences keep
// its reads whole.
func childReadSoakUnverified(args []string) error {
	tb, err := Open(args[0], &Options{NoCreate: true, SkipReadChecksums: true})
	if err != nil {
		return err
	}
	defer tb.Close()
	return childReadSoak(tb, args[1:])
}

// childReadSoak: args d: reads "flip" for d; every value must be one
// pattern whole.
func childReadSoak(tb *Table, args []string) error {
	d, _ := time.ParseDuration(args[0])
	end := time.Now().Add(d)
	var buf []byte
	reads := 0
	for time.Now().Before(end) {
		var ok bool
		var err error
		buf, ok, err = tb.Get(buf[:0], []byte("flip"))
		if err != nil {
			return err
		}
		if !ok || !bytes.Equal(buf, patternA) && !bytes.Equal(buf, patternB) {
			return fmt.Errorf("torn read after %d reads: %q...", reads, buf[:min(len(buf), 64)])
		}
		reads++
	}
	if reads < 100 {
		return fmt.Errorf("only %d reads", reads)
	}
	return nil
}

// TestSeqlockSoak: one process flips a key between two patterns while
// others read it, from other processes and from goroutines of this one,
// each kind both verifying checksums and skipping them: no read may come
// back torn. In the growing table the shard also grows under the readers
// (each grow punches the extent they were reading).
func TestSeqlockSoak(t *testing.T) {
	t.Parallel()
	d := "2s"
	if testing.Short() {
		d = "500ms"
	}
	for _, tc := range []struct {
		name string
		o    *Options
		grow string
	}{
		{"presized", &Options{Keys: 100, Memory: 200 << 10, MaxValueSize: 2048}, ""},
		{"growing", &Options{MaxMemory: 16 << 20, MaxValueSize: 2048}, "grow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			name := uniqueName(t)
			tb := openTable(t, name, tc.o)
			unverified := openTable(t, name, &Options{NoCreate: true, SkipReadChecksums: true})
			mustSet(t, tb, "flip", string(patternA))
			cmds := []*testproc.Child{
				startChild(t, "flip", name, d, tc.grow),
				startChild(t, "read-soak", name, d),
				testproc.Start(t, "SHMKV_RAW_CHILD=read-soak-unverified", "SHMKV_ARGS="+name+" "+d),
			}
			var wg sync.WaitGroup
			errs := make(chan error, 2)
			for _, h := range []*Table{tb, unverified} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- childReadSoak(h, []string{d})
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			waitAll(t, cmds)
			var st Stats
			tb.Stats(&st)
			t.Logf("%d gets, %d read retries, %d grows", st.Gets, st.ReadRetries, st.Grows)
			if tc.grow != "" && st.Grows == 0 {
				t.Error("the shard never grew")
			}
			mustCheck(t, tb)
		})
	}
}

// childLockAndDie: args key: takes the lock of key's shard, writes the
// shard half way (sequence odd), reports on stdout and waits to be killed.
func childLockAndDie(tb *Table, args []string) error {
	s := tb.shardFor(format.HashKey(tb.g.Seed, []byte(args[0])))
	if err := tb.lockShard(s); err != nil {
		return err
	}
	s.beginWrite()
	fmt.Println("locked")
	time.Sleep(time.Hour)
	return nil
}

func TestDeadOwnerTakeover(t *testing.T) {
	for _, reap := range []bool{true, false} {
		t.Run(fmt.Sprintf("reaped=%v", reap), func(t *testing.T) {
			name := uniqueName(t)
			tb := openTable(t, name, small)
			mustSet(t, tb, "k", "before")
			child := startChild(t, "lock-die", name, "k")
			child.Expect(t, "locked")
			cmd := child.Cmd
			// While the owner lives, a writer times out and does not steal.
			short := openTable(t, name, &Options{LockTimeout: 100 * time.Millisecond})
			if err := short.Set([]byte("k"), []byte("stolen")); err != ErrLockTimeout {
				t.Fatalf("Set against a live owner = %v, want ErrLockTimeout", err)
			}
			syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
			if reap {
				cmd.Wait()
			} else {
				// A zombie until the test ends: its parent has not reaped it.
				t.Cleanup(func() { cmd.Wait() })
				waitZombie(t, cmd.Process.Pid)
			}
			start := time.Now()
			if err := tb.Set([]byte("k"), []byte("after")); err != nil {
				t.Fatalf("Set after the owner died: %v", err)
			}
			if waited := time.Since(start); waited > time.Second {
				t.Errorf("took over the dead owner's lock after %v, want under 1s", waited)
			}
			if v, _ := mustGet(t, tb, "k"); v != "after" {
				t.Fatalf("k = %q", v)
			}
			var st Stats
			tb.Stats(&st)
			if st.Recoveries == 0 {
				t.Error("no recovery counted")
			}
			mustCheck(t, tb)
		})
	}
}

// waitZombie waits until pid is a zombie: dead, not yet reaped.
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	for range 1000 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err == nil {
			if f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])); len(f) > 0 && f[0] == "Z" {
				return
			}
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("process %d never became a zombie", pid)
}
