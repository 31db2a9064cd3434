//go:build !linux

package host

import "errors"

// Stand-ins for host_linux.go, so that kv builds on every system that code
// importing it is built on. kv never reaches them: its Open fails first.

// Yield does nothing.
func Yield() {}

// LockByte fails with errors.ErrUnsupported.
func LockByte(fd int, i int64) (bool, error) { return false, errors.ErrUnsupported }

// ByteWriteLocked fails with errors.ErrUnsupported.
func ByteWriteLocked(fd int, i int64) (bool, error) { return false, errors.ErrUnsupported }

// LockByteShared fails with errors.ErrUnsupported.
func LockByteShared(fd int, i int64) (bool, error) { return false, errors.ErrUnsupported }

// UnlockByte fails with errors.ErrUnsupported.
func UnlockByte(fd int, i int64) error { return errors.ErrUnsupported }

// InodeAt fails with errors.ErrUnsupported.
func InodeAt(path string) (uint64, error) { return 0, errors.ErrUnsupported }

// AddressSpaceLimit reports no limit.
func AddressSpaceLimit() uint64 { return 0 }

// ShmFree reports that it cannot tell.
func ShmFree() int64 { return -1 }

// ShmSize reports that it cannot tell.
func ShmSize() int64 { return 0 }

// DataRanges fails with errors.ErrUnsupported.
func DataRanges(fd int, start, end int64, fn func(a, b int64)) error {
	return errors.ErrUnsupported
}

// ReadWord fails with errors.ErrUnsupported.
func ReadWord(fd int, off int64) (uint64, error) { return 0, errors.ErrUnsupported }
