package shm

import (
	"errors"
	"os"
	"strings"
)

// Dir is where Linux keeps POSIX shared-memory objects; shm_open(3) names
// map to files in it.
const Dir = "/dev/shm"

// MaxNameLen is the longest name, without its leading '/', that Open accepts:
// NAME_MAX on Linux.
const MaxNameLen = 255

// Errors returned by this package. Errors from system calls are instead
// *os.PathError values wrapping the errno.
var (
	// ErrInvalidName reports a name that is not a valid object name.
	ErrInvalidName = errors.New("shm: invalid name")
	// ErrNotRegular reports an object that is not a regular file, such as a
	// directory or a FIFO placed in /dev/shm under the requested name.
	ErrNotRegular = errors.New("shm: not a regular file")
	// ErrMapped reports a second Map on a handle whose mapping is still live.
	ErrMapped = errors.New("shm: handle already mapped")
	// ErrClosed reports use of a handle after Close.
	ErrClosed = errors.New("shm: handle closed")
	// ErrBadOffset reports a Map offset outside [0, size).
	ErrBadOffset = errors.New("shm: offset outside the object")
	// ErrNamed reports a Link of an object that already has a name.
	ErrNamed = errors.New("shm: object already has a name")
	// ErrBadSize reports a negative size.
	ErrBadSize = errors.New("shm: negative size")
)

// CleanName validates name and returns it without its leading '/'. The error
// matches ErrInvalidName and says what is wrong.
func CleanName(name string) (string, error) {
	base := strings.TrimPrefix(name, "/")
	switch {
	case base == "":
		return "", errEmptyName
	case len(base) > MaxNameLen:
		return "", errLongName
	case strings.IndexByte(base, '/') >= 0:
		return "", errSlashName
	case strings.IndexByte(base, 0) >= 0:
		return "", errNulName
	case base == "." || base == "..":
		return "", errDotName
	}
	return base, nil
}

// Info describes an open object, as Shm.Stat reports it.
type Info struct {
	Size int64       // bytes
	Perm os.FileMode // permission bits only
	UID  uint32      // owner
	GID  uint32      // group
	Ino  uint64      // inode number
}

// nameError is an ErrInvalidName that also says what is wrong.
type nameError string

func (e nameError) Error() string        { return "shm: invalid name: " + string(e) }
func (e nameError) Is(target error) bool { return target == ErrInvalidName }

const (
	errEmptyName = nameError("empty")
	errLongName  = nameError("longer than 255 bytes")
	errSlashName = nameError("contains '/' after the first byte")
	errNulName   = nameError("contains a NUL byte")
	errDotName   = nameError(`"." and ".." are not objects`)
)
