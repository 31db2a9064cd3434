package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestLoadIntoExisting(t *testing.T) {
	var dump bytes.Buffer
	d := newDumpWriter(&dump)
	for i := range 20000 {
		d.record(fmt.Appendf(nil, "key-%d", i), fmt.Appendf(nil, "value-%d", i))
	}
	if err := d.close(); err != nil {
		t.Fatal(err)
	}
	name := tableName(t)
	mustRun(t, 0, nil, "set", name, "keep", "me")
	mustRun(t, 0, nil, "set", name, "key-5", "old")
	r := mustRun(t, 0, bytes.NewReader(dump.Bytes()), "load", name)
	// Not a terminal: no progress line.
	if r.stderr != "" {
		t.Errorf("stderr %q", r.stderr)
	}
	if r := mustRun(t, 0, nil, "get", name, "key-5"); r.stdout != "value-5" {
		t.Errorf("key-5 = %q", r.stdout)
	}
	if r := mustRun(t, 0, nil, "get", name, "keep"); r.stdout != "me" {
		t.Errorf("keep = %q", r.stdout)
	}
	r = mustRun(t, 0, nil, "keys", name, "--prefix", "key-")
	if n := strings.Count(r.stdout, "\n"); n != 20000 {
		t.Errorf("%d keys loaded", n)
	}
}
