package main

import "hash/maphash"

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

func (s *shardedMapStore) name() string { return "sharded map" }
func (s *shardedMapStore) setup(keys, valueSize int) (string, error) {
	s.markBefore()
	s.seed = maphash.MakeSeed()
	for i := range s.shards {
		s.shards[i].m = make(map[string][]byte, keys/mapShards+1)
	}
	preload(keys, valueSize, func(k, v []byte) { s.shard(k).set(k, v) })
	s.markAfter()
	return "", nil
}

func (s *shardedMapStore) shard(key []byte) *mapShard {
	return &s.shards[maphash.Bytes(s.seed, key)%mapShards]
}

func (s *shardedMapStore) connect(string) (client, error) {
	return &mapClient{sharded: s, buf: make([]byte, 0, 64<<10)}, nil
}

func (s *shardedMapStore) teardown() {
	for i := range s.shards {
		s.shards[i].m = nil
	}
}
