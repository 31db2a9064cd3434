package shm

import (
	"os"
	"strconv"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Shm is an open shared-memory object. Its methods are safe for concurrent
// use.
type Shm struct {
	name     string // with its leading '/'
	path     string // under Dir
	readOnly bool

	mu      sync.Mutex
	fd      int // -1 once closed
	mapping *Mapping
}

// Open opens the shared-memory object name. flag takes os.O_RDONLY or
// os.O_RDWR, optionally with os.O_CREATE, os.O_EXCL and os.O_TRUNC; other
// flags are ignored. A created object gets exactly perm (only its permission
// bits), whatever the process umask.
//
// The object is opened with O_NOFOLLOW|O_CLOEXEC, so a symbolic link under
// the name is refused, and must be a regular file, or the error matches
// ErrNotRegular. O_NONBLOCK is added so that a FIFO planted under the name
// is refused rather than waited on.
func Open(name string, flag int, perm os.FileMode) (*Shm, error) {
	base, err := CleanName(name)
	if err != nil {
		return nil, &os.PathError{Op: "shm_open", Path: name, Err: err}
	}
	s := &Shm{name: "/" + base, path: Dir + "/" + base, readOnly: flag&(os.O_WRONLY|os.O_RDWR) == 0}
	access := unix.O_RDWR
	if s.readOnly {
		access = unix.O_RDONLY
	}
	oflag := access | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
	if flag&os.O_TRUNC != 0 {
		oflag |= unix.O_TRUNC
	}
	fd, created, err := openFile(s.path, oflag, flag, perm)
	if err != nil {
		return nil, &os.PathError{Op: "shm_open", Path: s.name, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fstat", Path: s.name, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, &os.PathError{Op: "shm_open", Path: s.name, Err: ErrNotRegular}
	}
	if created {
		// The umask has already narrowed the mode open(2) applied; set
		// exactly what was asked for.
		if err := unix.Fchmod(fd, uint32(perm.Perm())); err != nil {
			unix.Close(fd)
			return nil, &os.PathError{Op: "fchmod", Path: s.name, Err: err}
		}
	}
	s.fd = fd
	return s, nil
}

// openFile opens path and says whether this call created it. To know that
// without a race, O_CREATE without O_EXCL is tried as create-exclusive first,
// then as a plain open, and again while a peer removes and recreates it.
func openFile(path string, base, flag int, perm os.FileMode) (fd int, created bool, err error) {
	mode := uint32(perm.Perm())
	if flag&os.O_CREATE == 0 {
		fd, err = unix.Open(path, base, 0)
		return fd, false, err
	}
	if flag&os.O_EXCL != 0 {
		fd, err = unix.Open(path, base|unix.O_CREAT|unix.O_EXCL, mode)
		return fd, err == nil, err
	}
	for range 100 {
		fd, err = unix.Open(path, base|unix.O_CREAT|unix.O_EXCL, mode)
		if err == nil {
			return fd, true, nil
		}
		if err != unix.EEXIST {
			return -1, false, err
		}
		fd, err = unix.Open(path, base, 0)
		if err != unix.ENOENT {
			return fd, false, err
		}
	}
	return -1, false, err
}

// CreateUnnamed creates an object that has no name yet, with O_TMPFILE in
// Dir, and exactly the permission perm. Nothing else can open it until Link
// gives it a name; if the process dies first, the kernel frees it. Build an
// object whole this way, then link it, and other processes see either no
// object under the name or a whole one, never one half made.
func CreateUnnamed(perm os.FileMode) (*Shm, error) {
	fd, err := unix.Open(Dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, uint32(perm.Perm()))
	if err != nil {
		return nil, &os.PathError{Op: "open O_TMPFILE", Path: Dir, Err: err}
	}
	if err := unix.Fchmod(fd, uint32(perm.Perm())); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fchmod", Path: Dir, Err: err}
	}
	return &Shm{fd: fd}, nil
}

// Link gives an object made by CreateUnnamed the name name. It never
// replaces: if name exists, the error matches fs.ErrExist and the object
// stays unnamed.
func (s *Shm) Link(name string) error {
	base, err := CleanName(name)
	if err != nil {
		return &os.PathError{Op: "link", Path: name, Err: err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return s.closedError("link")
	}
	if s.name != "" {
		return &os.PathError{Op: "link", Path: "/" + base, Err: ErrNamed}
	}
	// linkat of the descriptor's /proc path with AT_SYMLINK_FOLLOW links the
	// open file itself; AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH.
	from := "/proc/self/fd/" + strconv.Itoa(s.fd)
	if err := unix.Linkat(unix.AT_FDCWD, from, unix.AT_FDCWD, Dir+"/"+base, unix.AT_SYMLINK_FOLLOW); err != nil {
		return &os.PathError{Op: "link", Path: "/" + base, Err: err}
	}
	s.name, s.path = "/"+base, Dir+"/"+base
	return nil
}

// Name returns the object's name with its leading '/', or "" for an
// object CreateUnnamed made and Link has not named.
func (s *Shm) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// ReadOnly reports whether the handle was opened read-only.
func (s *Shm) ReadOnly() bool { return s.readOnly }

// Fd returns the file descriptor, or -1 after Close. It stays owned by s.
func (s *Shm) Fd() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fd
}

// Stat returns the object's size, permissions and owner, from fstat(2).
func (s *Shm) Stat() (Info, error) {
	var st unix.Stat_t
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return Info{}, s.closedError("fstat")
	}
	if err := unix.Fstat(s.fd, &st); err != nil {
		return Info{}, &os.PathError{Op: "fstat", Path: s.name, Err: err}
	}
	return Info{Size: st.Size, Perm: os.FileMode(st.Mode).Perm(), UID: st.Uid, GID: st.Gid, Ino: st.Ino}, nil
}

