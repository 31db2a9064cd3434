package testproc

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill cmd's process when this one dies. A
// test binary that dies without running its cleanups (a panic on a
// goroutine of its own, a -timeout) then takes its children with it: one
// left running would hold tables and a core for as long as it ran. The
// signal comes when the thread that started the child exits, and the Go
// runtime ends a thread only when a goroutine locked to it returns, which
// no test here does.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
