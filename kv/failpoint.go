//go:build shmkvfail

package kv

import (
	"sync/atomic"
	"syscall"
)

// Failpoint for the kill-sweep tests, compiled in only with the shmkvfail
// build tag (go test -tags shmkvfail): every store a writer makes to the
// region passes through storeStep, and every step of creating a table
// through sysStep. When crashAt is positive, the process kills itself
// with SIGKILL just before its crashAt-th step, so a test can stop a
// writer at every step of a write, a recovery or a creation and check what
// the survivors see. When crashAt is negative the steps are only counted.
var (
	crashAt    atomic.Int64
	storesMade atomic.Int64
)

func storeStep() {
	if crashAt.Load() == 0 {
		return
	}
	n := storesMade.Add(1)
	if at := crashAt.Load(); at > 0 && n >= at {
		syscall.Kill(syscall.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way; make no further store
	}
}

func sysStep() { storeStep() }
