//go:build !shmkvfail

package kv

// Without the shmkvfail build tag the failpoint (failpoint.go) compiles to
// nothing.

func storeStep() {}
func sysStep()   {}
