//go:build amd64 || arm64

package kv

// Fences for the seqlock (read.go), in assembly because Go's memory model
// offers nothing weaker than a sequentially consistent atomic, and its
// atomics do not order the plain loads and stores of a copy.
//
//   - loadFence: every load before it is performed before every load after
//     it. On amd64 loads are not reordered with other loads (Intel SDM
//     vol. 3A, 9.2.2), so it is an empty function, whose call still keeps
//     the compiler from moving loads across it; on arm64 it is DMB ISHLD.
//   - storeFence: every store before it is observed before every store
//     after it. On amd64 stores are not reordered with other stores (same
//     section), so it is empty; on arm64 it is DMB ISHST.

// fencedReads reports that loadFence and storeFence order memory, so
// that a reader may skip the checksum on the seqlock's fast path.
const fencedReads = true

func loadFence()
func storeFence()
