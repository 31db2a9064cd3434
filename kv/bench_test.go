package kv

import (
	"fmt"
	"sync"
	"testing"
)

// Benchmarks: 16-byte keys, 64-byte values, at two table sizes, for shmkv
// (without and with eviction) and for a Go map under sync.RWMutex in the
// same run, so the ratio can be read from one report. Run with -cpu=1,2
// for the parallel view.

var benchSizes = []int{10_000, 1_000_000}

func benchKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "%016d", i)
	}
	return keys
}

func benchTable(b *testing.B, n int, keys [][]byte, value []byte, policy Policy) *Table {
	tb := newTable(b, &Options{Keys: n, Memory: int64(n) * 80, MaxKeySize: 64, MaxValueSize: 1024, Eviction: policy})
	for _, k := range keys {
		if err := tb.Set(k, value); err != nil {
			b.Fatal(err)
		}
	}
	return tb
}

// rwMap is the reference: what a table in RAM costs in one process.
type rwMap struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func (m *rwMap) get(dst, key []byte) ([]byte, bool) {
	m.mu.RLock()
	v, ok := m.m[string(key)]
	dst = append(dst, v...)
	m.mu.RUnlock()
	return dst, ok
}

func (m *rwMap) set(key, value []byte) {
	m.mu.Lock()
	v, ok := m.m[string(key)]
	if ok && cap(v) >= len(value) {
		// Reuse the buffer, as shmkv reuses memory: no allocation.
		m.m[string(key)] = append(v[:0], value...)
	} else {
		m.m[string(key)] = append([]byte(nil), value...)
	}
	m.mu.Unlock()
}

func (m *rwMap) del(key []byte) {
	m.mu.Lock()
	delete(m.m, string(key))
	m.mu.Unlock()
}

type benchStore interface {
	get(dst, key []byte) ([]byte, bool)
	set(key, value []byte)
	del(key []byte)
}

type shmkvStore struct{ t *Table }

func (s shmkvStore) get(dst, key []byte) ([]byte, bool) {
	v, ok, _ := s.t.Get(dst, key)
	return v, ok
}
func (s shmkvStore) set(key, value []byte) { s.t.Set(key, value) }
func (s shmkvStore) del(key []byte)        { s.t.Delete(key) }

func BenchmarkTable(parent *testing.B) {
	b := parent
	value := make([]byte, 64)
	for _, n := range benchSizes {
		var keys, misses [][]byte
		stores := []struct {
			name  string
			make  func(b *testing.B) benchStore
			store benchStore
		}{
			{name: "shmkv", make: func(b *testing.B) benchStore { return shmkvStore{benchTable(b, n, keys, value, NoEviction)} }},
			// An evicting table, for what its policy costs (evict.go).
			{name: "shmkv-lru", make: func(b *testing.B) benchStore { return shmkvStore{benchTable(b, n, keys, value, EvictS3FIFO)} }},
			{name: "rwmap", make: func(b *testing.B) benchStore {
				m := &rwMap{m: make(map[string][]byte, n)}
				for _, k := range keys {
					m.set(k, value)
				}
				return m
			}},
		}
		ops := []struct {
			name string
			body func(s benchStore, i int, dst []byte) []byte
		}{
			{"GetHit", func(s benchStore, i int, dst []byte) []byte { dst, _ = s.get(dst, keys[i]); return dst }},
			{"GetMiss", func(s benchStore, i int, dst []byte) []byte { dst, _ = s.get(dst, misses[i]); return dst }},
			{"SetOverwrite", func(s benchStore, i int, dst []byte) []byte { s.set(keys[i], value); return dst }},
			{"DeleteSet", func(s benchStore, i int, dst []byte) []byte {
				s.del(keys[i])
				s.set(keys[i], value)
				return dst
			}},
		}
		for _, op := range ops {
			for si := range stores {
				st := &stores[si]
				b.Run(fmt.Sprintf("%s/%s/keys=%d", op.name, st.name, n), func(b *testing.B) {
					// Built on first use, so that -bench filters skip the setup.
					if keys == nil {
						keys = benchKeys(n)
						misses = make([][]byte, n)
						for i := range misses {
							misses[i] = fmt.Appendf(nil, "%015dX", i)
						}
					}
					if st.store == nil {
						// The parent owns the store: it outlives this sub-benchmark.
						st.store = st.make(parent)
					}
					b.ReportAllocs()
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						dst := make([]byte, 0, 128)
						i := int(uint32(fastrand()))
						for pb.Next() {
							i = (i*1103515245 + 12345) & 0x7fffffff
							dst = op.body(st.store, i%n, dst[:0])
						}
					})
				})
			}
		}
	}
}

// BenchmarkGetValueSize: Get of values of several sizes from 10,000
// keys, verifying checksums (the default) and skipping them
// (Options.SkipReadChecksums), on two handles of one table.
func BenchmarkGetValueSize(b *testing.B) {
	const n = 10_000
	keys := benchKeys(n)
	for _, size := range []int{16, 64, 256, 1024, 4096} {
		name := uniqueName(b)
		verifying := openTable(b, name, &Options{Keys: n, Memory: int64(n * size), MaxKeySize: 64, MaxValueSize: 4096})
		skipping := openTable(b, name, &Options{NoCreate: true, SkipReadChecksums: true})
		value := make([]byte, size)
		for _, k := range keys {
			if err := verifying.Set(k, value); err != nil {
				b.Fatal(err)
			}
		}
		for _, h := range []struct {
			checksums string
			tb        *Table
		}{{"verify", verifying}, {"skip", skipping}} {
			b.Run(fmt.Sprintf("size=%d/checksums=%s", size, h.checksums), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					dst := make([]byte, 0, size)
					i := int(uint32(fastrand()))
					for pb.Next() {
						i = (i*1103515245 + 12345) & 0x7fffffff
						dst, _, _ = h.tb.Get(dst[:0], keys[i%n])
					}
				})
			})
		}
	}
}

var seedCounter sync.Mutex
var seedNext uint64 = 88172645463325252

// fastrand gives each parallel worker its own starting point.
func fastrand() uint64 {
	seedCounter.Lock()
	defer seedCounter.Unlock()
	seedNext ^= seedNext << 13
	seedNext ^= seedNext >> 7
	seedNext ^= seedNext << 17
	return seedNext
}
func BenchmarkGetHotKey(b *testing.B) {
	tb := newTable(b, &Options{Keys: 100, Memory: 100 * 80})
	key := []byte("0123456789abcdef")
	tb.Set(key, make([]byte, 64))
	dst := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		dst, _, _ = tb.Get(dst[:0], key)
	}
}

func BenchmarkMapHotKey(b *testing.B) {
	m := &rwMap{m: map[string][]byte{}}
	key := []byte("0123456789abcdef")
	m.set(key, make([]byte, 64))
	dst := make([]byte, 0, 128)
	for b.Loop() {
		dst, _ = m.get(dst[:0], key)
	}
}
