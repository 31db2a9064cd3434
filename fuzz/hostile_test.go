package fuzz

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testshm"
	"github.com/shmkv/shmkv/kv"
)

var quick = &kv.Options{InitTimeout: time.Millisecond, LockTimeout: 100 * time.Millisecond}

// FuzzOpenHostile writes arbitrary bytes into a shared-memory object and
// opens it as a table: the answer is an error or a working table, never a
// panic or a hang.
func FuzzOpenHostile(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("SHMKV\x00\x01\x00"))
	f.Add(validImage(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		name := uniqueName(t)
		writeObject(t, name, data)
		for _, ro := range []bool{true, false} {
			o := *quick
			o.NoCreate, o.ReadOnly = true, ro
			tb, err := kv.Open(name, &o)
			if err != nil {
				continue
			}
			exercise(tb)
			tb.Close()
		}
	})
}

// validImage is the bytes of a small table holding a few keys.
func validImage(f *testing.F) []byte {
	// Removed here, not in a cleanup: fuzzing workers are killed at the
	// end, before cleanups run.
	name := fmt.Sprintf("shmkv-test-fuzz-image-%d", os.Getpid())
	tb, err := kv.Open(name, small)
	if err != nil {
		f.Fatal(err)
	}
	defer kv.Remove(name)
	for i := range 10 {
		tb.Set([]byte{'k', byte(i)}, bytes.Repeat([]byte{byte(i)}, i*7))
	}
	tb.Close()
	// The bytes in use: the object's tail is holes (writeObject restores
	// its size), and a smaller input fuzzes faster.
	img := testshm.Copy(f, name)
	return img[:len(bytes.TrimRight(img, "\x00"))]
}

// FuzzRegionBytes writes arbitrary bytes over a valid table — its header,
// its slots, its data — at offsets the fuzzer picks, then runs every
// operation and Check: none may panic or hang. An odd offset picks a
// table that evicts, whose extents also hold a small log and a ghost.
func FuzzRegionBytes(f *testing.F) {
	f.Add(uint32(0), []byte{0xff})
	f.Add(uint32(40), []byte{1, 2, 3, 4})
	f.Add(uint32(70000), bytes.Repeat([]byte{0xff}, 64))
	f.Add(uint32(90000), bytes.Repeat([]byte{0x41}, 300))
	f.Add(uint32(70001), bytes.Repeat([]byte{0xff}, 64))
	f.Add(uint32(90001), bytes.Repeat([]byte{0x41}, 300))
	f.Fuzz(func(t *testing.T, at uint32, patch []byte) {
		name := uniqueName(t)
		opts := small
		if at%2 == 1 {
			opts = smallLRU
		}
		tb, err := kv.Open(name, opts)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			tb.Set([]byte{'k', byte(i)}, bytes.Repeat([]byte{byte(i)}, i*9))
			if i%3 == 0 {
				tb.Get(nil, []byte{'k', byte(i)}) // read, so that the small log promotes it
			}
		}
		tb.Delete([]byte{'k', 3})
		testshm.Edit(t, name, func(m []byte) {
			off := int(at) % len(m)
			// Header bytes mostly only give an open error: aim past them
			// as often as not, and write the patch as words too.
			if len(patch) >= 8 && patch[0]%2 == 0 {
				off = 4096 + off%(len(m)-4096)
				off &^= 7
			}
			copy(m[off:], patch)
			if len(patch) >= 8 {
				binary.LittleEndian.PutUint64(m[off&^7:], binary.LittleEndian.Uint64(patch))
			}
		})

		// The handle that was open when the bytes changed, and a new one.
		exercise(tb)
		tb.Close()
		o := *quick
		o.NoCreate = true
		if tb, err = kv.Open(name, &o); err == nil {
			exercise(tb)
			tb.Close()
		}
	})
}
