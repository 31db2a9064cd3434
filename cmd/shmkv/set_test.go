package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSet(t *testing.T) {
	name := tableName(t)
	// A missing table is created with the defaults.
	mustRun(t, 0, nil, "set", name, "greeting", "hello")
	if r := mustRun(t, 0, nil, "get", name, "greeting"); r.stdout != "hello" {
		t.Fatalf("get = %q", r.stdout)
	}
	// The leading slash names the same table.
	mustRun(t, 0, nil, "set", "/"+name, "greeting", "hi")
	if r := mustRun(t, 0, nil, "get", name, "greeting"); r.stdout != "hi" {
		t.Fatalf("get after set via /name = %q", r.stdout)
	}
	// Standard input, binary-safe, with VALUE omitted or "-".
	bin := []byte{0, 1, 2, '\n', 0xff, 0}
	mustRun(t, 0, bytes.NewReader(bin), "set", name, "bin")
	if r := mustRun(t, 0, nil, "get", name, "bin"); r.stdout != string(bin) {
		t.Fatalf("binary value = %q", r.stdout)
	}
	mustRun(t, 0, strings.NewReader("from stdin"), "set", name, "dash", "-")
	if r := mustRun(t, 0, nil, "get", name, "dash"); r.stdout != "from stdin" {
		t.Fatalf("dash value = %q", r.stdout)
	}
	// An empty value is a value.
	mustRun(t, 0, nil, "set", name, "empty", "")
	if r := mustRun(t, 0, nil, "get", name, "empty"); r.stdout != "" {
		t.Fatalf("empty value = %q", r.stdout)
	}
}

func TestSetTooLarge(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "create", name, "--max-key", "8", "--max-value", "16", "--keys", "10", "--memory", "4KiB")
	r := mustRun(t, 2, nil, "set", name, "k", strings.Repeat("v", 17))
	if !strings.Contains(r.stderr, "value too large") {
		t.Errorf("stderr %q", r.stderr)
	}
	r = mustRun(t, 2, strings.NewReader(strings.Repeat("v", 100)), "set", name, "k")
	if !strings.Contains(r.stderr, "value too large") {
		t.Errorf("stdin too large: %q", r.stderr)
	}
	r = mustRun(t, 2, nil, "set", name, "123456789", "v")
	if !strings.Contains(r.stderr, "key empty or too large") {
		t.Errorf("stderr %q", r.stderr)
	}
	mustRun(t, 1, nil, "get", name, "k")
}

func TestSetFull(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "create", name, "--max-memory", "64KiB", "--max-key", "16", "--max-value", "16")
	var r result
	for i := 0; i < 1000; i++ {
		if r = run(t, nil, "set", name, strings.Repeat("k", 1+i%15)+string(rune('a'+i%26)), "v"); r.code != 0 {
			break
		}
	}
	if r.code != 2 || !strings.Contains(r.stderr, "table full") {
		t.Fatalf("filling a small table: exit %d, %q", r.code, r.stderr)
	}
}

// TestMessagesSayShmkvOnce checks that a library error in a command's
// message leaves one "shmkv:" on the line, with the sizes.
func TestMessagesSayShmkvOnce(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "create", name, "--max-value", "100", "--max-key", "8")
	r := mustRun(t, 2, nil, "set", name, "k", strings.Repeat("v", 101))
	if strings.Count(r.stderr, "shmkv:") != 1 || !strings.Contains(r.stderr, "set "+name+": value too large: 101 bytes, limit 100") {
		t.Errorf("set of a value too large: stderr %q", r.stderr)
	}
	r = mustRun(t, 2, nil, "set", name, "123456789", "v")
	if strings.Count(r.stderr, "shmkv:") != 1 || !strings.Contains(r.stderr, "key empty or too large: 9 bytes, limit 8") {
		t.Errorf("set of a key too large: stderr %q", r.stderr)
	}
}
