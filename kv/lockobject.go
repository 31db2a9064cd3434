package kv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/cespare/xxhash/v2"
	"github.com/shmkv/shmkv/shm"
)

// The lock object. Liveness (registry.go) rests on open-file-description
// locks, and a lock taken on the table's own object would be open to anyone
// who can read the table: a read lock needs only read access, and a read
// lock over the registry bytes would keep every writer from claiming a
// slot, or make a dead writer look alive. So the locks live on a companion
// object, empty, that only those who may write the table can open at all:
// its mode gives read and write to exactly the classes (owner, group,
// other) that the table's mode lets write. A read-only opener who may
// write the table anyway (the command's read-only handles) opens it
// read-only to ask who is alive (F_OFD_GETLK); one who may not has no
// descriptor of it, and so no lock it could take.
//
// The companion's name is derived from the table's, so that a creator
// killed before linking its table leaves at most one empty companion,
// reused by the next creator of the name. The header records its inode
// number, and an opener refuses a companion that is not that one.

// lockObjectName is the companion of the table name (without its '/').
func lockObjectName(base string) string {
	return ".shmkv-lock-" + strconv.FormatUint(xxhash.Sum64String(base), 16)
}

// lockObjectMode gives read and write to the classes that mode lets write,
// and always to the owner.
func lockObjectMode(mode os.FileMode) os.FileMode {
	w := mode & 0o222
	return w | w<<1 | 0o600
}

// openLockObject opens name's companion, creating it when create is set.
// An existing companion must be owned by owner. A read-only opener that may
// not open it gets nil and no error: it cannot tell who is alive.
func openLockObject(name string, o *Options, create bool, owner uint32) (*shm.Shm, error) {
	base, err := shm.CleanName(name)
	if err != nil {
		return nil, err
	}
	flag := os.O_RDWR
	switch {
	case create:
		flag |= os.O_CREATE
	case o.ReadOnly:
		flag = os.O_RDONLY
	}
	lock, err := shm.Open(lockObjectName(base), flag, lockObjectMode(o.Mode))
	if err != nil {
		if o.ReadOnly && (errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist)) {
			return nil, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: its lock object %s is missing (removed by hand?)", ErrCorrupt, lockObjectName(base))
		}
		return nil, err
	}
	info, err := lock.Stat()
	if err == nil && info.UID != owner {
		err = fmt.Errorf("%w: lock object %s has owner uid %d, the table %d", ErrUnsafeObject, lock.Name(), info.UID, owner)
	}
	if err != nil {
		lock.Close()
		return nil, err
	}
	return lock, nil
}
