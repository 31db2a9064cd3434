package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/shm"
)

func TestLoadIntoExisting(t *testing.T) {
	var dump bytes.Buffer
	d := newDumpWriter(&dump)
	for i := range 20000 {
		d.record(fmt.Appendf(nil, "key-%d", i), fmt.Appendf(nil, "value-%d", i))
	}
	if err := d.close(); err != nil {
		t.Fatal(err)
	}
	name := tableName(t)
	mustRun(t, 0, nil, "set", name, "keep", "me")
	mustRun(t, 0, nil, "set", name, "key-5", "old")
	r := mustRun(t, 0, bytes.NewReader(dump.Bytes()), "load", name)
	// Not a terminal: no progress line.
	if r.stderr != "" {
		t.Errorf("stderr %q", r.stderr)
	}
	if r := mustRun(t, 0, nil, "get", name, "key-5"); r.stdout != "value-5" {
		t.Errorf("key-5 = %q", r.stdout)
	}
	if r := mustRun(t, 0, nil, "get", name, "keep"); r.stdout != "me" {
		t.Errorf("keep = %q", r.stdout)
	}
	r = mustRun(t, 0, nil, "keys", name, "--prefix", "key-")
	if n := strings.Count(r.stdout, "\n"); n != 20000 {
		t.Errorf("%d keys loaded", n)
	}
}

// dumpFile writes a dump of n entries, each with a value of size bytes
// (at least 1), to a file that goes when the test ends.
func dumpFile(t *testing.T, n, size int) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "t.dump")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	d := newDumpWriter(f)
	for i := range n {
		v := bytes.Repeat([]byte{byte('a' + i%26)}, size)
		d.record(fmt.Appendf(nil, "key-%08d", i), v)
	}
	if err := d.close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return file
}

// stats reads the table's statistics.
func stats(t *testing.T, name string) kv.Stats {
	t.Helper()
	tb := openWriter(t, name)
	var st kv.Stats
	tb.Stats(&st)
	return st
}

// TestLoadPresizes: a new table is created for the dump's count and bytes,
// and so does not grow while it is loaded (200k keys grew 1,892 times).
func TestLoadPresizes(t *testing.T) {
	file := dumpFile(t, 100000, 20)
	name := tableName(t)
	mustRun(t, 0, nil, "load", name, file)
	st := stats(t, name)
	if st.Entries != 100000 || st.Grows != 0 {
		t.Errorf("loaded %d entries with %d grows, want 100000 and 0", st.Entries, st.Grows)
	}
}

// TestLoadLargeValues: a dump whose values a default table refuses loads
// into a new table with limits that take them.
func TestLoadLargeValues(t *testing.T) {
	src := tableName(t)
	mustRun(t, 0, nil, "create", src, "--max-value", "4MiB", "--max-key", "4KiB")
	tb := openWriter(t, src)
	if err := tb.Set(bytes.Repeat([]byte("k"), 3000), bytes.Repeat([]byte("v"), 3<<20)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "d")
	mustRun(t, 0, nil, "dump", src, file)
	dst := tableName(t)
	mustRun(t, 0, nil, "load", dst, file)
	if got := entries(t, dst); len(got) != 1 {
		t.Fatalf("%d entries loaded", len(got))
	}
}

