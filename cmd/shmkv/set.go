package main

import (
	"fmt"
	"io"
	"time"

	"github.com/shmkv/shmkv/kv"
	"github.com/spf13/pflag"
)

var setCmd = &command{
	name:  "set",
	usage: "set NAME KEY [VALUE] [--ttl DURATION]",
	summary: "Store VALUE under KEY, creating the table with the default geometry if it\n" +
		"does not exist. With VALUE omitted or \"-\", the value is read from standard\n" +
		"input, byte for byte. With --ttl, the key expires that long from now.",
	example: "shmkv set demo greeting hello\nshmkv set demo session abc123 --ttl 30m\nshmkv set demo photo - < photo.jpg",
	nargs:   between(2, 3),
	setup: func(f *pflag.FlagSet) runFunc {
		ttl := f.Duration("ttl", 0, "time to live, a `DURATION` such as 30s or 2h (default: never expires)")
		return func(m *Main, args []string) error { return runSet(m, args, *ttl) }
	},
}

func runSet(m *Main, args []string, ttl time.Duration) error {
	name, key := args[0], args[1]
	if ttl < 0 {
		return usageError("set", "--ttl %v is negative", ttl)
	}
	t, err := openOrCreate(name)
	if err != nil {
		return err
	}
	defer t.Close()
	var value []byte
	if len(args) == 3 && args[2] != "-" {
		value = []byte(args[2])
	} else if value, err = readValue(m.Stdin, t); err != nil {
		return opError("set", name, err)
	}
	if err := t.SetTTL([]byte(key), value, ttl); err != nil {
		return opError("set", name, err)
	}
	return nil
}

// readValue reads standard input whole, refusing more than the table's
// largest value without reading on.
func readValue(r io.Reader, t *kv.Table) ([]byte, error) {
	var st kv.Stats
	if err := t.Stats(&st); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(st.MaxValueSize)+1))
	if err != nil {
		return nil, fmt.Errorf("reading the value from standard input: %w", err)
	}
	if len(b) > st.MaxValueSize {
		return nil, kv.ErrValueTooLarge
	}
	return b, nil
}
