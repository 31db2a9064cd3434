package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/shm"
)

func TestLs(t *testing.T) {
	a, b := tableName(t), tableName(t)
	mustRun(t, 0, nil, "set", a, "k", "v")
	mustRun(t, 0, nil, "set", b, "k1", "v")
	mustRun(t, 0, nil, "set", b, "k2", "v")
	r := mustRun(t, 0, nil, "ls")
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == b && !strings.Contains(line, " 2 entries") {
			t.Errorf("ls line for %s: %q", b, line)
		}
	}
	if !strings.Contains(r.stdout, a) || !strings.Contains(r.stdout, b) {
		t.Fatalf("ls does not list both tables:\n%s", r.stdout)
	}
	var rows []lsJSON
	r = mustRun(t, 0, nil, "ls", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, row := range rows {
		if row.Name == a && row.Entries == 1 || row.Name == b && row.Entries == 2 {
			found++
			if row.TotalBytes == 0 {
				t.Errorf("%s: no size", row.Name)
			}
		}
	}
	if found != 2 {
		t.Errorf("ls --json: %+v", rows)
	}
}

// orphanOf makes a table name, removes it by hand as an operator might
// (rm /dev/shm/NAME), and returns the name of the lock object it leaves.
func orphanOf(t *testing.T, name string) string {
	t.Helper()
	mustRun(t, 0, nil, "set", name, "k", "v")
	if err := os.Remove(filepath.Join(shm.Dir, name)); err != nil {
		t.Fatal(err)
	}
	orphan := lockObjectOf(t, name)
	if _, err := os.Lstat(filepath.Join(shm.Dir, orphan)); err != nil {
		t.Fatalf("removing %s by hand left no lock object: %v", name, err)
	}
	return orphan
}

// TestLsOrphanLockObjects: ls --all lists the lock object a table removed
// by hand leaves, and plain ls says there is one.
func TestLsOrphanLockObjects(t *testing.T) {
	name := tableName(t)
	orphan := orphanOf(t, name)
	r := mustRun(t, 0, nil, "ls")
	if strings.Contains(r.stdout, orphan) {
		t.Errorf("plain ls lists the orphan:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "orphan lock object") || !strings.Contains(r.stderr, "ls --all") {
		t.Errorf("plain ls does not point to ls --all: %q", r.stderr)
	}
	r = mustRun(t, 0, nil, "ls", "--all")
	found := false
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == orphan {
			found = strings.Contains(line, "orphan lock object") && strings.Contains(line, "shmkv rm "+orphan)
		}
	}
	if !found {
		t.Errorf("ls --all has no orphan line for %s:\n%s", orphan, r.stdout)
	}
	var rows []lsJSON
	r = mustRun(t, 0, nil, "ls", "--all", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rows, lsJSON{Name: orphan, OrphanLockObject: true}) {
		t.Errorf("ls --all --json has no orphan row for %s: %+v", orphan, rows)
	}
}

// oddTableName returns a unique table name ending in suffix, which may
// hold any byte but '/' and NUL, and removes the table when the test ends.
func oddTableName(t *testing.T, suffix string) string {
	t.Helper()
	name := testproc.UniqueName("cli") + suffix
	t.Cleanup(func() {
		if err := kv.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}
