package region

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The futex operations, without FUTEX_PRIVATE_FLAG (128): the word is
// shared between processes.
const (
	futexWaitOp = 0
	futexWakeOp = 1
)

// The pointers are converted to uintptr inside the syscall expression
// itself, which keeps them valid for the call (rule 4 of unsafe.Pointer).
// w points into the mapping, which is not moved, and ts lives on the stack
// for the duration of the call.

// FutexWait sleeps while *w == val, for at most d; it may also return
// spuriously or after a FutexWake. It reports whether the wait ended by
// timing out.
func FutexWait(w *uint32, val uint32, d time.Duration) (timedOut bool) {
	ts := unix.NsecToTimespec(int64(d))
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWaitOp, uintptr(val),
		uintptr(unsafe.Pointer(&ts)), 0, 0)
	return errno == unix.ETIMEDOUT
}

// FutexWake wakes at most n sleepers on w, in any process that maps it, and
// returns how many it woke.
func FutexWake(w *uint32, n int) int {
	woken, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWakeOp, uintptr(n), 0, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(woken)
}
