package main

import (
	"golang.org/x/sys/unix"

	"github.com/shmkv/shmkv/shm"
)

// shmSize returns the size of the filesystem that holds /dev/shm, or 0 if
// it cannot be read. A variable, so that tests can give stats a small one.
var shmSize = func() int64 {
	var st unix.Statfs_t
	if unix.Statfs(shm.Dir, &st) != nil {
		return 0
	}
	return int64(st.Blocks) * int64(st.Bsize)
}
