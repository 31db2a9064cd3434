package kv

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// hashKey is the key's seeded xxhash64. The seed comes from the header, so
// every process that opens the table hashes alike; hash/maphash seeds are
// per process and could not be shared.
func hashKey(seed uint64, key []byte) uint64 {
	var d xxhash.Digest
	d.ResetWithSeed(seed)
	d.Write(key)
	return d.Sum64()
}

// tagOf is the part of a hash kept in a slot word, to skip most key
// comparisons. It overlaps neither the shard bits (the top ones) fully nor
// the slot bits (the bottom ones) fully.
func tagOf(h uint64) uint32 { return uint32(h >> 24) }

// entryChecksum covers every byte of an entry but its state word, which
// changes in place when the entry dies.
func entryChecksum(seed uint64, klen, vlen int, version, expires uint64, key, value []byte) uint64 {
	var hdr [24]byte
	binary.LittleEndian.PutUint64(hdr[0:], uint64(uint32(klen))|uint64(uint32(vlen))<<32)
	binary.LittleEndian.PutUint64(hdr[8:], version)
	binary.LittleEndian.PutUint64(hdr[16:], expires)
	var d xxhash.Digest
	d.ResetWithSeed(^seed)
	d.Write(hdr[:])
	d.Write(key)
	d.Write(value)
	return d.Sum64()
}
