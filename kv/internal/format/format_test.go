package format

import "testing"

// TestGeometryPlaced pins the section placement for one geometry.
func TestGeometryPlaced(t *testing.T) {
	g := Geometry{Shards: 4, InitialShards: 2, Span: 1 << 20, MaxKey: 100, MaxValue: 1000, RegistrySlots: 1024, MaxMemory: 1 << 20}
	g.Place()
	want := Geometry{RegistryOffset: 4096, ControlOffset: 4096 + 32768, ExtentsOffset: 4096 + 32768 + 4096,
		TotalSize: 4096 + 32768 + 4096 + 4<<20}
	if g.RegistryOffset != want.RegistryOffset || g.ControlOffset != want.ControlOffset ||
		g.ExtentsOffset != want.ExtentsOffset || g.TotalSize != want.TotalSize {
		t.Errorf("placed %+v", g)
	}
	if start, end := g.SpanOf(2); start != g.ExtentsOffset+2<<20 || end != start+1<<20 {
		t.Errorf("span 2 is [%d, %d)", start, end)
	}
	var h [HeaderSize]byte
	g.Encode(h[:])
	back, err := DecodeHeader(h[:], g.TotalSize)
	if err != nil {
		t.Fatal(err)
	}
	if back != g {
		t.Errorf("decode(encode(g)) = %+v, want %+v", back, g)
	}
}

// TestExtentWord pins the extent word's fields and its checks.
func TestExtentWord(t *testing.T) {
	e := NewExtent(3*PageSize, 64, 10000, false)
	if e.Size != RoundUp(128+64*8+10000, PageSize) || e.DataBytes() != e.Size-128-512 {
		t.Fatalf("newExtent = %+v", e)
	}
	w := e.Word()
	if w&(1<<34-1) != 3 || w>>34&31 != 6 || w>>39 != uint64(e.Size/PageSize) {
		t.Errorf("word %#x", w)
	}
	// The largest extents a grow can ask for still decode: what follows
	// the index stays within MaxData, ghost included.
	for _, evict := range []bool{false, true} {
		for _, slots := range []int{MinSlots, 1 << 20, MaxSlots} {
			big := NewExtent(0, slots, MaxData, evict)
			if _, ok := DecodeExtent(big.Word(), 0, 1<<46); !ok || big.DataBytes() > MaxData {
				t.Errorf("newExtent(%d slots, maxData, evict %v) = %+v, %d bytes of data: does not decode", slots, evict, big, big.DataBytes())
			}
		}
	}
	if back, ok := DecodeExtent(w, 0, 1<<30); !ok || back != e {
		t.Errorf("decode = %+v, %v", back, ok)
	}
	for _, span := range [][2]int64{{4 * PageSize, 1 << 30}, {0, e.End() - 1}} {
		if _, ok := DecodeExtent(w, span[0], span[1]); ok {
			t.Errorf("an extent outside the span [%d, %d) decoded", span[0], span[1])
		}
	}
	if _, ok := DecodeExtent(0, 0, 1<<30); ok {
		t.Error("word 0 decoded")
	}
}
