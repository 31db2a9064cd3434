package kv

import (
	"sync/atomic"
	"time"

	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/host"
	"github.com/shmkv/shmkv/kv/internal/region"
)

// The shard lock: a futex-style mutex on a 32-bit word in shared memory,
// after the three-state design of the Go runtime's lock_futex.go.
//
// The futex contract this builds on (region.FutexWait and region.FutexWake):
//   - region.FutexWait(w, v, d) sleeps only while *w == v, and returns after a
//     wake, after d, or spuriously; the caller always re-reads the word.
//   - region.FutexWake(w, n) wakes up to n sleepers on w in any process that maps
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
// sees lockLocked knows it can skip the wake syscall. Sleepers also count
// themselves in the control block's waiter word, so that a woken waiter
// takes the lock in the sleep state only while others still sleep; without
// that, two busy threads would pay a wake syscall on every unlock. A waiter
// killed while counted leaves the count high until an unlock finds nobody
// to wake (unlock). Every sleep has a timeout; after one that expires, the waiter checks whether the owner is
// alive. A dead owner's word is replaced with the waiter's own by
// compare-and-swap, so exactly one waiter takes over, and that waiter
// rebuilds the shard before using it. A live owner is never robbed: past
// the caller's LockTimeout the answer is ErrLockTimeout.
const (
	lockLocked = 1
	lockSleep  = 2

	lockSpins  = 2000
	lockYields = 8
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
	t.r.Add(s.ctl+format.CtlLockWaits/8, 1)
	// Critical sections are short (no syscalls, no allocation): a holder on
	// another core is usually done within a few hundred nanoseconds, far
	// less than a futex sleep and wake cost. Spin on the word, then yield
	// the processor a few times, then sleep. The yield is sched_yield, as
	// the runtime's osyield: the holder may be another process waiting for
	// this core, which runtime.Gosched, a switch between goroutines, would
	// not give it.
	for i := range lockSpins {
		if i >= lockSpins-lockYields {
			host.Yield()
		}
		if atomic.LoadUint32(w) == 0 && atomic.CompareAndSwapUint32(w, 0, t.owner|lockLocked) {
			return false, nil
		}
	}
	deadline := time.Now().Add(t.lockTimeout)
	for {
		v := atomic.LoadUint32(w)
		if v == 0 {
			// If others are asleep, take it in the sleep state so that our
			// unlock wakes one of them.
			state := uint32(lockLocked)
			if s.ctlLoad(format.CtlWaiters) != 0 {
				state = lockSleep
			}
			if atomic.CompareAndSwapUint32(w, 0, t.owner|state) {
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
		s.ctlAdd(format.CtlWaiters, 1)
		timedOut := region.FutexWait(w, v, lockSlice)
		s.leaveWaiters()
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

// tryLock takes shard s's lock only if it is free, and never waits. A
// shard that needs recovery is left to a caller that can recover it.
func (t *Table) tryLock(s *shard) bool {
	if !atomic.CompareAndSwapUint32(s.lockWord, 0, t.owner|lockLocked) {
		return false
	}
	if s.ctlLoad(format.CtlFlags) != 0 || s.ctlLoad(format.CtlSeq)&1 != 0 {
		t.unlock(s)
		return false
	}
	return true
}

// loadLockWord loads shard s's lock word.
func loadLockWord(s *shard) uint32 { return atomic.LoadUint32(s.lockWord) }

// unlock releases shard s's lock, waking one sleeper if any may be waiting.
//
// A waiter killed while counted would leave the waiter count high for
// good, and every later acquirer would take the lock in the sleep state
// and pay a wake syscall on unlock. So an unlock whose wake found nobody
// asleep, while the count says someone is, clears the count. A live waiter
// that this undercounts (one between counting itself and sleeping) costs
// at most one lockSlice of extra sleep: its futex wait has that timeout,
// after which it marks the word again.
func (t *Table) unlock(s *shard) {
	if atomic.SwapUint32(s.lockWord, 0)&lockStateMask == lockSleep {
		if region.FutexWake(s.lockWord, 1) == 0 && s.ctlLoad(format.CtlWaiters) != 0 {
			s.ctlStore(format.CtlWaiters, 0)
		}
	}
}

// leaveWaiters takes a waiter off the count, which unlock may have cleared
// under it: the count never goes below zero.
func (s *shard) leaveWaiters() {
	for {
		n := s.ctlLoad(format.CtlWaiters)
		if n == 0 || s.r.CAS(s.ctl+format.CtlWaiters/8, n, n-1) {
			return
		}
	}
}
