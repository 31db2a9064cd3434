package kv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/host"
)

func init() { rawChildren["address-limited"] = childAddressLimited }

// issueLimit is the address-space limit a default table must open under:
// ulimit -v 4G, as issue 22 asks.
const issueLimit = 4 << 30

// childAddressLimited: args name case. Sets its own RLIMIT_AS, then opens
// the table name with nil options and prints one line:
//   - case "new": limit 4 GiB; the table is new. Prints "ok", the
//     table's ceiling, its mapping and the share of the address space it
//     may take, after a Set and a Get that must work.
//   - case "existing": limit 4 GiB; the table exists, with a mapping
//     larger than that. Prints whether the error matches ErrAddressSpace
//     and ENOMEM, then the error.
//   - case "explicit": limit 4 GiB; the table is new, opened with a
//     MaxMemory of 1 GiB, whose mapping passes that. Prints as "existing"
//     does.
//   - case "keys": as "new", the table opened with Keys 1,000,000 and
//     the default ceiling.
//   - case "tight": limit 128 KiB above what the process maps now, too
//     little for the smallest table. Prints as "existing" does.
func childAddressLimited(args []string) error {
	name, which := args[0], args[1]
	used := addressSpaceUsed()
	if used < 0 {
		return fmt.Errorf("no VmSize in /proc/self/status")
	}
	limit := uint64(issueLimit)
	if which == "tight" {
		limit = uint64(used) + 128<<10
	}
	lim := syscall.Rlimit{Cur: limit, Max: limit}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
		return err
	}
	var opts *Options
	if which == "explicit" {
		opts = &Options{MaxMemory: 1 << 30}
	}
	if which == "keys" {
		opts = &Options{Keys: 1_000_000}
	}
	tb, err := Open(name, opts)
	if which != "new" && which != "keys" {
		if err == nil {
			tb.Close()
			return fmt.Errorf("the open succeeded under a limit of %d bytes", limit)
		}
		fmt.Println(errors.Is(err, ErrAddressSpace), errors.Is(err, syscall.ENOMEM))
		fmt.Println(err)
		return nil
	}
	if err != nil {
		return err
	}
	defer tb.Close()
	if err := tb.Set([]byte("k"), []byte("v")); err != nil {
		return err
	}
	if v, ok, err := tb.Get(nil, []byte("k")); err != nil || !ok || string(v) != "v" {
		return fmt.Errorf("get: %q %v %v", v, ok, err)
	}
	fmt.Println("ok", tb.g.MaxMemory, tb.g.TotalSize, (int64(limit)-used)/addressSpaceShare)
	return nil
}

// TestDefaultTableUnderAddressLimit: under ulimit -v 4G a table opened
// with the default options is created with a ceiling whose mapping takes
// at most a quarter of the address space left, and is written and read.
// Before the default fitted the limit, mapping a default table (six times
// a quarter of /dev/shm) failed there wherever /dev/shm has more than
// about 2.7 GiB, as on this test's machine it did (see the log).
func TestDefaultTableUnderAddressLimit(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory alone passes a 4 GiB address-space limit")
	}
	t.Logf("/dev/shm is %d bytes; the default ceiling without a limit is %d, a mapping of about %d", host.ShmSize(), defaultMaxMemory(), spanFactor*defaultMaxMemory())
	name, maxMemory, total, share := openUnderAddressLimit(t, "new")
	if maxMemory < minMaxMemory || maxMemory > defaultMaxMemory() {
		t.Errorf("ceiling %d, want %d to %d", maxMemory, minMaxMemory, defaultMaxMemory())
	}
	// The fit is not needlessly small: the mapping is within a page per
	// shard and a sixth of the share of the share itself.
	if total < share-share/spanFactor-int64(maxAutoShards)*format.PageSize && maxMemory < defaultMaxMemory() {
		t.Errorf("the table maps %d bytes, far below the share %d", total, share)
	}
	// Without a limit the same default options keep the default.
	tb, err := Open(name, &Options{NoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	if v, ok, _ := tb.Get(nil, []byte("k")); !ok || string(v) != "v" {
		t.Errorf("the child's entry reads %q, %v", v, ok)
	}
}

// TestExistingTableOverAddressLimit: opening a table whose mapping passes
// the process's address-space limit (created where there was none, with a
// larger ceiling) fails with ErrAddressSpace, whose message names the
// table, the bytes it needs, the limit and what to do; no panic.
func TestExistingTableOverAddressLimit(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory alone passes a 4 GiB address-space limit")
	}
	name := uniqueName(t)
	tb, err := Open(name, &Options{MaxMemory: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	total := tb.g.TotalSize
	tb.Close()
	if total <= issueLimit {
		t.Fatalf("the table maps only %d bytes", total)
	}
	msg := limitedOpenError(t, name, "existing")
	for _, want := range []string{
		"shmkv: open /" + name + ": not enough address space to map the table",
		"mmap /" + name + ": cannot allocate memory",
		fmt.Sprintf("mapping it takes %d bytes", total),
		fmt.Sprintf("(RLIMIT_AS, ulimit -v) is %d bytes", int64(issueLimit)),
		"raise ulimit -v", "Options.MaxMemory", "--max-memory",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q: %s", want, msg)
		}
	}
}

// TestExplicitCeilingOverAddressLimit: a MaxMemory that was asked for is
// not lowered to fit the address-space limit: the create fails with
// ErrAddressSpace, naming the table, the ceiling and the limit.
func TestExplicitCeilingOverAddressLimit(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory alone passes a 4 GiB address-space limit")
	}
	name := uniqueName(t)
	msg := limitedOpenError(t, name, "explicit")
	for _, want := range []string{
		"shmkv: create /" + name + ": not enough address space to map the table (mmap (the new, still unnamed object): cannot allocate memory)",
		"(for a maximum memory of 1073741824 bytes)",
		fmt.Sprintf("(RLIMIT_AS, ulimit -v) is %d bytes", int64(issueLimit)),
		"raise ulimit -v", "Options.MaxMemory", "--max-memory",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q: %s", want, msg)
		}
	}
	if left := shmEntries(t, name, lockObjectName(name)); len(left) != 0 {
		t.Errorf("the failed create left %v", left)
	}
}

