package kv

import (
	"fmt"
	"os"
	"time"

	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/host"
)

// Liveness. A lock word names its owner by registry slot and generation.
// The owner is alive exactly while it holds the open-file-description
// write lock on its slot's byte of the lock object (lockobject.go), byte i
// for slot i, and the slot's generation is still the one in the word:
//   - The kernel releases an OFD lock when the last descriptor of the open
//     file description closes, which happens when the process dies, zombie
//     or not. PID reuse cannot forge it, as kill(pid, 0) could.
//   - A new process that claims the slot takes the byte and then bumps the
//     generation, so a word written by an earlier holder of the slot stops
//     looking alive as soon as the bump lands.
//   - Only write locks count: a probe asks F_OFD_GETLK for a read lock,
//     which only a write lock conflicts with. Only a process that may write
//     the table can open the lock object read-write and take one.

const genBits = 20

// claimSlot takes a free registry slot for this handle, starting the search
// at a place derived from the pid so that concurrent openers rarely collide.
func (t *Table) claimSlot() error {
	n := t.g.RegistrySlots
	start := os.Getpid() % n
	for k := range n {
		i := (start + k) % n
		busy, err := host.LockByte(t.lockObj.Fd(), int64(i))
		if busy {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "fcntl F_OFD_SETLK", Path: t.name, Err: err}
		}
		rec := t.g.RegistryOffset/8 + int64(i)*format.RegistryRecordSize/8
		gen := t.r.Add(rec+format.RegGeneration/8, 1)
		t.r.Store(rec+format.RegPID/8, uint64(os.Getpid()))
		t.r.Store(rec+format.RegClaimedAt/8, uint64(time.Now().UnixNano()))
		t.slot = i
		t.owner = lockOwner(i, gen)
		return nil
	}
	return fmt.Errorf("%w: all %d registry slots are in use", ErrTooManyProcesses, n)
}

// lockOwner is the owner field of a lock word: bits 2-11 the registry slot,
// bits 12-31 the generation's low bits.
func lockOwner(slot int, gen uint64) uint32 {
	return uint32(slot)<<2 | uint32(gen&(1<<genBits-1))<<12
}

// liveness is what a probe of a lock word's owner found.
// lockStateMask is the state bits of a lock word (lock.go); the rest of
// the word names its owner.
const lockStateMask = 3

type liveness int

const (
	ownerDead    liveness = iota // provably dead: its write lock is gone, or its slot has a new generation
	ownerLive                    // holds its write lock
	ownerUnknown                 // this handle has no descriptor of the lock object to ask with
)

// ownerAlive reports whether the owner named in lock word w may still live:
// a writer never steals a lock from a process it cannot prove dead.
func (t *Table) ownerAlive(w uint32) bool { return t.probeOwner(w) != ownerDead }

// probeOwner finds out whether the owner named in lock word w still lives.
func (t *Table) probeOwner(w uint32) liveness {
	owner := w &^ lockStateMask
	if !t.readOnly && owner == t.owner {
		return ownerLive
	}
	slot := int(owner >> 2 & (format.MaxProcs - 1))
	if slot >= t.g.RegistrySlots {
		return ownerDead // no process could have written it: a corrupt word
	}
	rec := t.g.RegistryOffset/8 + int64(slot)*format.RegistryRecordSize/8
	if lockOwner(slot, t.r.Load(rec+format.RegGeneration/8)) != owner {
		return ownerDead
	}
	if t.lockObj == nil {
		return ownerUnknown
	}
	locked, err := host.ByteWriteLocked(t.lockObj.Fd(), int64(slot))
	switch {
	case err != nil:
		return ownerUnknown
	case !locked:
		return ownerDead
	}
	return ownerLive
}
