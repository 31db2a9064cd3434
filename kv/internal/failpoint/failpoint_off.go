//go:build !shmkvfail

package failpoint

// Step is one step of a write or a creation: without the shmkvfail build
// tag, nothing.
func Step() {}
