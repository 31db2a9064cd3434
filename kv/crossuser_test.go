package kv

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/shm"
)

func init() {
	rawChildren["read-lock-all"] = childReadLockAll
}

// childReadLockAll: args name. Run as another user with read permission
// only, it does everything such a user can to keep writers out: it opens
// the table read-only, read-locks every byte of the object and, if it can
// open it, of the lock object, then prints "locked" and holds on until its
// stdin closes.
func childReadLockAll(args []string) error {
	name := args[0]
	tb, err := Open(name, &Options{ReadOnly: true, AllowShared: true})
	if err != nil {
		return fmt.Errorf("read-only open: %w", err)
	}
	defer tb.Close()
	all := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart, Start: 0, Len: 0}
	for _, n := range []string{name, lockObjectName(name)} {
		f, err := os.Open(filepath.Join(shm.Dir, n))
		if errors.Is(err, fs.ErrPermission) {
			continue
		}
		if err != nil {
			return err
		}
		defer f.Close()
		for _, cmd := range []int{unix.F_OFD_SETLK, unix.F_SETLK} {
			if err := unix.FcntlFlock(f.Fd(), cmd, &all); err == nil {
				continue
			}
			// Writers hold some bytes: read-lock every other byte where
			// liveness locks have lived, one at a time.
			for _, base := range []int64{0, 1 << 40} {
				for i := range int64(4096) {
					one := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart, Start: base + i, Len: 1}
					unix.FcntlFlock(f.Fd(), cmd, &one)
				}
			}
		}
		if n == lockObjectName(name) {
			fmt.Println("opened the lock object")
		}
	}
	fmt.Println("locked")
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// TestReadOnlyUserCannotLockOut: a user who may only read a 0644 table
// read-locks all it can. Before the lock object, that made every writer's
// Open fail with "all 1024 registry slots are in use", and recovery of a
// dead writer's shard wait 10 s and fail. Now writers open, write and
// recover as usual.
func TestReadOnlyUserCannotLockOut(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, &Options{Keys: 1000, Memory: 1 << 20, Mode: 0o644})
	mustSet(t, tb, "k", "before")
	attacker := testproc.StartAs(t, 65534, "SHMKV_RAW_CHILD=read-lock-all", "SHMKV_ARGS="+name)
	if line, err := attacker.Line(); line != "locked" {
		t.Fatalf("attacker said %q (%v), want \"locked\" without opening the lock object", line, err)
	}
	// The attack holds for the rest of the test: a read lock covers every
	// byte of the table's object, registry bytes and all.
	attackHolds := func() {
		t.Helper()
		f, err := os.Open(filepath.Join(shm.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart, Start: 4000, Len: 1}
		if err := unix.FcntlFlock(f.Fd(), unix.F_OFD_GETLK, &lk); err != nil || lk.Type != unix.F_RDLCK {
			t.Fatalf("the attacker's read lock is gone (%v, type %d): the test would prove nothing", err, lk.Type)
		}
	}
	attackHolds()

	for i := range 3 {
		w, err := Open(name, nil)
		if err != nil {
			t.Fatalf("writer %d: Open: %v", i, err)
		}
		if _, err := w.Add([]byte("n"), 1); err != nil {
			t.Fatalf("writer %d: Add: %v", i, err)
		}
		w.Close()
	}
	if v, _ := mustGet(t, tb, "n"); v != "3" {
		t.Fatalf("n = %q after three Adds", v)
	}

	// A writer dies holding k's shard; the next writer recovers it within
	// the liveness bound, read locks or not.
	dead := testproc.Start(t, "SHMKV_CHILD=lock-die", "SHMKV_ARGS="+name+" k")
	dead.Expect(t, "locked")
	dead.Kill()
	start := time.Now()
	if err := tb.Set([]byte("k"), []byte("after")); err != nil {
		t.Fatalf("Set beside a dead writer: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("recovery took %v, over the 1s liveness bound", d)
	}
	if v, _ := mustGet(t, tb, "k"); v != "after" {
		t.Fatalf("k = %q", v)
	}
	mustCheck(t, tb)
	attackHolds()
}

// TestPlantedLockObjectRefused: a lock object owned by someone else under
// the name a new table would use is refused, as a planted table is.
func TestPlantedLockObjectRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root can give an object to another user")
	}
	name := uniqueName(t)
	p := filepath.Join(shm.Dir, lockObjectName(name))
	if err := os.WriteFile(p, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(name, nil); !errors.Is(err, ErrUnsafeObject) {
		t.Fatalf("Open beside a planted lock object: %v, want ErrUnsafeObject", err)
	}
	if _, err := os.Stat(filepath.Join(shm.Dir, name)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the refused Open left a table: %v", err)
	}
	// What an operator does (Options.AllowShared): it is listed as an
	// orphan, and root removes it by its name.
	if orphans, err := OrphanLockObjects(); err != nil || !slices.Contains(orphans, lockObjectName(name)) {
		t.Fatalf("OrphanLockObjects() = %v, %v: without the planted lock object", orphans, err)
	}
	if err := Remove(lockObjectName(name)); err != nil {
		t.Fatalf("Remove of the planted lock object: %v", err)
	}
	if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the planted lock object is still there: %v", err)
	}
}

// TestLockObjectMode: the lock object opens to exactly the classes that may
// write the table.
func TestLockObjectMode(t *testing.T) {
	t.Parallel()
	for mode, want := range map[os.FileMode]os.FileMode{0o600: 0o600, 0o644: 0o600, 0o640: 0o600, 0o660: 0o660, 0o664: 0o660, 0o666: 0o666} {
		name := uniqueName(t)
		openTable(t, name, &Options{Mode: mode})
		fi, err := os.Stat(filepath.Join(shm.Dir, lockObjectName(name)))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want || !strings.HasPrefix(lockObjectName(name), ".") {
			t.Errorf("table mode %v: lock object mode %v, want %v", mode, fi.Mode().Perm(), want)
		}
	}
}
