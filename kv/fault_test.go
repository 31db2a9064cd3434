package kv

import (
	"errors"
	"testing"

	"github.com/shmkv/shmkv/internal/testshm"
	"github.com/shmkv/shmkv/kv/internal/format"
)

// TestTruncatedUnderfoot shrinks the object while a handle has it mapped:
// every operation of that handle returns an error instead of dying of
// SIGBUS.
func TestTruncatedUnderfoot(t *testing.T) {
	for _, size := range []int64{format.HeaderSize, 0} {
		name := uniqueName(t)
		tb := openTable(t, name, small)
		for i := range 50 {
			mustSet(t, tb, string(rune('a'+i%26))+string(rune('0'+i/26)), "value")
		}
		testshm.Truncate(t, name, size)

		k := []byte("a0")
		var st Stats
		calls := map[string]func() error{
			"Get":   func() error { _, _, err := tb.Get(nil, k); return err },
			"Set":   func() error { return tb.Set(k, k) },
			"Add":   func() error { _, err := tb.Add([]byte("n"), 1); return err },
			"Del":   func() error { _, err := tb.Delete(k); return err },
			"CAS":   func() error { _, err := tb.CompareAndSwap(k, k, k); return err },
			"SetNX": func() error { _, err := tb.SetIfAbsent([]byte("zz"), k); return err },
			"Range": func() error { return tb.Range(func(k, v []byte) bool { return true }) },
			"Stats": func() error { return tb.Stats(&st) },
			"Check": func() error { _, err := tb.Check(); return err },
		}
		for what, call := range calls {
			if err := call(); !errors.Is(err, ErrCorrupt) {
				t.Errorf("size %d: %s after truncation: %v, want ErrCorrupt", size, what, err)
			}
		}
		if n := tb.Len(); n != 0 && size == 0 {
			t.Errorf("Len after truncation = %d", n)
		}
		if err := tb.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
}
