package main

import (
	"strings"
	"testing"
)

func TestIncr(t *testing.T) {
	name := tableName(t)
	if r := mustRun(t, 0, nil, "incr", name, "n"); r.stdout != "1\n" {
		t.Fatalf("incr on a new table = %q", r.stdout)
	}
	if r := mustRun(t, 0, nil, "incr", name, "n", "41"); r.stdout != "42\n" {
		t.Fatalf("incr 41 = %q", r.stdout)
	}
	if r := mustRun(t, 0, nil, "incr", name, "n", "--", "-50"); r.stdout != "-8\n" {
		t.Fatalf("incr -50 = %q", r.stdout)
	}
	if r := mustRun(t, 0, nil, "get", name, "n"); r.stdout != "-8" {
		t.Fatalf("get counter = %q", r.stdout)
	}
	mustRun(t, 2, nil, "incr", name, "n", "x")
	mustRun(t, 0, nil, "set", name, "s", "abc")
	r := mustRun(t, 2, nil, "incr", name, "s")
	if !strings.Contains(r.stderr, "not a decimal integer") {
		t.Errorf("stderr %q", r.stderr)
	}
	if r := mustRun(t, 0, nil, "get", name, "s"); r.stdout != "abc" {
		t.Error("failed incr changed the value")
	}
}
