package kv

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestZeroAllocations(t *testing.T) {
	tb := newTable(t, &Options{Keys: 10000, Memory: 10000 * 100})
	key := []byte("0123456789abcdef")
	value := make([]byte, 64)
	for i := range 1000 {
		if err := tb.Set(fmt.Appendf(nil, "%016d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	mustSet(t, tb, string(key), string(value))
	dst := make([]byte, 0, 1024)
	missing := []byte("fedcba9876543210")
	lock := []byte("lock")
	var st Stats
	for name, fn := range map[string]func(){
		"Get hit":  func() { tb.Get(dst[:0], key) },
		"Get miss": func() { tb.Get(dst[:0], missing) },
		"Set":      func() { tb.Set(key, value) },
		"Add":      func() { tb.Add([]byte("counter"), 1) },
		"CompareAndSwap": func() {
			tb.CompareAndSwap(key, value, value)
		},
		"Delete+Set": func() {
			tb.Delete(key)
			tb.Set(key, value)
		},
		"CompareAndSwapTTL": func() {
			tb.CompareAndSwapTTL(key, value, value, time.Hour)
		},
		"SetIfAbsentTTL, CompareAndDelete": func() {
			tb.SetIfAbsentTTL(lock, value, time.Hour)
			tb.CompareAndDelete(lock, value)
		},
		"Touch": func() { tb.Touch(key, time.Hour) },
		"Stats": func() { tb.Stats(&st) },
	} {
		if n := testing.AllocsPerRun(1000, fn); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
	if v, ok, _ := tb.Get(dst[:0], key); !ok || len(v) != 64 {
		t.Fatal("the key measured is not there")
	}
}

// TestCeilingSetAllocations: a Set of a new key into a table at its
// memory ceiling, whose shard asks to grow and is refused, allocates
// nothing, in either policy: for a cache that is every write once it is
// full.
func TestCeilingSetAllocations(t *testing.T) {
	for _, ev := range []Policy{NoEviction, EvictS3FIFO} {
		t.Run(fmt.Sprint(ev), func(t *testing.T) {
			tb := newTable(t, &Options{MaxMemory: 1 << 20, Keys: 1000, Memory: 256 << 10, MaxKeySize: 64, MaxValueSize: 4096, Eviction: ev})
			value := make([]byte, 400)
			keys := make([][]byte, 12000)
			for i := range keys {
				keys[i] = fmt.Appendf(nil, "%016d", i)
			}
			i := 0
			for ; i < 10000; i++ {
				tb.Set(keys[i], value) // to the ceiling, and past it: ErrFull or evictions
			}
			var before, after Stats
			tb.Stats(&before)
			full := 0
			n := testing.AllocsPerRun(1000, func() {
				if err := tb.Set(keys[i], value); errors.Is(err, ErrFull) {
					full++
				} else if err != nil {
					t.Fatal(err)
				}
				i++
			})
			tb.Stats(&after)
			// Each measured Set of a new key met a full shard: refused
			// (NoEviction) or making room by evicting (S3-FIFO).
			if full+int(after.Evictions-before.Evictions) < 1000 {
				t.Fatalf("not at the ceiling: %d ErrFull, %d evictions in 1001 Sets", full, after.Evictions-before.Evictions)
			}
			if n != 0 {
				t.Errorf("%v allocations per Set at the ceiling", n)
			}
		})
	}
}
