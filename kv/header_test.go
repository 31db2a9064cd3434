package kv

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/shmkv/shmkv/internal/testshm"
	"github.com/shmkv/shmkv/kv/internal/format"
)

func resum(h []byte) {
	binary.LittleEndian.PutUint64(h[format.OffChecksum:], xxhash.Sum64(h[format.OffLayoutVersion:format.ChecksummedEnd]))
}

// magicTexts is what Open's error says for a header whose magic is wrong.
var magicTexts = map[string]string{
	"wrong magic":   ": not a shmkv table (magic 0x",
	"magic version": ": magic version 0x9",
}

func TestBadHeaders(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name string
		edit func(b []byte)
		want error
	}{
		{"wrong magic", func(b []byte) { copy(b, "NOTSHMKV") }, ErrCorrupt},
		{"magic version", func(b []byte) { le.PutUint64(b, format.Magic&0xffff_ffff_ffff|9<<48) }, ErrVersion},
		{"newer layout version", func(b []byte) { le.PutUint32(b[format.OffLayoutVersion:], format.LayoutVersion+1); resum(b) }, ErrVersion},
		{"older layout version", func(b []byte) { le.PutUint32(b[format.OffLayoutVersion:], format.LayoutVersion-1); resum(b) }, ErrVersion},
		{"bad checksum", func(b []byte) { b[format.OffSeed] ^= 1 }, ErrCorrupt},
		{"header size", func(b []byte) { le.PutUint32(b[format.OffHeaderSize:], 8192); resum(b) }, ErrCorrupt},
		{"shards zero", func(b []byte) { le.PutUint32(b[format.OffShards:], 0); resum(b) }, ErrCorrupt},
		{"shards not a power of two", func(b []byte) { le.PutUint32(b[format.OffShards:], 3); resum(b) }, ErrCorrupt},
		{"shards huge", func(b []byte) { le.PutUint32(b[format.OffShards:], 1<<31); resum(b) }, ErrCorrupt},
		{"registry huge", func(b []byte) { le.PutUint32(b[format.OffRegistrySlots:], format.MaxProcs+1); resum(b) }, ErrCorrupt},
		{"span unaligned", func(b []byte) { le.PutUint64(b[format.OffSpan:], 1<<20+8); resum(b) }, ErrCorrupt},
		{"span huge", func(b []byte) { le.PutUint64(b[format.OffSpan:], 1<<62); resum(b) }, ErrCorrupt},
		{"max key zero", func(b []byte) { le.PutUint32(b[format.OffMaxKey:], 0); resum(b) }, ErrCorrupt},
		{"max value huge", func(b []byte) { le.PutUint32(b[format.OffMaxValue:], 1<<31); resum(b) }, ErrCorrupt},
		{"max memory huge", func(b []byte) { le.PutUint64(b[format.OffMaxMemory:], 1<<62); resum(b) }, ErrCorrupt},
		{"registry zero", func(b []byte) { le.PutUint32(b[format.OffRegistrySlots:], 0); resum(b) }, ErrCorrupt},
		{"unknown eviction", func(b []byte) { le.PutUint32(b[format.OffEviction:], 7); resum(b) }, ErrVersion},
		{"offsets disagree", func(b []byte) { le.PutUint64(b[format.OffExtentsOffset:], 4096); resum(b) }, ErrCorrupt},
		{"geometry beyond the object", func(b []byte) {
			// Double the span: consistent offsets, too big an object.
			g, _ := format.DecodeHeader(b[:format.HeaderSize], int64(len(b)))
			g.Span *= 2
			g.Place()
			g.Encode(b[:format.HeaderSize])
		}, ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := uniqueName(t)
			tb := openTable(t, name, small)
			mustSet(t, tb, "k", "v")
			tb.Close()
			testshm.Edit(t, name, tc.edit)
			for _, ro := range []bool{false, true} {
				_, err := Open(name, &Options{NoCreate: !ro, ReadOnly: ro})
				if !errors.Is(err, tc.want) {
					t.Errorf("ReadOnly=%v: Open = %v, want %v", ro, err, tc.want)
				}
				// The magic's errors name it in words users read.
				if text := magicTexts[tc.name]; text != "" && (err == nil || !strings.Contains(err.Error(), text)) {
					t.Errorf("ReadOnly=%v: Open = %v, want text %q", ro, err, text)
				}
			}
		})
	}
}

func TestTruncatedObject(t *testing.T) {
	for _, size := range []int64{0, 100, format.HeaderSize - 1, format.HeaderSize, format.HeaderSize + 4096} {
		name := uniqueName(t)
		tb := openTable(t, name, small)
		tb.Close()
		testshm.Truncate(t, name, size)
		start := time.Now()
		_, err := Open(name, &Options{NoCreate: true, InitTimeout: 50 * time.Millisecond})
		want := ErrCorrupt
		if size < format.HeaderSize {
			want = ErrNotInitialized
		}
		if !errors.Is(err, want) {
			t.Errorf("size %d: Open = %v, want %v", size, err, want)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("size %d: Open took %v", size, time.Since(start))
		}
	}
}

func TestUninitializedObject(t *testing.T) {
	// An object whose creator never published the magic.
	name := uniqueName(t)
	testshm.Plant(t, name, 1<<20, nil)
	if _, err := Open(name, &Options{InitTimeout: 50 * time.Millisecond}); !errors.Is(err, ErrNotInitialized) {
		t.Fatalf("Open = %v, want ErrNotInitialized", err)
	}
}
