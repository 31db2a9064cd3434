// Package format is the byte layout of a table and its codecs: the offsets
// and sizes of the header, registry, control blocks, extents and entries
// (layout.go, the one place they are written down), the header's
// geometry, the extent word, key hashing and entry checksums.
//
// It is pure computation over bytes and words. It touches no shared memory
// itself and knows nothing of locks, processes or policy: kv places
// things by it and reads them back through it.
package format
