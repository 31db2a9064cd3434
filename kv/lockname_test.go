package kv

import (
	"errors"
	"fmt"
	"math/rand/v2"
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
	for _, o := range []Options{*small, {Exclusive: true}} {
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
		t.Logf("exclusive %v: %v", o.Exclusive, err)
	}
	if !absent(name[1:]) {
		t.Errorf("%s exists", name)
	}
}
