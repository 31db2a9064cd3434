package kv

// The byte layout of a table. Everything lives in one shared-memory object;
// every multi-byte field is little-endian, 8-byte aligned and, where more
// than one process touches it after creation, accessed only through
// sync/atomic.
//
// The object is sparse. Its size is fixed at creation (header's total
// size), but it takes memory only where something lives: the header, the
// registry, the control blocks, and each shard's current extent (a
// contiguous run holding the shard's index and log), of whose log only
// what the head has reached (logmemory.go). A shard grows by
// building a larger extent elsewhere in its span and publishing it with one
// atomic store (grow.go); the old extent's memory is then given back with
// a punched hole. The header's max memory is the ceiling on what the object
// may take (its allocated blocks), not on its size.
//
//	[header 4096][registry][control blocks][span 0][span 1]...[span shards-1]
//
// Header: the first 4096 bytes; bytes 8..120 are fixed at creation and
// covered by the checksum.
//
//	offset size field
//	     0    8 magic              "SHMKV\x00" then the two-byte magic version; stored last, atomically
//	     8    4 layout version     layoutVersion
//	    12    4 header size        4096
//	    16    8 hash seed          seeds xxhash for keys and entry checksums
//	    24    8 created            Unix nanoseconds
//	    32    4 shards             power of two, 1..maxShards
//	    36    4 registry slots     processes that may have the table open read-write at once, 1..maxProcs
//	    40    4 max key            bytes, 1..MaxKeyLimit
//	    44    4 max value          bytes, 0..MaxValueLimit
//	    48    4 eviction           0: none (a full table refuses new keys); 1: lru (it evicts, by S3-FIFO: evict.go)
//	    52    4 reserved           zero
//	    56    8 registry offset    = 4096
//	    64    8 control offset     = registry offset + registry slots*32, rounded up to 4096
//	    72    8 extents offset     = control offset + shards*512, rounded up to 4096: where span 0 starts
//	    80    8 span               bytes of the object each shard's extents live in, a multiple of 4096
//	    88    8 total size         = extents offset + shards*span: the object's size
//	    96    8 max memory         the most bytes of memory the object may take (its allocated blocks)
//	   104    8 lock inode         inode number of the lock object made with the table
//	   112    8 reserved           zero
//	   120    8 checksum           xxhash64 of bytes 8..120
//	   128 3968 reserved           zero
//
// Registry: one 32-byte record per slot. A process that opens the table
// read-write claims slot i by taking an open-file-description write lock on
// byte i of the table's lock object (lockobject.go: an empty companion that
// only those who may write the table can open; the bytes lie past its end,
// which fcntl allows). The kernel drops that lock when the process dies, so
// a byte without a write lock means a dead or absent holder.
//
//	 0    8 generation         incremented by each claimer; the low 20 bits go into lock words
//	 8    8 pid                for diagnostics only
//	16    8 claimed at         Unix nanoseconds, for diagnostics only
//	24    8 reserved
//
// Shard control block: 512 bytes per shard, what readers load on the first
// cache line, the index and log counters on the second, the write-side
// statistics on the third and fourth, the load claims (load.go) on the
// last four.
//
//	  0    4 lock word          see lock.go: state in bits 0-1, owner in bits 2-31
//	  4    4 reserved
//	  8    8 sequence           odd while a write is in progress (the seqlock)
//	 16    8 waiters            lock waiters asleep on the futex (lock.go)
//	 24    8 extent             the shard's current extent (extent word, extent.go)
//	 32    8 pending            an extent a grow is building, until it is published (grow.go)
//	 40    8 retired            an extent a grow replaced, until its memory is given back
//	 48    8 retired at         Unix nanoseconds when retired was set
//	 56    8 watched until      Unix nanoseconds until which a Watch may sleep on the sequence word (watch.go); 0: none
//	 64   24 reserved           zero
//	 88    8 live entries       entries reachable from the index
//	 96    8 live bytes         bytes of log those entries take
//	104    8 tombstones         deleted slots in the index
//	112    8 flags              flagRebuild: the index must be rebuilt from the log before use
//	120    8 largest entry      log bytes of the largest entry written since the last rebuild
//	128    8 sets               successful Set, Add, CompareAndSwap, SetIfAbsent that stored
//	136    8 deletes            Delete that removed a key
//	144    8 lock waits         lock acquisitions that had to wait
//	152    8 recoveries         index rebuilds after a dead writer or a corrupt index
//	160    8 rebuilds           index rebuilds that dropped tombstones
//	168    8 hits               reads that found their key: each handle adds its own to shard 0's (stats.go)
//	176    8 misses             reads that did not, likewise
//	184    8 read retries       optimistic reads that raced a writer, likewise
//	192    8 evictions          live entries dropped to make room (eviction policy lru)
//	200    8 expirations        expired entries dropped
//	208    8 expiring           live entries that have an expiry time
//	216    8 damaged            damaged entries or stretches dropped by cleaning or Repair
//	224    8 grows              extents published by grows
//	232    8 small bytes        bytes of the small log (evict.go) live entries take
//	240    8 promotions         entries moved from the small log to the main log
//	248    8 reserved
//	256  256 claims             8 load claims of 32 bytes (load.go):
//	                              0  8 key tag       the claimed key's hash with its low bit set, while held
//	                              8  4 done          bumped when the claim ends; waiters sleep on it (futex)
//	                             12  4 owner         lock-word owner bits (lock.go) of the loading handle; 0: not held
//	                             16  8 claimed at    Unix nanoseconds, for diagnostics only
//	                             24  8 stale         1: the key was invalidated while it loaded; do not store the load
//
// Extent: a multiple of 4096 bytes inside its shard's span, named by an
// extent word: bits 0-33 its offset in the object in units of 4096, bits
// 34-38 log2 of its slot count, bits 39-63 its size in units of 4096; 0
// means none.
//
//	 0    8 head               log position where the next entry goes (bytes, grows without bound)
//	 8    8 tail               log position of the oldest entry
//	16    8 allocated          bytes of the log, from its start, that have memory (logmemory.go)
//	24    8 small head         lru tables: the small log's head (evict.go)
//	32    8 small tail         lru tables: the small log's tail
//	40    8 ghost clock        lru tables: evictions from the small log, which date ghost words
//	48    8 self word          the extent word that publishes this extent
//	56    8 self shard         the shard it belongs to
//	64    8 generation         1 for a shard's first extent, one more for each published after it
//	72    8 self checksum      xxhash64 of the hash seed, then bytes 48..72 (little-endian words)
//	80   48 reserved
//	128   - slots              slot count 8-byte words: the index
//	 -    - data               the rest: the log, size - 128 - slots*8 bytes
//
// Bytes 48..80 are the extent's self-description, written before the
// extent word that publishes it (grow.go, open.go), and again only by a
// Repair that finds one of its words damaged (repair.go): a reader trusts an
// extent word only when the header at the place it names describes that
// shard and exactly that word (extent.go), so a damaged word reads as
// ErrCorrupt, not as an extent of garbage; and Repair finds a shard's
// extent again by its header when its word is damaged (repair.go).
//
// In an lru table the data is split: the ghost, slots/2 words of evicted
// keys' hashes (evict.go), takes its last slots*4 bytes; of the rest, the
// small log, whose entries never wrap, takes the first tenth rounded down
// to 8 bytes, and the main log what remains. Data offsets (in slots, and
// below) count from the small log's start, so an offset below the small
// log's size is in the small log.
//
// Slots: the open-addressing index of the shard, probed linearly from the
// hash's low bits. A word is 0 (empty), slotTombstone (deleted; keeps probe
// chains intact), or tag<<32 | referenced<<31 | (offset/8 + 1), where
// referenced is the slotReferenced bit of lru tables, tag is bits 24..55
// of the key's hash, and offset is where the entry starts in the data.
//
// Data: used as a circular log. Entries are appended at head and may wrap
// around the end of the data. Each entry: a head word, a checksum, for an
// entry that expires its expiry time, then the key and the value.
//
//	 0    8 head               bits 0-20 key length (1..max key), 21-51 value length (0..max
//	                           value), 52 has-expiry, 56-58 state (entryLive, entryDead,
//	                           entryMarked), 59-60 credit (lru tables, evict.go); state and
//	                           credit change in place, outside the checksum
//	 8    8 checksum           of the head word without its state and credit, the expiry, the key and the value
//	16    8 expires            only with has-expiry: Unix nanoseconds from which the entry is gone
//	16/24 - key, value, zero padding to a multiple of 8
//
// Entries carry no version: of two live entries of one key (a writer died
// between writing the new one and retiring the old, or while moving one),
// the later in the log is the newer, since nothing is moved to the head
// while a key has two (recovery resolves them first). Of two in different
// logs of an lru table, the one in the main log is the newer, and is kept:
// it is a copy the small log's cleaning made, or the new version a write
// put there (a write never puts a newer version in the small log while an
// older one is live in the main log: store, write.go).
//
// A word whose low 32 bits are 0 is no entry but a skip record: Repair
// writes one over a damaged stretch of n bytes, n in the high 32 bits
// (logwalk.go).
//
// Space is reclaimed from the tail: a dead or expired entry at the tail is
// dropped, a live one is copied to the head and its slot moved, or, in an
// lru table, evicted if nobody has read it since cleaning last passed it
// (space.go); a shard that cleaning cannot keep roomy enough grows
// (grow.go). The log is the truth and the index is derived from it: a
// shard whose writer died, or whose index has too many tombstones, is
// rebuilt by walking the log from tail to head, keeping for each key the
// live entry latest in the log. A write's commit point is one
// atomic store: of head for a new entry, of the entry's state for a delete
// or an eviction, of the control block's extent word for a grow.
const (
	headerSize    = 4096
	layoutVersion = 6
	// magic is "SHMKV\x00" followed by the magic version 0x0001.
	magic = uint64(0x0001_0056_4B4D_4853)

	registryRecordSize = 32
	controlSize        = 512
	slotSize           = 8
	entryHeaderSize    = 16 // without the expiry word
)

