package kv

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/shmkv/shmkv/shm"
)

func TestCreatedPrivate(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	name := uniqueName(t)
	openTable(t, name, nil)
	fi, err := os.Stat(filepath.Join(shm.Dir, name))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("a new table's mode is %v (%v), want 0600 whatever the umask", fi.Mode(), err)
	}
}

func TestUnsafeObjectRefused(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, &Options{Mode: 0o666})
	mustSet(t, tb, "k", "v")
	if _, err := Open(name, nil); !errors.Is(err, ErrUnsafeObject) {
		t.Fatalf("opening a world-writable table: %v, want ErrUnsafeObject", err)
	}
	other := openTable(t, name, &Options{AllowShared: true})
	if v, _ := mustGet(t, other, "k"); v != "v" {
		t.Fatal("AllowShared did not open it")
	}

	if os.Geteuid() == 0 {
		// Owned by another user: only root can make one to try.
		name2 := uniqueName(t)
		openTable(t, name2, nil)
		if err := os.Chown(filepath.Join(shm.Dir, name2), 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(name2, nil); !errors.Is(err, ErrUnsafeObject) {
			t.Fatalf("opening another user's table: %v, want ErrUnsafeObject", err)
		}
		if tb, err := Open(name2, &Options{AllowShared: true}); err != nil {
			t.Fatalf("AllowShared on another user's table: %v", err)
		} else {
			tb.Close()
		}
	}
}

func TestNonRegularRefused(t *testing.T) {
	target := uniqueName(t)
	openTable(t, target, small)
	link := uniqueName(t)
	if err := os.Symlink(filepath.Join(shm.Dir, target), filepath.Join(shm.Dir, link)); err != nil {
		t.Fatal(err)
	}
	dir := uniqueName(t)
	if err := os.Mkdir(filepath.Join(shm.Dir, dir), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(shm.Dir, dir)) })
	fifo := uniqueName(t)
	if err := syscall.Mkfifo(filepath.Join(shm.Dir, fifo), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{link, dir, fifo} {
		for _, o := range []*Options{nil, {NoCreate: true}, {ReadOnly: true}} {
			if tb, err := Open(name, o); err == nil {
				tb.Close()
				t.Errorf("Open(%s, %+v) succeeded on a non-regular file", name, o)
			}
		}
	}
}