// gone requires that neither the table name nor its lock object exists.
func gone(t *testing.T, name string) {
	t.Helper()
	lock, err := kv.LockObjectName(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range []string{name, lock} {
		if _, err := os.Lstat(shmPath(obj)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is in %s: %v", obj, shm.Dir, err)
		}
	}
}

// TestLoadNewTableFillsRemoved: a load into a new table that fills (here:
// created without the dump's sizes, under a low ceiling) removes the table
// and its lock object, so that the name is not left half loaded, and the
// load it advises then works.
func TestLoadNewTableFillsRemoved(t *testing.T) {
	file := dumpFile(t, 3000, 100)
	name := tableName(t)
	loadPresize = false
	r := mustRun(t, 2, nil, "load", name, file, "--max-memory", "64KiB")
	loadPresize = true
	if !strings.Contains(r.stderr, "table full") || !strings.Contains(r.stderr, "nothing was loaded") {
		t.Errorf("stderr %q", r.stderr)
	}
	gone(t, name)
	cmds := advised(t, r.stderr)
	if len(cmds) != 1 {
		t.Fatalf("advice %q", r.stderr)
	}
	runAdvised(t, cmds[0])
	if got := entries(t, name); len(got) != 3000 {
		t.Fatalf("the advised load stored %d entries", len(got))
	}
}

// TestLoadTooLargeForCeiling: a dump that cannot fit the new table's
// ceiling is refused before anything is made, and the advised load works.
func TestLoadTooLargeForCeiling(t *testing.T) {
	file := dumpFile(t, 3000, 100)
	name := tableName(t)
	r := mustRun(t, 2, nil, "load", name, file, "--max-memory", "64KiB")
	gone(t, name)
	cmds := advised(t, r.stderr)
	if len(cmds) != 1 || !strings.Contains(r.stderr, "nothing was loaded") {
		t.Fatalf("advice %q", r.stderr)
	}
	runAdvised(t, cmds[0])
	if got := entries(t, name); len(got) != 3000 {
		t.Fatalf("the advised load stored %d entries", len(got))
	}
	// --max-memory is a new table's: an existing one's must match.
	r = mustRun(t, 2, nil, "load", name, file, "--max-memory", "64KiB")
	if !strings.Contains(r.stderr, "--max-memory 64KiB, the table has") {
		t.Errorf("stderr %q", r.stderr)
	}
}

// TestLoadIntoExistingFull: an existing table keeps what was stored before
// it filled, and the message says so.
func TestLoadIntoExistingFull(t *testing.T) {
	file := dumpFile(t, 3000, 100)
	name := tableName(t)
	mustRun(t, 0, nil, "create", name, "--max-memory", "64KiB")
	r := mustRun(t, 2, nil, "load", name, file)
	if !strings.Contains(r.stderr, "which the table keeps") {
		t.Errorf("stderr %q", r.stderr)
	}
	if n := len(entries(t, name)); n == 0 || n == 3000 {
		t.Errorf("%d entries kept", n)
	}
}

// steppingClock makes progressClock advance step at each reading.
func steppingClock(t *testing.T, step time.Duration) {
	now := time.Unix(1e9, 0)
	progressClock = func() time.Time { now = now.Add(step); return now }
	t.Cleanup(func() { progressClock = time.Now })
}

// TestLoadProgress: --progress says, while reading and while loading,
// how far, how fast and how long is left, a line at a time when standard
// error is no terminal; without it such a stderr gets nothing.
func TestLoadProgress(t *testing.T) {
	file := dumpFile(t, 20000, 50)
	steppingClock(t, 700*time.Millisecond)
	name := tableName(t)
	r := mustRun(t, 0, nil, "load", name, file, "--progress")
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	var reading, loading int
	for _, l := range lines[:len(lines)-1] {
		switch {
		case strings.HasPrefix(l, "shmkv: reading "+file+": ") && strings.Contains(l, " of 1.2 MiB, ") && strings.Contains(l, "/s, about ") && strings.HasSuffix(l, " left"):
			reading++
		case strings.HasPrefix(l, "shmkv: loading entries into "+name+": ") && strings.Contains(l, " of 20000, ") && strings.HasSuffix(l, " left"):
			loading++
		default:
			t.Errorf("line %q", l)
		}
	}
	if reading == 0 || loading == 0 || !strings.HasPrefix(lines[len(lines)-1], "shmkv: loaded 20000 entries into "+name+" in ") {
		t.Errorf("%d reading and %d loading lines; stderr %q", reading, loading, r.stderr)
	}
	if r := mustRun(t, 0, nil, "load", tableName(t), file); r.stderr != "" {
		t.Errorf("without --progress: %q", r.stderr)
	}
}

// TestLoadProgressTerminal: on a terminal, progress is shown unasked, one
// line rewritten in place, ended when the load is.
func TestLoadProgressTerminal(t *testing.T) {
	ctl, term := openTerminal(t)
	file := dumpFile(t, 20000, 50)
	steppingClock(t, 300*time.Millisecond)
	name := tableName(t)
	err := (&Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: term}).Run([]string{"load", name, file})
	if err != nil {
		t.Fatal(err)
	}
	term.Close()
	out, _ := io.ReadAll(ctl) // EIO once the terminal's side is closed
	s := string(out)
	if !strings.Contains(s, "\rreading "+file) || !strings.Contains(s, "\rloading entries into "+name) ||
		!strings.Contains(s, "\rloaded 20000 entries into "+name) || !strings.HasSuffix(s, "\r\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("terminal got %q", s)
	}
}

// TestLoadInterruptRemovesNewTable: an interrupt (SIGINT, sent to this
// process while the load stores entries) stops a load into a new table
// and removes the table; one into an existing table stops it too, and the
// table keeps what was stored.
func TestLoadInterruptRemovesNewTable(t *testing.T) {
	file := dumpFile(t, 20000, 20)
	loadStep = func(i int) {
		if i == 2560 {
			syscall.Kill(os.Getpid(), syscall.SIGINT)
			time.Sleep(100 * time.Millisecond) // delivered before the next check
		}
	}
	t.Cleanup(func() { loadStep = func(int) {} })
	name := tableName(t)
	r := mustRun(t, 2, nil, "load", name, file)
	if !strings.Contains(r.stderr, "after 2560 of 20000 entries: interrupted; nothing was loaded (the new table is removed)") {
		t.Errorf("stderr %q", r.stderr)
	}
	gone(t, name)
	existing := tableName(t)
	mustRun(t, 0, nil, "create", existing)
	r = mustRun(t, 2, nil, "load", existing, file)
	if !strings.Contains(r.stderr, "after 2560 of 20000 entries, which the table keeps: interrupted") {
		t.Errorf("stderr %q", r.stderr)
	}
	if n := len(entries(t, existing)); n != 2561 {
		t.Errorf("the existing table has %d entries, want 2561", n)
	}
}
