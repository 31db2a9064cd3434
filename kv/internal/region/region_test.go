//go:build linux

package region_test

import (
	"encoding/binary"
	"syscall"
	"testing"

	"github.com/shmkv/shmkv/kv/internal/region"
)

// mapping returns a page of anonymous memory: page-aligned, as a table's
// mapping is.
func mapping(t *testing.T) []byte {
	t.Helper()
	b, err := syscall.Mmap(-1, 0, 4096, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Munmap(b) })
	return b
}

// TestWordsAreLittleEndianBytes pins what kv's layout rests on: word i is
// bytes 8i..8i+8 of the mapping, little-endian, and the lock word is the
// low half of its word, its first four bytes.
func TestWordsAreLittleEndianBytes(t *testing.T) {
	b := mapping(t)
	r := region.New(b)
	r.Store(3, 0x1122334455667788)
	if got := binary.LittleEndian.Uint64(b[24:]); got != 0x1122334455667788 {
		t.Fatalf("word 3 stored %#x; bytes 24..32 hold %#x", uint64(0x1122334455667788), got)
	}
	binary.LittleEndian.PutUint64(b[40:], 0xaabbccdd_01020304)
	if got := r.Load(5); got != 0xaabbccdd_01020304 {
		t.Fatalf("word 5 loads %#x, want %#x", got, uint64(0xaabbccdd_01020304))
	}
	if got := *r.LockWord(5); got != 0x01020304 {
		t.Fatalf("lock word of word 5 is %#x, want its low half %#x", got, 0x01020304)
	}
	if got := r.Add(5, 1); got != 0xaabbccdd_01020305 {
		t.Fatalf("Add returned %#x", got)
	}
	if r.CAS(5, 1, 2) || !r.CAS(5, 0xaabbccdd_01020305, 7) || r.Load(5) != 7 {
		t.Fatalf("CAS: word 5 is %#x", r.Load(5))
	}
	if len(r.B) != len(b) {
		t.Fatalf("B has %d bytes, mapping %d", len(r.B), len(b))
	}
}

// TestWordPastEndPanics: an index past the mapping panics rather than
// reading past it.
func TestWordPastEndPanics(t *testing.T) {
	r := region.New(mapping(t))
	defer func() {
		if recover() == nil {
			t.Fatal("Load(512) of a 4096-byte region did not panic")
		}
	}()
	r.Load(512)
}

// TestFutexWaitTimesOut: a wait on a word that holds the awaited value
// ends by its timeout; one on a word that does not returns at once.
func TestFutexWaitTimesOut(t *testing.T) {
	r := region.New(mapping(t))
	if !region.FutexWait(r.LockWord(0), 0, 1e6) {
		t.Fatal("wait on a word holding the value did not time out")
	}
	if region.FutexWait(r.LockWord(0), 1, 10e9) {
		t.Fatal("wait on a word not holding the value timed out")
	}
	if n := region.FutexWake(r.LockWord(0), 1); n != 0 {
		t.Fatalf("woke %d with nobody asleep", n)
	}
}
