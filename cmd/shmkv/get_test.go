package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/shm"
)

func TestGet(t *testing.T) {
	name := tableName(t)
	r := mustRun(t, 1, nil, "get", name, "k")
	if r.stdout != "" || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("get on a missing table: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(shm.Dir, name)); !os.IsNotExist(err) {
		t.Fatal("get created the table")
	}
	mustRun(t, 0, nil, "set", name, "k", "v")
	r = mustRun(t, 1, nil, "get", name, "missing")
	if r.stdout != "" || r.stderr != "" {
		t.Fatalf("get of a missing key: %+v", r)
	}
}

func TestGetNotATable(t *testing.T) {
	name := tableName(t)
	sh, err := shm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	sh.Allocate(8192)
	m, _ := sh.Map(0)
	copy(m.Bytes(), "this is not a shmkv table")
	m.Unmap()
	sh.Close()
	for _, args := range [][]string{{"get", name, "k"}, {"set", name, "k", "v"}, {"keys", name}, {"stats", name}, {"check", name}, {"dump", name}} {
		r := mustRun(t, 2, nil, args...)
		if !strings.Contains(r.stderr, "not a shmkv table") {
			t.Errorf("%v: %q", args, r.stderr)
		}
	}
	// rm leaves it alone without --force.
	mustRun(t, 2, nil, "rm", name)
	mustRun(t, 0, nil, "rm", "--force", name)
}
