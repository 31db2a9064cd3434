package kv

import (
	"sync/atomic"
	"unsafe"
)

// This file holds all of the package's unsafe pointer work. Everything else
// reaches the region through these functions, by word index, with Go's
// bounds checks in force.
//
// Why it is sound:
//   - The mapping starts on a page boundary, so word i of it is 8-byte
//     aligned, as sync/atomic requires on every platform.
//   - The region is not Go memory: the garbage collector neither moves nor
//     frees it, and nothing in it is a Go pointer. Only offsets are stored.
//   - The word slice has exactly len(b)/8 elements and aliases b, so an
//     index past the end panics rather than reading past the mapping; every
//     index taken from shared memory is also checked before use.
//   - The lock word is the low half of its 8-byte word; on the
//     little-endian machines this package supports (amd64, arm64) that is
//     the word's first four bytes, which is what the futex syscall is given.

// region is a mapped table seen as bytes and as 8-byte words.
type region struct {
	b []byte
	w []uint64
}

// stackStripe is a number that differs between goroutines running at
// once, to spread their counter updates over cache lines: the address of a
// variable on the calling goroutine's stack, which no other goroutine's
// stack overlaps, taken as a number and never used to reach memory. A
// stack that grows moves, and the number changes with it, which only picks
// another stripe. 2 KiB is the smallest goroutine stack.
func stackStripe() uint {
	var onStack byte
	return uint(uintptr(unsafe.Pointer(&onStack)) >> 11)
}

func newRegion(b []byte) region {
	return region{b: b, w: unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)}
}

func (r region) load(i int64) uint64 { return atomic.LoadUint64(&r.w[i]) }

func (r region) store(i int64, v uint64) {
	storeStep()
	atomic.StoreUint64(&r.w[i], v)
}

func (r region) add(i int64, d uint64) uint64 {
	storeStep()
	return atomic.AddUint64(&r.w[i], d)
}

// cas is a compare-and-swap of word i. Readers marking an entry referenced
// (space.go) and waiters leaving the waiter count (lock.go) use it: it is
// no step of a write. A loader ending its claim (load.go) uses it too, and
// counts the step itself.
func (r region) cas(i int64, old, new uint64) bool {
	return atomic.CompareAndSwapUint64(&r.w[i], old, new)
}

// lockWord returns the 32-bit futex word in the low half of word i.
func (r region) lockWord(i int64) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.w[i]))
}
