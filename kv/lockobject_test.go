package kv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/host"
	"github.com/shmkv/shmkv/shm"
)

func init() {
	rawChildren["create-limited"] = childCreateLimited
}

// childCreateLimited: args name limit. Lowers a limit of its own, then
// creates the table name, which must fail; prints the error, and whether
// it matches ENOMEM, EFBIG, or ENOSPC.
//   - limit "as": RLIMIT_AS (ulimit -v) 64 MiB above what the process
//     maps now, and a table whose mapping takes 6 GiB, so that the mmap
//     fails with ENOMEM, as it does under a ulimit -v too small for it.
//   - limit "fsize": RLIMIT_FSIZE (ulimit -f) of 1 MiB, so that sizing
//     the object fails with EFBIG, as allocating it on a full /dev/shm
//     fails with ENOSPC: a failure of the object still unnamed.
func childCreateLimited(args []string) error {
	name, limit := args[0], args[1]
	switch limit {
	case "as":
		var vm uint64
		status, err := os.ReadFile("/proc/self/status")
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "VmSize:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				vm = kb << 10
			}
		}
		if vm == 0 {
			return fmt.Errorf("no VmSize in /proc/self/status")
		}
		lim := syscall.Rlimit{Cur: vm + 64<<20, Max: vm + 64<<20}
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &lim); err != nil {
			return err
		}
	case "full":
		// /dev/shm is a tmpfs of 256 KiB of this child's own (see
		// TestFailedCreateLeavesNothing): nothing to set.
	case "fsize":
		signal.Ignore(syscall.SIGXFSZ)
		lim := syscall.Rlimit{Cur: 1 << 20, Max: 1 << 20}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			return err
		}
	default:
		return fmt.Errorf("limit %q", limit)
	}
	o := &Options{MaxMemory: 1 << 30}
	if limit == "full" {
		// Every shard in use from creation, with room for its share:
		// far more than the 256 KiB there are.
		o.Keys = 100_000
	}
	tb, err := Open(name, o)
	if err == nil {
		tb.Close()
		return fmt.Errorf("the create succeeded under the %s limit", limit)
	}
	fmt.Println(errors.Is(err, syscall.ENOMEM), errors.Is(err, syscall.EFBIG), errors.Is(err, syscall.ENOSPC))
	fmt.Println(err)
	if limit == "full" {
		// Its /dev/shm goes with it: say what is left in it.
		ents, err := os.ReadDir(shm.Dir)
		if err != nil {
			return err
		}
		var left []string
		for _, e := range ents {
			left = append(left, e.Name())
		}
		fmt.Println("left:", left)
	}
	return nil
}

