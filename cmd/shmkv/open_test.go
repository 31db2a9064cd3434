package main

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/shm"
)

// advised parses the commands a message advises, each between single
// quotes and starting "shmkv ", as a POSIX shell would: words split at
// spaces, double-quoted words with \ escapes, pipelines split at '|'. Each
// command is a pipeline of argument lists (without "shmkv").
func advised(t *testing.T, msg string) [][][]string {
	t.Helper()
	var cmds [][][]string
	for {
		i := strings.Index(msg, "'shmkv ")
		if i < 0 {
			return cmds
		}
		msg = msg[i+1:]
		var pipeline [][]string
		var words []string
		var word strings.Builder
		inWord, quoted, end := false, false, -1
		flush := func() {
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		}
		for j := 0; j < len(msg) && end < 0; j++ {
			c := msg[j]
			switch {
			case quoted && c == '\\' && j+1 < len(msg):
				j++
				word.WriteByte(msg[j])
			case quoted && c == '"':
				quoted = false
			case quoted:
				word.WriteByte(c)
			case c == '"':
				quoted, inWord = true, true
			case c == '\'':
				end = j
			case c == ' ':
				flush()
			case c == '|':
				flush()
				pipeline = append(pipeline, words)
				words = nil
			default:
				word.WriteByte(c)
				inWord = true
			}
		}
		if end < 0 {
			t.Fatalf("advice without its closing quote: %q", msg)
		}
		flush()
		pipeline = append(pipeline, words)
		for _, w := range pipeline {
			if len(w) == 0 || w[0] != "shmkv" {
				t.Fatalf("advised %q is not a shmkv command", w)
			}
		}
		cmds = append(cmds, pipeline)
		msg = msg[end+1:]
	}
}

// runAdvised runs an advised pipeline and requires each command to exit 0.
func runAdvised(t *testing.T, pipeline [][]string) {
	t.Helper()
	var in *strings.Reader
	for _, args := range pipeline {
		if in == nil {
			in = strings.NewReader("")
		}
		r := mustRun(t, 0, in, args[1:]...)
		in = strings.NewReader(r.stdout)
	}
}

// shmPath is the file of the object name in /dev/shm.
func shmPath(name string) string { return filepath.Join(shm.Dir, strings.TrimPrefix(name, "/")) }

// TestOpenAdviceWorks makes each object that an open refuses with advice
// to remove it (not a table, a table with a damaged header, one of another
// layout version, one that never got a header), runs the rm the message
// advises, as written, and requires it to succeed and the object to go.
// Without --force in the advice for objects that are not tables, rm
// refuses them. The names need shell quoting, so the quoting is tried too.
func TestOpenAdviceWorks(t *testing.T) {
	table := func(name string) {
		mustRun(t, 0, nil, "set", name, "k", "v")
	}
	patch := func(name string, off int64, b []byte) {
		f, err := os.OpenFile(shmPath(name), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		what string
		make func(name string)
		want error
	}{
		{"not a table", func(n string) {
			if err := os.WriteFile(shmPath(n), append([]byte("hello, world"), make([]byte, 8192)...), 0o600); err != nil {
				t.Fatal(err)
			}
		}, kv.ErrCorrupt},
		{"empty object", func(n string) {
			if err := os.WriteFile(shmPath(n), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, kv.ErrNotInitialized},
		{"damaged header", func(n string) {
			table(n)
			patch(n, 40, []byte{0xff, 0xff}) // max key size, under the header checksum
		}, kv.ErrCorrupt},
		{"other layout version", func(n string) {
			table(n)
			var m [8]byte
			binary.LittleEndian.PutUint64(m[:], 0x0099_0056_4B4D_4853) // "SHMKV\0", magic version 0x99
			patch(n, 0, m[:])
		}, kv.ErrVersion},
	}
	for _, c := range cases {
		name := tableName(t) + " it's $x"
		t.Cleanup(func() { os.Remove(shmPath(name)); kv.Remove(name) })
		c.make(name)
		if _, err := kv.Open(name, &kv.Options{NoCreate: true, InitTimeout: 1}); !errors.Is(err, c.want) {
			t.Fatalf("%s: open: %v, want %v", c.what, err, c.want)
		}
		r := mustRun(t, 2, nil, "get", name, "k")
		var rm [][]string
		for _, p := range advised(t, r.stderr) {
			if p[0][1] == "rm" {
				rm = p
			}
		}
		if rm == nil {
			t.Fatalf("%s: no rm advised: %q", c.what, r.stderr)
		}
		runAdvised(t, rm)
		if _, err := os.Lstat(shmPath(name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: the advised %q left the object: %v", c.what, rm, err)
		}
	}
}

// TestMissingTableAdvice: the create advised for a missing table makes it.
func TestMissingTableAdvice(t *testing.T) {
	name := tableName(t)
	r := mustRun(t, 1, nil, "get", name, "k")
	cmds := advised(t, r.stderr)
	if len(cmds) != 1 || cmds[0][0][1] != "create" {
		t.Fatalf("advice %q", r.stderr)
	}
	runAdvised(t, cmds[0])
	if r := mustRun(t, 1, nil, "get", name, "k"); strings.Contains(r.stderr, "does not exist") {
		t.Errorf("the advised create made no table: %q", r.stderr)
	}
}

// TestFullAdvice fills a table at its ceiling and runs the pipeline the
// error advises: a copy into a new table with a higher ceiling.
func TestFullAdvice(t *testing.T) {
	name := tableName(t)
	tableName2 := name + "-2"
	t.Cleanup(func() { kv.Remove(tableName2) })
	mustRun(t, 0, nil, "create", name, "--max-memory", "64KiB")
	tb := openWriter(t, name)
	var full error
	for i := 0; full == nil; i++ {
		full = tb.Set([]byte(strings.Repeat("k", 20)+string(rune('a'+i%26))+strings.Repeat("x", i/26)), make([]byte, 100))
		if i > 100000 {
			t.Fatal("a 64KiB table took 100000 entries")
		}
	}
	if !errors.Is(full, kv.ErrFull) {
		t.Fatal(full)
	}
	r := mustRun(t, 2, nil, "set", name, "one-more-key", "value")
	cmds := advised(t, r.stderr)
	if len(cmds) != 1 || len(cmds[0]) != 2 {
		t.Fatalf("advice %q", r.stderr)
	}
	for _, c := range cmds {
		runAdvised(t, c)
	}
	if a, b := entries(t, name), entries(t, tableName2); len(a) != len(b) || len(a) == 0 {
		t.Errorf("the advised copy has %d entries, the table %d", len(b), len(a))
	}
	mustRun(t, 0, nil, "set", tableName2, "one-more-key", "value")
}
