// Package testproc starts the running test binary again as a child process,
// for tests of behaviour across processes, which the race detector cannot
// see: real processes sharing real memory. The child's TestMain recognises
// its role from the environment it is given.
package testproc

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// Child is a running child process.
type Child struct {
	Cmd *exec.Cmd
	// Stdin is the child's standard input; it stays open until the test
	// closes it or ends, so a child can hold on until it reads EOF.
	Stdin io.WriteCloser
	out   *bufio.Reader
}

// Start runs the test binary with env added to its environment, running no
// tests of its own. Its stderr is the test's; its stdout is read with Line
// or Rest. It is killed when the test ends, if it has not been waited for.
func Start(t testing.TB, env ...string) *Child {
	t.Helper()
	return start(t, exec.Command(os.Args[0], "-test.run=^$"), env)
}

// StartCmd is Start for a command that runs the test binary in its own
// way (through unshare(1), say); env is added to its environment.
func StartCmd(t testing.TB, cmd *exec.Cmd, env ...string) *Child {
	t.Helper()
	return start(t, cmd, env)
}

// StartAs is Start as the user and group uid, through setpriv(1) and a copy
// of the test binary that uid may execute. It skips the test when this
// process cannot change users (not root) or setpriv is missing.
func StartAs(t testing.TB, uid int, env ...string) *Child {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("only root can run a child as another user")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	bin := copyForAnyone(t)
	id := fmt.Sprint(uid)
	// The change of user clears the parent-death signal that start asks
	// for (prctl(2), PR_SET_PDEATHSIG): setpriv asks for it again after
	// its change.
	cmd := exec.Command(setpriv, "--reuid="+id, "--regid="+id, "--clear-groups", "--pdeathsig=SIGKILL", bin, "-test.run=^$")
	return start(t, cmd, env)
}

func start(t testing.TB, cmd *exec.Cmd, env []string) *Child {
	t.Helper()
	cmd.Env = append(os.Environ(), env...)
	dieWithParent(cmd)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Child{Cmd: cmd, Stdin: in, out: bufio.NewReader(out)}
	t.Cleanup(func() {
		in.Close()
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	return c
}

// Run runs the test binary to its end, as Start does, and returns its
// stdout and how it ended (see Killed).
func Run(t testing.TB, env ...string) (string, error) {
	t.Helper()
	c := Start(t, env...)
	c.Stdin.Close()
	out, _ := c.Rest()
	return out, c.Wait()
}

// Line reads one line of the child's stdout, without its newline.
func (c *Child) Line() (string, error) {
	s, err := c.out.ReadString('\n')
	return strings.TrimSuffix(s, "\n"), err
}

// Expect fails the test unless the child's next line is want.
func (c *Child) Expect(t testing.TB, want string) {
	t.Helper()
	if got, err := c.Line(); got != want {
		t.Fatalf("child said %q (%v), want %q", got, err, want)
	}
}

// Rest reads the child's stdout to its end.
func (c *Child) Rest() (string, error) {
	b, err := io.ReadAll(c.out)
	return string(b), err
}

// Wait waits for the child to exit.
func (c *Child) Wait() error { return c.Cmd.Wait() }

// Kill kills the child with SIGKILL and reaps it.
func (c *Child) Kill() {
	c.Cmd.Process.Kill()
	c.Cmd.Wait()
}

// Killed reports whether err, from Wait, says the child died of SIGKILL.
func Killed(err error) bool {
	ee, ok := err.(*exec.ExitError)
	if !ok {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// copyForAnyone copies the test binary into a directory every user may
// enter, since go test builds it in one only its builder may. The copy goes
// when the test ends.
func copyForAnyone(t testing.TB) string {
	dir := t.TempDir()
	bin := filepath.Join(dir, "test")
	src, err := os.ReadFile(os.Args[0])
	if err == nil {
		err = os.WriteFile(bin, src, 0o755)
	}
	// t.TempDir makes two levels, each open to its owner alone.
	for _, d := range []string{dir, filepath.Dir(dir)} {
		if err == nil {
			err = os.Chmod(d, 0o755)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

var nameSeq atomic.Int64

// UniqueName returns a shared-memory object name no other test or process
// uses, starting with prefix. Removing the object is the caller's business.
func UniqueName(prefix string) string {
	return fmt.Sprintf("shmkv-test-%s-%d-%d", prefix, os.Getpid(), nameSeq.Add(1))
}
