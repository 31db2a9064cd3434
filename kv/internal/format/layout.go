package format

// The byte layout of a table. Everything lives in one shared-memory object;
// every multi-byte field is little-endian, 8-byte aligned and, where more
// than one process touches it after creation, accessed only through
// sync/atomic.
//
// The object is sparse. Its size is fixed at creation (header's total
// size), but it takes memory only where something lives: the header, the
// registry, the control blocks, and each shard's current extent (a
// contiguous run holding the shard's index and log), of whose log only
// what the head has reached (kv/logmemory.go). A shard grows by
// building a larger extent elsewhere in its span and publishing it with one
// atomic store (kv/grow.go); the old extent's memory is then given back with
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
//	     8    4 layout version     LayoutVersion
//	    12    4 header size        4096
//	    16    8 hash seed          seeds xxhash for keys and entry checksums
//	    24    8 created            Unix nanoseconds
//	    32    4 shards             power of two, 1..MaxShards
//	    36    4 registry slots     processes that may have the table open read-write at once, 1..MaxProcs
//	    40    4 max key            bytes, 1..MaxKeyLimit
//	    44    4 max value          bytes, 0..MaxValueLimit
//	    48    4 eviction           0: none (a full table refuses new keys); 1: s3fifo (it evicts, by S3-FIFO: kv/evict.go)
//	    52    4 initial shards     power of two, 1..shards: the shards that have an extent from creation (kv/split.go)
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
// byte i of the table's lock object (kv/lockobject.go: an empty companion that
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
// statistics on the third and fourth, the load claims (kv/load.go) on the
// last four.
//
//	  0    4 lock word          see kv/lock.go: state in bits 0-1, owner in bits 2-31
//	  4    4 reserved
//	  8    8 sequence           odd while a write is in progress (the seqlock)
//	 16    8 waiters            lock waiters asleep on the futex (kv/lock.go)
//	 24    8 extent             the shard's current extent (extent word, extent.go)
//	 32    8 pending            an extent a grow is building, until it is published (kv/grow.go)
//	 40    8 retired            an extent a grow replaced, until its memory is given back
//	 48    8 retired at         Unix nanoseconds when retired was set
//	 56    8 watched until      Unix nanoseconds until which a Watch may sleep on the sequence word (kv/watch.go); 0: none
//	 64   24 reserved           zero
//	 88    8 live entries       entries reachable from the index
//	 96    8 live bytes         bytes of log those entries take
//	104    8 tombstones         deleted slots in the index
//	112    8 flags              FlagRebuild: the index must be rebuilt from the log before use
//	120    8 largest entry      log bytes of the largest entry written since the last rebuild
//	128    8 sets               successful Set, Add, CompareAndSwap, SetIfAbsent that stored
//	136    8 deletes            Delete that removed a key
//	144    8 lock waits         lock acquisitions that had to wait
//	152    8 recoveries         index rebuilds after a dead writer or a corrupt index
//	160    8 rebuilds           index rebuilds that dropped tombstones
//	168    8 hits               reads that found their key: each handle adds its own to shard 0's (kv/stats.go)
//	176    8 misses             reads that did not, likewise
//	184    8 read retries       optimistic reads that raced a writer, likewise
//	192    8 evictions          live entries dropped to make room (eviction policy s3fifo)
//	200    8 expirations        expired entries dropped
//	208    8 expiring           live entries that have an expiry time
//	216    8 damaged            damaged entries or stretches dropped by cleaning or Repair
//	224    8 grows              extents published by grows
//	232    8 small bytes        bytes of the small log (kv/evict.go) live entries take
//	240    8 promotions         entries moved from the small log to the main log
//	248    8 splits             splits of the shard into itself and a new one (kv/split.go)
//	256  256 claims             8 load claims of 32 bytes (kv/load.go), of the keys whose class is the
//	                           shard's number, whatever shard holds the class (kv/split.go):
//	                              0  8 key tag       the claimed key's hash with its low bit set, while held
//	                              8  4 done          bumped when the claim ends; waiters sleep on it (futex)
//	                             12  4 owner         lock-word owner bits (kv/lock.go) of the loading handle; 0: not held
//	                             16  8 claimed at    Unix nanoseconds, for diagnostics only
//	                             24  8 stale         1: the key was invalidated while it loaded; do not store the load
//
// Shards and classes: a key's class is the top log2(shards) bits of its
// hash. A shard of depth d holds the keys whose class has the shard's
// number in its low d bits. A table starts with its initial shards,
// numbered 0 to initial-1, each of depth log2(initial). A shard of depth d
// splits (kv/split.go) into itself and shard number+2^d, both of depth
// d+1: the new shard's extent is published first, where no key's class
// leads yet, and then the splitting shard's new extent, whose depth moves
// half its classes over. So a shard is in use only if it is initial or a
// shard in use has split into it; the control block and span of one that
// is not are ignored, but for an extent a split that died left there,
// which the next split of its parent releases; its load claims are in use
// whatever shard holds its class.
//
// Extent: a multiple of 4096 bytes inside its shard's span, named by an
// extent word: bits 0-33 its offset in the object in units of 4096, bits
// 34-38 log2 of its slot count, bits 39-63 its size in units of 4096; 0
// means none.
//
//	 0    8 head               log position where the next entry goes (bytes, grows without bound)
//	 8    8 tail               log position of the oldest entry
//	16    8 allocated          bytes of the log, from its start, that have memory (kv/logmemory.go)
//	24    8 small head         evicting tables: the small log's head (kv/evict.go)
//	32    8 small tail         evicting tables: the small log's tail
//	40    8 ghost clock        evicting tables: evictions from the small log, which date ghost words
//	48    8 self word          the extent word that publishes this extent
//	56    8 self shard         bits 0-31 the shard it belongs to, bits 32-39 its depth: the shard holds
//	                           the keys whose class (kv/split.go) has the shard's number in its low depth bits
//	64    8 generation         1 for a shard's first extent, one more for each published after it
//	72    8 self checksum      xxhash64 of the hash seed, then bytes 48..72 (little-endian words)
//	80   48 reserved
//	128   - slots              slot count 8-byte words: the index
//	 -    - data               the rest: the log, size - 128 - slots*8 bytes
//
// Bytes 48..80 are the extent's self-description, written before the
// extent word that publishes it (kv/grow.go, kv/open.go), and again only by a
// Repair that finds one of its words damaged (kv/repair.go): a reader trusts an
// extent word only when the header at the place it names describes that
// shard and exactly that word (kv/extent.go), so a damaged word reads as
// ErrCorrupt, not as an extent of garbage; and Repair finds a shard's
// extent again by its header when its word is damaged (kv/repair.go).
//
// In an evicting table the data is split: the ghost, slots/2 words of evicted
// keys' hashes (kv/evict.go), takes its last slots*4 bytes; of the rest, the
// small log, whose entries never wrap, takes the first tenth rounded down
// to 8 bytes, and the main log what remains. Data offsets (in slots, and
// below) count from the small log's start, so an offset below the small
// log's size is in the small log.
//
// Slots: the open-addressing index of the shard, probed linearly from the
// hash's low bits. A word is 0 (empty), SlotTombstone (deleted; keeps probe
// chains intact), or tag<<32 | referenced<<31 | (offset/8 + 1), where
// referenced is the SlotReferenced bit of evicting tables, tag is bits 24..55
// of the key's hash, and offset is where the entry starts in the data.
//
// Data: used as a circular log. Entries are appended at head and may wrap
// around the end of the data. Each entry: a head word, a checksum, for an
// entry that expires its expiry time, then the key and the value.
//
//	 0    8 head               bits 0-20 key length (1..max key), 21-51 value length (0..max
//	                           value), 52 has-expiry, 56-58 state (EntryLive, EntryDead,
//	                           EntryMarked), 59-60 credit (evicting tables, kv/evict.go); state and
//	                           credit change in place, outside the checksum
//	 8    8 checksum           of the head word without its state and credit, the expiry, the key and the value
//	16    8 expires            only with has-expiry: Unix nanoseconds from which the entry is gone
//	16/24 - key, value, zero padding to a multiple of 8
//
// Entries carry no version: of two live entries of one key (a writer died
// between writing the new one and retiring the old, or while moving one),
// the later in the log is the newer, since nothing is moved to the head
// while a key has two (recovery resolves them first). Of two in different
// logs of an evicting table, the one in the main log is the newer, and is kept:
// it is a copy the small log's cleaning made, or the new version a write
// put there (a write never puts a newer version in the small log while an
// older one is live in the main log: put, kv/write.go).
//
// A word whose low 32 bits are 0 is no entry but a skip record: Repair
// writes one over a damaged stretch of n bytes, n in the high 32 bits
// (logwalk.go).
//
// Space is reclaimed from the tail: a dead or expired entry at the tail is
// dropped, a live one is copied to the head and its slot moved, or, in an
// evicting table, evicted if nobody has read it since cleaning last passed it
// (kv/space.go); a shard that cleaning cannot keep roomy enough grows
// (kv/grow.go). The log is the truth and the index is derived from it: a
// shard whose writer died, or whose index has too many tombstones, is
// rebuilt by walking the log from tail to head, keeping for each key the
// live entry latest in the log. A write's commit point is one
// atomic store: of head for a new entry, of the entry's state for a delete
// or an eviction, of the control block's extent word for a grow.
const (
	HeaderSize    = 4096
	LayoutVersion = 7
	// Magic is "SHMKV\x00" followed by the magic version 0x0001.
	Magic = uint64(0x0001_0056_4B4D_4853)

	RegistryRecordSize = 32
	ControlSize        = 512
	SlotSize           = 8
	EntryHeaderSize    = 16 // without the expiry word
)

