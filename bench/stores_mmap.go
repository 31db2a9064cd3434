package main

import (
	"os"
	"path/filepath"
	"runtime"

	"github.com/PowerDNS/lmdb-go/lmdb"
	bolt "go.etcd.io/bbolt"
)

// boltStore: go.etcd.io/bbolt in a file under /dev/shm, with NoSync so
// that writes are not charged for fsync (which tmpfs makes free anyway).
// A bbolt file is opened by one process at a time, so it runs in-process.
type boltStore struct {
	inProcess
	dir string
	db  *bolt.DB
}

var boltBucket = []byte("b")

func (s *boltStore) name() string { return "bbolt" }
func (s *boltStore) setup(keys, valueSize int) (string, error) {
	dir, err := os.MkdirTemp("/dev/shm", "shmkv-bench-bolt-")
	if err != nil {
		return "", err
	}
	s.dir = dir
	s.db, err = bolt.Open(filepath.Join(dir, "db"), 0o600, &bolt.Options{NoSync: true, NoFreelistSync: true})
	if err != nil {
		return "", err
	}
	v := valueOf(valueSize)
	const perTx = 10000
	for start := 0; start < keys; start += perTx {
		err := s.db.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(boltBucket)
			if err != nil {
				return err
			}
			for i := start; i < min(start+perTx, keys); i++ {
				if err := b.Put(keyOf(nil, i), v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return "", nil
}
func (s *boltStore) connect(string) (client, error) {
	return &boltClient{db: s.db, buf: make([]byte, 0, 64<<10)}, nil
}
func (s *boltStore) bytesPerEntry(keys int) float64 { return fileBytes(s.dir) / float64(keys) }
func (s *boltStore) teardown() {
	s.db.Close()
	os.RemoveAll(s.dir)
}

type boltClient struct {
	db  *bolt.DB
	buf []byte
}

func (c *boltClient) batchSize() int { return 1 }
func (c *boltClient) close()         {}
func (c *boltClient) do(batch []request) error {
	for _, r := range batch {
		var err error
		if r.kind == opSet {
			err = c.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(boltBucket).Put(r.key, r.value) })
		} else {
			err = c.db.View(func(tx *bolt.Tx) error {
				c.buf = append(c.buf[:0], tx.Bucket(boltBucket).Get(r.key)...)
				return nil
			})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fileBytes is the size of every file in dir.
func fileBytes(dir string) float64 {
	var n int64
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			n += fi.Size()
		}
	}
	return float64(n)
}

// lmdbStore: LMDB through cgo, its environment in a directory on
// /dev/shm, shared by the worker processes. NoSync and NoMetaSync keep
// writes in memory, as shmkv's are; WriteMap lets LMDB write through its
// map.
type lmdbStore struct {
	dir string
}

const lmdbFlags = lmdb.NoSync | lmdb.NoMetaSync | lmdb.WriteMap | lmdb.NoReadahead

func (s *lmdbStore) name() string      { return "LMDB" }
func (s *lmdbStore) shareable() bool   { return true }
func (s *lmdbStore) available() string { return "" }

func openLMDB(dir string, keys, valueSize int) (*lmdb.Env, lmdb.DBI, error) {
	env, err := lmdb.NewEnv()
	if err != nil {
		return nil, 0, err
	}
	env.SetMaxReaders(256)
	// The map size only reserves address space, and every process must
	// ask for at least what the data has grown to: ask for plenty.
	env.SetMapSize(int64(max(keys*(keySize+valueSize)*4, 64<<30)))
	if err := env.Open(dir, lmdbFlags, 0o600); err != nil {
		env.Close()
		return nil, 0, err
	}
	var dbi lmdb.DBI
	err = env.Update(func(txn *lmdb.Txn) (err error) {
		dbi, err = txn.OpenRoot(0)
		return err
	})
	return env, dbi, err
}

func (s *lmdbStore) setup(keys, valueSize int) (string, error) {
	dir, err := os.MkdirTemp("/dev/shm", "shmkv-bench-lmdb-")
	if err != nil {
		return "", err
	}
	s.dir = dir
	env, dbi, err := openLMDB(dir, keys, valueSize)
	if err != nil {
		return "", err
	}
	defer env.Close()
	v := valueOf(valueSize)
	const perTx = 10000
	for start := 0; start < keys; start += perTx {
		err := env.Update(func(txn *lmdb.Txn) error {
			for i := start; i < min(start+perTx, keys); i++ {
				if err := txn.Put(dbi, keyOf(nil, i), v, 0); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return dir, nil
}

// connect reads every entry once, so that the worker starts with the map's
// pages faulted in, as shmkv's are (see shmkvStore.connect).
func (s *lmdbStore) connect(target string) (client, error) {
	env, dbi, err := openLMDB(target, 0, 0)
	if err != nil {
		return nil, err
	}
	err = env.View(func(txn *lmdb.Txn) error {
		txn.RawRead = true
		cur, err := txn.OpenCursor(dbi)
		if err != nil {
			return err
		}
		defer cur.Close()
		for {
			if _, _, err := cur.Get(nil, nil, lmdb.Next); lmdb.IsNotFound(err) {
				return nil
			} else if err != nil {
				return err
			}
		}
	})
	if err != nil {
		env.Close()
		return nil, err
	}
	// One read transaction for the worker's life, reset after each read and
	// renewed before the next: what LMDB's documentation recommends for
	// frequent reads (mdb_txn_reset), which saves an allocation and the
	// reader-table setup per read.
	txn, err := env.BeginTxn(nil, lmdb.Readonly)
	if err != nil {
		env.Close()
		return nil, err
	}
	txn.RawRead = true
	txn.Reset()
	return &lmdbClient{env: env, dbi: dbi, read: txn, buf: make([]byte, 0, 64<<10)}, nil
}
func (s *lmdbStore) bytesPerEntry(keys int) float64 {
	// The data file is sized to the map; what is used is the page count.
	env, _, err := openLMDB(s.dir, keys, 0)
	if err != nil {
		return 0
	}
	defer env.Close()
	info, err := env.Info()
	st, err2 := env.Stat()
	if err != nil || err2 != nil {
		return 0
	}
	return float64((info.LastPNO+1)*int64(st.PSize)) / float64(keys)
}
func (s *lmdbStore) teardown() { os.RemoveAll(s.dir) }

type lmdbClient struct {
	env  *lmdb.Env
	dbi  lmdb.DBI
	read *lmdb.Txn // reset between reads
	buf  []byte
}

func (c *lmdbClient) batchSize() int { return 1 }
func (c *lmdbClient) close() {
	c.read.Abort()
	c.env.Close()
}
func (c *lmdbClient) do(batch []request) error {
	// LMDB write transactions belong to an OS thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for _, r := range batch {
		var err error
		if r.kind == opSet {
			err = c.env.UpdateLocked(func(txn *lmdb.Txn) error { return txn.Put(c.dbi, r.key, r.value, 0) })
		} else {
			err = c.get(r.key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *lmdbClient) get(key []byte) error {
	if err := c.read.Renew(); err != nil {
		return err
	}
	defer c.read.Reset()
	v, err := c.read.Get(c.dbi, key)
	if lmdb.IsNotFound(err) {
		return nil
	}
	c.buf = append(c.buf[:0], v...)
	return err
}
