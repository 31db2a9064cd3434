package kv

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/shmkv/shmkv/internal/testshm"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/shm"
)

// TestLayoutPinned pins every size and offset of internal/format/layout.go's comment: a
// change to any of them is a new layout version.
func TestLayoutPinned(t *testing.T) {
	pins := []struct {
		name      string
		got, want int64
	}{
		{"headerSize", format.HeaderSize, 4096},
		{"registryRecordSize", format.RegistryRecordSize, 32},
		{"controlSize", format.ControlSize, 512},
		{"slotSize", format.SlotSize, 8},
		{"entryHeaderSize", format.EntryHeaderSize, 16},

		{"offMagic", format.OffMagic, 0},
		{"offLayoutVersion", format.OffLayoutVersion, 8},
		{"offHeaderSize", format.OffHeaderSize, 12},
		{"offSeed", format.OffSeed, 16},
		{"offCreated", format.OffCreated, 24},
		{"offShards", format.OffShards, 32},
		{"offRegistrySlots", format.OffRegistrySlots, 36},
		{"offMaxKey", format.OffMaxKey, 40},
		{"offMaxValue", format.OffMaxValue, 44},
		{"offEviction", format.OffEviction, 48},
		{"offInitialShards", format.OffInitialShards, 52},
		{"offRegistryOffset", format.OffRegistryOffset, 56},
		{"offControlOffset", format.OffControlOffset, 64},
		{"offExtentsOffset", format.OffExtentsOffset, 72},
		{"offSpan", format.OffSpan, 80},
		{"offTotalSize", format.OffTotalSize, 88},
		{"offMaxMemory", format.OffMaxMemory, 96},
		{"offLockInode", format.OffLockInode, 104},
		{"offChecksum", format.OffChecksum, 120},

		{"regGeneration", format.RegGeneration, 0},
		{"regPID", format.RegPID, 8},
		{"regClaimedAt", format.RegClaimedAt, 16},

		{"ctlLock", format.CtlLock, 0},
		{"ctlSeq", format.CtlSeq, 8},
		{"ctlWaiters", format.CtlWaiters, 16},
		{"ctlExtent", format.CtlExtent, 24},
		{"ctlPending", format.CtlPending, 32},
		{"ctlRetired", format.CtlRetired, 40},
		{"ctlRetiredAt", format.CtlRetiredAt, 48},
		{"ctlWatched", format.CtlWatched, 56},
		{"ctlLiveEntries", format.CtlLiveEntries, 88},
		{"ctlLiveBytes", format.CtlLiveBytes, 96},
		{"ctlTombstones", format.CtlTombstones, 104},
		{"ctlFlags", format.CtlFlags, 112},
		{"ctlLargest", format.CtlLargest, 120},
		{"ctlSets", format.CtlSets, 128},
		{"ctlDeletes", format.CtlDeletes, 136},
		{"ctlLockWaits", format.CtlLockWaits, 144},
		{"ctlRecoveries", format.CtlRecoveries, 152},
		{"ctlRebuilds", format.CtlRebuilds, 160},
		{"ctlHits", format.CtlHits, 168},
		{"ctlMisses", format.CtlMisses, 176},
		{"ctlReadRetries", format.CtlReadRetries, 184},
		{"ctlEvictions", format.CtlEvictions, 192},
		{"ctlExpirations", format.CtlExpirations, 200},
		{"ctlExpiring", format.CtlExpiring, 208},
		{"ctlDamaged", format.CtlDamaged, 216},
		{"ctlGrows", format.CtlGrows, 224},
		{"ctlSmallBytes", format.CtlSmallBytes, 232},
		{"ctlPromotions", format.CtlPromotions, 240},
		{"ctlSplits", format.CtlSplits, 248},
		{"ctlWatched", format.CtlWatched, 56},
		{"ctlClaims", format.CtlClaims, 256},
		{"claimSize", format.ClaimSize, 32},
		{"claimCount", format.ClaimCount, 8},
		{"claimTag", format.ClaimTag, 0},
		{"claimDone", format.ClaimDone, 8},
		{"claimOwner", format.ClaimOwner, 12},
		{"claimStarted", format.ClaimStarted, 16},
		{"claimStale", format.ClaimStale, 24},
		{"claims fill the control block", format.CtlClaims + format.ClaimCount*format.ClaimSize, format.ControlSize},
		{"extHead", format.ExtHead, 0},
		{"extTail", format.ExtTail, 8},
		{"extAllocated", format.ExtAllocated, 16},
		{"extSmallHead", format.ExtSmallHead, 24},
		{"extSmallTail", format.ExtSmallTail, 32},
		{"extGhostClock", format.ExtGhostClock, 40},
		{"extSelfWord", format.ExtSelfWord, 48},
		{"extSelfShard", format.ExtSelfShard, 56},
		{"extGeneration", format.ExtGeneration, 64},
		{"extSelfSum", format.ExtSelfSum, 72},
		{"extHeaderSize", format.ExtHeaderSize, 128},
		{"extentOffBits", format.ExtentOffBits, 34},
		{"extentSlotsBits", format.ExtentSlotsBits, 5},
		{"pageSize", format.PageSize, 4096},
		{"slotReferenced", int64(format.SlotReferenced), 1 << 31},

		{"entHead", format.EntHead, 0},
		{"entChecksum", format.EntChecksum, 8},
		{"entExpires", format.EntExpires, 16},
		{"entKeyBits", format.EntKeyBits, 21},
		{"entValueBits", format.EntValueBits, 31},
		{"entExpiryBit", int64(format.EntExpiryBit), 1 << 52},
		{"entStateShift", format.EntStateShift, 56},
		{"entCreditShift", format.EntCreditShift, 59},
		{"entCreditMask", int64(format.EntCreditMask), 3 << 59},
		{"entryLive", int64(format.EntryLive), 1},
		{"entryDead", int64(format.EntryDead), 2},
		{"entryMarked", int64(format.EntryMarked), 4},

		{"layoutVersion", format.LayoutVersion, 7},
		{"maxProcs", format.MaxProcs, 1024},
		{"genBits", genBits, 20},
	}
	for _, p := range pins {
		if p.got != p.want {
			t.Errorf("%s = %d, the layout says %d", p.name, p.got, p.want)
		}
	}
	var m [8]byte
	binary.LittleEndian.PutUint64(m[:], format.Magic)
	if string(m[:]) != "SHMKV\x00\x01\x00" {
		t.Errorf("magic bytes %q", m)
	}
	// kv's limits and policies are the ones the header codec checks.
	if MaxKeyLimit != format.MaxKeyLimit || MaxValueLimit != format.MaxValueLimit ||
		uint32(NoEviction) != format.EvictNone || uint32(EvictS3FIFO) != format.EvictS3FIFO {
		t.Error("kv's limits or policy codes differ from the format's")
	}
	// The lock word's owner field holds every registry slot and generation.
	if format.MaxProcs<<2 != 1<<12 || 12+genBits != 32 {
		t.Error("lock word fields do not fill 32 bits")
	}
	if slotValue(^uint32(0), format.MaxData-8)|format.SlotReferenced == format.SlotTombstone || slotValue(0, 0) == format.SlotEmpty ||
		slotValue(^uint32(0), format.MaxData-8)&format.SlotReferenced != 0 {
		t.Error("a live slot word can collide with empty or tombstone")
	}
}