// Header field offsets, in bytes.
const (
	OffMagic          = 0
	OffLayoutVersion  = 8
	OffHeaderSize     = 12
	OffSeed           = 16
	OffCreated        = 24
	OffShards         = 32
	OffRegistrySlots  = 36
	OffMaxKey         = 40
	OffMaxValue       = 44
	OffEviction       = 48
	OffInitialShards  = 52
	OffRegistryOffset = 56
	OffControlOffset  = 64
	OffExtentsOffset  = 72
	OffSpan           = 80
	OffTotalSize      = 88
	OffMaxMemory      = 96
	OffLockInode      = 104
	OffChecksum       = 120
	ChecksummedEnd    = OffChecksum
)

// Registry record field offsets, in bytes.
const (
	RegGeneration = 0
	RegPID        = 8
	RegClaimedAt  = 16
)

// Control block field offsets, in bytes.
const (
	CtlLock        = 0
	CtlSeq         = 8
	CtlWaiters     = 16
	CtlExtent      = 24
	CtlPending     = 32
	CtlRetired     = 40
	CtlRetiredAt   = 48
	CtlWatched     = 56
	CtlLiveEntries = 88
	CtlLiveBytes   = 96
	CtlTombstones  = 104
	CtlFlags       = 112
	CtlLargest     = 120
	CtlSets        = 128
	CtlDeletes     = 136
	CtlLockWaits   = 144
	CtlRecoveries  = 152
	CtlRebuilds    = 160
	CtlHits        = 168
	CtlMisses      = 176
	CtlReadRetries = 184
	CtlEvictions   = 192
	CtlExpirations = 200
	CtlExpiring    = 208
	CtlDamaged     = 216
	CtlGrows       = 224
	CtlSmallBytes  = 232
	CtlPromotions  = 240
	CtlSplits      = 248
	CtlClaims      = 256

	ClaimSize    = 32
	ClaimCount   = 8
	ClaimTag     = 0
	ClaimDone    = 8
	ClaimOwner   = 12
	ClaimStarted = 16
	ClaimStale   = 24
)

