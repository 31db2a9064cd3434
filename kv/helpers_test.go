package kv

import (
	"errors"
	"io/fs"
	"testing"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
)

// uniqueName returns a table name no other test or process uses, and
// removes the table when the test ends.
func uniqueName(t testing.TB) string {
	t.Helper()
	name := testproc.UniqueName("kv")
	t.Cleanup(func() {
		if err := Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// openTable opens a table under name and closes it when the test ends.
func openTable(t testing.TB, name string, o *Options) *Table {
	t.Helper()
	tb, err := Open(name, o)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	t.Cleanup(func() { tb.Close() })
	return tb
}

// newTable opens a fresh table with a unique name.
func newTable(t testing.TB, o *Options) *Table {
	t.Helper()
	return openTable(t, uniqueName(t), o)
}

// viewOf returns shard s over its current extent, for tests that look
// inside.
func viewOf(t testing.TB, s *shard) *view {
	t.Helper()
	v, ok := s.view()
	if !ok {
		t.Fatalf("shard %d has no valid extent (word %#x)", s.index, s.ctlLoad(format.CtlExtent))
	}
	return &v
}

// small is a geometry that fills quickly.
var small = &Options{MaxMemory: 1 << 20, Keys: 1000, Memory: 256 << 10, MaxKeySize: 256, MaxValueSize: 4096}

func mustSet(t testing.TB, tb *Table, k, v string) {
	t.Helper()
	if err := tb.Set([]byte(k), []byte(v)); err != nil {
		t.Fatalf("Set(%q): %v", k, err)
	}
}

func mustGet(t testing.TB, tb *Table, k string) (string, bool) {
	t.Helper()
	v, ok, err := tb.Get(nil, []byte(k))
	if err != nil {
		t.Fatalf("Get(%q): %v", k, err)
	}
	return string(v), ok
}

// mustCheck fails the test if Check finds anything.
func mustCheck(t testing.TB, tb *Table) *Report {
	t.Helper()
	rep, err := tb.Check()
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	for _, p := range rep.Problems {
		t.Errorf("Check: %v", p)
	}
	return rep
}
