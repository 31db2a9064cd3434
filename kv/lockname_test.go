package kv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/shm"
)

// TestCreateRefusesLockObjectName: a table named in the form of a lock
// object was created, then listed by OrphanLockObjects (and 'shmkv ls
// --all') as an orphan lock object, live or not, and Remove of it took it
// for one and left the table's own lock object behind. Named after
// another table's lock object (the hash of its name), it would be used
// as that table's lock object, and removed with it. Create refuses such
// a name.
func TestCreateRefusesLockObjectName(t *testing.T) {
	name := fmt.Sprintf("/%s%x", lockObjectPrefix, rand.Uint64())
	for _, o := range []Options{*small, {Exclusive: true}, {NoCreate: true}, {ReadOnly: true}} {
		tb, err := Open(name, &o)
		if err == nil {
			tb.Close()
			Remove(name)
			if lo, _ := LockObjectName(name); !absent(lo) {
				Remove(lo)
			}
			t.Fatalf("Open(%s, exclusive %v) created a table with a lock object's name", name, o.Exclusive)
		}
		if !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("Open(%s, exclusive %v): %v, want ErrInvalidName", name, o.Exclusive, err)
		}
		if n := strings.Count(err.Error(), "shmkv:"); n != 1 {
			t.Errorf("Open(%s): %q says shmkv: %d times", name, err, n)
		}
		t.Logf("exclusive %v: %v", o.Exclusive, err)
	}
	if !absent(name[1:]) {
		t.Errorf("%s exists", name)
	}
	// A live table's lock object, opened as a table, is refused too, at
	// once: it never holds a header, which Open waited InitTimeout for.
	table := uniqueName(t)
	openTable(t, table, small)
	lo, err := LockObjectName(table)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []Options{{NoCreate: true}, {ReadOnly: true}} {
		if _, err := Open(lo, &o); !errors.Is(err, shm.ErrInvalidName) {
			t.Errorf("Open(%s, read-only %v) of a live table's lock object: %v, want ErrInvalidName", lo, o.ReadOnly, err)
		}
	}
}
