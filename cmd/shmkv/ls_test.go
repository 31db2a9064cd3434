package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestLs(t *testing.T) {
	a, b := tableName(t), tableName(t)
	mustRun(t, 0, nil, "set", a, "k", "v")
	mustRun(t, 0, nil, "set", b, "k1", "v")
	mustRun(t, 0, nil, "set", b, "k2", "v")
	r := mustRun(t, 0, nil, "ls")
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == b && !strings.Contains(line, " 2 entries") {
			t.Errorf("ls line for %s: %q", b, line)
		}
	}
	if !strings.Contains(r.stdout, a) || !strings.Contains(r.stdout, b) {
		t.Fatalf("ls does not list both tables:\n%s", r.stdout)
	}
	var rows []lsJSON
	r = mustRun(t, 0, nil, "ls", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, row := range rows {
		if row.Name == a && row.Entries == 1 || row.Name == b && row.Entries == 2 {
			found++
			if row.TotalBytes == 0 {
				t.Errorf("%s: no size", row.Name)
			}
		}
	}
	if found != 2 {
		t.Errorf("ls --json: %+v", rows)
	}
}
