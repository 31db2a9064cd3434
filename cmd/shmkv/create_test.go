package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/shm"
)

func TestCreate(t *testing.T) {
	name := tableName(t)
	r := mustRun(t, 0, nil, "create", name, "--keys", "1000", "--memory", "1MiB", "--max-key", "64", "--max-value", "4KiB", "--mode", "0640")
	if !strings.Contains(r.stdout, "created "+name) {
		t.Errorf("stdout %q", r.stdout)
	}
	fi, err := os.Stat(filepath.Join(shm.Dir, name))
	if err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	r = mustRun(t, 0, nil, "stats", name, "--json")
	if !strings.Contains(r.stdout, `"max_key_size":64,`) || !strings.Contains(r.stdout, `"max_value_size":4096}`) {
		t.Errorf("geometry not applied: %s", r.stdout)
	}
	r = mustRun(t, 2, nil, "create", name)
	if !strings.Contains(r.stderr, "exists") {
		t.Errorf("second create: %q", r.stderr)
	}
	for _, bad := range [][]string{
		{"--memory", "lots"}, {"--max-key", "0"}, {"--max-value", "2GiB"}, {"--mode", "999"}, {"--mode", "0"}, {"--keys", "-3"},
	} {
		n := tableName(t)
		mustRun(t, 2, nil, append([]string{"create", n}, bad...)...)
	}
}

func TestDefaultMode(t *testing.T) {
	name := tableName(t)
	mustRun(t, 0, nil, "create", name)
	fi, err := os.Stat(filepath.Join(shm.Dir, name))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
}

// TestCreateModeThenUse: every table the command can create, the same
// user's command can use without extra flags (a 0660 table was refused as
// "writable by others").
func TestCreateModeThenUse(t *testing.T) {
	for _, mode := range []string{"0600", "0640", "0660", "0664", "0666"} {
		name := tableName(t)
		mustRun(t, 0, nil, "create", name, "--mode", mode, "--keys", "100", "--memory", "64KiB")
		mustRun(t, 0, nil, "set", name, "k", "v")
		if r := mustRun(t, 0, nil, "get", name, "k"); r.stdout != "v" {
			t.Fatalf("mode %s: get = %q", mode, r.stdout)
		}
		mustRun(t, 0, nil, "incr", name, "n")
		mustRun(t, 0, nil, "stats", name)
		mustRun(t, 0, nil, "check", name)
		mustRun(t, 0, nil, "rm", name)
	}
}

// TestCreateOptionErrors: an option kv refuses is said with the flag's
// name and sizes as the flags take them, never kv's field names.
func TestCreateOptionErrors(t *testing.T) {
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--max-memory", "1"}, "shmkv: --max-memory 1 is out of range (64KiB to 5.3TiB); run 'shmkv create --help'\n"},
		{[]string{"--max-memory", "10T"}, "shmkv: --max-memory 10TiB is out of range (64KiB to 5.3TiB); run 'shmkv create --help'\n"},
		{[]string{"--max-memory", "1GiB", "--memory", "2GiB"}, "shmkv: --memory 2GiB is more than --max-memory 1GiB; run 'shmkv create --help'\n"},
		{[]string{"--max-key", "2MiB"}, "shmkv: --max-key 2MiB is out of range (1 to 1MiB); run 'shmkv create --help'\n"},
		{[]string{"--max-value", "1234567890"}, "shmkv: --max-value 1234567890 is out of range (1 to 1GiB); run 'shmkv create --help'\n"},
		// What Keys and Memory ask the table to start with decides the
		// least ceiling; beyond the largest, they are what is wrong.
		{[]string{"--max-memory", "64KiB", "--keys", "1000000"}, "shmkv: --max-memory 64KiB is out of range (49.9MiB to 5.3TiB); run 'shmkv create --help'\n"},
		{[]string{"--max-memory", "5TiB", "--keys", "500000000000"}, "shmkv: --keys 500000000000 and --memory 0 B need 23.7 TiB at creation, more than the largest --max-memory, 5.3 TiB; run 'shmkv create --help'\n"},
	} {
		r := mustRun(t, 2, nil, append([]string{"create", tableName(t)}, c.flags...)...)
		if r.stderr != c.want {
			t.Errorf("%v: %q, want %q", c.flags, r.stderr, c.want)
		}
	}
	// Each bound as printed is a valid value.
	n := tableName(t)
	mustRun(t, 0, nil, "create", n, "--max-memory", "5.3TiB")
	mustRun(t, 0, nil, "rm", n)
	mustRun(t, 0, nil, "create", n, "--max-memory", "64KiB")
	n = tableName(t)
	mustRun(t, 0, nil, "create", n, "--max-memory", "49.9MiB", "--keys", "1000000")
}

// TestCreateExistsAdvice: the rm that create advises for a name in use
// removes it as written, whether it is a table or another object.
func TestCreateExistsAdvice(t *testing.T) {
	for _, isTable := range []bool{true, false} {
		name := tableName(t)
		if isTable {
			mustRun(t, 0, nil, "create", name)
		} else if err := os.WriteFile(shmPath(name), []byte("not a table"), 0o600); err != nil {
			t.Fatal(err)
		}
		r := mustRun(t, 2, nil, "create", name)
		cmds := advised(t, r.stderr)
		if len(cmds) != 1 || cmds[0][0][1] != "rm" {
			t.Fatalf("advice %q", r.stderr)
		}
		runAdvised(t, cmds[0])
		mustRun(t, 0, nil, "create", name)
	}
}
