//go:build !linux

package testproc

import "os/exec"

// dieWithParent does nothing where there is no parent-death signal; the
// tests that start children run on Linux.
func dieWithParent(*exec.Cmd) {}
