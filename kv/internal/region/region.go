package region

import (
	"sync/atomic"
	"unsafe"

	"github.com/shmkv/shmkv/kv/internal/failpoint"
)

// This file and the futex calls (futex_linux.go) hold all of kv's
// unsafe pointer work (shm has its own, for mmap).
//
// Why it is sound:
//   - The mapping starts on a page boundary, so word i of it is 8-byte
//     aligned, as sync/atomic requires on every platform.
//   - The region is not Go memory: the garbage collector neither moves nor
//     frees it, and nothing in it is a Go pointer. Only offsets are stored.
//   - The word slice has exactly len(b)/8 elements and aliases b, so an
//     index past the end panics rather than reading past the mapping; every
//     index taken from shared memory is also checked before use, by kv.
//   - The lock word is the low half of its 8-byte word; on the
//     little-endian machines kv supports (amd64, arm64) that is the word's
//     first four bytes, which is what the futex syscall is given.

// Region is a mapped table seen as bytes and as 8-byte words. Word i is
// bytes 8i to 8i+8 of B.
type Region struct {
	// B is the mapping. Plain reads and writes of it race with other
	// processes: kv makes them only under the seqlock's rules.
	B []byte
	w []uint64
}

// New returns b seen as a Region. b must start on an 8-byte boundary, as
// a mapping does.
func New(b []byte) Region {
	return Region{B: b, w: unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/8)}
}

// Load atomically loads word i.
func (r *Region) Load(i int64) uint64 { return atomic.LoadUint64(&r.w[i]) }

// Store atomically stores v in word i. It is a step of a write, where a
// kill sweep may stop the process (failpoint.Step).
func (r *Region) Store(i int64, v uint64) {
	failpoint.Step()
	atomic.StoreUint64(&r.w[i], v)
}

// StoreUncounted is Store without the failpoint step, for stores no kill
// sweep should stop at: those of a table not yet linked under its name.
func (r *Region) StoreUncounted(i int64, v uint64) { atomic.StoreUint64(&r.w[i], v) }

// Add atomically adds d to word i and returns the new value. Like Store it
// is a step of a write.
func (r *Region) Add(i int64, d uint64) uint64 {
	failpoint.Step()
	return atomic.AddUint64(&r.w[i], d)
}

// CAS is an atomic compare-and-swap of word i. It is no step of a write:
// kv's readers use it (to mark an entry referenced), and lock waiters (to
// leave the waiter count); a caller for which it is a step counts it
// itself.
func (r *Region) CAS(i int64, old, new uint64) bool {
	return atomic.CompareAndSwapUint64(&r.w[i], old, new)
}

// LockWord returns the 32-bit futex word in the low half of word i.
func (r *Region) LockWord(i int64) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.w[i]))
}

// StackStripe is a number that differs between goroutines running at
// once, to spread their counter updates over cache lines: the address of a
// variable on the calling goroutine's stack, which no other goroutine's
// stack overlaps, taken as a number and never used to reach memory. A
// stack that grows moves, and the number changes with it, which only picks
// another stripe. 2 KiB is the smallest goroutine stack.
func StackStripe() uint {
	var onStack byte
	return uint(uintptr(unsafe.Pointer(&onStack)) >> 11)
}
