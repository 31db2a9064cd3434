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
	summary: "Remove the table. Processes that have it open keep using it until they close\n" +
		"it. An object in /dev/shm that is not a shmkv table is left alone unless\n" +
		"--force is given.",
	example: "shmkv rm demo",
	nargs:   exactly(1),
	setup: func(f *pflag.FlagSet) runFunc {
		force := f.Bool("force", false, "remove NAME even if it is not a shmkv table")
		return func(m *Main, args []string) error { return runRm(args[0], *force) }
	},
}

func runRm(name string, force bool) error {
	isTable, err := kv.IsTable(name)
	if errors.Is(err, fs.ErrNotExist) {
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
