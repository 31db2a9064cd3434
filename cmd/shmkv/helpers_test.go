package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv"
)

// tableName returns a unique table name and removes the table when the
// test ends.
func tableName(t *testing.T) string {
	t.Helper()
	name := testproc.UniqueName("cli")
	t.Cleanup(func() {
		if err := kv.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// result is what one Run did.
type result struct {
	stdout, stderr string
	code           int
}

// run runs the command line with stdin as standard input.
func run(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errb bytes.Buffer
	m := &Main{Stdin: stdin, Stdout: &out, Stderr: &errb}
	err := m.Run(args)
	r := result{stdout: out.String(), stderr: errb.String(), code: ExitCode(err)}
	if (err == nil) != (r.code == 0) {
		t.Fatalf("%v: error %v but exit code %d", args, err, r.code)
	}
	if r.code == 2 && !strings.HasPrefix(r.stderr, "shmkv: ") {
		t.Errorf("%v: failure without a 'shmkv:' line on stderr: %q", args, r.stderr)
	}
	if r.code != 0 && strings.Count(r.stderr, "\n") > 1 {
		t.Errorf("%v: more than one line on stderr: %q", args, r.stderr)
	}
	return r
}

// mustRun runs the command line and requires the exit code.
func mustRun(t *testing.T, code int, stdin io.Reader, args ...string) result {
	t.Helper()
	r := run(t, stdin, args...)
	if r.code != code {
		t.Fatalf("%v: exit %d, want %d; stdout %q, stderr %q", args, r.code, code, r.stdout, r.stderr)
	}
	return r
}

// buildShmkv builds the command into a directory that goes when the test
// ends, and returns its path.
func buildShmkv(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shmkv")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// openWriter opens the existing table name read-write for the test's own
// writes, and closes it when the test ends.
func openWriter(t *testing.T, name string) *kv.Table {
	t.Helper()
	w, err := kv.Open(name, &kv.Options{NoCreate: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}
