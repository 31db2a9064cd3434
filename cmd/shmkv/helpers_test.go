package main

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
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
