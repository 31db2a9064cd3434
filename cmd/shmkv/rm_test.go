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
