package kv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/host"
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
// The companion's name is derived from the table's, so that an opener
// finds it. The header records its inode number, and an opener refuses a
// companion that is not that one.
//
// A companion outlives its table only by accident: its creator was killed
// before linking the table (a failed create removes it, below), or the
// table was unlinked by hand (rm /dev/shm/NAME). OrphanLockObjects lists
// those, and Remove removes them. Removing one must never pull it from
// under a creator that will link a table recorded with its inode, nor
// from under a table of the name; so:
//   - every creator holds a read lock on creatorByte from opening the
//     companion until its table is linked or its create has failed, and
//     after taking it checks that the name still holds the object it
//     opened, opening the name again if not;
//   - a remover (Remove, or a creator whose create failed) unlinks the
//     companion only while it holds the write lock on creatorByte, taken
//     without waiting, the name holds the object it locked, and no table
//     of the name exists. Busy means a creator (or another remover) is
//     at work, and the companion is that one's to use or to remove.
//
// Another user can create the companion's name before the table exists,
// as it can the table's: the create then fails with ErrUnsafeObject
// naming the companion and its owner (see Options.AllowShared for what an
// operator does).

// creatorByte is the byte of the lock object that creators hold a read
// lock on, and removers a write lock; registry slots use the bytes below
// format.MaxProcs.
const creatorByte = format.MaxProcs

// lockObjectPrefix starts the name of every lock object; the rest is the
// hexadecimal hash of its table's name.
const lockObjectPrefix = ".shmkv-lock-"

// lockObjectName is the companion of the table name (without its '/').
func lockObjectName(base string) string {
	return lockObjectPrefix + strconv.FormatUint(xxhash.Sum64String(base), 16)
}

// LockObjectName returns the name, without a leading '/', of the lock
// object of the table name: the empty companion in /dev/shm that holds
// the liveness locks of the table's processes.
func LockObjectName(name string) (string, error) {
	base, err := shm.CleanName(name)
	if err != nil {
		return "", err
	}
	return lockObjectName(base), nil
}

// IsLockObject reports whether name (with or without its leading '/') has
// the form of a table's lock object: the empty companion in /dev/shm that
// holds the liveness locks of the table's processes.
func IsLockObject(name string) bool {
	base, err := shm.CleanName(name)
	if err != nil || !strings.HasPrefix(base, lockObjectPrefix) {
		return false
	}
	v, err := strconv.ParseUint(base[len(lockObjectPrefix):], 16, 64)
	return err == nil && base == lockObjectPrefix+strconv.FormatUint(v, 16)
}

// lockObjectMode gives read and write to the classes that mode lets write,
// and always to the owner.
func lockObjectMode(mode os.FileMode) os.FileMode {
	w := mode & 0o222
	return w | w<<1 | 0o600
}

