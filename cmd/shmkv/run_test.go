package main

import (
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func TestUsage(t *testing.T) {
	r := mustRun(t, 2, nil)
	if r.stderr != "shmkv: no command given; run 'shmkv help'\n" {
		t.Errorf("stderr %q", r.stderr)
	}
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		r := mustRun(t, 0, nil, args...)
		for _, c := range commands {
			if !strings.Contains(r.stdout, "  "+c.name) {
				t.Errorf("%v does not list %s", args, c.name)
			}
		}
		if !strings.Contains(r.stdout, "'shmkv help output'") {
			t.Errorf("%v does not point to 'shmkv help output'", args)
		}
	}
	// The one rule for keys, values and names, in JSON and in text.
	if r := mustRun(t, 0, nil, "help", "output"); !strings.Contains(r.stdout, `"key_base64"`) || !strings.Contains(r.stdout, "strconv.Quote") {
		t.Errorf("help output = %q", r.stdout)
	}
	r = mustRun(t, 2, nil, "frobnicate")
	if !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands {
		name := c.name
		for _, args := range [][]string{{name, "--help"}, {name, "-h"}, {"help", name}} {
			r := mustRun(t, 0, nil, args...)
			if !strings.Contains(r.stdout, "usage: shmkv "+c.usage) || !strings.Contains(r.stdout, "example:\n  shmkv "+name) {
				t.Errorf("%v: help lacks usage or example: %q", args, r.stdout)
			}
		}
	}
}

func TestWrongArgumentCounts(t *testing.T) {
	for _, args := range [][]string{
		{"set"}, {"set", "t"}, {"set", "t", "k", "v", "extra"},
		{"get", "t"}, {"del", "t"}, {"incr", "t"}, {"keys"}, {"stats"},
		{"create"}, {"rm"}, {"ls", "x"}, {"dump"}, {"load"}, {"check"},
		{"set", "--bogus", "t", "k", "v"},
	} {
		r := mustRun(t, 2, nil, args...)
		if !strings.Contains(r.stderr, "--help") {
			t.Errorf("%v: stderr does not point to --help: %q", args, r.stderr)
		}
	}
}

func TestInvalidNames(t *testing.T) {
	for _, bad := range []string{"", "/", "a/b", "..", "a\x00b", strings.Repeat("n", 256)} {
		for _, args := range [][]string{
			{"set", bad, "k", "v"}, {"get", bad, "k"}, {"del", bad, "k"}, {"incr", bad, "k"},
			{"keys", bad}, {"stats", bad}, {"create", bad}, {"rm", bad}, {"dump", bad}, {"check", bad},
		} {
			if r := run(t, nil, args...); r.code != 2 {
				t.Errorf("%q: exit %d, want 2", args, r.code)
			}
		}
	}
}

func TestSizes(t *testing.T) {
	good := map[string]int64{"4096": 4096, "64MiB": 64 << 20, "1G": 1 << 30, "1g": 1 << 30, "2KB": 2000, "1.5K": 1536, "10 MB": 10e6, "7b": 7}
	for s, want := range good {
		if n, err := parseSize(s); err != nil || n != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", s, n, err, want)
		}
	}
	for _, s := range []string{"", "x", "-1", "1X", "MiB", "1e300G"} {
		if _, err := parseSize(s); err == nil {
			t.Errorf("parseSize(%q) succeeded", s)
		}
	}
}

func TestHelpUnknownCommand(t *testing.T) {
	r := mustRun(t, 2, nil, "help", "nosuch")
	if r.stdout != "" || !strings.Contains(r.stderr, `unknown command "nosuch"`) {
		t.Errorf("help nosuch: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	mustRun(t, 2, nil, "help", "get", "extra")
}

// TestFlagPlaceholders checks every command's flag list: a boolean flag is
// shown bare, and every other flag's argument is an upper-case placeholder
// (SIZE, N, DURATION), as in the usage lines.
func TestFlagPlaceholders(t *testing.T) {
	for _, c := range commands {
		r := mustRun(t, 0, nil, c.name, "--help")
		_, flags, ok := strings.Cut(r.stdout, "\nflags:\n")
		if !ok {
			continue
		}
		flags, _, _ = strings.Cut(flags, "\n\n")
		for _, line := range strings.Split(flags, "\n") {
			fields := strings.Fields(line)
			if len(fields) < 2 || !strings.HasPrefix(fields[0], "--") {
				t.Errorf("%s: flag line %q", c.name, line)
				continue
			}
			if strings.Contains(fields[0], "[=") {
				t.Errorf("%s: %q shows its boolean argument", c.name, line)
			}
			if arg := fields[1]; strings.ToUpper(arg) == arg && arg != strings.ToLower(arg) {
				continue // a placeholder
			}
			f := mustFlag(t, c, strings.TrimPrefix(fields[0], "--"))
			if f.Value.Type() != "bool" {
				t.Errorf("%s: %q: no upper-case placeholder", c.name, line)
			}
		}
	}
}

func mustFlag(t *testing.T, c *command, name string) *pflag.Flag {
	t.Helper()
	fs, _ := newFlagSet(c)
	f := fs.Lookup(name)
	if f == nil {
		t.Fatalf("%s has no flag --%s", c.name, name)
	}
	return f
}

func TestSizeUnitsDocumented(t *testing.T) {
	r := mustRun(t, 0, nil, "create", "--help")
	if !strings.Contains(strings.ReplaceAll(r.stdout, "\n", " "), "4GB is 4000000000 bytes") {
		t.Errorf("create --help does not say what 4GB is:\n%s", r.stdout)
	}
	for s, want := range map[string]int64{"4GB": 4e9, "4G": 4 << 30, "4GiB": 4 << 30, "64kb": 64e3, "1.5K": 1536} {
		if n, err := parseSize(s); err != nil || n != want {
			t.Errorf("parseSize(%q) = %d, %v, want %d", s, n, err, want)
		}
	}
}
