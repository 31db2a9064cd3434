package main

// store is one system under test. setup runs once in the harness process
// and preloads keys; connect runs in every worker (a process, for a
// shareable store; a goroutine otherwise) and gives it its own client.
type store interface {
	name() string
	// shareable reports whether separate processes can use one instance.
	shareable() bool
	// available says why the store cannot run here ("" if it can), with
	// the command that would install what it lacks.
	available() string
	setup(keys, valueSize int) (target string, err error)
	connect(target string) (client, error)
	// bytesPerEntry is the memory the loaded store takes per entry.
	bytesPerEntry(keys int) float64
	teardown()
}

// client is one worker's connection. do runs a batch of operations (most
// clients one at a time; a pipelining client sends the batch at once).
type client interface {
	do(batch []request) error
	batchSize() int
	close()
}

// request is one operation with its key, and the value for a set.
type request struct {
	kind  opKind
	key   []byte
	value []byte
}

// stores lists every store the harness knows, shmkv first.
func allStores() []store {
	return []store{
		&shmkvStore{},
		&shmkvStore{skipChecksums: true},
		&mapStore{},
		&shardedMapStore{},
		&fastcacheStore{},
		&freecacheStore{},
		&boltStore{},
		&lmdbStore{},
		&redisStore{pipeline: 1},
		&redisStore{pipeline: 64},
		&memcachedStore{},
	}
}
