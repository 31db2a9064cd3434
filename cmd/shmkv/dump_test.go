package main

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/shmkv/shmkv/kv"
)

// entries reads a whole table through the library.
func entries(t *testing.T, name string) map[string]string {
	t.Helper()
	tb, err := kv.Open(name, &kv.Options{NoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Close()
	m := map[string]string{}
	tb.Range(func(k, v []byte) bool { m[string(k)] = string(v); return true })
	return m
}

func TestDumpLoadRoundTrip(t *testing.T) {
	src, dst := tableName(t), tableName(t)
	tb, err := kv.Open(src, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"plain":            "value",
		"empty":            "",
		"\x00binary\xff\n": "\x00\x01\n\xff",
		"big":              string(bytes.Repeat([]byte{0xab}, 100000)),
	}
	for i := range 500 {
		want[string(rune('a'+i%26))+string(bytes.Repeat([]byte{byte(i)}, i%40))] = string(bytes.Repeat([]byte{byte(i)}, i))
	}
	for k, v := range want {
		if err := tb.Set([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	tb.Close()

	file := filepath.Join(t.TempDir(), "d.dump")
	mustRun(t, 0, nil, "dump", src, file)
	mustRun(t, 0, nil, "load", dst, file)
	if got := entries(t, dst); !maps.Equal(got, want) {
		t.Fatalf("loaded table differs: %d entries, want %d", len(got), len(want))
	}
	// Through standard output and input too.
	r := mustRun(t, 0, nil, "dump", src)
	dst2 := tableName(t)
	mustRun(t, 0, bytes.NewReader([]byte(r.stdout)), "load", dst2)
	if got := entries(t, dst2); !maps.Equal(got, want) {
		t.Fatal("stdin/stdout round trip differs")
	}
	// An empty table dumps and loads too.
	empty, emptyCopy := tableName(t), tableName(t)
	mustRun(t, 0, nil, "create", empty)
	r = mustRun(t, 0, nil, "dump", empty)
	mustRun(t, 0, bytes.NewReader([]byte(r.stdout)), "load", emptyCopy)
	mustRun(t, 1, nil, "dump", tableName(t))
}

func TestLoadBadDumps(t *testing.T) {
	src := tableName(t)
	mustRun(t, 0, nil, "set", src, "k", "some value")
	mustRun(t, 0, nil, "set", src, "k2", "another value")
	good := []byte(mustRun(t, 0, nil, "dump", src).stdout)
	bad := map[string][]byte{
		"empty":        nil,
		"not a dump":   []byte("hello world"),
		"flipped byte": append(append([]byte{}, good[:15]...), append([]byte{good[15] ^ 1}, good[16:]...)...),
		"extra bytes":  append(append([]byte{}, good...), 'x'),
		"huge field":   append([]byte(dumpMagic), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f),
	}
	for n := 1; n < len(good); n++ {
		bad["truncated"] = good[:n]
		dst := tableName(t)
		r := mustRun(t, 2, bytes.NewReader(good[:n]), "load", dst)
		if !bytes.Contains([]byte(r.stderr), []byte("nothing was loaded")) {
			t.Fatalf("truncated at %d: %q", n, r.stderr)
		}
		if _, err := os.Stat("/dev/shm/" + dst); err == nil {
			t.Fatalf("truncated at %d: the table was created", n)
		}
	}
	for what, data := range bad {
		mustRun(t, 2, bytes.NewReader(data), "load", tableName(t))
		_ = what
	}
	mustRun(t, 2, nil, "load", tableName(t), filepath.Join(t.TempDir(), "missing.dump"))
}
