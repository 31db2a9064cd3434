package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/VictoriaMetrics/fastcache"
	"github.com/coocood/freecache"
	"github.com/shmkv/shmkv/kv"
)

// shmkvStore: the table is made by setup; every worker process opens it.
// With skipChecksums set, workers open it with Options.SkipReadChecksums,
// the fastest reads a user can choose.
type shmkvStore struct {
	table         string
	skipChecksums bool
}

func (s *shmkvStore) name() string {
	if s.skipChecksums {
		return "shmkv (skip read checksums)"
	}
	return "shmkv"
}

func (s *shmkvStore) shareable() bool   { return true }
func (s *shmkvStore) available() string { return "" }

func (s *shmkvStore) setup(keys, valueSize int) (string, error) {
	s.table = fmt.Sprintf("shmkv-bench-%d", os.Getpid())
	kv.Remove(s.table)
	t, err := kv.Open(s.table, &kv.Options{
		Keys: keys, Memory: int64(keys) * int64(keySize+valueSize),
		MaxKeySize: 64, MaxValueSize: max(valueSize, 1024), Exclusive: true,
	})
	if err != nil {
		return "", err
	}
	defer t.Close()
	v := valueOf(valueSize)
	var k []byte
	for i := range keys {
		k = keyOf(k[:0], i)
		if err := t.Set(k, v); err != nil {
			return "", fmt.Errorf("preload key %d: %w", i, err)
		}
	}
	return s.table, nil
}

// connect populates the mapping, as a long-lived worker would have touched
// it by the time it matters: a fresh process otherwise pays a page fault on
// its first touch of every page, which a short measurement would count.
func (s *shmkvStore) connect(target string) (client, error) {
	t, err := kv.Open(target, &kv.Options{NoCreate: true, Populate: true, SkipReadChecksums: s.skipChecksums})
	if err != nil {
		return nil, err
	}
	return &shmkvClient{t: t, buf: make([]byte, 0, 64<<10)}, nil
}

func (s *shmkvStore) bytesPerEntry(keys int) float64 {
	t, err := kv.Open(s.table, &kv.Options{NoCreate: true, ReadOnly: true})
	if err != nil {
		return 0
	}
	defer t.Close()
	var st kv.Stats
	t.Stats(&st)
	return float64(st.TotalBytes) / float64(keys)
}

func (s *shmkvStore) teardown() { kv.Remove(s.table) }

type shmkvClient struct {
	t   *kv.Table
	buf []byte
}

