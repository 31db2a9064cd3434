//go:build !linux

package kv

import (
	"errors"
	"time"
)

// Stand-ins for sys_linux.go, so that kv builds on every system that code
// importing it is built on. They are never reached: Open fails first, with
// an error matching errors.ErrUnsupported from shm.

func futexWait(w *uint32, val uint32, d time.Duration) bool          { time.Sleep(d); return true }
func futexWake(w *uint32, n int) int                                 { return 0 }
func osYield()                                                       {}
func lockByte(fd int, i int64) (bool, error)                         { return false, errors.ErrUnsupported }
func byteWriteLocked(fd int, i int64) (bool, error)                  { return false, errors.ErrUnsupported }
func lockByteShared(fd int, i int64) (bool, error)                   { return false, errors.ErrUnsupported }
func unlockByte(fd int, i int64) error                               { return errors.ErrUnsupported }
func inodeAt(path string) (uint64, error)                            { return 0, errors.ErrUnsupported }
func addressSpaceLimit() uint64                                      { return 0 }
func shmFilesystemFree() int64                                       { return -1 }
func shmFilesystemSize() int64                                       { return 0 }
func dataRanges(fd int, start, end int64, fn func(a, b int64)) error { return errors.ErrUnsupported }

func readMagic(fd int) (uint64, error) { return 0, errors.ErrUnsupported }