// startFullShm runs the create-limited child in a mount namespace of its
// own, over a /dev/shm that is a 256 KiB tmpfs, so that creating a table
// meets a full /dev/shm without filling the host's. It skips the test
// where that cannot be done (not root, no unshare(1)).
func startFullShm(t *testing.T, name string) *testproc.Child {
	t.Helper()
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	if out, err := exec.Command(unshare, "-m", "--propagation", "private", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot make a mount namespace: %v %s", err, out)
	}
	cmd := exec.Command(unshare, "-m", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs -o size=256k tmpfs /dev/shm && exec "$0" -test.run='^$'`, os.Args[0])
	return testproc.StartCmd(t, cmd, "SHMKV_RAW_CHILD=create-limited", "SHMKV_ARGS="+name+" full")
}

// shmEntries returns which of names are in /dev/shm.
func shmEntries(t *testing.T, names ...string) []string {
	t.Helper()
	var there []string
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(shm.Dir, n)); err == nil {
			there = append(there, n)
		} else if !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return there
}

// TestFailedCreateLeavesNothing: a create that fails once it has made the
// lock object, because the process may not map the table (ulimit -v) or
// may not size it, leaves neither the table nor the lock object behind,
// and its error names the table and the limit it met.
func TestFailedCreateLeavesNothing(t *testing.T) {
	for _, c := range []struct {
		limit, is string
		says      []string
	}{
		{"as", "true false false", []string{"mmap (the new, still unnamed object)", "cannot allocate memory", "RLIMIT_AS", "ulimit -v"}},
		{"fsize", "false true false", []string{"ftruncate (the new, still unnamed object)", "file too large"}},
		{"full", "false false true", []string{"no space left on device", "the table needs ", "and /dev/shm has ", " free"}},
	} {
		t.Run(c.limit, func(t *testing.T) {
			name := uniqueName(t)
			var ch *testproc.Child
			if c.limit == "full" {
				ch = startFullShm(t, name)
			} else {
				ch = testproc.Start(t, "SHMKV_RAW_CHILD=create-limited", "SHMKV_ARGS="+name+" "+c.limit)
			}
			is, _ := ch.Line()
			msg, _ := ch.Line()
			if c.limit == "full" {
				if left, _ := ch.Line(); left != "left: []" {
					t.Errorf("the failed create on a full /dev/shm left %s", left)
				}
			}
			if err := ch.Wait(); err != nil {
				t.Fatalf("child: %v", err)
			}
			t.Logf("the child's error: %s", msg)
			if is != c.is {
				t.Errorf("error matches ENOMEM, EFBIG, ENOSPC: %s, want %s (%s)", is, c.is, msg)
			}
			for _, want := range append(c.says, "shmkv: create /"+name+": ") {
				if !strings.Contains(msg, want) {
					t.Errorf("the error does not say %q: %s", want, msg)
				}
			}
			if c.limit == "full" && strings.Contains(msg, "fallocate") {
				t.Errorf("the create allocated before it found /dev/shm too small: %s", msg)
			}
			if strings.Contains(msg, " : ") {
				t.Errorf("the error names an empty object: %s", msg)
			}
			if left := shmEntries(t, name, lockObjectName(name)); len(left) != 0 {
				t.Errorf("the failed create left %v in %s", left, shm.Dir)
			}
		})
	}
}

// TestCreateLargerThanShmFree: a create that needs more memory than
// /dev/shm has free (here terabytes, from Keys) is refused at once, before
// it allocates any; allocating first filled the machine's memory where
// /dev/shm is as large as it, and the out-of-memory killer ended the
// process. (Not to be run with that check undone: it would do it again.)
func TestCreateLargerThanShmFree(t *testing.T) {
	name := uniqueName(t)
	o := &Options{MaxMemory: maxMaxMemory, Keys: 1 << 35}
	d := o.withDefaults()
	g, first, err := plan(&d)
	if err != nil {
		t.Fatal(err)
	}
	if need, free := int64(g.Shards)*first.Size, host.ShmFree(); free < 0 || need < 2*free {
		t.Fatalf("the test's table (%d bytes) is not far larger than /dev/shm's %d free bytes", need, free)
	}
	tb, err := Open(name, o)
	if err == nil {
		tb.Close()
		t.Fatal("a table of terabytes was created")
	}
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "the table needs ") {
		t.Errorf("got %v, want ENOSPC saying what the table needs", err)
	}
	if left := shmEntries(t, name, lockObjectName(name)); len(left) != 0 {
		t.Errorf("the refused create left %v in %s", left, shm.Dir)
	}
}

// TestRemoveOrphanLockObject: a table unlinked by hand leaves its lock
// object, which OrphanLockObjects lists and Remove removes, whether it is
// given the table's name or the lock object's.
func TestRemoveOrphanLockObject(t *testing.T) {
	for _, by := range []string{"table", "lock object"} {
		t.Run(by, func(t *testing.T) {
			name := uniqueName(t)
			companion := lockObjectName(name)
			tb := openTable(t, name, nil)
			mustSet(t, tb, "k", "v")
			tb.Close()
			if err := os.Remove(filepath.Join(shm.Dir, name)); err != nil {
				t.Fatal(err)
			}
			orphans, err := OrphanLockObjects()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(orphans, companion) {
				t.Fatalf("OrphanLockObjects() = %v, without %s", orphans, companion)
			}
			if !IsLockObject(companion) || IsLockObject(name) {
				t.Errorf("IsLockObject(%s) = %v, IsLockObject(%s) = %v", companion, IsLockObject(companion), name, IsLockObject(name))
			}
			target := name
			if by == "lock object" {
				target = "/" + companion
			}
			if err := Remove(target); err != nil {
				t.Fatalf("Remove(%s): %v", target, err)
			}
			if left := shmEntries(t, name, companion); len(left) != 0 {
				t.Fatalf("Remove(%s) left %v", target, left)
			}
			if err := Remove(target); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Remove(%s) again: %v, want fs.ErrNotExist", target, err)
			}
		})
	}
}

// TestRemoveLockObjectInUse: the lock object of a table that exists, or of
// one a creator is building, is not removed by name.
func TestRemoveLockObjectInUse(t *testing.T) {
	name := uniqueName(t)
	companion := lockObjectName(name)
	openTable(t, name, nil)
	if err := Remove(companion); !errors.Is(err, ErrLockObjectInUse) || !strings.Contains(err.Error(), name) {
		t.Errorf("Remove of a live table's lock object: %v, want ErrLockObjectInUse naming the table", err)
	}
	if left := shmEntries(t, name, companion); len(left) != 2 {
		t.Fatalf("after the refused Remove: %v", left)
	}
	orphans, err := OrphanLockObjects()
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(orphans, companion) {
		t.Errorf("a live table's lock object listed as an orphan")
	}

	// A creator at work: it holds the lock object with its read lock, and
	// has linked no table yet.
	other := uniqueName(t)
	o := (&Options{}).withDefaults()
	creator, err := createLockObject(other, &o)
	if err != nil {
		t.Fatal(err)
	}
	if err := Remove(lockObjectName(other)); !errors.Is(err, ErrLockObjectInUse) {
		t.Errorf("Remove of a lock object a creator holds: %v, want ErrLockObjectInUse", err)
	}
	if err := Remove(other); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Remove(%s) with no table and a creator at work: %v, want fs.ErrNotExist", other, err)
	}
	if left := shmEntries(t, lockObjectName(other)); len(left) != 1 {
		t.Fatal("a Remove pulled the lock object from under its creator")
	}
	// The creator gives up: its own failure removes it.
	dropLockObject(creator, other)
	creator.Close()
	if left := shmEntries(t, lockObjectName(other)); len(left) != 0 {
		t.Errorf("the creator's cleanup left %v", left)
	}
}

// TestCreatorWaitsForRemover: a creator that finds a remover at work on
// the lock object waits for it, and ends up with the object under the
// name, not the one the remover unlinked; the table it builds opens for
// every opener.
func TestCreatorWaitsForRemover(t *testing.T) {
	name := uniqueName(t)
	companion := lockObjectName(name)
	o := (&Options{}).withDefaults()
	old, err := createLockObject(name, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	// Become the remover: the write lock on creatorByte.
	if err := host.UnlockByte(old.Fd(), creatorByte); err != nil {
		t.Fatal(err)
	}
	if busy, err := host.LockByte(old.Fd(), creatorByte); busy || err != nil {
		t.Fatalf("the remover's lock: busy %v, %v", busy, err)
	}
	oldInfo, err := old.Stat()
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		tb, err := Open(name, nil)
		if err == nil {
			t.Cleanup(func() { tb.Close() })
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Open did not wait for the remover: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := shm.Remove(companion); err != nil {
		t.Fatal(err)
	}
	if err := host.UnlockByte(old.Fd(), creatorByte); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Open after the remover: %v", err)
	}
	ino, err := host.InodeAt(filepath.Join(shm.Dir, companion))
	if err != nil || ino == oldInfo.Ino {
		t.Fatalf("the lock object under the name: inode %d, %v; the unlinked one was %d", ino, err, oldInfo.Ino)
	}
	tb := openTable(t, name, &Options{NoCreate: true})
	mustSet(t, tb, "k", "v")
}

// TestOpenWhileRemoved: Open, to open or create, races Remove of the same
// name; it either opens a table or creates one, and never reports the
// table it found a moment before Remove as corrupt for its missing lock
// object.
func TestOpenWhileRemoved(t *testing.T) {
	t.Parallel()
	name := uniqueName(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			Remove(name)
		}
	}()
	defer func() { close(stop); <-done }()
	for i := range 2000 {
		tb, err := Open(name, &Options{MaxMemory: 1 << 20})
		if err != nil {
			t.Fatalf("Open %d while another removes the name: %v", i, err)
		}
		tb.Close()
	}
}

// TestLockObjectRemovedByHand: a table whose lock object was removed by
// hand, while the table stays, is refused as damaged, not taken for a
// table removed while being opened.
func TestLockObjectRemovedByHand(t *testing.T) {
	name := uniqueName(t)
	openTable(t, name, nil).Close()
	if err := os.Remove(filepath.Join(shm.Dir, lockObjectName(name))); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*Options{{NoCreate: true}, nil} {
		if tb, err := Open(name, o); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "missing") {
			if err == nil {
				tb.Close()
			}
			t.Errorf("Open(%+v) without the lock object: %v, want ErrCorrupt", o, err)
		}
	}
}
