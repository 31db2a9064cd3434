package kv

import (
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
