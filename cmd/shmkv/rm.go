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
	usage: "rm NAME... [--force]",
	summary: "Remove each table named, and its lock object. Processes that have a table\n" +
		"open keep using it until they close it. As rm(1) does, a name that cannot\n" +
		"be removed is reported and the others are removed still; the exit status\n" +
		"is 2 if any failed, else 1 if any was missing. An object in /dev/shm that\n" +
		"is not a shmkv table is left alone unless --force is given. NAME may be a\n" +
		"table that is gone but left its lock object (removed by hand), or an\n" +
		"orphan lock object as 'shmkv ls --all' lists it; the lock object of a\n" +
		"table that exists is refused, --force or not.",
	example: "shmkv rm demo\nshmkv rm cache-1 cache-2 cache-3",
	nargs:   atLeast(1),
	setup: func(f *pflag.FlagSet) runFunc {
		force := f.Bool("force", false, "remove each NAME even if it is not a shmkv table")
		return func(m *Main, args []string) error { return runRm(m, args, *force) }
	},
}

// runRm removes each name in turn. Each failure is said on its own line as
// it happens; the status is the worst of them, a failure (2) above a
// missing name (1), as the README's rule ranks them.
func runRm(m *Main, names []string, force bool) error {
	code := exitOK
	for _, name := range names {
		err := rmOne(name, force)
		if err == nil {
			continue
		}
		if msg := oneLine(err); msg != "" {
			fmt.Fprintln(m.Stderr, msg)
		}
		code = max(code, ExitCode(err))
	}
	if code == exitOK {
		return nil
	}
	return &exitError{code: code} // every line is said
}

func rmOne(name string, force bool) error {
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
			return fmt.Errorf("rm %s: the table was made again meanwhile; %s removes it", name, advise("rm", []string{name}))
		case !errors.Is(rerr, fs.ErrNotExist):
			return fmt.Errorf("rm %s: %v", name, rerr)
		}
		return notFound("table " + name + " does not exist")
	}
	if errors.Is(err, shm.ErrInvalidName) {
		return describe(name, err)
	}
	if err != nil && !force {
		return fmt.Errorf("rm %s: %v; %s removes it anyway", name, err, advise("rm", []string{name}, "--force"))
	}
	if !isTable && !force {
		return fmt.Errorf("rm %s: not a shmkv table; %s removes it anyway", name, advise("rm", []string{name}, "--force"))
	}
	if err := kv.Remove(name); err != nil {
		return describe(name, err)
	}
	return nil
}
