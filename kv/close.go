package kv

import (
	"runtime"

	"github.com/shmkv/shmkv/shm"
)

// Close gives up this handle's registry slot and its mapping of the table.
// Calling it again does nothing; any other use after it returns ErrClosed.
//
// A call still under way on another goroutine when Close runs returns
// ErrClosed too, having done all, some or none of its work; what it left
// half done is recovered like the work of a process that died, so no other
// user of the table sees it. Close does not wait for such calls. Instead
// it revokes the mapping, in this order:
//  1. The mapping's pages become an inaccessible reservation of the same
//     addresses (shm.Mapping.Revoke): a late access faults, and the call
//     that made it returns ErrClosed. The addresses stay
//     reserved, so no table opened later can be mapped where a late access
//     would land and be written by it.
//  2. Only then is the descriptor closed, which drops this handle's
//     liveness lock. Other processes may take over a lock it held only once
//     nothing of this handle can write to the table any more.
//  3. The reservation is released once t is unreachable, which it is not
//     while any method of t is under way.
func (t *Table) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	t.stopFlusher()
	if err := t.mapping.Revoke(); err != nil {
		// Without the guard in place, closing the descriptor would let
		// another process recover a shard that a call of this handle may
		// still be writing. Keep both: a leak, but no corruption.
		return err
	}
	err := t.sh.Close()
	if t.lockObj != nil {
		// This drops the handle's liveness lock.
		if lerr := t.lockObj.Close(); err == nil {
			err = lerr
		}
	}
	runtime.AddCleanup(t, func(m *shm.Mapping) { m.Unmap() }, t.mapping)
	return err
}