// TestNoTableFitsAddressLimit: under a limit that leaves too little for
// even the smallest table, a default create fails with ErrAddressSpace
// before it maps anything (so the error matches no ENOMEM), naming the
// table and the limit.
func TestNoTableFitsAddressLimit(t *testing.T) {
	name := uniqueName(t)
	msg := limitedOpenError(t, name, "tight")
	for _, want := range []string{
		"shmkv: create /" + name + ": not enough address space to map the table: mapping it takes ",
		fmt.Sprintf("(for a maximum memory of %d bytes)", minMaxMemory),
		"(RLIMIT_AS, ulimit -v) is ", "no smaller table maps less: raise ulimit -v",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q: %s", want, msg)
		}
	}
	if left := shmEntries(t, name, lockObjectName(name)); len(left) != 0 {
		t.Errorf("the failed create left %v", left)
	}
}

// limitedOpenError runs the address-limited child for an open that must
// fail, checks that the error matches ErrAddressSpace (and ENOMEM when a
// mapping was tried), and returns its message.
func limitedOpenError(t *testing.T, name, which string) string {
	t.Helper()
	ch := testproc.Start(t, "SHMKV_RAW_CHILD=address-limited", "SHMKV_ARGS="+name+" "+which)
	is, _ := ch.Line()
	msg, _ := ch.Line()
	if err := ch.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	t.Logf("the child's error: %s", msg)
	want := "true true"
	if which == "tight" {
		want = "true false"
	}
	if is != want {
		t.Errorf("the error matches ErrAddressSpace, ENOMEM: %s, want %s", is, want)
	}
	return msg
}

// TestKeysTableUnderAddressLimit: under ulimit -v 4G, a table opened with
// Keys 1,000,000 and the default ceiling opens, as a default table does
// (TestDefaultTableUnderAddressLimit), with a mapping within its share.
func TestKeysTableUnderAddressLimit(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory alone passes a 4 GiB address-space limit")
	}
	openUnderAddressLimit(t, "keys")
}

// openUnderAddressLimit runs the address-limited child's case which on a
// new table, which must open, and returns the table's name, the ceiling it
// was given, the bytes its mapping takes and the share of the address
// space it may take; it fails the test if the mapping takes more than the
// share.
func openUnderAddressLimit(t *testing.T, which string) (name string, maxMemory, total, share int64) {
	t.Helper()
	name = uniqueName(t)
	ch := testproc.Start(t, "SHMKV_RAW_CHILD=address-limited", "SHMKV_ARGS="+name+" "+which)
	line, _ := ch.Line()
	err := ch.Wait()
	t.Logf("the child: %s", line)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "ok" {
		t.Fatalf("the child said %q", line)
	}
	maxMemory, _ = strconv.ParseInt(f[1], 10, 64)
	total, _ = strconv.ParseInt(f[2], 10, 64)
	share, _ = strconv.ParseInt(f[3], 10, 64)
	if total > share {
		t.Errorf("the table maps %d bytes, more than the share %d", total, share)
	}
	return name, maxMemory, total, share
}
