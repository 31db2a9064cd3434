package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/shm"
	"github.com/spf13/pflag"
)

var rmCmd = &command{
	name:  "rm",
	usage: "rm NAME [--force]",
	summary: "Remove the table and its lock object. Processes that have it open keep using\n" +
		"it until they close it. An object in /dev/shm that is not a shmkv table is\n" +
		"left alone unless --force is given. NAME may be a table that is gone but\n" +
		"left its lock object (removed by hand), or an orphan lock object as\n" +
		"'shmkv ls --all' lists it; the lock object of a table that exists is\n" +
		"refused, --force or not.",
	example: "shmkv rm demo",
	nargs:   exactly(1),
	setup: func(f *pflag.FlagSet) runFunc {
		force := f.Bool("force", false, "remove NAME even if it is not a shmkv table")
		return func(m *Main, args []string) error { return runRm(args[0], *force) }
	},
}

func runRm(name string, force bool) error {
	if kv.IsLockObject(name) {
		err := kv.Remove(name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return notFound("lock object " + name + " does not exist")
		case errors.Is(err, kv.ErrLockObjectInUse):
			return fmt.Errorf("rm %s: %v", name, err)
		}
		return describe(name, err)
	}
	isTable, err := kv.IsTable(name)
	if errors.Is(err, fs.ErrNotExist) {
		// The table may be gone, removed by hand, and have left its lock
		// object: Remove of the lock object's own name removes that, and
		// only that (a table of the name made meanwhile makes it refuse),
		// or says there is nothing.
		lock, lerr := kv.LockObjectName(name)
		if lerr != nil {
			return describe(name, lerr)
		}
		switch rerr := kv.Remove(lock); {
		case rerr == nil:
			return nil
		case errors.Is(rerr, kv.ErrLockObjectInUse):
			return fmt.Errorf("rm %s: the table was made again meanwhile; run rm again to remove it", name)
		case !errors.Is(rerr, fs.ErrNotExist):
			return fmt.Errorf("rm %s: %v", name, rerr)
		}
		return notFound("table " + name + " does not exist")
	}
	if errors.Is(err, shm.ErrInvalidName) {
		return describe(name, err)
	}
	if err != nil && !force {
		return fmt.Errorf("rm %s: %v; --force removes it anyway", name, err)
	}
	if !isTable && !force {
		return fmt.Errorf("rm %s: not a shmkv table; --force removes it anyway", name)
	}
	if err := kv.Remove(name); err != nil {
		return describe(name, err)
	}
	return nil
}