// Size returns the object's size in bytes, from fstat(2).
func (s *Shm) Size() (int64, error) {
	st, err := s.Stat()
	return st.Size, err
}

// SetSize sets the object's size with ftruncate(2). Growing it leaves the new
// pages sparse: see Allocate.
func (s *Shm) SetSize(n int64) error {
	if n < 0 {
		return &os.PathError{Op: "ftruncate", Path: s.Name(), Err: ErrBadSize}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return s.closedError("ftruncate")
	}
	if err := ignoringEINTR(func() error { return unix.Ftruncate(s.fd, n) }); err != nil {
		return &os.PathError{Op: "ftruncate", Path: s.name, Err: err}
	}
	return nil
}

// Allocate reserves memory for the first n bytes of the object with
// fallocate(2), growing it to n bytes if it is smaller. On a full /dev/shm
// it fails now, with an error matching syscall.ENOSPC, and leaves the size
// as it was; without it, the first write to a sparse page of a mapping would
// raise SIGBUS instead.
func (s *Shm) Allocate(n int64) error { return s.AllocateRange(0, n) }

// AllocateRange reserves memory for the bytes [off, off+n) of the object
// with fallocate(2), growing it to off+n bytes if it is smaller. On a full
// /dev/shm it fails with an error matching syscall.ENOSPC; see Allocate.
func (s *Shm) AllocateRange(off, n int64) error { return s.fallocate(0, off, n) }

