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

func TestIncrNegativeAndWhich(t *testing.T) {
	name := tableName(t)
	if r := mustRun(t, 0, nil, "incr", name, "n", "-3"); r.stdout != "-3\n" {
		t.Fatalf("incr -3 = %q", r.stdout)
	}
	if r := mustRun(t, 0, nil, "incr", name, "n", "-3"); r.stdout != "-6\n" {
		t.Fatalf("incr -3 again = %q", r.stdout)
	}
	// A negative VALUE is a value too, and a flag after it still a flag.
	mustRun(t, 0, nil, "set", name, "v", "-5", "--ttl", "1h")
	if r := mustRun(t, 0, nil, "get", name, "v"); r.stdout != "-5" {
		t.Fatalf("get of a value set as -5 = %q", r.stdout)
	}
	// An unknown shorthand that is not a number is still a usage error.
	mustRun(t, 2, nil, "incr", name, "n", "-x")
	// A negative number after a flag that takes a value is that flag's
	// value, for the command to judge, not an argument.
	r := mustRun(t, 2, nil, "stats", name, "--watch", "--count", "-1")
	if !strings.Contains(r.stderr, "--count -1 is negative") {
		t.Errorf("stats --count -1: stderr %q", r.stderr)
	}

	mustRun(t, 0, nil, "set", name, "s", "abc")
	r = mustRun(t, 2, nil, "incr", name, "s")
	if want := "shmkv: incr " + name + " \"s\": value is not a decimal integer\n"; r.stderr != want {
		t.Errorf("incr of a string: stderr %q, want %q", r.stderr, want)
	}
	mustRun(t, 0, nil, "set", name, "max", "9223372036854775807")
	r = mustRun(t, 2, nil, "incr", name, "max", "2")
	if want := "shmkv: incr " + name + " \"max\": value 9223372036854775807 plus 2 overflows a 64-bit integer\n"; r.stderr != want {
		t.Errorf("incr past the int64 range: stderr %q, want %q", r.stderr, want)
	}
}
