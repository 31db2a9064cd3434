package kv

import (
	"sync/atomic"
	"syscall"
)

// Failpoint for the kill-sweep tests: every store a writer makes to the
// region passes through storeStep. When crashAt is positive, the process
// kills itself with SIGKILL just before its crashAt-th store, so a test can
// stop a writer at every step of a write or a recovery and check what the
// survivors see. When crashAt is negative the stores are only counted. In
// normal use crashAt is 0 and storeStep costs one load and a branch.
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
