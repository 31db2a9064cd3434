//go:build linux

package shm_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/shm"
)

func TestNames(t *testing.T) {
	long255 := strings.Repeat("n", 255)
	tests := []struct {
		name  string
		valid bool
	}{
		{"", false},
		{"/", false},
		{"//", false},
		{"/a/b", false},
		{"a/b", false},
		{".", false},
		{"/.", false},
		{"..", false},
		{"/..", false},
		{"a\x00b", false},
		{"/\x00", false},
		{long255 + "n", false},
		{"/" + long255 + "n", false},
		{"a", true},
		{"/a", true},
		{"...", true},
		{".hidden", true},
		{long255, true},
		{"/" + long255, true},
	}
	for _, tc := range tests {
		_, err := shm.CleanName(tc.name)
		if tc.valid != (err == nil) {
			t.Errorf("CleanName(%q): err = %v, want valid=%v", tc.name, err, tc.valid)
		}
		if !tc.valid {
			if !errors.Is(err, shm.ErrInvalidName) {
				t.Errorf("CleanName(%q): %v does not match ErrInvalidName", tc.name, err)
			}
			for op, call := range map[string]func() error{
				"Open": func() error {
					_, err := shm.Open(tc.name, os.O_RDWR|os.O_CREATE, 0o600)
					return err
				},
				"Remove": func() error { return shm.Remove(tc.name) },
			} {
				err := call()
				var pe *os.PathError
				if !errors.Is(err, shm.ErrInvalidName) || !errors.As(err, &pe) {
					t.Errorf("%s(%q) = %v, want a *os.PathError matching ErrInvalidName", op, tc.name, err)
				}
			}
		}
	}
}

