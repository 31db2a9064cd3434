package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shmkv/shmkv/internal/testshm"
	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/shm"
)

func TestGet(t *testing.T) {
	name := tableName(t)
	r := mustRun(t, 1, nil, "get", name, "k")
	if r.stdout != "" || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("get on a missing table: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(shm.Dir, name)); !os.IsNotExist(err) {
		t.Fatal("get created the table")
	}
	mustRun(t, 0, nil, "set", name, "k", "v")
	r = mustRun(t, 1, nil, "get", name, "missing")
	if r.stdout != "" || r.stderr != "" {
		t.Fatalf("get of a missing key: %+v", r)
	}
}

func TestGetNotATable(t *testing.T) {
	name := tableName(t)
	testshm.Plant(t, name, 8192, []byte("this is not a shmkv table"))
	for _, args := range [][]string{{"get", name, "k"}, {"set", name, "k", "v"}, {"keys", name}, {"stats", name}, {"check", name}, {"dump", name}} {
		r := mustRun(t, 2, nil, args...)
		if !strings.Contains(r.stderr, "not a shmkv table") {
			t.Errorf("%v: %q", args, r.stderr)
		}
	}
	// rm leaves it alone without --force.
	mustRun(t, 2, nil, "rm", name)
	mustRun(t, 0, nil, "rm", "--force", name)
}

// TestGetNewlineOnTerminal: on a terminal, get ends a value that has no
// newline with one, so the prompt does not run into it; into a pipe it
// writes the value byte for byte.
func TestGetNewlineOnTerminal(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "set", name, "plain", "v")
	mustRun(t, 0, nil, "set", name, "ended", "v\n")
	if r := mustRun(t, 0, nil, "get", name, "plain"); r.stdout != "v" {
		t.Errorf("into a pipe: %q", r.stdout)
	}
	for key, want := range map[string]string{"plain": "v\r\n", "ended": "v\r\n"} {
		ptm, pts := openPTY(t)
		m := &Main{Stdin: strings.NewReader(""), Stdout: pts, Stderr: pts}
		if err := m.Run([]string{"get", name, key}); err != nil {
			t.Fatal(err)
		}
		pts.Close()
		got, _ := io.ReadAll(ptm)
		if string(got) != want {
			t.Errorf("get %s on a terminal wrote %q, want %q", key, got, want)
		}
	}
}

// openPTY opens a pseudo-terminal pair: the controlling side, which reads
// what is written to the terminal side.
func openPTY(t *testing.T) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	pts, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pts.Close() })
	return ptm, pts
}

// TestGetWithEveryRegistrySlotTaken: when every registry slot is held, so
// that no read-write handle can be had, get and ttl read through a
// read-only one.
func TestGetWithEveryRegistrySlotTaken(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "create", name, "--keys", "100", "--memory", "64KiB", "--max-value", "1KiB")
	mustRun(t, 0, nil, "set", name, "k", "v")
	var handles []*kv.Table
	t.Cleanup(func() {
		for _, h := range handles {
			h.Close()
		}
	})
	for {
		h, err := kv.Open(name, &kv.Options{NoCreate: true})
		if errors.Is(err, kv.ErrTooManyProcesses) {
			break
		}
		if err != nil {
			t.Fatalf("after %d handles: %v", len(handles), err)
		}
		handles = append(handles, h)
	}
	if r := mustRun(t, 0, nil, "get", name, "k"); r.stdout != "v" {
		t.Fatalf("get = %q", r.stdout)
	}
	mustRun(t, 0, nil, "ttl", name, "k")
}

// TestGetJSON: get --json prints the key and the value by the rule of
// 'shmkv help output': text as a JSON string, bytes that are not UTF-8 as
// base64 beside it; decoding gives back the bytes exactly.
func TestGetJSON(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "create", name)
	w := openWriter(t, name)
	for _, e := range [][2]string{
		{"k", "v"},
		{"\xff\xfe", "line one\nline two"},
		{"text", "\x00\xff bin"},
		{"<&>", ""},
	} {
		if err := w.Set([]byte(e[0]), []byte(e[1])); err != nil {
			t.Fatal(err)
		}
	}
	for key, want := range map[string]string{
		"k":        `{"key":"k","value":"v"}`,
		"\xff\xfe": `{"key_base64":"//4=","value":"line one\nline two"}`,
		"text":     `{"key":"text","value_base64":"AP8gYmlu"}`,
		"<&>":      `{"key":"<&>","value":""}`,
	} {
		r := mustRun(t, 0, nil, "get", name, key, "--json")
		if r.stdout != want+"\n" {
			t.Errorf("get %q --json = %q, want %q", key, r.stdout, want+"\n")
		}
		k, v := decodeKeyValue(t, r.stdout)
		got, _, _ := w.Get(nil, []byte(key))
		if string(k) != key || string(v) != string(got) {
			t.Errorf("get %q --json decodes to %q = %q, want %q", key, k, v, got)
		}
	}
	if r := mustRun(t, 1, nil, "get", name, "missing", "--json"); r.stdout != "" {
		t.Errorf("get --json of a missing key printed %q", r.stdout)
	}
}

// decodeKeyValue decodes one JSON object of the output's rule and returns
// its key and value as bytes, requiring exactly one form of each that is
// there.
func decodeKeyValue(t *testing.T, line string) (key, value []byte) {
	t.Helper()
	var o map[string]string
	if err := json.Unmarshal([]byte(line), &o); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	field := func(name string) []byte {
		text, isText := o[name]
		b64, isB64 := o[name+"_base64"]
		switch {
		case isText && isB64:
			t.Fatalf("%q: both %s and %s_base64", line, name, name)
		case isB64:
			b, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			return b
		case isText:
			return []byte(text)
		}
		return nil
	}
	return field("key"), field("value")
}