func (c *shmkvClient) batchSize() int { return 1 }
func (c *shmkvClient) close()         { c.t.Close() }
func (c *shmkvClient) do(batch []request) error {
	for _, r := range batch {
		var err error
		if r.kind == opSet {
			err = c.t.Set(r.key, r.value)
		} else {
			c.buf, _, err = c.t.Get(c.buf[:0], r.key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// inProcess is the part every in-process peer shares: one instance in the
// harness process, used by every goroutine, and what it takes while it
// loads: the growth of the process's resident memory, or of the Go heap
// if that is more (a small load can fit in pages that were already
// resident, freed by what ran before).
type inProcess struct {
	rssBefore, rssAfter   uint64
	heapBefore, heapAfter uint64
}

func (p *inProcess) shareable() bool   { return false }
func (p *inProcess) available() string { return "" }
func (p *inProcess) markBefore()       { p.rssBefore, p.heapBefore = heapInUse(), heapAllocated() }
func (p *inProcess) markAfter()        { p.rssAfter, p.heapAfter = heapInUse(), heapAllocated() }
func (p *inProcess) bytesPerEntry(keys int) float64 {
	grown := max(p.rssAfter-min(p.rssBefore, p.rssAfter), p.heapAfter-min(p.heapBefore, p.heapAfter))
	return float64(grown) / float64(keys)
}

// heapAllocated is the Go heap's live bytes, after a collection.
func heapAllocated() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// heapInUse is the process's resident memory, after a collection.
func heapInUse() uint64 {
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// preload stores every key with set.
func preload(keys, valueSize int, set func(k, v []byte)) {
	v := valueOf(valueSize)
	for i := range keys {
		set(keyOf(nil, i), v)
	}
}

// mapStore: a Go map under sync.RWMutex, the ceiling for a table in RAM.
type mapStore struct {
	inProcess
	mapShard
}

func (s *mapStore) name() string { return "map+RWMutex" }
func (s *mapStore) setup(keys, valueSize int) (string, error) {
	s.markBefore()
	s.m = make(map[string][]byte, keys)
	preload(keys, valueSize, s.set)
	s.markAfter()
	return "", nil
}
func (s *mapStore) connect(string) (client, error) {
	return &mapClient{single: &s.mapShard, buf: make([]byte, 0, 64<<10)}, nil
}
func (s *mapStore) teardown() { s.m = nil }

// mapShard is a map and the lock that guards it, padded so that no two
// shards' locks of shardedMapStore share a cache line.
type mapShard struct {
	mu sync.RWMutex
	m  map[string][]byte
	_  [64]byte
}

// set stores a copy of value, in the buffer of the key's old value if it
// is large enough, as shmkv reuses its memory.
func (sh *mapShard) set(key, value []byte) {
	sh.mu.Lock()
	old := sh.m[string(key)]
	if cap(old) >= len(value) {
		sh.m[string(key)] = append(old[:0], value...)
	} else {
		sh.m[string(key)] = append([]byte(nil), value...)
	}
	sh.mu.Unlock()
}

// get appends key's value to dst.
func (sh *mapShard) get(dst, key []byte) []byte {
	sh.mu.RLock()
	dst = append(dst, sh.m[string(key)]...)
	sh.mu.RUnlock()
	return dst
}

// mapClient serves either map store: the single map, or the sharded
// store's map of each key (no indirect call for the single one, whose
// figures are the reference).
type mapClient struct {
	single  *mapShard
	sharded *shardedMapStore
	buf     []byte
}

func (c *mapClient) batchSize() int { return 1 }
func (c *mapClient) close()         {}
func (c *mapClient) do(batch []request) error {
	for _, r := range batch {
		sh := c.single
		if c.sharded != nil {
			sh = c.sharded.shard(r.key)
		}
		if r.kind == opSet {
			sh.set(r.key, r.value)
		} else {
			c.buf = sh.get(c.buf[:0], r.key)
		}
	}
	return nil
}

// fastcacheStore: github.com/VictoriaMetrics/fastcache.
type fastcacheStore struct {
	inProcess
	c *fastcache.Cache
}

func (s *fastcacheStore) name() string { return "fastcache" }
func (s *fastcacheStore) setup(keys, valueSize int) (string, error) {
	s.markBefore()
	s.c = fastcache.New(cacheBytes(keys, valueSize))
	preload(keys, valueSize, s.c.Set)
	s.markAfter()
	return "", allStored(keys, s.c.Has)
}

// bytesPerEntry is the Go heap's growth (the buckets' maps) and the chunks
// fastcache reports holding, as freecache is charged its whole buffer.
// The chunks are mapped outside the heap and, once reset, kept on a free
// list for the next cache: a later load reuses pages already resident, so
// the process's resident memory would not grow by them.
func (s *fastcacheStore) bytesPerEntry(keys int) float64 {
	var st fastcache.Stats
	s.c.UpdateStats(&st)
	return float64(s.heapAfter-min(s.heapBefore, s.heapAfter)+st.BytesSize) / float64(keys)
}
func (s *fastcacheStore) connect(string) (client, error) {
	return &fastcacheClient{c: s.c, buf: make([]byte, 0, 64<<10)}, nil
}
func (s *fastcacheStore) teardown() { s.c.Reset(); s.c = nil }

type fastcacheClient struct {
	c   *fastcache.Cache
	buf []byte
}

func (c *fastcacheClient) batchSize() int { return 1 }
func (c *fastcacheClient) close()         {}
func (c *fastcacheClient) do(batch []request) error {
	for _, r := range batch {
		if r.kind == opSet {
			c.c.Set(r.key, r.value)
		} else {
			c.buf = c.c.Get(c.buf[:0], r.key)
		}
	}
	return nil
}

// cacheBytes sizes the in-process caches: the data with 64 bytes an entry
// for their own headers, about what shmkv takes for the same keys (the
// bytes/entry column), and at least 32 MiB, fastcache's smallest. Their
// setup checks that every preloaded key stayed (allStored).
func cacheBytes(keys, valueSize int) int {
	return max(keys*(keySize+valueSize+64), 32<<20)
}

// allStored checks that a cache kept every preloaded key: one that evicted
// some would answer get-hit with misses, which are cheaper.
func allStored(keys int, has func(k []byte) bool) error {
	var k []byte
	for i := range keys {
		if k = keyOf(k[:0], i); !has(k) {
			return fmt.Errorf("key %d of %d was evicted in preloading: the budget is too small", i, keys)
		}
	}
	return nil
}

// freecacheStore: github.com/coocood/freecache.
type freecacheStore struct {
	inProcess
	c *freecache.Cache
}

func (s *freecacheStore) name() string { return "freecache" }
func (s *freecacheStore) setup(keys, valueSize int) (string, error) {
	s.markBefore()
	s.c = freecache.NewCache(cacheBytes(keys, valueSize))
	preload(keys, valueSize, func(k, v []byte) { s.c.Set(k, v, 0) })
	s.markAfter()
	return "", allStored(keys, func(k []byte) bool { _, err := s.c.Get(k); return err == nil })
}
func (s *freecacheStore) connect(string) (client, error) {
	return &freecacheClient{c: s.c, buf: make([]byte, 0, 64<<10)}, nil
}
func (s *freecacheStore) teardown() { s.c.Clear(); s.c = nil }

type freecacheClient struct {
	c   *freecache.Cache
	buf []byte
}

func (c *freecacheClient) batchSize() int { return 1 }
func (c *freecacheClient) close()         {}
func (c *freecacheClient) do(batch []request) error {
	for _, r := range batch {
		if r.kind == opSet {
			if err := c.c.Set(r.key, r.value, 0); err != nil {
				return err
			}
		} else {
			// GetFn copies into our buffer instead of allocating.
			c.c.GetFn(r.key, func(v []byte) error {
				c.buf = append(c.buf[:0], v...)
				return nil
			})
		}
	}
	return nil
}
