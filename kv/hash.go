package kv

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// hashKey is xxhash64 of the header's seed (8 bytes, little-endian)
// followed by the key. The seed comes from the header, so every process
// that opens the table hashes alike; hash/maphash seeds are per process and
// could not be shared. Short keys are hashed in one call from a stack
// buffer; longer ones stream through a Digest, which gives the same sum.
func hashKey(seed uint64, key []byte) uint64 {
	if len(key) <= shortKey {
		var buf [8 + shortKey]byte
		binary.LittleEndian.PutUint64(buf[:], seed)
		n := copy(buf[8:], key)
		return xxhash.Sum64(buf[:8+n])
	}
	return hashPieces(seed, key, nil)
}

const shortKey = 56

// hashPieces hashes seed then a then b, as hashKey hashes seed then a‖b.
func hashPieces(seed uint64, a, b []byte) uint64 {
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	var d xxhash.Digest
	d.Reset()
	d.Write(s[:])
	d.Write(a)
	d.Write(b)
	return d.Sum64()
}

// sumPieces is xxhash64 of a‖b.
func sumPieces(a, b []byte) uint64 {
	if len(b) == 0 {
		return xxhash.Sum64(a)
	}
	var d xxhash.Digest
	d.Reset()
	d.Write(a)
	d.Write(b)
	return d.Sum64()
}

// tagOf is the part of a hash kept in a slot word, to skip most key
// comparisons: bits 24..55, clear of the top bits that pick the shard.
func tagOf(h uint64) uint32 { return uint32(h >> 24) }

// entryChecksum covers every byte of an entry but its state, which
// changes in place when the entry dies: the key through its seeded hash,
// the value through its xxhash64, the head word without its state, and
// the expiry, folded together by a bijective mixer so that any mix of two
// entries' parts fails it.
func entryChecksum(keyHash, head, expires, valueHash uint64) uint64 {
	c := mix64(keyHash ^ head&^entStateMask)
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
