package main

import (
	"hash/maphash"
	"sync"
)

// mapShards is how many locks the sharded map splits its keys over: enough
// that workers on a few cores rarely meet on one.
const mapShards = 64

// shardedMapStore: Go maps under one RWMutex each, keys spread over them
// by hash: the in-process ceiling when several workers write, where the
// single lock of mapStore serializes them.
type shardedMapStore struct {
	inProcess
	seed   maphash.Seed
	shards [mapShards]mapShard
}

// mapShard is one lock and its map, padded so that no two shards' locks
// share a cache line.
type mapShard struct {
	mu sync.RWMutex
	m  map[string][]byte
	_  [64]byte
}

func (s *shardedMapStore) name() string { return "sharded map" }
func (s *shardedMapStore) setup(keys, valueSize int) (string, error) {
	s.markBefore()
	s.seed = maphash.MakeSeed()
	for i := range s.shards {
		s.shards[i].m = make(map[string][]byte, keys/mapShards+1)
	}
	preload(keys, valueSize, func(k, v []byte) { s.shard(k).m[string(k)] = append([]byte(nil), v...) })
	s.markAfter()
	return "", nil
}

func (s *shardedMapStore) shard(key []byte) *mapShard {
	return &s.shards[maphash.Bytes(s.seed, key)%mapShards]
}

func (s *shardedMapStore) connect(string) (client, error) {
	return &shardedMapClient{s: s, buf: make([]byte, 0, 64<<10)}, nil
}

func (s *shardedMapStore) teardown() {
	for i := range s.shards {
		s.shards[i].m = nil
	}
}

type shardedMapClient struct {
	s   *shardedMapStore
	buf []byte
}

func (c *shardedMapClient) batchSize() int { return 1 }
func (c *shardedMapClient) close()         {}
func (c *shardedMapClient) do(batch []request) error {
	for _, r := range batch {
		sh := c.s.shard(r.key)
		if r.kind == opSet {
			sh.mu.Lock()
			// Reuse the value's buffer, as shmkv reuses its memory.
			old := sh.m[string(r.key)]
			if cap(old) >= len(r.value) {
				sh.m[string(r.key)] = append(old[:0], r.value...)
			} else {
				sh.m[string(r.key)] = append([]byte(nil), r.value...)
			}
			sh.mu.Unlock()
			continue
		}
		sh.mu.RLock()
		c.buf = append(c.buf[:0], sh.m[string(r.key)]...)
		sh.mu.RUnlock()
	}
	return nil
}
