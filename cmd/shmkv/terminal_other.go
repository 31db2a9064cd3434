//go:build !linux

package main

import "io"

// isTerminal reports false: tables exist only on Linux, so the command
// does nothing here that a terminal would change.
func isTerminal(w io.Writer) bool { return false }
