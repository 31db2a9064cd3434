package main

import (
	"os"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/shm"
)

func TestCheck(t *testing.T) {
	name := tableName(t)
	mustRun(t, 2, nil, "check", name)
	mustRun(t, 0, nil, "create", name, "--keys", "100", "--memory", "64KiB", "--max-value", "1KiB")
	for _, k := range []string{"a", "b", "c"} {
		mustRun(t, 0, nil, "set", name, k, strings.Repeat(k, 100))
	}
	if r := mustRun(t, 0, nil, "check", name); !strings.Contains(r.stdout, "clean, 3 entries") {
		t.Fatalf("check = %q", r.stdout)
	}
	// Flip bytes inside a value: its checksum no longer matches.
	sh, err := shm.Open(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := sh.Map(0)
	b := m.Bytes()
	i := strings.Index(string(b), strings.Repeat("b", 100))
	if i < 0 {
		t.Fatal("value not found in the region")
	}
	b[i+50] = 'X'
	m.Unmap()
	sh.Close()
	r := mustRun(t, 1, nil, "check", name)
	if !strings.Contains(r.stdout, "checksum mismatch") || !strings.Contains(r.stderr, "problems") {
		t.Fatalf("check of a damaged table: %+v", r)
	}
}
