package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/shm"
	"github.com/spf13/pflag"
)

func init() {
	commands["rm"] = &command{
		usage: "rm NAME [--force]",
		summary: "Remove the table. Processes that have it open keep using it until they close\n" +
			"it. An object in /dev/shm that is not a shmkv table is left alone unless\n" +
			"--force is given.",
		example: "shmkv rm demo",
		nargs:   exactly(1),
		flags: func(f *pflag.FlagSet) {
			f.Bool("force", false, "remove NAME even if it is not a shmkv table")
		},
		run: runRm,
	}
}

func runRm(m *Main, flags *pflag.FlagSet, args []string) error {
	name := args[0]
	force, _ := flags.GetBool("force")
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