// openLockObject opens the companion of the existing table name. It must
// be owned by owner. A read-only opener that may not open it gets nil and
// no error: it cannot tell who is alive.
func openLockObject(name string, o *Options, owner uint32) (*shm.Shm, error) {
	base, err := shm.CleanName(name)
	if err != nil {
		return nil, err
	}
	flag := os.O_RDWR
	if o.ReadOnly {
		flag = os.O_RDONLY
	}
	lock, err := shm.Open(lockObjectName(base), flag, 0)
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

// createLockObject opens base's companion for a creator, creating it if
// need be, owned by this user, with the creator's read lock on
// creatorByte taken. A remover holds the write lock only for a moment;
// one that holds it past o.InitTimeout (stopped, say) fails the create.
func createLockObject(base string, o *Options) (*shm.Shm, error) {
	name := lockObjectName(base)
	owner := uint32(os.Geteuid())
	deadline := time.Now().Add(o.InitTimeout)
	for {
		lock, err := shm.Open(name, os.O_RDWR|os.O_CREATE, lockObjectMode(o.Mode))
		if err != nil {
			return nil, err
		}
		info, err := lock.Stat()
		if err == nil && info.UID != owner {
			err = fmt.Errorf("%w: lock object %s has owner uid %d, not this user (%d)", ErrUnsafeObject, lock.Name(), info.UID, owner)
		}
		busy := false
		if err == nil {
			busy, err = host.LockByteShared(lock.Fd(), creatorByte)
			if err != nil {
				err = &os.PathError{Op: "fcntl F_OFD_SETLK", Path: lock.Name(), Err: err}
			}
		}
		if err == nil && !busy {
			// Locked; but a remover may have unlinked it first.
			ino, ierr := host.InodeAt(shm.Dir + "/" + name)
			if ierr == nil && ino == info.Ino {
				return lock, nil
			}
			if !errors.Is(ierr, fs.ErrNotExist) && ierr != nil {
				err = ierr
			}
		}
		lock.Close()
		if err != nil {
			return nil, err
		}
		if busy {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("%w: lock object %s held by a remover for %v", ErrLockTimeout, lock.Name(), o.InitTimeout)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// dropLockObject is a failed creator's cleanup: it gives up its read lock
// on lock, base's companion, and removes it unless something still needs
// it. lock stays open.
func dropLockObject(lock *shm.Shm, base string) {
	if host.UnlockByte(lock.Fd(), creatorByte) != nil {
		return
	}
	removeIfUnused(lock, lockObjectName(base), func() bool { return absent(base) })
}

// removeIfUnused unlinks lock, the lock object under the name companion,
// if no creator is using it, the name still holds it, and tableGone, asked
// while no creator can link a table, says its table does not exist. It
// reports whether it did.
func removeIfUnused(lock *shm.Shm, companion string, tableGone func() bool) (bool, error) {
	fd := lock.Fd()
	busy, err := host.LockByte(fd, creatorByte)
	if err != nil {
		return false, &os.PathError{Op: "fcntl F_OFD_SETLK", Path: "/" + companion, Err: err}
	}
	if busy {
		return false, nil
	}
	defer host.UnlockByte(fd, creatorByte)
	if !tableGone() {
		return false, nil
	}
	info, err := lock.Stat()
	if err != nil {
		return false, err
	}
	if ino, err := host.InodeAt(shm.Dir + "/" + companion); err != nil || ino != info.Ino {
		return false, nil
	}
	if err := shm.Remove(companion); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

// absent reports whether no object is named base in /dev/shm.
func absent(base string) bool {
	_, err := host.InodeAt(shm.Dir + "/" + base)
	return errors.Is(err, fs.ErrNotExist)
}

// removeLockObjectOf removes the lock object of table base, which is gone,
// unless a creator is at work with it. It reports whether it removed one.
func removeLockObjectOf(base string) (bool, error) {
	companion := lockObjectName(base)
	lock, err := shm.Open(companion, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer lock.Close()
	return removeIfUnused(lock, companion, func() bool { return absent(base) })
}

// removeOrphan removes the lock object companion, named by itself, if its
// table is gone and no creator is at work with it.
func removeOrphan(companion string) error {
	if table, ok, err := tableOfLockObject(companion); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("%w: %s is the lock object of the table %s, which exists; remove the table instead", ErrLockObjectInUse, "/"+companion, "/"+table)
	}
	lock, err := shm.Open(companion, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer lock.Close()
	removed, err := removeIfUnused(lock, companion, func() bool {
		_, ok, err := tableOfLockObject(companion)
		return err == nil && !ok
	})
	if err == nil && !removed {
		err = fmt.Errorf("%w: %s is in use by a creator of its table", ErrLockObjectInUse, "/"+companion)
	}
	return err
}

// tableOfLockObject finds the object in /dev/shm whose lock object is
// companion, if there is one.
func tableOfLockObject(companion string) (string, bool, error) {
	ents, err := os.ReadDir(shm.Dir)
	if err != nil {
		return "", false, err
	}
	for _, e := range ents {
		if !IsLockObject(e.Name()) && lockObjectName(e.Name()) == companion {
			return e.Name(), true, nil
		}
	}
	return "", false, nil
}

// OrphanLockObjects returns the names of the lock objects in /dev/shm
// whose table is gone, sorted, each without a leading '/'. A creator
// killed before linking its table leaves one, and so does a table removed
// by hand (rm /dev/shm/NAME) rather than with Remove; Remove removes them.
// One whose table a creator is building at this moment is listed too, and
// Remove leaves that one alone.
func OrphanLockObjects() ([]string, error) {
	ents, err := os.ReadDir(shm.Dir)
	if err != nil {
		return nil, err
	}
	owned := make(map[string]bool)
	var companions []string
	for _, e := range ents {
		if IsLockObject(e.Name()) {
			companions = append(companions, e.Name())
		} else {
			owned[lockObjectName(e.Name())] = true
		}
	}
	var orphans []string
	for _, c := range companions {
		if !owned[c] {
			orphans = append(orphans, c)
		}
	}
	sort.Strings(orphans)
	return orphans, nil
}
