package kv

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/shmkv/shmkv/internal/testshm"
	"github.com/shmkv/shmkv/shm"
)

// TestLayoutPinned pins every size and offset of layout.go's comment: a
// change to any of them is a new layout version.
func TestLayoutPinned(t *testing.T) {
	pins := []struct {
		name      string
		got, want int64
	}{
		{"headerSize", headerSize, 4096},
		{"registryRecordSize", registryRecordSize, 32},
		{"controlSize", controlSize, 512},
		{"slotSize", slotSize, 8},
		{"entryHeaderSize", entryHeaderSize, 16},

		{"offMagic", offMagic, 0},
		{"offLayoutVersion", offLayoutVersion, 8},
		{"offHeaderSize", offHeaderSize, 12},
		{"offSeed", offSeed, 16},
		{"offCreated", offCreated, 24},
		{"offShards", offShards, 32},
		{"offRegistrySlots", offRegistrySlots, 36},
		{"offMaxKey", offMaxKey, 40},
		{"offMaxValue", offMaxValue, 44},
		{"offEviction", offEviction, 48},
		{"offRegistryOffset", offRegistryOffset, 56},
		{"offControlOffset", offControlOffset, 64},
		{"offExtentsOffset", offExtentsOffset, 72},
		{"offSpan", offSpan, 80},
		{"offTotalSize", offTotalSize, 88},
		{"offMaxMemory", offMaxMemory, 96},
		{"offLockInode", offLockInode, 104},
		{"offChecksum", offChecksum, 120},

		{"regGeneration", regGeneration, 0},
		{"regPID", regPID, 8},
		{"regClaimedAt", regClaimedAt, 16},

		{"ctlLock", ctlLock, 0},
		{"ctlSeq", ctlSeq, 8},
		{"ctlWaiters", ctlWaiters, 16},
		{"ctlExtent", ctlExtent, 24},
		{"ctlPending", ctlPending, 32},
		{"ctlRetired", ctlRetired, 40},
		{"ctlRetiredAt", ctlRetiredAt, 48},
		{"ctlWatched", ctlWatched, 56},
		{"ctlLiveEntries", ctlLiveEntries, 88},
		{"ctlLiveBytes", ctlLiveBytes, 96},
		{"ctlTombstones", ctlTombstones, 104},
		{"ctlFlags", ctlFlags, 112},
		{"ctlLargest", ctlLargest, 120},
		{"ctlSets", ctlSets, 128},
		{"ctlDeletes", ctlDeletes, 136},
		{"ctlLockWaits", ctlLockWaits, 144},
		{"ctlRecoveries", ctlRecoveries, 152},
		{"ctlRebuilds", ctlRebuilds, 160},
		{"ctlHits", ctlHits, 168},
		{"ctlMisses", ctlMisses, 176},
		{"ctlReadRetries", ctlReadRetries, 184},
		{"ctlEvictions", ctlEvictions, 192},
		{"ctlExpirations", ctlExpirations, 200},
		{"ctlExpiring", ctlExpiring, 208},
		{"ctlDamaged", ctlDamaged, 216},
		{"ctlGrows", ctlGrows, 224},
		{"ctlSmallBytes", ctlSmallBytes, 232},
		{"ctlPromotions", ctlPromotions, 240},
		{"ctlWatched", ctlWatched, 56},
		{"ctlClaims", ctlClaims, 256},
		{"claimSize", claimSize, 32},
		{"claimCount", claimCount, 8},
		{"claimTag", claimTag, 0},
		{"claimDone", claimDone, 8},
		{"claimOwner", claimOwner, 12},
		{"claimStarted", claimStarted, 16},
		{"claimStale", claimStale, 24},
		{"claims fill the control block", ctlClaims + claimCount*claimSize, controlSize},
		{"extHead", extHead, 0},
		{"extTail", extTail, 8},
		{"extAllocated", extAllocated, 16},
		{"extSmallHead", extSmallHead, 24},
		{"extSmallTail", extSmallTail, 32},
		{"extGhostClock", extGhostClock, 40},
		{"extSelfWord", extSelfWord, 48},
		{"extSelfShard", extSelfShard, 56},
		{"extGeneration", extGeneration, 64},
		{"extSelfSum", extSelfSum, 72},
		{"extHeaderSize", extHeaderSize, 128},
		{"extentOffBits", extentOffBits, 34},
		{"extentSlotsBits", extentSlotsBits, 5},
		{"pageSize", pageSize, 4096},
		{"slotReferenced", int64(slotReferenced), 1 << 31},

		{"entHead", entHead, 0},
		{"entChecksum", entChecksum, 8},
		{"entExpires", entExpires, 16},
		{"entKeyBits", entKeyBits, 21},
		{"entValueBits", entValueBits, 31},
		{"entExpiryBit", int64(entExpiryBit), 1 << 52},
		{"entStateShift", entStateShift, 56},
		{"entCreditShift", entCreditShift, 59},
		{"entCreditMask", int64(entCreditMask), 3 << 59},
		{"entryLive", int64(entryLive), 1},
		{"entryDead", int64(entryDead), 2},
		{"entryMarked", int64(entryMarked), 4},

		{"layoutVersion", layoutVersion, 6},
		{"maxProcs", maxProcs, 1024},
		{"genBits", genBits, 20},
	}
	for _, p := range pins {
		if p.got != p.want {
			t.Errorf("%s = %d, the layout says %d", p.name, p.got, p.want)
		}
	}
	var m [8]byte
	binary.LittleEndian.PutUint64(m[:], magic)
	if string(m[:]) != "SHMKV\x00\x01\x00" {
		t.Errorf("magic bytes %q", m)
	}
	// The lock word's owner field holds every registry slot and generation.
	if maxProcs<<2 != 1<<12 || 12+genBits != 32 {
		t.Error("lock word fields do not fill 32 bits")
	}
	if slotValue(^uint32(0), maxData-8)|slotReferenced == slotTombstone || slotValue(0, 0) == slotEmpty ||
		slotValue(^uint32(0), maxData-8)&slotReferenced != 0 {
		t.Error("a live slot word can collide with empty or tombstone")
	}
}

