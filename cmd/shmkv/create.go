package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/shmkv/shmkv/kv"
	"github.com/spf13/pflag"
)

var createCmd = &command{
	name:  "create",
	usage: "create NAME [--keys N] [--memory SIZE] [--max-key SIZE] [--max-value SIZE] [--eviction none|lru] [--mode 0600]",
	summary: "Create a table with the geometry given; flags left out take kv's defaults.\n" +
		"Fails if NAME exists. Sizes take units: 4096, 64MiB, 1G (K, M, G are 1024-based).\n" +
		"--eviction lru makes a cache: when full it evicts keys not read recently,\n" +
		"expired ones first; none (the default) refuses new keys instead.",
	example: "shmkv create sessions --keys 1000000 --memory 1GiB --max-value 64KiB",
	nargs:   exactly(1),
	setup: func(f *pflag.FlagSet) runFunc {
		var o createFlags
		f.IntVar(&o.keys, "keys", 0, "how many keys it must hold (default 100000)")
		f.Var(&o.memory, "memory", "how many bytes of keys and values it must hold (default 32MiB)")
		f.Var(&o.maxKey, "max-key", "largest key (default 1KiB)")
		f.Var(&o.maxValue, "max-value", "largest value (default 1MiB)")
		o.eviction = policyFlag(kv.NoEviction)
		f.Var(&o.eviction, "eviction", "what a full table does: none or lru")
		o.mode = 0o600
		f.Var(&o.mode, "mode", "permission bits, in octal")
		return func(m *Main, args []string) error { return runCreate(m, args[0], &o) }
	},
}

// createFlags are create's flags, each parsed by its own type.
type createFlags struct {
	keys                     int
	memory, maxKey, maxValue sizeFlag
	eviction                 policyFlag
	mode                     modeFlag
}

func runCreate(m *Main, name string, f *createFlags) error {
	if f.keys < 0 {
		return usageError("create", "--keys %d is negative", f.keys)
	}
	o := kv.Options{
		Exclusive:    true,
		Keys:         f.keys,
		Memory:       int64(f.memory),
		MaxKeySize:   int(min(f.maxKey, kv.MaxKeyLimit+1)),
		MaxValueSize: int(min(f.maxValue, kv.MaxValueLimit+1)),
		Eviction:     kv.Policy(f.eviction),
		Mode:         os.FileMode(f.mode),
	}
	t, err := kv.Open(name, &o)
	switch {
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("table %s exists; use it as it is, or remove it first with 'shmkv rm %s'", name, name)
	case errors.Is(err, kv.ErrInvalidOptions):
		return usageError("create", "%v", err)
	case err != nil:
		return describe(name, err)
	}
	defer t.Close()
	var st kv.Stats
	t.Stats(&st)
	fmt.Fprintf(m.Stdout, "created %s: %d keys, %s of shared memory, eviction %v\n", name, st.KeyCapacity, humanBytes(st.TotalBytes), st.Eviction)
	return nil
}
