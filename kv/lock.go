package kv

import (
	"runtime"
	"sync/atomic"
	"time"
)

// The shard lock: a futex-style mutex on a 32-bit word in shared memory,
// after the three-state design of the Go runtime's lock_futex.go.
//
// The futex contract this builds on (see futexWait and futexWake):
//   - futexWait(w, v, d) sleeps only while *w == v, and returns after a
//     wake, after d, or spuriously; the caller always re-reads the word.
//   - futexWake(w, n) wakes up to n sleepers on w in any process that maps
//     the same object (shared futexes, never FUTEX_PRIVATE_FLAG).
//
// The word: bits 0-1 are the state, bits 2-31 the owner (registry slot and
// generation, see registry.go), set in the same compare-and-swap that takes
// the lock so that a dead owner can always be named.
//
//	0                 unlocked
//	owner|lockLocked  locked, no one sleeping
//	owner|lockSleep   locked, and someone may be sleeping: unlock must wake
//
// A waiter that sleeps first moves the word to lockSleep, so an unlock that
// sees lockLocked knows it can skip the wake syscall. Every sleep has a
// timeout; after one that expires, the waiter checks whether the owner is
// alive. A dead owner's word is replaced with the waiter's own by
// compare-and-swap, so exactly one waiter takes over, and that waiter
// rebuilds the shard before using it. A live owner is never robbed: past
// the caller's LockTimeout the answer is ErrLockTimeout.
const (
	// The futex operations, without FUTEX_PRIVATE_FLAG (128).
	futexWaitOp = 0
	futexWakeOp = 1

	lockLocked    = 1
	lockSleep     = 2
	lockStateMask = 3

	lockSpins = 4
	// lockSlice is how long one futex sleep lasts before the waiter looks at
	// the owner again; it bounds how late a dead owner is noticed.
	lockSlice = 20 * time.Millisecond
)

// lock takes shard s's lock. It reports whether the lock was taken over from
// a dead owner, in which case the caller must recover the shard.
func (t *Table) lock(s *shard) (tookOver bool, err error) {
	w := s.lockWord
	if atomic.CompareAndSwapUint32(w, 0, t.owner|lockLocked) {
		return false, nil
	}
	return t.lockSlow(s)
}

func (t *Table) lockSlow(s *shard) (tookOver bool, err error) {
	w := s.lockWord
	t.r.add(s.ctl+ctlLockWaits/8, 1)
	for range lockSpins {
		runtime.Gosched()
		if atomic.LoadUint32(w) == 0 && atomic.CompareAndSwapUint32(w, 0, t.owner|lockLocked) {
			return false, nil
		}
	}
	deadline := time.Now().Add(t.lockTimeout)
	for {
		v := atomic.LoadUint32(w)
		if v == 0 {
			// Others may be asleep: take it in the sleep state so that our
			// unlock wakes one of them.
			if atomic.CompareAndSwapUint32(w, 0, t.owner|lockSleep) {
				return false, nil
			}
			continue
		}
		if v&lockStateMask != lockSleep {
			if !atomic.CompareAndSwapUint32(w, v, v&^lockStateMask|lockSleep) {
				continue
			}
			v = v&^lockStateMask | lockSleep
		}
		timedOut := futexWait(w, v, lockSlice)
		if timedOut && atomic.LoadUint32(w) == v && !t.ownerAlive(v) {
			if atomic.CompareAndSwapUint32(w, v, t.owner|lockSleep) {
				return true, nil
			}
			continue
		}
		if time.Now().After(deadline) {
			return false, ErrLockTimeout
		}
	}
}

// unlock releases shard s's lock, waking one sleeper if any may be waiting.
func (t *Table) unlock(s *shard) {
	if atomic.SwapUint32(s.lockWord, 0)&lockStateMask == lockSleep {
		futexWake(s.lockWord, 1)
	}
}