// Header field offsets, in bytes.
const (
	offMagic          = 0
	offLayoutVersion  = 8
	offHeaderSize     = 12
	offSeed           = 16
	offCreated        = 24
	offShards         = 32
	offRegistrySlots  = 36
	offMaxKey         = 40
	offMaxValue       = 44
	offEviction       = 48
	offRegistryOffset = 56
	offControlOffset  = 64
	offExtentsOffset  = 72
	offSpan           = 80
	offTotalSize      = 88
	offMaxMemory      = 96
	offLockInode      = 104
	offChecksum       = 120
	checksummedEnd    = offChecksum
)

// Registry record field offsets, in bytes.
const (
	regGeneration = 0
	regPID        = 8
	regClaimedAt  = 16
)

// Control block field offsets, in bytes.
const (
	ctlLock        = 0
	ctlSeq         = 8
	ctlWaiters     = 16
	ctlExtent      = 24
	ctlPending     = 32
	ctlRetired     = 40
	ctlRetiredAt   = 48
	ctlWatched     = 56
	ctlLiveEntries = 88
	ctlLiveBytes   = 96
	ctlTombstones  = 104
	ctlFlags       = 112
	ctlLargest     = 120
	ctlSets        = 128
	ctlDeletes     = 136
	ctlLockWaits   = 144
	ctlRecoveries  = 152
	ctlRebuilds    = 160
	ctlHits        = 168
	ctlMisses      = 176
	ctlReadRetries = 184
	ctlEvictions   = 192
	ctlExpirations = 200
	ctlExpiring    = 208
	ctlDamaged     = 216
	ctlGrows       = 224
	ctlSmallBytes  = 232
	ctlPromotions  = 240
	ctlClaims      = 256

	claimSize    = 32
	claimCount   = 8
	claimTag     = 0
	claimDone    = 8
	claimOwner   = 12
	claimStarted = 16
	claimStale   = 24
)

