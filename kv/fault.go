package kv

import (
	"fmt"
	"runtime/debug"
)

// Faults. A peer that can write the object can also truncate it, and the
// next touch of a page past the new end is a SIGBUS, which would kill this
// process. Every public operation therefore runs with the runtime's
// panic-on-fault mode on: a fault in the region becomes a panic, which
// guardFault turns into ErrCorrupt. The deferred calls that release locks
// run on the way out.
//
// Use as the first statement of a method with a named error result:
//
//	defer guardFault(debug.SetPanicOnFault(true), &err)
func guardFault(previous bool, err *error) {
	if r := recover(); r != nil {
		debug.SetPanicOnFault(previous)
		f, ok := r.(interface{ Addr() uintptr })
		if !ok {
			panic(r)
		}
		*err = fmt.Errorf("%w: memory fault at %#x: the object was truncated under this process", ErrCorrupt, f.Addr())
		return
	}
	debug.SetPanicOnFault(previous)
}
