//go:build shmkvfail

package failpoint

import (
	"sync/atomic"
	"syscall"
)

var (
	// CrashAt is the step before which the process kills itself, when
	// positive; when negative, steps are counted and nothing is killed;
	// when 0, Step does nothing.
	CrashAt atomic.Int64
	// Steps counts the steps made while CrashAt is not 0.
	Steps atomic.Int64
)

// Step is one step of a write or a creation.
func Step() {
	if CrashAt.Load() == 0 {
		return
	}
	n := Steps.Add(1)
	if at := CrashAt.Load(); at > 0 && n >= at {
		syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way; make no further step
	}
}
