package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
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

// brokenAfter fails every write after the first n bytes.
type brokenAfter struct {
	w io.Writer
	n int
}

func (f *brokenAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n, _ := f.w.Write(p[:f.n])
		f.n = 0
		return n, errors.New("injected write error")
	}
	f.n -= len(p)
	return f.w.Write(p)
}

// TestDumpFailureKeepsOldFile: a dump that fails midway (a write error
// injected into its file) leaves the file it was to replace byte for byte
// as it was, and no temporary file beside it; one that succeeds replaces
// it whole, keeping its mode.
func TestDumpFailureKeepsOldFile(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "create", name)
	tb := openWriter(t, name)
	for i := range 5000 {
		if err := tb.Set(fmt.Appendf(nil, "key-%d", i), bytes.Repeat([]byte{byte(i)}, 100)); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "d.dump")
	old := []byte("the old dump, which must survive")
	if err := os.WriteFile(file, old, 0o640); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 100, 70000, 300000} {
		dumpFileWriter = func(f *os.File) io.Writer { return &brokenAfter{w: f, n: n} }
		r := mustRun(t, 2, nil, "dump", name, file)
		dumpFileWriter = func(f *os.File) io.Writer { return f }
		if !strings.Contains(r.stderr, "injected write error") {
			t.Errorf("failing after %d bytes: stderr %q", n, r.stderr)
		}
		if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, old) {
			t.Fatalf("failing after %d bytes: the old file is now %d bytes (%v)", n, len(got), err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Fatalf("failing after %d bytes: %d files left in the directory", n, len(ents))
		}
	}
	mustRun(t, 0, nil, "dump", name, file)
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("the replaced file: %v, %v", fi.Mode(), err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d files left in the directory", len(ents))
	}
	copyName := tableName(t)
	mustRun(t, 0, nil, "load", copyName, file)
	if got := entries(t, copyName); len(got) != 5000 {
		t.Fatalf("the dump loads %d entries", len(got))
	}
	// A path that is not a regular file is written in place.
	mustRun(t, 0, nil, "dump", name, "/dev/null")
}

// TestDumpRefusesTerminal: binary is not written to a terminal, as gzip
// refuses; a FILE or a redirection is.
func TestDumpRefusesTerminal(t *testing.T) {
	_, term := openTerminal(t)
	name := tableName(t)
	mustRun(t, 0, nil, "set", name, "k", "v")
	for _, args := range [][]string{{"dump", name}, {"dump", name, "-"}} {
		var errb bytes.Buffer
		err := (&Main{Stdin: strings.NewReader(""), Stdout: term, Stderr: &errb}).Run(args)
		if ExitCode(err) != 2 || !strings.Contains(errb.String(), "refusing to write binary to a terminal") {
			t.Errorf("%v to a terminal: exit %d, %q", args, ExitCode(err), errb.String())
		}
	}
	file := filepath.Join(t.TempDir(), "d")
	var errb bytes.Buffer
	if err := (&Main{Stdin: strings.NewReader(""), Stdout: term, Stderr: &errb}).Run([]string{"dump", name, file}); err != nil {
		t.Errorf("dump to a FILE with a terminal for stdout: %v", err)
	}
}
