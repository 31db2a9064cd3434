// Package kv is a key-value table that lives in one POSIX shared-memory
// object, so that every process on the host that opens the same name reads
// and writes the same keys directly in memory: no server, no socket, no
// copy through the kernel.
//
//	t, err := kv.Open("sessions", nil) // creates it with defaults if absent
//	...
//	err = t.Set([]byte("user:42"), []byte("alice"))
//	v, found, err := t.Get(nil, []byte("user:42")) // appends to its first argument
//
// # Shape
//
// The object starts with a header that declares the whole layout; an
// opener takes every size and offset from it, after checking each against
// the object's size. The table is split into a power-of-two
// number of shards, each with its own lock, sequence counter, index and data
// area, so that writers of unrelated keys rarely meet. Keys are hashed with
// xxhash64 seeded from the header.
//
// Each shard's data area is a circular log of checksummed entries, and its
// index is an open-addressing table of offsets into that log. The log is the
// truth; the index can always be rebuilt from it. Space is reclaimed at the
// log's tail, by dropping dead entries and moving live ones to the head.
//
// # Growth
//
// A table needs no size. Each shard's index and log live together in one
// extent of a sparse object, and a shard short of room moves into a larger
// extent while readers go on reading the old one, publishing it with one
// atomic store. Shards follow the data: a table starts with a few in use,
// or as many as Options.Keys and Options.Memory ask for, and a shard that
// grows large splits in two the same way, up to as many shards as the
// ceiling plans, so that a small table's writers touch few cache lines and
// a large table's shards stay quick to grow. The table grows so up to
// Options.MaxMemory, the most shared memory it may take; there a table
// refuses new keys with ErrFull, or evicts if it was created with
// EvictS3FIFO.
//
// # Concurrency
//
// Writers take the shard's futex lock, which works across processes and
// names its owner. Readers take no lock: they read optimistically under the
// shard's sequence counter (a seqlock), check the entry's checksum (which a
// handle may skip: Options.SkipReadChecksums), and retry, falling back to
// the lock only if writers keep them out. Values are always copied into the
// caller's buffer; nothing returned points into shared memory.
//
// # Crashes
//
// A process can die anywhere. A table is built under no name and linked
// into place whole, so a creator killed half way leaves no name behind.
// Each process that opens a table read-write holds an open-file-description
// write lock on its registry slot's byte of the table's lock object (a
// companion only those who may write the table can open), which the kernel
// drops when it dies; a waiter that finds a lock's owner dead takes the
// lock over and rebuilds the shard's index from its log. Every write
// commits with a single atomic store, so an interrupted write is either
// wholly there or wholly absent after recovery, and every write that
// returned is kept. Readers never wait for a writer: every read (Get,
// GetVersion, Range, Check) reads around a writer that is dead, or that
// has held its shard unchanged for a few milliseconds (stopped, say),
// verifying every checksum, and remembers the judgement, so that later
// reads of that shard read around it at once. Only a rebuild of a shard's
// index, which leaves nothing to read around, holds reads up (or writers
// that change a shard under every attempt), for a second at most, then
// ErrLockTimeout, or ErrOwnerDead if the rebuilder died and nobody
// recovers the shard; for a stalled rebuild, once per stall. Writers wait
// for a live writer's lock up to Options.LockTimeout, and take a dead
// one's over.
//
// # Damage
//
// A bad byte costs the entries it touches, never a shard: a read of a
// damaged key returns ErrCorrupt (or, on a handle that skips read
// checksums, what the value now holds) while every other key reads as
// before. The one word that places a shard's index and log (its extent
// word) is checked against the header it names, which describes itself:
// a damaged one makes that shard's reads ErrCorrupt, never misses, and
// Range visits the other shards before it returns ErrCorrupt.
// Check verifies a whole table and reports what it finds; Repair drops what
// is damaged, finds a shard's extent again by its header, and rebuilds the
// rest. Nothing is dropped silently: Report.Dropped counts what Repair
// dropped or found lost.
//
// # Closing
//
// Close may run while other goroutines are inside calls on the same Table:
// they return ErrClosed, and none of them can touch memory that a table
// opened later is given (see Table.Close).
//
// # Expiry and eviction
//
// SetTTL stores an entry that no process reads once its time is up; its
// space comes back as the log is cleaned. A table created with
// Options.Eviction = EvictS3FIFO evicts, when full, what is least likely to
// be read again, expired entries first: by S3-FIFO, new keys wait in a
// small log and leave it unless read, so keys read once and scans of cold
// keys do not push out the keys read often. Otherwise a full table refuses
// new entries with ErrFull. SetIfAbsentTTL and CompareAndSwapTTL store an
// expiry time as they write; Touch gives a key a new one, keeping its
// value.
//
// # Loading once, and waiting for a change
//
// GetOrLoad returns a key's value or, on a miss, has exactly one caller
// on the host run the load function while the others, in every process,
// sleep until the value is stored: one query per host when a hot key
// expires, not one per process. A loader that dies is replaced within
// about a tenth of a second; one whose store cannot take the shard's lock
// (held past LockTimeout by a stopped process) still ends its claim, and
// the key's other callers get ErrLockTimeout while the lock stays held,
// not a wait for good. Watch sleeps until a key's value or expiry
// changes, woken by the writer through a futex.
//
// # Errors
//
// Failures are reported with the sentinel errors below (ErrFull,
// ErrCorrupt, …), matched with errors.Is, and leave the table unchanged.
// A corrupt or hostile region yields an error, never a panic or a read out
// of bounds.
//
// # Systems
//
// Tables live on Linux (futexes and open-file-description locks). The
// package builds everywhere, so that code importing it builds on any
// laptop; elsewhere Open and Remove fail with errors matching
// errors.ErrUnsupported.
package kv
