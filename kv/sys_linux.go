package kv

import (
	"encoding/binary"
	"io"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls kv rests on, all Linux's: futexes for the shard locks,
// open-file-description locks for liveness, sched_yield for spinning.
// sys_other.go stands in for them elsewhere, where Open fails first.

// futexWait and futexWake are the two futex calls lock.go builds on; its
// top comment states their contract. The pointers are converted to uintptr
// inside the syscall expression itself, which keeps them valid for the
// call (rule 4 of unsafe.Pointer). w points into the mapping, which is not
// moved, and ts lives on the stack for the duration of the call.

// futexWait reports whether the wait ended by timing out.
func futexWait(w *uint32, val uint32, d time.Duration) (timedOut bool) {
	ts := unix.NsecToTimespec(int64(d))
	_, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWaitOp, uintptr(val),
		uintptr(unsafe.Pointer(&ts)), 0, 0)
	return errno == unix.ETIMEDOUT
}

// futexWake wakes at most n waiters on w and returns how many it woke.
func futexWake(w *uint32, n int) int {
	woken, _, errno := unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWakeOp, uintptr(n), 0, 0, 0)
	if errno != 0 {
		return 0
	}
	return int(woken)
}

// osYield gives up the processor to any thread, of any process, that
// wants it (sched_yield).
func osYield() { unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }

// lockByte takes an open-file-description write lock on byte i of fd's
// file, without waiting; busy reports that another holds a lock there.
func lockByte(fd int, i int64) (busy bool, err error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: i, Len: 1}
	err = unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
	if err == unix.EAGAIN || err == unix.EACCES {
		return true, nil
	}
	return false, err
}

// lockByteShared takes an open-file-description read lock on byte i of
// fd's file, without waiting; busy reports that another holds a write
// lock there. A write lock of fd's own on the byte becomes a read lock.
func lockByteShared(fd int, i int64) (busy bool, err error) {
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart, Start: i, Len: 1}
	err = unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
	if err == unix.EAGAIN || err == unix.EACCES {
		return true, nil
	}
	return false, err
}

// unlockByte drops fd's open-file-description lock on byte i.
func unlockByte(fd int, i int64) error {
	lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: io.SeekStart, Start: i, Len: 1}
	return unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
}

// inodeAt returns the inode number of path itself (not of what a symbolic
// link there points to).
func inodeAt(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return st.Ino, nil
}

// addressSpaceLimit returns RLIMIT_AS (ulimit -v) in bytes, or 0 if there
// is none or it cannot be read.
func addressSpaceLimit() uint64 {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_AS, &rl) != nil || rl.Cur == unix.RLIM_INFINITY {
		return 0
	}
	return rl.Cur
}

// shmFilesystemFree returns the bytes free for this user on the
// filesystem that holds /dev/shm, or -1 if it cannot be read.
func shmFilesystemFree() int64 {
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) != nil {
		return -1
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

// byteWriteLocked reports whether any open file description holds a write
// lock on byte i of fd's file. It asks F_OFD_GETLK about a read lock,
// which only a write lock conflicts with, so read locks do not count.
func byteWriteLocked(fd int, i int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart, Start: i, Len: 1}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk); err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}

// shmFilesystemSize returns the size of the filesystem that holds
// /dev/shm, or 0 if it cannot be read.
func shmFilesystemSize() int64 {
	var st unix.Statfs_t
	if unix.Statfs("/dev/shm", &st) != nil {
		return 0
	}
	return int64(st.Blocks) * int64(st.Bsize)
}

// dataRanges calls fn for each run [a, b) of fd's file within [start, end)
// that has memory (lseek's SEEK_DATA and SEEK_HOLE), so that a scan of a
// sparse object reads no hole: in a shared mapping, reading a hole of
// tmpfs gives it memory.
func dataRanges(fd int, start, end int64, fn func(a, b int64)) error {
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

// readMagic reads the header's first word, the magic, from the object fd
// with pread. The creator stores the magic before it links the object
// under its name, so an object found by name is past that store.
func readMagic(fd int) (uint64, error) {
	var b [8]byte
	n, err := unix.Pread(fd, b[:], offMagic)
	if err != nil {
		return 0, os.NewSyscallError("pread", err)
	}
	if n < len(b) {
		return 0, io.ErrUnexpectedEOF
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}
