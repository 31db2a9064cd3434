// Package shm opens, sizes and maps POSIX shared-memory objects on Linux.
//
// It is the Go counterpart of the Rust crate psx-shm's Shm type, with that
// crate's known defects fixed:
//
//   - Names are validated (an optional single leading '/', then 1 to 255
//     bytes with no '/' and no NUL, not "." or ".."); a bad name is an error
//     matching [ErrInvalidName], never a panic.
//   - Objects are opened with O_NOFOLLOW|O_CLOEXEC, as glibc's shm_open does,
//     and anything that is not a regular file is refused with [ErrNotRegular].
//   - A handle opened read-only maps read-only.
//   - [Shm.Map] rejects an offset at or beyond the size, including on an
//     empty object, and accepts an offset that is not page-aligned.
//   - [Open] with os.O_CREATE gives a created object exactly the mode asked
//     for, whatever the umask.
//   - [Shm.Allocate] reserves the memory with fallocate, so that a full
//     /dev/shm fails at once with ENOSPC rather than with a SIGBUS on the
//     first touch of a sparse page.
//   - [Remove] unlinks an object by name.
//   - [CreateUnnamed] and [Shm.Link] build an object before it has a name
//     and then name it without ever replacing another, so that a creator
//     killed half way leaves nothing behind under the name.
//
// Errors from the system are *os.PathError values carrying the errno, so
// errors.Is(err, fs.ErrNotExist), fs.ErrExist and fs.ErrPermission work.
//
// One handle has at most one live [Mapping] at a time: a second [Shm.Map]
// fails with [ErrMapped] until the first is unmapped. That is Go's stand-in
// for psx-shm's borrow of the handle by its mapping.
//
// On systems other than Linux every function returns errors.ErrUnsupported.
package shm
