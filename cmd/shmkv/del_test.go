package main

import "testing"

func TestDel(t *testing.T) {
	name := tableName(t)
	mustRun(t, 1, nil, "del", name, "k")
	mustRun(t, 0, nil, "set", name, "a", "1")
	mustRun(t, 0, nil, "set", name, "b", "2")
	if r := mustRun(t, 0, nil, "del", name, "a", "b", "c"); r.stdout != "2\n" {
		t.Fatalf("del printed %q", r.stdout)
	}
	if r := mustRun(t, 1, nil, "del", name, "a"); r.stdout != "0\n" {
		t.Fatalf("del of a missing key printed %q", r.stdout)
	}
	mustRun(t, 1, nil, "get", name, "a")
}
