package format

import (
	"encoding/binary"
	"math/bits"

	"github.com/cespare/xxhash/v2"
)

// HashKey is xxhash64 of the header's seed (8 bytes, little-endian)
// followed by the key. The seed comes from the header, so every process
// that opens the table hashes alike; hash/maphash seeds are per process and
// could not be shared. Keys under 24 bytes take hashShort; keys up to
// shortKey bytes are hashed in one call from a stack buffer; longer ones
// stream through a Digest. All give the same sum (hash_test.go).
func HashKey(seed uint64, key []byte) uint64 {
	if len(key) < 32-8 {
		return hashShort(seed, key)
	}
	if len(key) <= shortKey {
		var buf [8 + shortKey]byte
		binary.LittleEndian.PutUint64(buf[:], seed)
		n := copy(buf[8:], key)
		return xxhash.Sum64(buf[:8+n])
	}
	return HashPieces(seed, key, nil)
}

const shortKey = 56

// The xxhash64 primes.
const (
	prime1 uint64 = 11400714785074694791
	prime2 uint64 = 14029467366897019727
	prime3 uint64 = 1609587929392839161
	prime4 uint64 = 9650029242287828579
	prime5 uint64 = 2870177450012600261
)

// hashShort is xxhash64 of seed‖key for keys under 24 bytes, whose input
// is shorter than one 32-byte stripe: the one-lane path of xxhash64
// written out, so that the seed is not copied in front of the key and the
// key's tail is not hashed a byte at a time through a stack copy. For a
// 16-byte key it takes 3.8 ns against 5.7, for a 23-byte one 6.1 against
// 20.7 (BenchmarkHashKey, on the machine of bench/RESULTS.md).
func hashShort(seed uint64, key []byte) uint64 {
	h := prime5 + uint64(8+len(key))
	h ^= xxRound(seed)
	h = bits.RotateLeft64(h, 27)*prime1 + prime4
	b := key
	for ; len(b) >= 8; b = b[8:] {
		h ^= xxRound(binary.LittleEndian.Uint64(b))
		h = bits.RotateLeft64(h, 27)*prime1 + prime4
	}
	if len(b) >= 4 {
		h ^= uint64(binary.LittleEndian.Uint32(b)) * prime1
		h = bits.RotateLeft64(h, 23)*prime2 + prime3
		b = b[4:]
	}
	for _, c := range b {
		h ^= uint64(c) * prime5
		h = bits.RotateLeft64(h, 11) * prime1
	}
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}

// xxRound is xxhash64's round of one 8-byte lane into a zero accumulator.
func xxRound(lane uint64) uint64 {
	return bits.RotateLeft64(lane*prime2, 31) * prime1
}

// HashPieces hashes seed then a then b, as HashKey hashes seed then a‖b.
func HashPieces(seed uint64, a, b []byte) uint64 {
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	var d xxhash.Digest
	d.Reset()
	d.Write(s[:])
	d.Write(a)
	d.Write(b)
	return d.Sum64()
}

// SumPieces is xxhash64 of a‖b.
func SumPieces(a, b []byte) uint64 {
	if len(b) == 0 {
		return xxhash.Sum64(a)
	}
	var d xxhash.Digest
	d.Reset()
	d.Write(a)
	d.Write(b)
	return d.Sum64()
}

// TagOf is the part of a hash kept in a slot word, to skip most key
// comparisons: bits 24..55, clear of the top bits that pick the shard.
func TagOf(h uint64) uint32 { return uint32(h >> 24) }

// EntryChecksum covers every byte of an entry but its state, which
// changes in place when the entry dies: the key through its seeded hash,
// the value through its xxhash64, the head word without its state, and
// the expiry, folded together by a bijective mixer so that any mix of two
// entries' parts fails it.
func EntryChecksum(keyHash, head, expires, valueHash uint64) uint64 {
	c := mix64(keyHash ^ head&^EntInPlace)
	c = mix64(c ^ expires)
	return mix64(c ^ valueHash)
}

// mix64 is the 64-bit finalizer of MurmurHash3: a bijection in which every
// input bit affects every output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
