// Package testshm reaches a table's shared-memory object beneath the kv
// package, for tests that inspect it, damage it, or plant an object that
// is not a table: the one copy of what kv's, fuzz's and the CLI's tests
// each wrote for themselves. Every function fails the test on an error.
//
// It is separate from testproc, which starts processes and knows nothing
// of objects: one concern each.
package testshm

import (
	"bytes"
	"os"
	"testing"

	"github.com/shmkv/shmkv/shm"
)

// Map maps the whole object under name read-write and returns its bytes,
// which stay mapped until the test ends.
func Map(t testing.TB, name string) []byte {
	t.Helper()
	sh, err := shm.Open(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Close() })
	m, err := sh.Map(0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Unmap() })
	return m.Bytes()
}

// Edit maps the whole object under name read-write, applies edit to its
// bytes, and unmaps it before it returns.
func Edit(t testing.TB, name string, edit func(b []byte)) {
	t.Helper()
	sh, err := shm.Open(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	m, err := sh.Map(0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unmap()
	edit(m.Bytes())
}

// Copy returns a copy of the object's bytes.
func Copy(t testing.TB, name string) []byte {
	t.Helper()
	var b []byte
	Edit(t, name, func(m []byte) { b = bytes.Clone(m) })
	return b
}

// Truncate sets the object's size to size bytes, as a peer that can write
// it could.
func Truncate(t testing.TB, name string, size int64) {
	t.Helper()
	sh, err := shm.Open(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	if err := sh.SetSize(size); err != nil {
		t.Fatal(err)
	}
}

// Plant creates a new object under name, mode 0600, of size bytes with
// memory, starting with prefix: an object that is not a table, or one whose
// creator never finished. The caller removes it.
func Plant(t testing.TB, name string, size int64, prefix []byte) {
	t.Helper()
	sh, err := shm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	if err := sh.Allocate(size); err != nil {
		t.Fatal(err)
	}
	if len(prefix) == 0 {
		return
	}
	m, err := sh.Map(0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unmap()
	copy(m.Bytes(), prefix)
}
