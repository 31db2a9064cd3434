package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStats(t *testing.T) {
	name := tableName(t)
	mustRun(t, 2, nil, "stats", name)
	mustRun(t, 0, nil, "set", name, "k", "v")
	mustRun(t, 0, nil, "get", name, "k")
	mustRun(t, 1, nil, "get", name, "nope")
	r := mustRun(t, 0, nil, "stats", name)
	for _, want := range []string{"entries     1 of", "2 (1 hits, 1 misses, hit rate 50.0%)", "1 sets", "lock waits", "shards of"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stats lacks %q:\n%s", want, r.stdout)
		}
	}
	var st map[string]any
	r = mustRun(t, 0, nil, "stats", name, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatal(err)
	}
	// The JSON field names are a stable interface: pin them.
	fields := []string{"name", "entries", "bytes_used", "bytes_free", "total_bytes", "gets", "hits", "misses",
		"hit_rate", "sets", "deletes", "lock_waits", "read_retries", "recoveries", "damaged", "rebuilds", "shards",
		"slots_per_shard", "key_capacity", "max_key_size", "max_value_size", "evictions", "expirations", "eviction"}
	for _, f := range fields {
		if _, ok := st[f]; !ok {
			t.Errorf("stats --json lacks %q", f)
		}
	}
	if len(st) != len(fields) {
		t.Errorf("stats --json has %d fields, want %d", len(st), len(fields))
	}
	if st["entries"] != 1.0 || st["hit_rate"] != 0.5 {
		t.Errorf("stats --json = %v", st)
	}
}