// Extent header field offsets, in bytes from the extent's start.
const (
	ExtHead       = 0
	ExtTail       = 8
	ExtAllocated  = 16
	ExtSmallHead  = 24
	ExtSmallTail  = 32
	ExtGhostClock = 40
	ExtSelfWord   = 48
	ExtSelfShard  = 56
	ExtGeneration = 64
	ExtSelfSum    = 72
	ExtHeaderSize = 128
)

// Entry field offsets, in bytes from the entry's start, and the head
// word's fields.
const (
	EntHead     = 0
	EntChecksum = 8
	EntExpires  = 16

	EntKeyBits     = 21
	EntValueBits   = 31
	EntExpiryBit   = uint64(1) << 52
	EntStateShift  = 56
	EntStateMask   = uint64(7) << EntStateShift
	EntCreditShift = 59
	EntCreditMask  = uint64(3) << EntCreditShift
	// EntInPlace are the bits a writer changes in place, outside the
	// checksum: the state and the credit.
	EntInPlace     = EntStateMask | EntCreditMask
	EntUnknownBits = ^(uint64(1)<<(EntKeyBits+EntValueBits) - 1) &^ EntExpiryBit &^ EntInPlace
)

const (
	SlotEmpty     = uint64(0)
	SlotTombstone = ^uint64(0)

	// Entry states, in bits 56-58 of the head word.
	EntryLive = uint64(1)
	EntryDead = uint64(2)
	// SlotReferenced, in a live slot word, marks an entry read since
	// cleaning last passed it (kv/space.go).
	SlotReferenced = uint64(1) << 31
	// EntryMarked, in a live entry's state, holds its slot's
	// SlotReferenced bit while a rebuild clears the slots (rebuild.go).
	EntryMarked = uint64(4)

	FlagRebuild = uint64(1)
)

// The eviction policies a header's eviction field names: EvictNone, a full
// table refuses new keys; EvictS3FIFO, it evicts, by S3-FIFO (kv/evict.go).
const (
	EvictNone   = 0
	EvictS3FIFO = 1
)

// Hard limits on geometry, checked against every header before use.
const (
	MaxShardBits  = 12
	MaxShards     = 1 << MaxShardBits
	MinSlots      = 8
	MaxSlots      = 1 << 28
	MinData       = 1024
	MaxData       = int64(1) << 33 // slot offsets are 31 bits of 8-byte units
	PageSize      = 4096           // the unit of extent offsets and sizes
	MaxProcs      = 1 << 10        // registry slot numbers are 10 bits in a lock word
	MaxTotalSize  = int64(1) << 46
	MaxKeyLimit   = 1 << 20 // the largest MaxKeySize an Options may ask for
	MaxValueLimit = 1 << 30 // the largest MaxValueSize an Options may ask for
)

// EntrySize is the log bytes one entry of a key of klen bytes and a value of
// vlen bytes takes, with an expiry word if it expires.
func EntrySize(klen, vlen int, expires bool) int64 {
	n := EntryHeaderSize + (int64(klen)+int64(vlen)+7)&^7
	if expires {
		n += 8
	}
	return n
}

func RoundUp(n, to int64) int64 { return (n + to - 1) / to * to }