// TestLayoutInATable reads a real table's bytes at the offsets internal/format/layout.go
// documents, written here as numbers, not through the constants the code
// uses: the comment, the code and the bytes must agree.
func TestLayoutInATable(t *testing.T) {
	t.Parallel()
	name := uniqueName(t)
	tb := openTable(t, name, &Options{MaxMemory: 4 << 20, MaxKeySize: 100, MaxValueSize: 1000, Eviction: EvictS3FIFO})
	mustSet(t, tb, "key", "value!")
	var st Stats
	tb.Stats(&st)
	lockInfo, err := os.Stat(filepath.Join(shm.Dir, lockObjectName(name)))
	if err != nil {
		t.Fatal(err)
	}
	b := testshm.Copy(t, name)
	le := binary.LittleEndian
	u32 := func(off int64) uint64 { return uint64(le.Uint32(b[off:])) }
	u64 := func(off int64) uint64 { return le.Uint64(b[off:]) }
	registry, control, extents, span := int64(u64(56)), int64(u64(64)), int64(u64(72)), int64(u64(80))
	ext := u64(control + 24)
	extOff, extSlots, extSize := int64(ext&(1<<34-1))*4096, int64(1)<<(ext>>34&31), int64(ext>>39)*4096
	// An evicting table: after the index the small log, a tenth of what
	// the ghost leaves, then the main log, then the ghost, a word for every
	// other slot, at the extent's end.
	data := extOff + 128 + extSlots*8
	ghost := extOff + extSize - extSlots/2*8
	area := ghost - data
	small := area / 10 &^ 7
	checks := []struct {
		what      string
		got, want uint64
	}{
		{"magic", u64(0), le.Uint64([]byte("SHMKV\x00\x01\x00"))},
		{"layout version", u32(8), 7},
		{"header size", u32(12), 4096},
		{"shards", u32(32), uint64(st.Shards)},
		{"registry slots", u32(36), 1024},
		{"max key", u32(40), 100},
		{"max value", u32(44), 1000},
		{"eviction", u32(48), 1},
		{"initial shards: all, for a table that expects keys", u32(52), uint64(st.Shards)},
		{"registry offset", uint64(registry), 4096},
		{"control offset", uint64(control), 4096 + 1024*32},
		{"extents offset", uint64(extents), uint64(control) + 4096},
		{"total size", u64(88), uint64(extents + span*int64(st.Shards))},
		{"object size", uint64(len(b)), uint64(extents + span*int64(st.Shards))},
		{"max memory", u64(96), 4 << 20},
		{"lock inode", u64(104), lockInfo.Sys().(*syscall.Stat_t).Ino},
		{"checksum", u64(120), xxhash.Sum64(b[8:120])},
		{"registry pid", u64(registry + int64(tb.slot)*32 + 8), uint64(os.Getpid())},
		{"lock word free", u32(control), 0},
		{"control reserved 4..8", u32(control + 4), 0},
		{"control reserved 64..88", u64(control+64) | u64(control+72) | u64(control+80), 0},
		{"splits", u64(control + 248), 0},
		{"extent at the span's start", uint64(extOff), uint64(extents)},
		{"slots", uint64(extSlots), uint64(st.Slots)},
		{"extent within the span", b2u(extSize > 0 && extSize <= span), 1},
		{"main head: a new key goes to the small log", u64(extOff), 0},
		{"tail", u64(extOff + 8), 0},
		{"allocated: the whole one-page main log", u64(extOff + 16), uint64(area - small)},
		{"small head", u64(extOff + 24), 16 + 16}, // 9 bytes of key and value, padded to 16
		{"small tail", u64(extOff + 32), 0},
		{"ghost clock", u64(extOff + 40), 0},
		{"self word", u64(extOff + 48), ext},
		{"self shard: 0, at depth 0", u64(extOff + 56), 0},
		{"generation: the first extent", u64(extOff + 64), 1},
		{"self checksum", u64(extOff + 72), xxhash.Sum64(append(le.AppendUint64(nil, u64(16)), b[extOff+48:extOff+72]...))},
		{"live entries", u64(control + 88), 1},
		{"live bytes", u64(control + 96), 32},
		{"small bytes", u64(control + 232), 32},
		{"largest entry", u64(control + 120), 32},
		{"sets", u64(control + 128), 1},
		{"key length", u64(data) & (1<<21 - 1), 3},
		{"value length", u64(data) >> 21 & (1<<31 - 1), 6},
		{"no expiry", u64(data) >> 52 & 1, 0},
		{"state live", u64(data) >> 56, 1},
	}
	if st.Shards != 1 {
		t.Fatalf("%d shards; the test reads shard 0 only", st.Shards)
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	if got := string(b[data+16 : data+16+9]); got != "keyvalue!" {
		t.Errorf("entry bytes after its header = %q", got)
	}
	found := false
	for off := extOff + 128; off < data; off += 8 {
		if w := u64(off); w != 0 {
			found = found || w&(1<<31-1) == 1 // offset 0 of the log, plus one
		}
	}
	if !found {
		t.Error("no slot word points at the entry")
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
