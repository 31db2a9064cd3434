// Package region is kv's access to a mapped table by address: the 8-byte
// words of the mapping read and written atomically, the memory fences of
// the seqlock, and the futex calls on a word of it.
//
// It is the only package of kv that uses unsafe (region.go, and the
// pointer handed to the futex in futex_linux.go; outside kv, only shm's
// mmap does), so that everything above it reaches shared memory by word
// index, with Go's bounds checks in force.
// It knows nothing of the table format: offsets are word indexes chosen by
// the caller.
package region
