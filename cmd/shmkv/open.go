package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/shm"
)

// openOrCreate opens the table name, creating it with kv's defaults if it
// does not exist.
func openOrCreate(name string) (*kv.Table, error) {
	t, err := kv.Open(name, nil)
	return t, describe(name, err)
}

// openExisting opens the table name, which must exist.
func openExisting(name string, readOnly bool) (*kv.Table, error) {
	t, err := kv.Open(name, &kv.Options{NoCreate: true, ReadOnly: readOnly})
	return t, describe(name, err)
}

// openForRead opens an existing table read-write, so that a shard whose
// writer died can be recovered, or read-only where the caller may only
// read it or every registry slot is taken.
func openForRead(name string) (*kv.Table, error) {
	t, err := kv.Open(name, &kv.Options{NoCreate: true})
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, kv.ErrTooManyProcesses) {
		t, err = kv.Open(name, &kv.Options{NoCreate: true, ReadOnly: true})
	}
	return t, describe(name, err)
}

// describe turns an open error into one line that says what to do. A
// missing table is not found, exit status 1, for every command: the one
// rule, so that a script tells "no such table" from a failure alike
// whichever command it ran.
func describe(name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, shm.ErrInvalidName):
		return fmt.Errorf("%q is not a table name: 1 to 255 bytes, no '/' after an optional first one, no NUL", name)
	case errors.Is(err, fs.ErrNotExist):
		return notFound(fmt.Sprintf("table %s does not exist; create it with 'shmkv create %s' or 'shmkv set'", name, name))
	case errors.Is(err, kv.ErrCorrupt), errors.Is(err, kv.ErrNotInitialized):
		return fmt.Errorf("%v; if %s is not needed, remove it with 'shmkv rm %s'", err, name, name)
	case errors.Is(err, kv.ErrVersion):
		return fmt.Errorf("%v; copy it with the shmkv release that made it ('shmkv dump %s FILE'), remove it, and 'shmkv load %s FILE' with this one", err, name, name)
	case errors.Is(err, kv.ErrUnsafeObject):
		return fmt.Errorf("%v; check who made %s", err, name)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%v; run as the table's owner", err)
	}
	return err
}

// opError says which operation failed on which table.
func opError(op, name string, err error) error {
	switch {
	case errors.Is(err, kv.ErrFull):
		return fmt.Errorf("%s %s: %v; delete keys or make a larger table with 'shmkv create'", op, name, err)
	case errors.Is(err, kv.ErrKeyTooLarge), errors.Is(err, kv.ErrValueTooLarge):
		return fmt.Errorf("%s %s: %v; see the limits with 'shmkv stats %s'", op, name, err, name)
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}
