package kv

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cespare/xxhash/v2"

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
		{"controlSize", controlSize, 256},
		{"slotSize", slotSize, 8},
		{"entryHeaderSize", entryHeaderSize, 40},

		{"offMagic", offMagic, 0},
		{"offLayoutVersion", offLayoutVersion, 8},
		{"offHeaderSize", offHeaderSize, 12},
		{"offSeed", offSeed, 16},
		{"offCreated", offCreated, 24},
		{"offShards", offShards, 32},
		{"offSlotsPerShard", offSlotsPerShard, 36},
		{"offDataPerShard", offDataPerShard, 40},
		{"offMaxKey", offMaxKey, 48},
		{"offMaxValue", offMaxValue, 52},
		{"offRegistrySlots", offRegistrySlots, 56},
		{"offEviction", offEviction, 60},
		{"offRegistryOffset", offRegistryOffset, 64},
		{"offControlOffset", offControlOffset, 72},
		{"offSlotsOffset", offSlotsOffset, 80},
		{"offDataOffset", offDataOffset, 88},
		{"offTotalSize", offTotalSize, 96},
		{"offLockInode", offLockInode, 104},
		{"offChecksum", offChecksum, 120},

		{"regGeneration", regGeneration, 0},
		{"regPID", regPID, 8},
		{"regClaimedAt", regClaimedAt, 16},

		{"ctlLock", ctlLock, 0},
		{"ctlSeq", ctlSeq, 8},
		{"ctlWaiters", ctlWaiters, 16},
		{"ctlHead", ctlHead, 64},
		{"ctlTail", ctlTail, 72},
		{"ctlNextVersion", ctlNextVersion, 80},
		{"ctlLiveEntries", ctlLiveEntries, 88},
		{"ctlLiveBytes", ctlLiveBytes, 96},
		{"ctlTombstones", ctlTombstones, 104},
		{"ctlFlags", ctlFlags, 112},
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
		{"slotReferenced", int64(slotReferenced), 1 << 31},

		{"entLengths", entLengths, 0},
		{"entState", entState, 8},
		{"entVersion", entVersion, 16},
		{"entExpires", entExpires, 24},
		{"entChecksum", entChecksum, 32},

		{"layoutVersion", layoutVersion, 2},
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
	g := geometry{shards: 4, slotsPerShard: 1024, dataPerShard: 1 << 20, maxKey: 100, maxValue: 1000, registrySlots: 1024}
	g.place()
	want := geometry{registryOffset: 4096, controlOffset: 4096 + 32768, slotsOffset: 4096 + 32768 + 4096,
		dataOffset: 4096 + 32768 + 4096 + 32768, totalSize: 4096 + 32768 + 4096 + 32768 + 4<<20}
	if g.registryOffset != want.registryOffset || g.controlOffset != want.controlOffset ||
		g.slotsOffset != want.slotsOffset || g.dataOffset != want.dataOffset || g.totalSize != want.totalSize {
		t.Errorf("placed %+v", g)
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

// TestLayoutInATable reads a real table's bytes at the offsets layout.go
// documents, written here as numbers, not through the constants the code
// uses: the comment, the code and the bytes must agree.
func TestLayoutInATable(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, &Options{Keys: 100, Memory: 64 << 10, MaxKeySize: 100, MaxValueSize: 1000, Eviction: EvictLRU})
	mustSet(t, tb, "key", "value!")
	var st Stats
	tb.Stats(&st)
	lockInfo, err := os.Stat(filepath.Join(shm.Dir, lockObjectName(name)))
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	editObject(t, name, func(m []byte) { b = bytes.Clone(m) })
	le := binary.LittleEndian
	u32 := func(off int) uint64 { return uint64(le.Uint32(b[off:])) }
	u64 := func(off int) uint64 { return le.Uint64(b[off:]) }
	registry, control, slots, data := u64(64), u64(72), u64(80), u64(88)
	checks := []struct {
		what      string
		got, want uint64
	}{
		{"magic", u64(0), le.Uint64([]byte("SHMKV\x00\x01\x00"))},
		{"layout version", u32(8), 2},
		{"header size", u32(12), 4096},
		{"shards", u32(32), uint64(st.Shards)},
		{"slots per shard", u32(36), uint64(st.SlotsPerShard)},
		{"max key", u32(48), 100},
		{"max value", u32(52), 1000},
		{"registry slots", u32(56), 1024},
		{"eviction", u32(60), 1},
		{"registry offset", registry, 4096},
		{"control offset", control, 4096 + 1024*32},
		{"total size", u64(96), st.TotalBytes},
		{"lock inode", u64(104), lockInfo.Sys().(*syscall.Stat_t).Ino},
		{"checksum", u64(120), xxhash.Sum64(b[8:120])},
		{"registry pid", u64(int(registry) + tb.slot*32 + 8), uint64(os.Getpid())},
		{"lock word free", u32(int(control)), 0},
		{"head", u64(int(control) + 64), 40 + 16}, // 9 bytes of key and value, padded to 16
		{"live entries", u64(int(control) + 88), 1},
		{"live bytes", u64(int(control) + 96), 56},
		{"sets", u64(int(control) + 128), 1},
		{"key length", u32(int(data)), 3},
		{"value length", u32(int(data) + 4), 6},
		{"state live", u64(int(data) + 8), 1},
	}
	if st.Shards != 1 {
		t.Fatalf("%d shards; the test reads shard 0 only", st.Shards)
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	if got := string(b[data+40 : data+40+9]); got != "keyvalue!" {
		t.Errorf("entry bytes after its header = %q", got)
	}
	found := false
	for off := slots; off < data; off += 8 {
		if w := u64(int(off)); w != 0 {
			found = found || w&(1<<31-1) == 1 // offset 0 of the data area, plus one
		}
	}
	if !found {
		t.Error("no slot word points at the entry")
	}
}
