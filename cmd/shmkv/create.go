package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/shmkv/shmkv/kv"
	"github.com/spf13/pflag"
)

func init() {
	commands["create"] = &command{
		usage: "create NAME [--keys N] [--memory SIZE] [--max-key SIZE] [--max-value SIZE] [--eviction none|lru] [--mode 0600]",
		summary: "Create a table with the geometry given; flags left out take kv's defaults.\n" +
			"Fails if NAME exists. Sizes take units: 4096, 64MiB, 1G (K, M, G are 1024-based).\n" +
			"--eviction lru makes a cache: when full it evicts keys not read recently,\n" +
			"expired ones first; none (the default) refuses new keys instead.",
		example: "shmkv create sessions --keys 1000000 --memory 1GiB --max-value 64KiB",
		nargs:   exactly(1),
		flags: func(f *pflag.FlagSet) {
			f.Int("keys", 0, "how many keys it must hold (default 100000)")
			f.String("memory", "", "how many bytes of keys and values it must hold (default 32MiB)")
			f.String("max-key", "", "largest key (default 1KiB)")
			f.String("max-value", "", "largest value (default 1MiB)")
			f.String("eviction", "none", "what a full table does: none or lru")
			f.String("mode", "0600", "permission bits, in octal")
		},
		run: runCreate,
	}
}

func runCreate(m *Main, flags *pflag.FlagSet, args []string) error {
	name := args[0]
	o := kv.Options{Exclusive: true}
	o.Keys, _ = flags.GetInt("keys")
	sizes := []struct {
		flag string
		set  func(int64)
	}{
		{"memory", func(n int64) { o.Memory = n }},
		{"max-key", func(n int64) { o.MaxKeySize = int(min(n, kv.MaxKeyLimit+1)) }},
		{"max-value", func(n int64) { o.MaxValueSize = int(min(n, kv.MaxValueLimit+1)) }},
	}
	for _, s := range sizes {
		v, _ := flags.GetString(s.flag)
		if v == "" {
			continue
		}
		n, err := parseSize(v)
		if err != nil {
			return usageError("create", "--%s: %v", s.flag, err)
		}
		if n == 0 {
			return usageError("create", "--%s must be at least 1 byte", s.flag)
		}
		s.set(n)
	}
	switch policy, _ := flags.GetString("eviction"); policy {
	case "none":
	case "lru":
		o.Eviction = kv.EvictLRU
	default:
		return usageError("create", "--eviction %q: none or lru", policy)
	}
	modeText, _ := flags.GetString("mode")
	mode, err := strconv.ParseUint(modeText, 8, 32)
	if err != nil || mode&^0o777 != 0 || mode == 0 {
		return usageError("create", "--mode %q is not permission bits in octal, such as 0600", modeText)
	}
	o.Mode = os.FileMode(mode)
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