// TestGeometryPlaced pins the section placement for one geometry.
func TestGeometryPlaced(t *testing.T) {
	g := geometry{shards: 4, span: 1 << 20, maxKey: 100, maxValue: 1000, registrySlots: 1024, maxMemory: 1 << 20}
	g.place()
	want := geometry{registryOffset: 4096, controlOffset: 4096 + 32768, extentsOffset: 4096 + 32768 + 4096,
		totalSize: 4096 + 32768 + 4096 + 4<<20}
	if g.registryOffset != want.registryOffset || g.controlOffset != want.controlOffset ||
		g.extentsOffset != want.extentsOffset || g.totalSize != want.totalSize {
		t.Errorf("placed %+v", g)
	}
	if start, end := g.spanOf(2); start != g.extentsOffset+2<<20 || end != start+1<<20 {
		t.Errorf("span 2 is [%d, %d)", start, end)
	}
	var h [headerSize]byte
	g.encode(h[:])
	back, err := decodeHeader(h[:], g.totalSize)
	if err != nil {
		t.Fatal(err)
	}
	if back != g {
		t.Errorf("decode(encode(g)) = %+v, want %+v", back, g)
	}
}

// TestExtentWord pins the extent word's fields and its checks.
func TestExtentWord(t *testing.T) {
	e := newExtent(3*pageSize, 64, 10000, false)
	if e.size != roundUp(128+64*8+10000, pageSize) || e.dataBytes() != e.size-128-512 {
		t.Fatalf("newExtent = %+v", e)
	}
	w := e.word()
	if w&(1<<34-1) != 3 || w>>34&31 != 6 || w>>39 != uint64(e.size/pageSize) {
		t.Errorf("word %#x", w)
	}
	// The largest extents a grow can ask for still decode: what follows
	// the index stays within maxData, ghost included.
	for _, evict := range []bool{false, true} {
		for _, slots := range []int{minSlots, 1 << 20, maxSlots} {
			big := newExtent(0, slots, maxData, evict)
			if _, ok := decodeExtent(big.word(), 0, 1<<46); !ok || big.dataBytes() > maxData {
				t.Errorf("newExtent(%d slots, maxData, evict %v) = %+v, %d bytes of data: does not decode", slots, evict, big, big.dataBytes())
			}
		}
	}
	if back, ok := decodeExtent(w, 0, 1<<30); !ok || back != e {
		t.Errorf("decode = %+v, %v", back, ok)
	}
	for _, span := range [][2]int64{{4 * pageSize, 1 << 30}, {0, e.end() - 1}} {
		if _, ok := decodeExtent(w, span[0], span[1]); ok {
			t.Errorf("an extent outside the span [%d, %d) decoded", span[0], span[1])
		}
	}
	if _, ok := decodeExtent(0, 0, 1<<30); ok {
		t.Error("word 0 decoded")
	}
}

// TestLayoutInATable reads a real table's bytes at the offsets layout.go
// documents, written here as numbers, not through the constants the code
// uses: the comment, the code and the bytes must agree.
func TestLayoutInATable(t *testing.T) {
	t.Parallel()
	name := uniqueName(t)
	tb := openTable(t, name, &Options{MaxMemory: 4 << 20, MaxKeySize: 100, MaxValueSize: 1000, Eviction: EvictLRU})
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
		{"layout version", u32(8), 6},
		{"header size", u32(12), 4096},
		{"shards", u32(32), uint64(st.Shards)},
		{"registry slots", u32(36), 1024},
		{"max key", u32(40), 100},
		{"max value", u32(44), 1000},
		{"eviction", u32(48), 1},
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
		{"control reserved 248..256", u64(control + 248), 0},
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
		{"self shard", u64(extOff + 56), 0},
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
