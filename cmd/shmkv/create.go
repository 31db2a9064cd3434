package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"

	"github.com/shmkv/shmkv/kv"
	"github.com/spf13/pflag"
)

var createCmd = &command{
	name:  "create",
	usage: "create NAME [--max-memory SIZE] [--eviction none|s3fifo] [--max-key SIZE] [--max-value SIZE] [--keys N] [--memory SIZE] [--mode 0600]",
	summary: "Create a table; flags left out take kv's defaults. Fails if NAME exists.\n" +
		"A table starts small and grows as keys arrive, up to --max-memory, the most\n" +
		"shared memory it may take (default: a quarter of /dev/shm). At that ceiling\n" +
		"--eviction s3fifo evicts keys not read recently, expired ones first; none (the\n" +
		"default) refuses new keys. --keys and --memory say what to expect, so that\n" +
		"the table starts that large. A SIZE is a byte count with an optional unit:\n" +
		"4096, 64MiB, 1.5G. K, M, G, T and KiB, MiB, GiB, TiB are powers of 1024;\n" +
		"KB, MB, GB, TB powers of 1000, as dd(1) has them: 4GB is 4000000000 bytes,\n" +
		"4G and 4GiB are 4294967296.",
	example: "shmkv create sessions --max-memory 2GiB --max-value 64KiB\nshmkv create cache --max-memory 256MiB --eviction s3fifo",
	nargs:   exactly(1),
	setup: func(f *pflag.FlagSet) runFunc {
		var o createFlags
		f.Var(&o.maxMemory, "max-memory", "the most shared memory the table may take (default: a quarter of /dev/shm)")
		o.eviction = policyFlag(kv.NoEviction)
		f.Var(&o.eviction, "eviction", "what a table at its ceiling does: none or s3fifo (lru is the same)")
		f.Var(&o.maxKey, "max-key", "largest key (default 1KiB)")
		f.Var(&o.maxValue, "max-value", "largest value (default 1MiB)")
		f.IntVar(&o.keys, "keys", 0, "expect about `N` keys (optional)")
		f.Var(&o.memory, "memory", "how many bytes of keys and values to expect (optional)")
		o.mode = 0o600
		f.Var(&o.mode, "mode", "permission bits, in octal")
		return func(m *Main, args []string) error { return runCreate(m, args[0], &o) }
	},
}

// createFlags are create's flags, each parsed by its own type.
type createFlags struct {
	keys                                int
	maxMemory, memory, maxKey, maxValue sizeFlag
	eviction                            policyFlag
	mode                                modeFlag
}

func runCreate(m *Main, name string, f *createFlags) error {
	if f.keys < 0 {
		return usageError("create", "--keys %d is negative", f.keys)
	}
	o := kv.Options{
		Exclusive: true,
		MaxMemory: int64(f.maxMemory),
		Keys:      f.keys,
		Memory:    int64(f.memory),
		// Clamped only where int is narrower than the flag: kv's range
		// check then says the value the user gave.
		MaxKeySize:   int(min(int64(f.maxKey), math.MaxInt)),
		MaxValueSize: int(min(int64(f.maxValue), math.MaxInt)),
		Eviction:     kv.Policy(f.eviction),
		Mode:         os.FileMode(f.mode),
	}
	t, err := kv.Open(name, &o)
	switch {
	case errors.Is(err, fs.ErrExist):
		if ok, _ := kv.IsTable(name); !ok {
			return fmt.Errorf("%s exists and is not a shmkv table; use another name, or if it is not needed, remove it first with %s", name, rmAdvice(name))
		}
		return fmt.Errorf("table %s exists; use it as it is, or remove it first with %s", name, rmAdvice(name))
	case errors.Is(err, kv.ErrInvalidOptions):
		if msg, ok := optionError(err); ok {
			return usageError("create", "%s", msg)
		}
		return usageError("create", "%v", err)
	case err != nil:
		return describe(name, err)
	}
	defer t.Close()
	var st kv.Stats
	t.Stats(&st)
	fmt.Fprintf(m.Stdout, "created %s: %s of shared memory, growing up to %s, eviction %v\n", name, humanBytes(st.TotalBytes), humanBytes(st.MaxBytes), st.Eviction)
	return nil
}
