package kv

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
)

func init() {
	children["lock-flag-die"] = childLockFlagAndDie
	rawChildren["read-as-other"] = childReadAsOther
}

// childLockFlagAndDie: args key. Takes key's shard lock and starts a
// rebuild (the index cleared, the flag set), then waits to be killed.
func childLockFlagAndDie(tb *Table, args []string) error {
	s := tb.shardFor(format.HashKey(tb.g.Seed, []byte(args[0])))
	if err := tb.lockShard(s); err != nil {
		return err
	}
	s.beginWrite()
	s.ctlStore(format.CtlFlags, format.FlagRebuild)
	v, ok := s.view()
	if !ok {
		return fmt.Errorf("no extent")
	}
	for i := range v.mask + 1 {
		v.setSlot(i, format.SlotEmpty)
	}
	fmt.Println("locked")
	time.Sleep(time.Hour)
	return nil
}

// childReadAsOther: args name key. Opens the table read-only as whoever it
// runs as, reads key, and prints the value (or the error) and how long the
// read took in milliseconds.
func childReadAsOther(args []string) error {
	tb, err := Open(args[0], &Options{ReadOnly: true, AllowShared: true})
	if err != nil {
		return err
	}
	defer tb.Close()
	if tb.lockObj != nil {
		return fmt.Errorf("a user who may not write the table opened its lock object")
	}
	start := time.Now()
	v, ok, err := tb.Get(nil, []byte(args[1]))
	fmt.Printf("%q %v %v %d\n", v, ok, err, time.Since(start).Milliseconds())
	return nil
}

// TestReadOnlyBesideDeadWriter: a writer dies holding a shard mid-write.
// Before, a read-only handle stalled for LockTimeout (10 s) and got
// ErrLockTimeout, and a read-only Check failed. Now it reads the value
// within the liveness bound, and Check reports the dead writer as a
// problem.
func TestReadOnlyBesideDeadWriter(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, small)
	mustSet(t, tb, "k", "before")
	mustSet(t, tb, "other", "still here")
	dead := testproc.Start(t, "SHMKV_CHILD=lock-die", "SHMKV_ARGS="+name+" k")
	dead.Expect(t, "locked")
	dead.Kill()

	ro := openTable(t, name, &Options{ReadOnly: true})
	for k, want := range map[string]string{"k": "before", "other": "still here"} {
		start := time.Now()
		got, ok, err := ro.Get(nil, []byte(k))
		if err != nil || !ok || string(got) != want {
			t.Fatalf("read-only Get(%q) beside a dead writer = %q, %v, %v", k, got, ok, err)
		}
		if d := time.Since(start); d > livenessBound {
			t.Errorf("read-only Get(%q) took %v", k, d)
		}
	}
	seen := 0
	if err := ro.Range(func(k, v []byte) bool { seen++; return true }); err != nil || seen != 2 {
		t.Errorf("read-only Range beside a dead writer: %d keys, %v", seen, err)
	}
	rep, err := ro.Check()
	if err != nil {
		t.Fatalf("read-only Check: %v", err)
	}
	found := false
	for _, p := range rep.Problems {
		found = found || strings.Contains(p.What, "died")
	}
	if !found {
		t.Errorf("read-only Check did not report the dead writer: %v", rep.Problems)
	}
	// The next writer recovers the shard; then everyone reads it as usual.
	mustSet(t, tb, "k", "after")
	if got, _ := mustGet(t, ro, "k"); got != "after" {
		t.Errorf("k = %q", got)
	}
	mustCheck(t, ro)
}

// TestReadOnlyBesideDeadRebuild: a writer dies in the middle of rebuilding
// a shard's index, which a read cannot get around. A read-only handle
// waits livenessBound for a read-write user to recover it, then says
// ErrOwnerDead instead of timing out after LockTimeout; while the shard
// stays so, it says so at once. A read-write handle recovers it.
func TestReadOnlyBesideDeadRebuild(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, small)
	mustSet(t, tb, "k", "v")
	dead := testproc.Start(t, "SHMKV_CHILD=lock-flag-die", "SHMKV_ARGS="+name+" k")
	dead.Expect(t, "locked")
	dead.Kill()
	ro := openTable(t, name, &Options{ReadOnly: true})
	for i := range 3 {
		start := time.Now()
		if _, _, err := ro.Get(nil, []byte("k")); !errors.Is(err, ErrOwnerDead) {
			t.Fatalf("read-only Get = %v, want ErrOwnerDead", err)
		}
		if d := time.Since(start); d > livenessBound+500*time.Millisecond || i > 0 && d > 100*time.Millisecond {
			t.Errorf("read %d took %v", i, d)
		}
	}
	if got, _ := mustGet(t, tb, "k"); got != "v" {
		t.Fatalf("read-write Get after recovery = %q", got)
	}
	if got, _ := mustGet(t, ro, "k"); got != "v" {
		t.Fatalf("read-only Get after recovery = %q", got)
	}
}

// TestOtherUserBesideStoppedWriter: a user who may only read the table
// cannot ask whether a writer lives (it may not open the lock object).
// Beside a writer stopped with SIGSTOP in the middle of a write it still
// answers, by reading around it once the liveness bound has passed.
func TestOtherUserBesideStoppedWriter(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, &Options{Keys: 1000, Memory: 1 << 20, Mode: 0o644})
	mustSet(t, tb, "k", "before")
	writer := testproc.Start(t, "SHMKV_CHILD=lock-die", "SHMKV_ARGS="+name+" k")
	writer.Expect(t, "locked")
	writer.Cmd.Process.Signal(syscall.SIGSTOP)
	defer writer.Kill()
	reader := testproc.StartAs(t, 65534, "SHMKV_RAW_CHILD=read-as-other", "SHMKV_ARGS="+name+" k")
	line, err := reader.Line()
	if err != nil {
		t.Fatal(err)
	}
	var got string
	var ok bool
	var rerr string
	var ms int64
	if _, err := fmt.Sscanf(line, "%q %v %s %d", &got, &ok, &rerr, &ms); err != nil {
		t.Fatalf("reader said %q: %v", line, err)
	}
	if got != "before" || !ok || rerr != "<nil>" {
		t.Fatalf("reader beside a stopped writer: %s", line)
	}
	if ms > 2*livenessBound.Milliseconds() {
		t.Errorf("the read took %d ms", ms)
	}
	t.Logf("read in %d ms", ms)
}
