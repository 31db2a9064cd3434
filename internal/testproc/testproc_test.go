package testproc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The roles the test binary plays when started by these tests.
const roleEnv = "TESTPROC_TEST_ROLE"

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "sleeper":
		// Says it runs, which it does only once setpriv, if it came
		// through setpriv, has changed user and run it. Then it ignores
		// its stdin, whose end would otherwise tell it that its parent
		// died: only the parent-death signal ends it early.
		fmt.Println("ready")
		time.Sleep(time.Minute)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestParentDiesHelper runs only in a child of TestChildDiesWithParent: it
// starts a sleeper, says its pid, and exits without running cleanups, as
// a test binary that panics on a goroutine of its own does.
func TestParentDiesHelper(t *testing.T) {
	how := os.Getenv(roleEnv)
	if !strings.HasPrefix(how, "parent") {
		t.Skip("runs only as the child of TestChildDiesWithParent")
	}
	var c *Child
	if how == "parent-as" {
		c = StartAs(t, 65534, roleEnv+"=sleeper")
	} else {
		c = Start(t, roleEnv+"=sleeper")
	}
	c.Expect(t, "ready")
	fmt.Printf("%d\n", c.Cmd.Process.Pid)
	os.Exit(3)
}

func TestChildDiesWithParent(t *testing.T) {
	for _, how := range []string{"parent", "parent-as"} {
		t.Run(how, func(t *testing.T) {
			if how == "parent-as" {
				if os.Geteuid() != 0 {
					t.Skip("only root can run a child as another user")
				}
				if _, err := exec.LookPath("setpriv"); err != nil {
					t.Skip("setpriv (util-linux) is not installed")
				}
			}
			parent := exec.Command(os.Args[0], "-test.run=^TestParentDiesHelper$")
			// The parent dies without its cleanups, so the copy of the
			// binary StartAs makes goes in a directory of this test's,
			// which every user may enter, as StartAs needs.
			tmp := t.TempDir()
			for _, d := range []string{tmp, filepath.Dir(tmp)} {
				if err := os.Chmod(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			parent.Env = append(os.Environ(), roleEnv+"="+how, "TMPDIR="+tmp)
			// Its stderr goes nowhere: the sleeper inherits it, and Output
			// would wait for its end.
			parent.Stderr = nil
			var stdout strings.Builder
			parent.Stdout = &stdout
			err := parent.Run()
			out := stdout.String()
			if err == nil {
				t.Fatalf("the parent exited cleanly: %q", out)
			}
			pid, perr := strconv.Atoi(strings.TrimSpace(out))
			if perr != nil {
				t.Fatalf("the parent said %q (%v)", out, err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for running(pid) {
				if time.Now().After(deadline) {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Fatalf("child %d still runs 10 s after its parent died", pid)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// running reports whether process pid exists and is not a zombie (one
// that died and that its new parent has not reaped yet).
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