// Release gives the memory of the bytes [off, off+n) back to the system
// (fallocate(2) with FALLOC_FL_PUNCH_HOLE): the object keeps its size, and
// the range reads as zeros until it is written again.
func (s *Shm) Release(off, n int64) error {
	return s.fallocate(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

func (s *Shm) fallocate(mode uint32, off, n int64) error {
	if off < 0 || n < 0 {
		return &os.PathError{Op: "fallocate", Path: s.Name(), Err: ErrBadSize}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return s.closedError("fallocate")
	}
	if n == 0 {
		return nil
	}
	if err := ignoringEINTR(func() error { return unix.Fallocate(s.fd, mode, off, n) }); err != nil {
		return &os.PathError{Op: "fallocate", Path: s.name, Err: err}
	}
	return nil
}

// Blocks returns the bytes of memory the object takes, which for a sparse
// object, or one with released ranges, is less than its size.
func (s *Shm) Blocks() (int64, error) {
	var st unix.Stat_t
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return 0, s.closedError("fstat")
	}
	if err := unix.Fstat(s.fd, &st); err != nil {
		return 0, &os.PathError{Op: "fstat", Path: s.name, Err: err}
	}
	return st.Blocks * 512, nil
}

// Map maps the bytes [offset, size) of the object, shared, so that every
// process mapping the same object sees the same memory. The mapping is
// read-only when the handle is. offset need not be page-aligned; it must be
// below the current size, or the error matches ErrBadOffset.
//
// While the mapping is live a second Map fails with ErrMapped. The mapping
// stays valid after Close, until Unmap.
func (s *Shm) Map(offset int64) (*Mapping, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return nil, s.closedError("mmap")
	}
	if s.mapping != nil {
		return nil, &os.PathError{Op: "mmap", Path: s.name, Err: ErrMapped}
	}
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return nil, &os.PathError{Op: "fstat", Path: s.name, Err: err}
	}
	if offset < 0 || offset >= st.Size {
		return nil, &os.PathError{Op: "mmap", Path: s.name, Err: &offsetError{offset, st.Size}}
	}
	if uint64(st.Size-offset) > uint64(maxMapLen) {
		return nil, &os.PathError{Op: "mmap", Path: s.name, Err: unix.ENOMEM}
	}
	page := int64(os.Getpagesize())
	start := offset - offset%page
	prot := unix.PROT_READ | unix.PROT_WRITE
	if s.readOnly {
		prot = unix.PROT_READ
	}
	whole, err := unix.Mmap(s.fd, start, int(st.Size-start), prot, unix.MAP_SHARED)
	if err != nil {
		return nil, &os.PathError{Op: "mmap", Path: s.name, Err: err}
	}
	m := &Mapping{owner: s, whole: whole, bytes: whole[offset-start:], readOnly: s.readOnly}
	s.mapping = m
	return m, nil
}

// maxMapLen bounds one mapping by what an int can index.
const maxMapLen = int64(^uint(0) >> 1)

// Close closes the descriptor. A live mapping stays valid until Unmap.
// Closing twice returns an error matching ErrClosed.
func (s *Shm) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fd < 0 {
		return s.closedError("close")
	}
	err := unix.Close(s.fd)
	s.fd = -1
	if err != nil {
		return &os.PathError{Op: "close", Path: s.name, Err: err}
	}
	return nil
}

// Unlink removes the object's name, as shm_unlink(3) does. Processes that
// have it open or mapped keep using it; it is freed when the last one lets
// go.
func (s *Shm) Unlink() error { return Remove(s.Name()) }

// Remove removes the shared-memory object name, as shm_unlink(3) does.
func Remove(name string) error {
	base, err := CleanName(name)
	if err != nil {
		return &os.PathError{Op: "shm_unlink", Path: name, Err: err}
	}
	if err := unix.Unlink(Dir + "/" + base); err != nil {
		return &os.PathError{Op: "shm_unlink", Path: "/" + base, Err: err}
	}
	return nil
}

func (s *Shm) closedError(op string) error {
	return &os.PathError{Op: op, Path: s.name, Err: ErrClosed}
}

// Mapping is a live mapping made by Shm.Map.
type Mapping struct {
	owner    *Shm
	readOnly bool

	mu    sync.Mutex
	whole []byte // from the page-aligned start, as mmap returned it
	bytes []byte // from the requested offset
}