func TestValidNameRoundTrip(t *testing.T) {
	// The longest name, with and without its slash, names the same object.
	base := strings.Repeat("x", shm.MaxNameLen) + filepath.Base(uniqueName(t))
	base = base[len(base)-shm.MaxNameLen:]
	t.Cleanup(func() { shm.Remove(base) })
	s, err := shm.Open(base, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Name() != "/"+base {
		t.Errorf("Name() = %q, want %q", s.Name(), "/"+base)
	}
	again, err := shm.Open("/"+base, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	again.Close()
}

func TestCreateExclusiveTwice(t *testing.T) {
	name := uniqueName(t)
	s, err := shm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = shm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second exclusive create: %v, want fs.ErrExist", err)
	}
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Op != "shm_open" || pe.Path != name {
		t.Errorf("error %#v is not a shm_open *os.PathError for %s", err, name)
	}
}

func TestOpenMissing(t *testing.T) {
	name := uniqueName(t)
	for _, flag := range []int{os.O_RDONLY, os.O_RDWR, os.O_RDWR | os.O_TRUNC} {
		if _, err := shm.Open(name, flag, 0o600); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(missing, %#x): %v, want fs.ErrNotExist", flag, err)
		}
	}
	if err := shm.Remove(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove(missing): %v, want fs.ErrNotExist", err)
	}
}

func TestCreateOrOpen(t *testing.T) {
	name := uniqueName(t)
	a, err := shm.Open(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.Allocate(100); err != nil {
		t.Fatal(err)
	}
	b, err := shm.Open(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n, _ := b.Size(); n != 100 {
		t.Errorf("second open sees size %d, want 100 (the same object)", n)
	}
	c, err := shm.Open(name, os.O_RDWR|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, _ := c.Size(); n != 0 {
		t.Errorf("O_TRUNC left size %d", n)
	}
}

func TestModeIgnoresUmask(t *testing.T) {
	tests := []struct {
		umask int
		perm  os.FileMode
	}{
		{0o000, 0o600},
		{0o077, 0o600},
		{0o077, 0o644},
		{0o022, 0o660},
	}
	for _, tc := range tests {
		for _, excl := range []int{os.O_EXCL, 0} {
			old := syscall.Umask(tc.umask)
			name := uniqueName(t)
			s, err := shm.Open(name, os.O_RDWR|os.O_CREATE|excl, tc.perm)
			syscall.Umask(old)
			if err != nil {
				t.Fatal(err)
			}
			info, err := s.Stat()
			s.Close()
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(filepath.Join(shm.Dir, filepath.Base(name)))
			if err != nil {
				t.Fatal(err)
			}
			if info.Perm != tc.perm || fi.Mode().Perm() != tc.perm {
				t.Errorf("umask %#o, perm %#o, excl %v: mode %#o (stat %#o)", tc.umask, tc.perm, excl != 0, info.Perm, fi.Mode().Perm())
			}
			if int(info.UID) != os.Geteuid() {
				t.Errorf("owner %d, want %d", info.UID, os.Geteuid())
			}
		}
	}
}

func TestOpenExistingKeepsMode(t *testing.T) {
	name := uniqueName(t)
	s, err := shm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = shm.Open(name, os.O_RDWR|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if info, _ := s.Stat(); info.Perm != 0o640 {
		t.Errorf("reopening with O_CREATE changed the mode to %#o", info.Perm)
	}
}

func TestRefusesNonRegular(t *testing.T) {
	target := uniqueName(t)
	ts, err := shm.Open(target, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ts.Close()

	link := uniqueName(t)
	if err := os.Symlink(filepath.Join(shm.Dir, target[1:]), filepath.Join(shm.Dir, link[1:])); err != nil {
		t.Fatal(err)
	}
	dir := uniqueName(t)
	t.Cleanup(func() { os.Remove(filepath.Join(shm.Dir, dir[1:])) })
	if err := os.Mkdir(filepath.Join(shm.Dir, dir[1:]), 0o700); err != nil {
		t.Fatal(err)
	}
	fifo := uniqueName(t)
	if err := syscall.Mkfifo(filepath.Join(shm.Dir, fifo[1:]), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{link, dir, fifo} {
		for _, flag := range []int{os.O_RDONLY, os.O_RDWR, os.O_RDWR | os.O_CREATE} {
			s, err := shm.Open(name, flag, 0o600)
			if err == nil {
				s.Close()
				t.Errorf("Open(%s, %#x) succeeded on a non-regular file", name, flag)
				continue
			}
			var pe *os.PathError
			if !errors.As(err, &pe) {
				t.Errorf("Open(%s): %v is not a *os.PathError", name, err)
			}
		}
	}
	// The directory opened read-only reaches the fstat check.
	if _, err := shm.Open(dir, os.O_RDONLY, 0); !errors.Is(err, shm.ErrNotRegular) {
		t.Errorf("Open(dir): %v, want ErrNotRegular", err)
	}
	if _, err := shm.Open(link, os.O_RDONLY, 0); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("Open(symlink): %v, want ELOOP", err)
	}
}

func TestSizeAndAllocate(t *testing.T) {
	_, s := create(t, 0)
	if n, err := s.Size(); err != nil || n != 0 {
		t.Fatalf("new object: size %d, %v", n, err)
	}
	if err := s.SetSize(12345); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Size(); n != 12345 {
		t.Errorf("after SetSize: %d", n)
	}
	if err := s.Allocate(1 << 20); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Size(); n != 1<<20 {
		t.Errorf("after Allocate: %d", n)
	}
	if err := s.SetSize(-1); !errors.Is(err, shm.ErrBadSize) {
		t.Errorf("SetSize(-1): %v", err)
	}
}

func TestAllocateNoSpace(t *testing.T) {
	_, s := create(t, 4096)
	// Far more than any /dev/shm holds: tmpfs refuses it up front.
	err := s.Allocate(1 << 50)
	if !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("Allocate(1 PiB): %v, want ENOSPC", err)
	}
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Op != "fallocate" {
		t.Errorf("error %v is not a fallocate *os.PathError", err)
	}
	if n, _ := s.Size(); n != 4096 {
		t.Errorf("failed Allocate changed size to %d", n)
	}
}

func TestMapBounds(t *testing.T) {
	_, empty := create(t, 0)
	if _, err := empty.Map(0); !errors.Is(err, shm.ErrBadOffset) {
		t.Errorf("Map(0) of an empty object: %v, want ErrBadOffset", err)
	}
	_, s := create(t, 8192)
	for _, off := range []int64{8192, 8193, 1 << 40, -1} {
		if _, err := s.Map(off); !errors.Is(err, shm.ErrBadOffset) {
			t.Errorf("Map(%d) of 8192 bytes: %v, want ErrBadOffset", off, err)
		} else if !strings.Contains(err.Error(), "8192 bytes") {
			t.Errorf("Map(%d): message %q does not give the size", off, err)
		}
	}
	m := mustMap(t, s, 8191)
	if len(m.Bytes()) != 1 {
		t.Errorf("Map(8191) of 8192 bytes: %d bytes", len(m.Bytes()))
	}
}

func TestMapUnalignedOffset(t *testing.T) {
	const size = 3*4096 + 100
	_, s := create(t, size)
	whole := mustMap(t, s, 0)
	for i := range whole.Bytes() {
		whole.Bytes()[i] = byte(i * 7)
	}
	if err := whole.Unmap(); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{1, 4095, 4096, 4097, 2*4096 + 33} {
		m, err := s.Map(off)
		if err != nil {
			t.Fatalf("Map(%d): %v", off, err)
		}
		b := m.Bytes()
		if int64(len(b)) != size-off {
			t.Errorf("Map(%d): %d bytes, want %d", off, len(b), size-off)
		}
		for i := range b {
			if b[i] != byte((int(off)+i)*7) {
				t.Fatalf("Map(%d): byte %d is %d, want %d", off, i, b[i], byte((int(off)+i)*7))
			}
		}
		m.Unmap()
	}
}

func TestSecondMap(t *testing.T) {
	_, s := create(t, 4096)
	m, err := s.Map(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Map(0); !errors.Is(err, shm.ErrMapped) {
		t.Fatalf("second Map: %v, want ErrMapped", err)
	}
	if err := m.Unmap(); err != nil {
		t.Fatal(err)
	}
	if err := m.Unmap(); err != nil {
		t.Errorf("second Unmap: %v", err)
	}
	if m.Bytes() != nil {
		t.Error("Bytes after Unmap is not nil")
	}
	m2, err := s.Map(0)
	if err != nil {
		t.Fatalf("Map after Unmap: %v", err)
	}
	// The old mapping's second Unmap must not release the new one.
	m.Unmap()
	if _, err := s.Map(0); !errors.Is(err, shm.ErrMapped) {
		t.Errorf("a stale Unmap released the live mapping: %v", err)
	}
	m2.Unmap()
}

func TestMappingOutlivesClose(t *testing.T) {
	_, s := create(t, 4096)
	m := mustMap(t, s, 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	m.Bytes()[0] = 42
	if m.Bytes()[0] != 42 {
		t.Error("mapping unusable after Close")
	}
	if err := s.Close(); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
	if _, err := s.Map(0); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("Map after Close: %v, want ErrClosed", err)
	}
	if _, err := s.Size(); !errors.Is(err, shm.ErrClosed) {
		t.Errorf("Size after Close: %v, want ErrClosed", err)
	}
	if s.Fd() != -1 {
		t.Errorf("Fd after Close = %d", s.Fd())
	}
}

func TestReadOnlyMapping(t *testing.T) {
	name, s := create(t, 4096)
	w := mustMap(t, s, 0)
	w.Bytes()[10] = 99

	ro, err := shm.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if !ro.ReadOnly() {
		t.Error("ReadOnly() = false")
	}
	if err := ro.SetSize(8192); err == nil {
		t.Error("SetSize on a read-only handle succeeded")
	}
	m := mustMap(t, ro, 0)
	if !m.ReadOnly() {
		t.Error("mapping of a read-only handle is not read-only")
	}
	b := m.Bytes()
	if b[10] != 99 {
		t.Fatalf("read-only mapping reads %d, want 99", b[10])
	}
	if wrote := tryWrite(b, 10, 7); wrote {
		t.Fatal("a write through the read-only mapping succeeded")
	}
	if b[10] != 99 || w.Bytes()[10] != 99 {
		t.Fatal("the refused write changed the object")
	}
	// The probe is able to see a successful write.
	if !tryWrite(w.Bytes(), 11, 7) || b[11] != 7 {
		t.Fatal("write through the writable mapping failed")
	}
}

// tryWrite stores v at b[i] and reports whether the store succeeded rather
// than faulting.
func tryWrite(b []byte, i int, v byte) (wrote bool) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if recover() != nil {
			wrote = false
		}
	}()
	b[i] = v
	return true
}

func TestUnlink(t *testing.T) {
	name, s := create(t, 4096)
	m := mustMap(t, s, 0)
	m.Bytes()[0] = 5
	if err := s.Unlink(); err != nil {
		t.Fatal(err)
	}
	if _, err := shm.Open(name, os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("open after Unlink: %v", err)
	}
	if m.Bytes()[0] != 5 {
		t.Error("mapping lost its contents after Unlink")
	}
}

func TestPermissionDenied(t *testing.T) {
	if os.Geteuid() == 0 {
		// root bypasses file permissions; check the errno mapping instead.
		err := &os.PathError{Op: "shm_open", Path: "/x", Err: syscall.EACCES}
		if !errors.Is(err, fs.ErrPermission) {
			t.Fatal("EACCES does not match fs.ErrPermission")
		}
		return
	}
	name := uniqueName(t)
	s, err := shm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := shm.Open(name, os.O_RDWR, 0); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("open of a 0400 object for writing: %v, want fs.ErrPermission", err)
	}
}

func TestPopulate(t *testing.T) {
	name, s := create(t, 1<<20)
	m := mustMap(t, s, 0)
	m.Bytes()[4096*7] = 9
	if err := m.Populate(); err != nil {
		t.Fatal(err)
	}
	ro, err := shm.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	rm := mustMap(t, ro, 0)
	if err := rm.Populate(); err != nil {
		t.Fatal(err)
	}
	if rm.Bytes()[4096*7] != 9 {
		t.Fatal("populated read-only mapping reads the wrong byte")
	}
	rm.Unmap()
	if err := rm.Populate(); err != nil {
		t.Errorf("Populate after Unmap: %v", err)
	}
}

// minorFaults counts this process's minor page faults so far.
func minorFaults() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Minflt
}

func TestPopulateAvoidsFaults(t *testing.T) {
	const pages = 1024
	_, s := create(t, pages*4096)
	touch := func(b []byte) int64 {
		before := minorFaults()
		for i := 0; i < len(b); i += 4096 {
			b[i]++
		}
		return minorFaults() - before
	}
	m := mustMap(t, s, 0)
	cold := touch(m.Bytes())
	m.Unmap()
	m = mustMap(t, s, 0)
	if err := m.Populate(); err != nil {
		t.Fatal(err)
	}
	warm := touch(m.Bytes())
	t.Logf("faults touching %d pages: %d fresh, %d populated", pages, cold, warm)
	if cold < pages/2 || warm > pages/10 {
		t.Errorf("faults: %d without Populate, %d with; want about %d and about 0", cold, warm, pages)
	}
}

// TestRevoke: after Revoke an old slice faults on access rather than reach
// the object or whatever is mapped next, the handle can map again, and the
// object keeps its contents.
func TestRevoke(t *testing.T) {
	_, s := create(t, 8192)
	m := mustMap(t, s, 0)
	old := m.Bytes()
	old[100] = 42
	if err := m.Revoke(); err != nil {
		t.Fatal(err)
	}
	if m.Bytes() != nil {
		t.Error("Bytes after Revoke is not nil")
	}
	if tryWrite(old, 100, 7) {
		t.Fatal("a write through a revoked slice succeeded")
	}
	if _, ok := tryRead(old, 100); ok {
		t.Fatal("a read through a revoked slice succeeded")
	}
	again := mustMap(t, s, 0)
	if got := again.Bytes()[100]; got != 42 {
		t.Fatalf("after Revoke the object reads %d at 100, want 42", got)
	}
	if err := m.Revoke(); err != nil {
		t.Errorf("second Revoke: %v", err)
	}
	if err := m.Unmap(); err != nil {
		t.Errorf("Unmap after Revoke: %v", err)
	}
	if again.Bytes()[100] != 42 {
		t.Error("releasing the reservation disturbed the new mapping")
	}
}

// tryRead loads b[i] and reports whether the load succeeded rather than
// faulting.
func tryRead(b []byte, i int) (v byte, ok bool) {
	old := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(old)
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return b[i], true
}

// TestCreateUnnamedThenLink: an unnamed object is invisible until linked,
// keeps its contents and mode when linked, and Link never replaces.
func TestCreateUnnamedThenLink(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	name := uniqueName(t)
	s, err := shm.CreateUnnamed(0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Name() != "" {
		t.Errorf("unnamed object's Name = %q", s.Name())
	}
	if err := s.Allocate(4096); err != nil {
		t.Fatal(err)
	}
	m := mustMap(t, s, 0)
	m.Bytes()[7] = 77
	if _, err := shm.Open(name, os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the name exists before Link: %v", err)
	}
	if err := s.Link(name); err != nil {
		t.Fatal(err)
	}
	if s.Name() != name {
		t.Errorf("Name after Link = %q, want %q", s.Name(), name)
	}
	other, err := shm.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if info, _ := other.Stat(); info.Perm != 0o640 || info.Size != 4096 {
		t.Errorf("linked object: mode %v size %d, want 0640 and 4096", info.Perm, info.Size)
	}
	if b := mustMap(t, other, 0).Bytes(); b[7] != 77 {
		t.Errorf("linked object reads %d, want 77", b[7])
	}
	if err := s.Link(name); !errors.Is(err, shm.ErrNamed) {
		t.Errorf("second Link: %v, want ErrNamed", err)
	}

	// A second unnamed object cannot take the name.
	s2, err := shm.CreateUnnamed(0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if err := s2.Link(name); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Link over an existing name: %v, want fs.ErrExist", err)
	}
}

// TestUnnamedVanishesWithItsCreator: a process killed before Link leaves
// nothing in /dev/shm.
func TestUnnamedVanishesWithItsCreator(t *testing.T) {
	c := testproc.Start(t, "SHM_TEST_UNNAMED=1")
	line, err := c.Line()
	c.Kill()
	ino, perr := strconv.ParseUint(line, 10, 64)
	if err != nil || perr != nil {
		t.Fatalf("the child said %q: %v", line, err)
	}
	ents, err := os.ReadDir(shm.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		var st syscall.Stat_t
		if syscall.Lstat(shm.Dir+"/"+e.Name(), &st) == nil && st.Ino == ino {
			t.Fatalf("the killed creator's unnamed object is in /dev/shm as %s", e.Name())
		}
	}
}

// TestSparseAllocateRelease: a sparse object takes memory only where it is
// allocated; Release gives a range back, keeps the size, and the range
// reads as zeros.
func TestSparseAllocateRelease(t *testing.T) {
	name := uniqueName(t)
	s, err := shm.Open(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const size, chunk = 64 << 20, 1 << 20
	if err := s.SetSize(size); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Blocks(); b != 0 {
		t.Fatalf("a new sparse object takes %d bytes", b)
	}
	if err := s.AllocateRange(8*chunk, chunk); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Blocks(); b != chunk {
		t.Fatalf("after allocating 1 MiB it takes %d bytes", b)
	}
	m := mustMap(t, s, 0)
	m.Bytes()[8*chunk+5] = 7
	if err := m.PopulateRange(8*chunk, chunk); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Blocks(); b != chunk {
		t.Fatalf("populating the allocated range changed the memory taken to %d", b)
	}
	if err := s.Release(8*chunk, chunk); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Blocks(); b != 0 {
		t.Fatalf("after Release it takes %d bytes", b)
	}
	if sz, _ := s.Size(); sz != size {
		t.Fatalf("Release changed the size to %d", sz)
	}
	if got := m.Bytes()[8*chunk+5]; got != 0 {
		t.Fatalf("a released byte reads %d", got)
	}
	if err := m.PopulateRange(size-10, 20); err == nil {
		t.Error("PopulateRange past the end succeeded")
	}
}
