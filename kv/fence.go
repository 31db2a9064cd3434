//go:build amd64 || arm64

package kv

// Fences for the seqlock (read.go), in assembly because Go's memory model
// offers nothing weaker than a sequentially consistent atomic, and its
// atomics say nothing of the plain loads and stores of a copy.
//
//   - loadFence: every load before it is performed before every load after
//     it. On amd64 an empty function, whose call keeps the compiler from
//     moving loads across it: the processor does not reorder reads with
//     other reads, and the exceptions Intel's ordering rules make (Intel
//     SDM vol. 3A, "Memory Ordering in P6 and More Recent Processor
//     Families", and its model for string operations) concern only writes.
//     On arm64 DMB ISHLD. (LFENCE would cost a Get about 25 ns here.)
//   - storeFence: every store before it is observed before every store
//     after it. On amd64 SFENCE, which orders also the writes those rules
//     except, the stores of fast-string (REP MOVS) and non-temporal moves,
//     both of which memmove uses for some sizes; on arm64 DMB ISHST.

// fencedReads reports that loadFence and storeFence order memory, so
// that a reader may skip the checksum on the seqlock's fast path.
const fencedReads = true

func loadFence()
func storeFence()
