package main

import "testing"

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
