//go:build !linux

package region

import "time"

// Stand-ins for futex_linux.go, so that kv builds on every system code
// importing it is built on. kv never reaches them: its Open fails first.

// FutexWait sleeps for d and reports a timeout.
func FutexWait(w *uint32, val uint32, d time.Duration) (timedOut bool) { time.Sleep(d); return true }

// FutexWake wakes nobody.
func FutexWake(w *uint32, n int) int { return 0 }
