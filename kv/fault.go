package kv

import (
	"fmt"
	"runtime/debug"
)

// Faults. A peer that can write the object can also truncate it, and the
// next touch of a page past the new end is a SIGBUS, which would kill this
// process. And a call racing Close touches addresses that Close has made
// inaccessible (see Close). Every public operation therefore runs with the
// runtime's panic-on-fault mode on: a fault in the region becomes a panic,
// which the deferred guard turns into an error, ErrClosed once the handle
// is closed and ErrCorrupt otherwise. The deferred calls that release
// locks run on the way out.
//
// Use as the first statement of a method with a named error result:
//
//	defer t.guard(debug.SetPanicOnFault(true), &err)
//
// A deferred call holds its receiver until it runs, so guard also keeps t
// reachable until the method returns: the cleanup that Close registers on
// t cannot release the revoked addresses while any call is still under
// way.
func (t *Table) guard(previous bool, err *error) {
	r := recover()
	debug.SetPanicOnFault(previous)
	if r != nil {
		*err = faultError(r, t.closed.Load())
	}
}

// guardFault is guard for Open, which runs before there is a Table.
func guardFault(previous bool, err *error) {
	r := recover()
	debug.SetPanicOnFault(previous)
	if r != nil {
		*err = faultError(r, false)
	}
}

// faultError is the error for a recovered panic r, which it re-raises if
// it is not a memory fault.
func faultError(r any, closed bool) error {
	f, ok := r.(interface{ Addr() uintptr })
	if !ok {
		panic(r)
	}
	if closed {
		return ErrClosed
	}
	return fmt.Errorf("%w: memory fault at %#x: the object was truncated under this process", ErrCorrupt, f.Addr())
}
