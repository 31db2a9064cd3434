package main

import (
	"strings"
	"testing"
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
