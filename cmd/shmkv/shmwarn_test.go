package main

import (
	"strings"
	"testing"
)

// TestShmWarningRule: stats warns exactly when /dev/shm is under 1 GiB
// and the table's ceiling is at least a quarter of it.
func TestShmWarningRule(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		size     int64
		maxBytes uint64
		says     string // "" for no warning
	}{
		{64 * mib, 16 * mib, "the table's maximum memory, 16.0 MiB, is the default: a quarter of /dev/shm, which is only 64.0 MiB"},
		{64 * mib, 32 * mib, "the table's maximum memory, 32.0 MiB, is more than a quarter of /dev/shm, which holds every table here and is only 64.0 MiB"},
		{64 * mib, 1024 * mib, "the table's maximum memory is 1.0 GiB, but /dev/shm, which holds every table here, is only 64.0 MiB"},
		{64 * mib, 16*mib - 1, ""}, // chosen smaller than the default
		{64 * mib, 8 * mib, ""},    // likewise
		{1023 * mib, 1023 * mib / 4, "is the default"},
		{1024 * mib, 256 * mib, ""}, // /dev/shm of 1 GiB is not small
		{24 << 30, 6 << 30, ""},
		{0, 16 * mib, ""}, // size unknown
	} {
		got := shmWarning(c.size, c.maxBytes)
		if (got == "") != (c.says == "") || !strings.Contains(got, c.says) {
			t.Errorf("shmWarning(%d, %d) = %q, want one saying %q", c.size, c.maxBytes, got, c.says)
		}
		if got != "" {
			for _, want := range []string{"--shm-size", "shm_size:", "emptyDir", "medium: Memory", "sizeLimit", "--max-memory"} {
				if !strings.Contains(got, want) {
					t.Errorf("shmWarning(%d, %d) does not say %q: %s", c.size, c.maxBytes, want, got)
				}
			}
		}
	}
}

// TestStatsWarnsSmallShm: on a host whose /dev/shm is 64 MiB (Docker's
// default), stats of a table with the default ceiling there (16 MiB)
// prints its figures and one warning line on stderr; --json and
// --prometheus print only what they always print.
func TestStatsWarnsSmallShm(t *testing.T) {
	saved := shmSize
	t.Cleanup(func() { shmSize = saved })
	shmSize = func() int64 { return 64 << 20 }
	name := tableName(t)
	mustRun(t, 0, nil, "create", name, "--max-memory", "16MiB")
	r := mustRun(t, 0, nil, "stats", name)
	if !strings.Contains(r.stdout, "of at most 16.0 MiB") {
		t.Errorf("stats stdout:\n%s", r.stdout)
	}
	want := "shmkv: warning: the table's maximum memory, 16.0 MiB, is the default: a quarter of /dev/shm, which is only 64.0 MiB; give /dev/shm more room (docker run --shm-size 1g"
	if !strings.HasPrefix(r.stderr, want) || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("stats stderr = %q, want one line starting %q", r.stderr, want)
	}
	for _, flag := range []string{"--json", "--prometheus"} {
		if r := mustRun(t, 0, nil, "stats", name, flag); r.stderr != "" || strings.Contains(r.stdout, "warning") {
			t.Errorf("stats %s: stderr %q, stdout\n%s", flag, r.stderr, r.stdout)
		}
	}
	// The real /dev/shm, or a table smaller than a quarter of 64 MiB:
	// no warning.
	small := tableName(t)
	mustRun(t, 0, nil, "create", small, "--max-memory", "8MiB")
	if r := mustRun(t, 0, nil, "stats", small); r.stderr != "" {
		t.Errorf("stats of an 8 MiB table on a 64 MiB /dev/shm warns: %q", r.stderr)
	}
}