// Bytes returns the mapped memory, or nil after Unmap. Other processes may
// change it at any moment; the slice must not be used after Unmap.
func (m *Mapping) Bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.bytes
}

// Populate maps every page of the mapping into this process now, with
// madvise MADV_POPULATE_WRITE (MADV_POPULATE_READ when read-only), so that
// later accesses take no page faults. On kernels before 5.14, which lack
// those, it touches one byte of every page instead.
func (m *Mapping) Populate() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.populate(0, len(m.bytes))
}

// PopulateRange is Populate for the bytes [off, off+n) of the mapping
// (offsets into Bytes), so that a sparse object's holes elsewhere stay
// holes.
func (m *Mapping) PopulateRange(off, n int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off < 0 || n < 0 || off+n > int64(len(m.bytes)) {
		return &os.PathError{Op: "madvise", Path: m.owner.name, Err: ErrBadOffset}
	}
	return m.populate(int(off), int(n))
}

func (m *Mapping) populate(off, n int) error {
	if m.bytes == nil || n == 0 {
		return nil
	}
	// madvise wants a page-aligned start.
	page := os.Getpagesize()
	start := len(m.whole) - len(m.bytes) + off
	b := m.whole[start-start%page : start+n]
	advice := unix.MADV_POPULATE_WRITE
	if m.readOnly {
		advice = unix.MADV_POPULATE_READ
	}
	err := ignoringEINTR(func() error { return unix.Madvise(b, advice) })
	if err == unix.EINVAL {
		var sum byte
		for i := 0; i < len(b); i += page {
			sum += b[i]
		}
		populateSink = sum
		return nil
	}
	if err != nil {
		return &os.PathError{Op: "madvise", Path: m.owner.name, Err: err}
	}
	return nil
}

// populateSink keeps the fallback's reads from being optimised away.
var populateSink byte

// ReadOnly reports whether the mapping was made without write access.
func (m *Mapping) ReadOnly() bool { return m.readOnly }

// Revoke makes the mapping inaccessible without giving up its addresses:
// its pages are replaced, in one mmap(2) with MAP_FIXED, by an anonymous
// reservation that allows no access. A slice taken from Bytes before then
// still points at those addresses, so a late access through it faults (a
// panic under debug.SetPanicOnFault) instead of reading or writing memory
// that a later mapping was given. After Revoke, Bytes returns nil and the
// handle may map again. Unmap releases the reservation; call it only when
// no access through an old slice can still be under way.
func (m *Mapping) Revoke() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bytes == nil {
		return nil
	}
	_, err := unix.MmapPtr(-1, 0, unsafe.Pointer(unsafe.SliceData(m.whole)), uintptr(len(m.whole)), unix.PROT_NONE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED|unix.MAP_NORESERVE)
	if err != nil {
		return &os.PathError{Op: "mmap", Path: m.owner.name, Err: err}
	}
	m.bytes = nil
	m.owner.mu.Lock()
	if m.owner.mapping == m {
		m.owner.mapping = nil
	}
	m.owner.mu.Unlock()
	return nil
}

// Unmap removes the mapping, or the reservation Revoke left, and lets its
// handle map again. Calling it again does nothing and returns nil.
func (m *Mapping) Unmap() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.whole == nil {
		return nil
	}
	err := unix.Munmap(m.whole)
	m.whole, m.bytes = nil, nil
	m.owner.mu.Lock()
	if m.owner.mapping == m {
		m.owner.mapping = nil
	}
	m.owner.mu.Unlock()
	if err != nil {
		return &os.PathError{Op: "munmap", Path: m.owner.name, Err: err}
	}
	return nil
}

type offsetError struct{ offset, size int64 }

func (e *offsetError) Error() string {
	return "shm: offset " + strconv.FormatInt(e.offset, 10) + " outside an object of " +
		strconv.FormatInt(e.size, 10) + " bytes"
}

func (e *offsetError) Is(target error) bool { return target == ErrBadOffset }

func ignoringEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}
