//go:build !linux

package shm

import (
	"errors"
	"os"
)

// Shm is an open shared-memory object. On this system it cannot be opened.
type Shm struct{}

// Mapping is a live mapping made by Shm.Map.
type Mapping struct{}

func unsupported(op, name string) error {
	return &os.PathError{Op: op, Path: name, Err: errors.ErrUnsupported}
}

// Open returns errors.ErrUnsupported on this system.
func Open(name string, flag int, perm os.FileMode) (*Shm, error) {
	return nil, unsupported("shm_open", name)
}

// CreateUnnamed returns errors.ErrUnsupported on this system.
func CreateUnnamed(perm os.FileMode) (*Shm, error) { return nil, unsupported("open", Dir) }

// Link returns errors.ErrUnsupported.
func (s *Shm) Link(name string) error { return unsupported("link", name) }

// Remove returns errors.ErrUnsupported on this system.
func Remove(name string) error { return unsupported("shm_unlink", name) }

// Name returns "".
func (s *Shm) Name() string { return "" }

// ReadOnly reports false.
func (s *Shm) ReadOnly() bool { return false }

// Fd returns -1.
func (s *Shm) Fd() int { return -1 }

// Stat returns errors.ErrUnsupported.
func (s *Shm) Stat() (Info, error) { return Info{}, unsupported("fstat", "") }

// Size returns errors.ErrUnsupported.
func (s *Shm) Size() (int64, error) { return 0, unsupported("fstat", "") }

// SetSize returns errors.ErrUnsupported.
func (s *Shm) SetSize(n int64) error { return unsupported("ftruncate", "") }

// Allocate returns errors.ErrUnsupported.
func (s *Shm) Allocate(n int64) error { return unsupported("fallocate", "") }

// AllocateRange returns errors.ErrUnsupported.
func (s *Shm) AllocateRange(off, n int64) error { return unsupported("fallocate", "") }

// Release returns errors.ErrUnsupported.
func (s *Shm) Release(off, n int64) error { return unsupported("fallocate", "") }

// Blocks returns errors.ErrUnsupported.
func (s *Shm) Blocks() (int64, error) { return 0, unsupported("fstat", "") }

// Map returns errors.ErrUnsupported.
func (s *Shm) Map(offset int64) (*Mapping, error) { return nil, unsupported("mmap", "") }

// Close returns errors.ErrUnsupported.
func (s *Shm) Close() error { return unsupported("close", "") }

// Unlink returns errors.ErrUnsupported.
func (s *Shm) Unlink() error { return unsupported("shm_unlink", "") }

// Bytes returns nil.
func (m *Mapping) Bytes() []byte { return nil }

// ReadOnly reports false.
func (m *Mapping) ReadOnly() bool { return false }

// Populate returns errors.ErrUnsupported.
func (m *Mapping) Populate() error { return unsupported("madvise", "") }

// PopulateRange returns errors.ErrUnsupported.
func (m *Mapping) PopulateRange(off, n int64) error { return unsupported("madvise", "") }

// Revoke returns nil.
func (m *Mapping) Revoke() error { return nil }

// Unmap returns nil.
func (m *Mapping) Unmap() error { return nil }
