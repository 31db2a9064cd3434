package kv

import (
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
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

// TestOwnModesAccepted: a table this user created with group or other
// write access opens without AllowShared (it was refused before, so a
// table made with 'shmkv create --mode 0660' could not be used).
func TestOwnModesAccepted(t *testing.T) {
	t.Parallel()
	for _, mode := range []os.FileMode{0o600, 0o640, 0o660, 0o664, 0o666} {
		name := uniqueName(t)
		tb := openTable(t, name, &Options{Mode: mode})
		mustSet(t, tb, "k", "v")
		for _, o := range []*Options{nil, {NoCreate: true}, {ReadOnly: true}} {
			other, err := Open(name, o)
			if err != nil {
				t.Fatalf("mode %v, Open(%+v): %v", mode, o, err)
			}
			if v, _ := mustGet(t, other, "k"); v != "v" {
				t.Fatalf("mode %v: k = %q", mode, v)
			}
			other.Close()
		}
	}
}

func TestUnsafeObjectRefused(t *testing.T) {
	if os.Geteuid() == 0 {
		// Owned by another user: only root can make one to try.
		name2 := uniqueName(t)
		openTable(t, name2, nil)
		for _, n := range []string{name2, lockObjectName(name2)} {
			if err := os.Chown(filepath.Join(shm.Dir, n), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Open(name2, nil); !errors.Is(err, ErrUnsafeObject) {
			t.Fatalf("opening another user's table: %v, want ErrUnsafeObject", err)
		}
		if tb, err := Open(name2, &Options{AllowShared: true}); err != nil {
			t.Fatalf("AllowShared on another user's table: %v", err)
		} else {
			tb.Close()
		}
	} else {
		t.Skip("only root can give an object to another user")
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

// TestReusedSlotNotAlive: a lock word left by a dead holder of a registry
// slot must not look alive once a new process holds that slot; the new
// holder recovers the shard as it joins.
func TestReusedSlotNotAlive(t *testing.T) {
	name := uniqueName(t)
	a := openTable(t, name, small)
	mustSet(t, a, "k", "v")
	b, err := Open(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	slot, owner := b.slot, b.owner
	b.Close() // b "dies": its byte is free, its lock word stays
	s := &a.shards[0]
	atomic.StoreUint32(s.lockWord, owner|lockLocked)
	if a.ownerAlive(owner | lockLocked) {
		t.Fatal("a holder whose byte is free looks alive")
	}
	c := openTable(t, name, nil)
	if c.slot != slot {
		t.Skipf("the new handle took slot %d, not the dead holder's %d", c.slot, slot)
	}
	if c.owner == owner {
		t.Fatal("the slot's new holder has the dead holder's identity")
	}
	if w := atomic.LoadUint32(s.lockWord); w != 0 {
		t.Fatalf("joining the dead holder's slot left its lock held: %#x", w)
	}
	var st Stats
	c.Stats(&st)
	if st.Recoveries == 0 {
		t.Error("no recovery counted")
	}
	// The same word written again now names a generation gone by.
	if a.ownerAlive(owner | lockLocked) {
		t.Error("a word from the slot's previous generation looks alive")
	}
	if v, _ := mustGet(t, c, "k"); v != "v" {
		t.Fatalf("k = %q", v)
	}
}
