package kv

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/shmkv/shmkv/internal/testshm"
)

func resum(h []byte) {
	binary.LittleEndian.PutUint64(h[offChecksum:], xxhash.Sum64(h[offLayoutVersion:checksummedEnd]))
}

func TestBadHeaders(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name string
		edit func(b []byte)
		want error
	}{
		{"wrong magic", func(b []byte) { copy(b, "NOTSHMKV") }, ErrCorrupt},
		{"magic version", func(b []byte) { le.PutUint64(b, magic&0xffff_ffff_ffff|9<<48) }, ErrVersion},
		{"newer layout version", func(b []byte) { le.PutUint32(b[offLayoutVersion:], layoutVersion+1); resum(b) }, ErrVersion},
		{"older layout version", func(b []byte) { le.PutUint32(b[offLayoutVersion:], layoutVersion-1); resum(b) }, ErrVersion},
		{"bad checksum", func(b []byte) { b[offSeed] ^= 1 }, ErrCorrupt},
		{"header size", func(b []byte) { le.PutUint32(b[offHeaderSize:], 8192); resum(b) }, ErrCorrupt},
		{"shards zero", func(b []byte) { le.PutUint32(b[offShards:], 0); resum(b) }, ErrCorrupt},
		{"shards not a power of two", func(b []byte) { le.PutUint32(b[offShards:], 3); resum(b) }, ErrCorrupt},
		{"shards huge", func(b []byte) { le.PutUint32(b[offShards:], 1<<31); resum(b) }, ErrCorrupt},
		{"registry huge", func(b []byte) { le.PutUint32(b[offRegistrySlots:], maxProcs+1); resum(b) }, ErrCorrupt},
		{"span unaligned", func(b []byte) { le.PutUint64(b[offSpan:], 1<<20+8); resum(b) }, ErrCorrupt},
		{"span huge", func(b []byte) { le.PutUint64(b[offSpan:], 1<<62); resum(b) }, ErrCorrupt},
		{"max key zero", func(b []byte) { le.PutUint32(b[offMaxKey:], 0); resum(b) }, ErrCorrupt},
		{"max value huge", func(b []byte) { le.PutUint32(b[offMaxValue:], 1<<31); resum(b) }, ErrCorrupt},
		{"max memory huge", func(b []byte) { le.PutUint64(b[offMaxMemory:], 1<<62); resum(b) }, ErrCorrupt},
		{"registry zero", func(b []byte) { le.PutUint32(b[offRegistrySlots:], 0); resum(b) }, ErrCorrupt},
		{"unknown eviction", func(b []byte) { le.PutUint32(b[offEviction:], 7); resum(b) }, ErrVersion},
		{"offsets disagree", func(b []byte) { le.PutUint64(b[offExtentsOffset:], 4096); resum(b) }, ErrCorrupt},
		{"geometry beyond the object", func(b []byte) {
			// Double the span: consistent offsets, too big an object.
			g, _ := decodeHeader(b[:headerSize], int64(len(b)))
			g.span *= 2
			g.place()
			g.encode(b[:headerSize])
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
			}
		})
	}
}

func TestTruncatedObject(t *testing.T) {
	for _, size := range []int64{0, 100, headerSize - 1, headerSize, headerSize + 4096} {
		name := uniqueName(t)
		tb := openTable(t, name, small)
		tb.Close()
		testshm.Truncate(t, name, size)
		start := time.Now()
		_, err := Open(name, &Options{NoCreate: true, InitTimeout: 50 * time.Millisecond})
		want := ErrCorrupt
		if size < headerSize {
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