// Extent header field offsets, in bytes from the extent's start.
const (
	extHead       = 0
	extTail       = 8
	extAllocated  = 16
	extSmallHead  = 24
	extSmallTail  = 32
	extGhostClock = 40
	extSelfWord   = 48
	extSelfShard  = 56
	extGeneration = 64
	extSelfSum    = 72
	extHeaderSize = 128
)

// Entry field offsets, in bytes from the entry's start, and the head
// word's fields.
const (
	entHead     = 0
	entChecksum = 8
	entExpires  = 16

	entKeyBits     = 21
	entValueBits   = 31
	entExpiryBit   = uint64(1) << 52
	entStateShift  = 56
	entStateMask   = uint64(7) << entStateShift
	entCreditShift = 59
	entCreditMask  = uint64(3) << entCreditShift
	// entInPlace are the bits a writer changes in place, outside the
	// checksum: the state and the credit.
	entInPlace     = entStateMask | entCreditMask
	entUnknownBits = ^(uint64(1)<<(entKeyBits+entValueBits) - 1) &^ entExpiryBit &^ entInPlace
)

const (
	slotEmpty     = uint64(0)
	slotTombstone = ^uint64(0)

	// Entry states, in bits 56-58 of the head word.
	entryLive = uint64(1)
	entryDead = uint64(2)
	// slotReferenced, in a live slot word, marks an entry read since
	// cleaning last passed it (space.go).
	slotReferenced = uint64(1) << 31
	// entryMarked, in a live entry's state, holds its slot's
	// slotReferenced bit while a rebuild clears the slots (rebuild.go).
	entryMarked = uint64(4)

	flagRebuild = uint64(1)
)

// Hard limits on geometry, checked against every header before use.
const (
	maxShards     = 1 << 12
	minSlots      = 8
	maxSlots      = 1 << 28
	minData       = 1024
	maxData       = int64(1) << 33 // slot offsets are 31 bits of 8-byte units
	pageSize      = 4096           // the unit of extent offsets and sizes
	maxProcs      = 1 << 10        // registry slot numbers are 10 bits in a lock word
	maxTotalSize  = int64(1) << 46
	MaxKeyLimit   = 1 << 20 // the largest MaxKeySize an Options may ask for
	MaxValueLimit = 1 << 30 // the largest MaxValueSize an Options may ask for
)

// entrySize is the log bytes one entry of a key of klen bytes and a value of
// vlen bytes takes, with an expiry word if it expires.
func entrySize(klen, vlen int, expires bool) int64 {
	n := entryHeaderSize + (int64(klen)+int64(vlen)+7)&^7
	if expires {
		n += 8
	}
	return n
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }
