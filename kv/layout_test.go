package kv

import (
	"encoding/binary"
	"testing"
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
