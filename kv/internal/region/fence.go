//go:build amd64 || arm64

package region

// The fences are in assembly because Go's memory model offers nothing
// weaker than a sequentially consistent atomic, and its atomics say nothing
// of the plain loads and stores of a copy.

// FencedReads reports that LoadFence and StoreFence order memory, so
// that a reader may skip the checksum on the seqlock's fast path.
const FencedReads = true

// LoadFence makes every load before it performed before every load after
// it. On amd64 it is an empty function, whose call keeps the compiler from
// moving loads across it: the processor does not reorder reads with other
// reads, and the exceptions Intel's ordering rules make (Intel SDM vol. 3A,
// "Memory Ordering in P6 and More Recent Processor Families", and its
// model for string operations) concern only writes. On arm64 it is DMB
// ISHLD. (LFENCE would cost a Get about 25 ns here.)
func LoadFence()

// StoreFence makes every store before it observed before every store after
// it. On amd64 it is SFENCE, which orders also the writes those rules
// except, the stores of fast-string (REP MOVS) and non-temporal moves, both
// of which memmove uses for some sizes; on arm64 DMB ISHST.
func StoreFence()
