package main

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestUnderAddressLimit: under ulimit -v 4G (4194304 KiB, issue 22's bar)
// shmkv set creates a table with the default options and other processes
// under the same limit read it; a table created without the limit with a
// larger ceiling is refused there with one line that names the table, the
// bytes its mapping takes and the limit, and says what to do.
func TestUnderAddressLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildShmkv(t)
	limited := func(args ...string) (stdout, stderr string, code int) {
		t.Helper()
		cmd := exec.Command("sh", append([]string{"-c", `ulimit -v 4194304 && exec "$0" "$@"`, bin}, args...)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	name := tableName(t)
	if _, stderr, code := limited("set", name, "k", "v"); code != 0 {
		t.Fatalf("set under ulimit -v 4194304: exit %d: %s", code, stderr)
	}
	if out, stderr, code := limited("get", name, "k"); out != "v" || code != 0 {
		t.Fatalf("get under ulimit -v 4194304 = %q, exit %d: %s", out, code, stderr)
	}
	if out, stderr, code := limited("stats", name); code != 0 {
		t.Fatalf("stats under ulimit -v 4194304: exit %d: %s", code, stderr)
	} else {
		t.Logf("stats:\n%s", out)
	}

	big := tableName(t)
	mustRun(t, 0, nil, "create", big, "--max-memory", "1GiB")
	_, stderr, code := limited("get", big, "k")
	t.Logf("get of a 1 GiB-ceiling table under the limit: exit %d: %s", code, stderr)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if strings.Count(stderr, "\n") != 1 {
		t.Errorf("not one line on stderr: %q", stderr)
	}
	for _, want := range []string{
		"shmkv: open /" + big + ": not enough address space to map the table",
		"mapping it takes ", "(RLIMIT_AS, ulimit -v) is " + strconv.FormatInt(4<<30, 10) + " bytes",
		"raise ulimit -v", "--max-memory",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q: %s", want, stderr)
		}
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("a panic: %s", stderr)
	}

	// ls lists the table it cannot map, with why, rather than leaving it
	// out as if it were no table.
	out, stderr, code := limited("ls")
	if code != 0 {
		t.Fatalf("ls under the limit: exit %d: %s", code, stderr)
	}
	found := false
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == big {
			found = strings.Contains(line, "not enough address space")
		}
	}
	if !found {
		t.Errorf("ls under the limit has no line for %s saying why it cannot open it:\n%s", big, out)
	}
}
