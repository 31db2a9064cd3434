package host

import (
	"encoding/binary"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Yield gives up the processor to any thread, of any process, that
// wants it (sched_yield).
func Yield() { unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// LockByte takes an open-file-description write lock on byte i of fd's
// file, without waiting; busy reports that another holds a lock there.
func LockByte(fd int, i int64) (busy bool, err error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: i, Len: 1}
	err = unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
	if err == unix.EAGAIN || err == unix.EACCES {
		return true, nil
	}
	return false, err
}

// LockByteShared takes an open-file-description read lock on byte i of
// fd's file, without waiting; busy reports that another holds a write
// lock there. A write lock of fd's own on the byte becomes a read lock.
func LockByteShared(fd int, i int64) (busy bool, err error) {
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart, Start: i, Len: 1}
	err = unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
	if err == unix.EAGAIN || err == unix.EACCES {
		return true, nil
	}
	return false, err
}

// UnlockByte drops fd's open-file-description lock on byte i.
func UnlockByte(fd int, i int64) error {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: io.SeekStart, Start: i, Len: 1}
	return unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
}

// InodeAt returns the inode number of path itself (not of what a symbolic
// link there points to).
func InodeAt(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return st.Ino, nil
}

// AddressSpaceLimit returns RLIMIT_AS (ulimit -v) in bytes, or 0 if there
// is none or it cannot be read.
func AddressSpaceLimit() uint64 {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_AS, &rl) != nil || rl.Cur == unix.RLIM_INFINITY {
		return 0
	}
	return rl.Cur
}

// ShmFree returns the bytes free for this user on the
// filesystem that holds /dev/shm, or -1 if it cannot be read.
func ShmFree() int64 {
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// ByteWriteLocked reports whether any open file description holds a write
// lock on byte i of fd's file. It asks F_OFD_GETLK about a read lock,
// which only a write lock conflicts with, so read locks do not count.
func ByteWriteLocked(fd int, i int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart, Start: i, Len: 1}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk); err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}

// ShmSize returns the size of the filesystem that holds
// /dev/shm, or 0 if it cannot be read.
func ShmSize() int64 {
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) != nil {
		return 0
	}
	return int64(st.Blocks) * int64(st.Bsize)
}

// DataRanges calls fn for each run [a, b) of fd's file within [start, end)
// that has memory (lseek's SEEK_DATA and SEEK_HOLE), so that a scan of a
// sparse object reads no hole: in a shared mapping, reading a hole of
// tmpfs gives it memory.
func DataRanges(fd int, start, end int64, fn func(a, b int64)) error {
	for off := start; off < end; {
		a, err := unix.Seek(fd, off, unix.SEEK_DATA)
		if err == unix.ENXIO {
			return nil // no data past off
		}
		if err != nil {
			return err
		}
		if a >= end {
			return nil
		}
		b, err := unix.Seek(fd, a, unix.SEEK_HOLE)
		if err != nil {
			return err
		}
		fn(a, min(b, end))
		off = b
	}
	return nil
}

// ReadWord reads the little-endian word at byte off of fd's file with
// pread, without mapping it.
func ReadWord(fd int, off int64) (uint64, error) {
	var b [8]byte
	n, err := unix.Pread(fd, b[:], off)
	if err != nil {
		return 0, os.NewSyscallError("pread", err)
	}
	if n < len(b) {
		return 0, io.ErrUnexpectedEOF
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}
