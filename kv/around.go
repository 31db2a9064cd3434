package kv

import (
	"sync/atomic"
	"time"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// Reading around a writer.
//
// A read whose optimistic attempts keep failing (read.go) does not wait
// for the shard's writer to finish, since that writer may be stopped
// (SIGSTOP, a debugger) or dead. Get, GetVersion, Range and Check climb
// the same ladder, one shard at a time (around.next):
//
//   - While the shard's lock word and sequence counter keep changing, a
//     writer is at work: the reader pauses briefly and tries optimistically
//     again.
//   - Once the pair has stayed the same for stuckAfter, or the lock's
//     holder is provably dead, or nobody holds the lock, the reader reads
//     around the holder: a dirty read (tryGet, copyLive's copyDirty),
//     which ignores the counter's parity but not its changes, and verifies
//     every checksum. The handle remembers the pair (stall.around), so
//     that while it stays the same every later read of the shard reads
//     around it at once: the judgement costs at most stuckAfter once per
//     stall, not per call. It is remembered in this process's memory only;
//     a reader stores nothing in the region on this path.
//   - A read-write handle takes the lock instead, without waiting, where
//     the shard needs a recovery that only a lock holder may make: its
//     holder is provably dead (the lock is taken over by compare-and-swap,
//     as lockSlow does after its sleep), or nobody holds it and it is
//     flagged for rebuild, or its counter is odd, or a read around failed
//     with nothing changing (a damaged index). It then reads under the
//     lock, after lockShard's recovery, rebuilding the index if the read
//     fails (getLocked, snapshotLocked). A live holder is never robbed.
//
// Reading around fails only where the index cannot be trusted: the shard
// is flagged for rebuild (one under way, or failed), or damaged beyond one
// entry. Then the reader waits, until a deadline of livenessBound (at most
// LockTimeout), for a change of the pair (a writer that finishes, or a
// read-write user that takes over a dead holder's lock and recovers the
// shard), and past it answers ErrLockTimeout (a holder that may be alive)
// or ErrOwnerDead (a dead one, to a read-only handle), remembering the
// verdict (stall.failing), so that a later read of the unchanged shard,
// whose read around fails again, answers at once. With no holder at all,
// a read-only handle answers ErrCorrupt once a second read around, after
// a pause, fails with nothing changed: nobody will change the shard. And writers that keep changing the shard under every attempt
// until the deadline get ErrLockTimeout too.

const (
	// stuckAfter is how long a lock holder that may be alive must leave
	// the shard's lock word and counter unchanged before readers read
	// around it. Writers do no system call and no allocation inside a
	// write section except on rare paths (a grow, a rebuild, a Repair),
	// so a live, running writer seldom holds one that long; one that does
	// is read around as well, which is sound (tryGet), only less often
	// needed.
	stuckAfter = 2 * time.Millisecond
	// aroundPause is how long a reader pauses between looks at a shard
	// whose writer is at work.
	aroundPause = 100 * time.Microsecond
)

// stallPair packs a lock word and a counter. Only pairs with a held lock
// are remembered, so none is 0. Two pairs that differ only above the
// counter's low 32 bits compare equal: a read then skips the wait for a
// stuck writer, which is sound since every read around is checked on its
// own (tryGet), or, if reading around fails, answers a remembered failure
// at once instead of after the wait. Either takes 2^31 writes, all under
// one lock word, between two looks.
func stallPair(w uint32, seq uint64) uint64 { return uint64(w)<<32 | seq&(1<<32-1) }

// move is what around.next tells its caller to do.
type move int

const (
	moveWait   move = iota // try optimistically (after a pause)
	moveAround             // read around the holder
	moveLocked             // the lock is held, the shard recovered: read under it, then unlock
)

// around is one read's climb of the ladder on one shard.
type around struct {
	t         *Table
	s         *shard
	memo      *stall
	start     time.Time
	deadline  time.Time
	lockFree  bool // a read-write handle takes a free lock rather than read around (Check)
	tries     int
	w         uint32 // the pair at the last look
	seq       uint64
	since     time.Time // since when the pair has been the same
	owner     liveness  // of w, once probed
	probed    bool
	unchanged int  // reads around that failed with nobody holding the lock and nothing changing
	repair    bool // a read-write handle takes a free lock: the index may need rebuilding
	takeOver  bool // a read-write handle found the remembered holder dead: skip the memo
}

func (t *Table) around(s *shard, deadline time.Time) around {
	return around{t: t, s: s, memo: &t.stalls[s.index], start: time.Now(), deadline: deadline}
}

// next looks at the shard and says how to read it next. It pauses first,
// except the first time. Past the deadline it says to read around, and
// the caller's failure (failed) ends the climb. An error is final:
// ErrCorrupt from the recovery of a shard whose lock it took, which it
// has let go again.
func (a *around) next() (move, error) {
	t, s := a.t, a.s
	if a.tries > 0 {
		time.Sleep(aroundPause)
	}
	a.tries++
	w, seq := loadLockWord(s), s.ctlLoad(format.CtlSeq)
	now := time.Now()
	if a.tries == 1 || w != a.w || seq != a.seq {
		a.w, a.seq, a.since, a.probed = w, seq, now, false
	}
	if a.tries > 1 && now.After(a.deadline) {
		// One last read around, whose failure says why (failed).
		return moveAround, nil
	}
	if w == 0 {
		if !t.readOnly && (a.lockFree || a.repair || seq&1 != 0 || s.ctlLoad(format.CtlFlags) != 0) {
			// Nobody finishes what was left, unless we do. A free lock
			// is taken without waiting.
			if atomic.CompareAndSwapUint32(s.lockWord, 0, t.owner|lockLocked) {
				return a.locked(false)
			}
			return moveWait, nil
		}
		return moveAround, nil
	}
	p := stallPair(w, seq)
	if !a.takeOver && (a.memo.around.Load() == p || a.memo.failing.Load() == p) {
		return moveAround, nil
	}
	if a.holderDead() {
		if !t.readOnly {
			// As lockSlow takes over after its sleep: in the sleep
			// state, since waiters may be asleep on the word.
			if atomic.CompareAndSwapUint32(s.lockWord, w, t.owner|lockSleep) {
				return a.locked(true)
			}
			return moveWait, nil
		}
		a.memo.around.Store(p)
		return moveAround, nil
	}
	if now.Sub(a.since) >= stuckAfter {
		a.memo.around.Store(p)
		return moveAround, nil
	}
	if now.Sub(a.start) >= stuckAfter {
		// Writers keep coming: a read around them needs only the
		// counter to hold still while it reads, not to be even.
		return moveAround, nil
	}
	return moveWait, nil
}

// holderDead reports whether the lock word of the last look is held by a
// process that is provably dead, probing it once per change of the pair.
func (a *around) holderDead() bool {
	if !a.probed {
		a.owner, a.probed = a.t.probeOwner(a.w), true
	}
	return a.owner == ownerDead
}

// locked readies the shard whose lock this read just took.
func (a *around) locked(tookOver bool) (move, error) {
	if err := a.t.readyLocked(a.s, tookOver); err != nil {
		return 0, err
	}
	return moveLocked, nil
}

// failed is told that a read around failed: it returns the error to give
// up with, or nil to go on climbing. Past the deadline it always returns
// one.
func (a *around) failed() error {
	t, s := a.t, a.s
	late := time.Now().After(a.deadline)
	if loadLockWord(s) != a.w || s.ctlLoad(format.CtlSeq) != a.seq {
		if late {
			// Writers came and went for the whole bound, and no read
			// got between them.
			return ErrLockTimeout
		}
		return nil
	}
	if a.w == 0 {
		// Nothing changes, and nobody is there to change it: a
		// read-write handle rebuilds the index under the lock (as
		// lockShard's caller would), a read-only one can only say so.
		if !t.readOnly && !a.repair && !late {
			a.repair = true
			return nil
		}
		if a.unchanged++; a.unchanged >= 2 || late {
			return errUnreadable
		}
		return nil
	}
	p := stallPair(a.w, a.seq)
	if a.memo.failing.Load() != p && !late {
		return nil
	}
	a.memo.failing.Store(p)
	if a.holderDead() {
		if !t.readOnly && !a.takeOver {
			// The holder died after its stall was remembered, which
			// keeps next from looking at it again: a read-write handle
			// takes its lock over and recovers the shard, as it would
			// have at a first look.
			a.takeOver = true
			return nil
		}
		return ErrOwnerDead
	}
	return ErrLockTimeout
}
