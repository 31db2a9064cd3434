// Package kv is a key-value table that lives in one POSIX shared-memory
// object, so that every process on the host that opens the same name reads
// and writes the same keys directly in memory: no server, no socket, no
// copy through the kernel.
//
//	t, err := kv.Open("sessions", nil) // creates it with defaults if absent
//	...
//	err = t.Set([]byte("user:42"), []byte("alice"))
//	buf, found, err := t.Get(buf[:0], []byte("user:42"))
//
// # Shape
//
// The object starts with a header that declares the whole layout (see
// layout.go); an opener takes every size and offset from it, after checking
// each against the object's size. The table is split into a power-of-two
// number of shards, each with its own lock, sequence counter, index and data
// area, so that writers of unrelated keys rarely meet. Keys are hashed with
// xxhash64 seeded from the header.
//
// Each shard's data area is a circular log of checksummed entries, and its
// index is an open-addressing table of offsets into that log. The log is the
// truth; the index can always be rebuilt from it. Space is reclaimed at the
// log's tail, by dropping dead entries and moving live ones to the head.
//
// # Concurrency
//
// Writers take the shard's futex lock, which works across processes and
// names its owner. Readers take no lock: they read optimistically under the
// shard's sequence counter (a seqlock), check the entry's checksum, and
// retry, falling back to the lock only if writers keep them out. Values are
// always copied into the caller's buffer; nothing returned points into
// shared memory.
//
// # Crashes
//
// A process can die anywhere. Each process that opens a table read-write
// holds an open-file-description lock on a byte of its registry slot, which
// the kernel drops when it dies; a waiter that finds a lock's owner dead
// takes the lock over and rebuilds the shard's index from its log. Every
// write commits with a single atomic store, so an interrupted write is
// either wholly there or wholly absent after recovery, and every write that
// returned is kept. Check verifies a whole table and reports what it finds.
//
// # Expiry and eviction
//
// SetTTL stores an entry that no process reads once its time is up; its
// space comes back as the log is cleaned. A table created with
// Options.Eviction = EvictLRU evicts, when full, entries nobody has read
// since the cleaner last passed them (the CLOCK approximation of LRU),
// expired ones first; otherwise a full table refuses new entries with
// ErrFull. See evict.go.
//
// # Errors
//
// Failures are reported with the sentinel errors below (ErrFull,
// ErrCorrupt, …), matched with errors.Is, and leave the table unchanged.
// A corrupt or hostile region yields an error, never a panic or a read out
// of bounds.
package kv
