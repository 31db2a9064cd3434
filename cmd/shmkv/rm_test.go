package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/shm"
)

func TestRm(t *testing.T) {
	name := tableName(t)
	r := mustRun(t, 1, nil, "rm", name)
	if r.stderr == "" {
		t.Error("rm of a missing table said nothing")
	}
	mustRun(t, 0, nil, "set", name, "k", "v")
	mustRun(t, 0, nil, "rm", "/"+name)
	mustRun(t, 1, nil, "get", name, "k")
}

// TestRmOrphanLockObject: rm removes the lock object a table removed by
// hand leaves, named by the table or by itself, and refuses the lock
// object of a table that exists.
func TestRmOrphanLockObject(t *testing.T) {
	gone := func(obj string) bool {
		_, err := os.Lstat(filepath.Join(shm.Dir, obj))
		return errors.Is(err, fs.ErrNotExist)
	}
	name := tableName(t)
	orphan := orphanOf(t, name)
	mustRun(t, 0, nil, "rm", name)
	if !gone(orphan) {
		t.Errorf("rm %s left its lock object %s", name, orphan)
	}
	mustRun(t, 1, nil, "rm", name)

	name = tableName(t)
	orphan = orphanOf(t, name)
	mustRun(t, 0, nil, "rm", orphan)
	if !gone(orphan) {
		t.Errorf("rm %s left it", orphan)
	}
	mustRun(t, 1, nil, "rm", orphan)

	name = tableName(t)
	mustRun(t, 0, nil, "set", name, "k", "v")
	live := lockObjectOf(t, name)
	for _, f := range []bool{false, true} {
		args := []string{"rm", "/" + live}
		if f {
			args = append(args, "--force")
		}
		r := mustRun(t, 2, nil, args...)
		if !strings.Contains(r.stderr, "lock object in use") || !strings.Contains(r.stderr, name) {
			t.Errorf("%v: %q", args, r.stderr)
		}
	}
	if gone(live) {
		t.Fatal("the refused rm removed a live table's lock object")
	}
	mustRun(t, 0, nil, "get", name, "k")
}

// lockObjectOf is the lock object of the table name.
func lockObjectOf(t *testing.T, name string) string {
	t.Helper()
	l, err := kv.LockObjectName(name)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestRmSeveral: rm takes several names as rm(1) does: each it cannot
// remove is reported on a line of its own, the others are removed still,
// and the status is the worst: 1 if some were missing, 2 if some failed.
func TestRmSeveral(t *testing.T) {
	rm := func(args ...string) (stderr string, code int) {
		var out, errb strings.Builder
		m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
		code = ExitCode(m.Run(append([]string{"rm"}, args...)))
		return errb.String(), code
	}
	exists := func(name string) bool {
		_, err := os.Lstat(shmPath(name))
		return err == nil
	}
	a, b, c, missing1, missing2 := tableName(t), tableName(t), tableName(t), tableName(t), tableName(t)
	for _, n := range []string{a, b, c} {
		mustRun(t, 0, nil, "set", n, "k", "v")
	}
	if stderr, code := rm(a, b); code != 0 || stderr != "" {
		t.Fatalf("rm a b: exit %d, %q", code, stderr)
	}
	mustRun(t, 0, nil, "set", a, "k", "v")
	mustRun(t, 0, nil, "set", b, "k", "v")
	stderr, code := rm(missing1, a, missing2, b)
	if code != 1 || exists(a) || exists(b) {
		t.Errorf("rm of two missing and two tables: exit %d; a there %v, b there %v", code, exists(a), exists(b))
	}
	if lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n"); len(lines) != 2 ||
		!strings.Contains(lines[0], missing1) || !strings.Contains(lines[1], missing2) || !strings.HasPrefix(lines[1], "shmkv: ") {
		t.Errorf("stderr %q: want one line for each missing name", stderr)
	}
	// A failure outranks a missing name; what can be removed still is.
	other := tableName(t)
	if err := os.WriteFile(shmPath(other), []byte("not a table"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 0, nil, "set", a, "k", "v")
	stderr, code = rm(missing1, other, a)
	if code != 2 || exists(a) || !exists(other) || strings.Count(stderr, "\n") != 2 {
		t.Errorf("rm missing, not-a-table, table: exit %d, a there %v, other there %v, stderr %q", code, exists(a), exists(other), stderr)
	}
	if stderr, code = rm("--force", other, c); code != 0 || exists(other) || exists(c) {
		t.Errorf("rm --force other c: exit %d, %q", code, stderr)
	}
}
