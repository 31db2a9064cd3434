package fuzz

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/shm"
)

func uniqueName(t testing.TB) string {
	name := testproc.UniqueName("fuzz")
	t.Cleanup(func() {
		if err := kv.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// small fills and wraps quickly, so short inputs reach cleaning, rebuilds
// and the full error.
var small = &kv.Options{MaxMemory: 128 << 10, Keys: 64, Memory: 8 << 10, MaxKeySize: 64, MaxValueSize: 256}

// smallLRU is small that evicts: its extents also hold a small log and a
// ghost.
var smallLRU = &kv.Options{MaxMemory: 128 << 10, Keys: 64, Memory: 8 << 10, MaxKeySize: 64, MaxValueSize: 256, Eviction: kv.EvictS3FIFO}

// writeObject makes an object of exactly data's bytes under name.
func writeObject(t testing.TB, name string, data []byte) {
	sh, err := shm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	if len(data) == 0 {
		return
	}
	if err := sh.Allocate(int64(len(data))); err != nil {
		t.Fatal(err)
	}
	m, err := sh.Map(0)
	if err != nil {
		t.Fatal(err)
	}
	copy(m.Bytes(), data)
	m.Unmap()
	// Tables are sparse: an input holds the bytes up to the last one in
	// use, and the object gets the size its header declares, as holes.
	if len(data) >= 96 {
		if total := binary.LittleEndian.Uint64(data[88:]); total > uint64(len(data)) && total <= 1<<30 {
			if err := sh.SetSize(int64(total)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// exercise runs every operation once on tb, and Check; errors are fine,
// panics and hangs are not.
func exercise(tb *kv.Table) {
	k := []byte("key")
	tb.Set(k, []byte("value"))
	tb.Get(nil, k)
	tb.Get(nil, []byte("other"))
	tb.Add([]byte("n"), 1)
	tb.CompareAndSwap(k, []byte("value"), []byte("v2"))
	tb.SetIfAbsent([]byte("new"), nil)
	tb.Delete(k)
	tb.Range(func(k, v []byte) bool { return true })
	tb.Len()
	var st kv.Stats
	tb.Stats(&st)
	tb.Check()
}
