//go:build linux

package shm_test

import (
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/shm"
)

// uniqueName returns a name no other test or process uses, and removes the
// object when the test ends.
func uniqueName(t testing.TB) string {
	t.Helper()
	name := "/" + testproc.UniqueName("shm")
	t.Cleanup(func() {
		if err := shm.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// create makes an object of size bytes filled with a recognisable pattern.
func create(t testing.TB, size int) (string, *shm.Shm) {
	t.Helper()
	name := uniqueName(t)
	s, err := shm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Allocate(int64(size)); err != nil {
		t.Fatal(err)
	}
	return name, s
}

func mustMap(t testing.TB, s *shm.Shm, offset int64) *shm.Mapping {
	t.Helper()
	m, err := s.Map(offset)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Unmap() })
	return m
}
