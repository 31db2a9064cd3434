package main

import (
	"encoding/json"
	"testing"
)

func TestKeys(t *testing.T) {
	name := tableName(t)
	mustRun(t, 1, nil, "keys", name)
	mustRun(t, 0, nil, "create", name)
	if r := mustRun(t, 0, nil, "keys", name, "--json"); r.stdout != "[]\n" {
		t.Fatalf("keys --json on an empty table = %q", r.stdout)
	}
	for _, k := range []string{"user:2", "user:1", "job:9"} {
		mustRun(t, 0, nil, "set", name, k, "v")
	}
	if r := mustRun(t, 0, nil, "keys", name); r.stdout != "job:9\nuser:1\nuser:2\n" {
		t.Fatalf("keys = %q", r.stdout)
	}
	if r := mustRun(t, 0, nil, "keys", name, "--prefix", "user:"); r.stdout != "user:1\nuser:2\n" {
		t.Fatalf("keys --prefix = %q", r.stdout)
	}
	var got []string
	r := mustRun(t, 0, nil, "keys", name, "--json", "--prefix", "job")
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 1 || got[0] != "job:9" {
		t.Fatalf("keys --json = %q, %v", r.stdout, err)
	}
}
