package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/shmkv/shmkv/kv"
)

var incrCmd = &command{
	name:  "incr",
	usage: "incr NAME KEY [DELTA]",
	summary: "Add DELTA (default 1, may be negative) to the decimal integer stored under\n" +
		"KEY, atomically, and print the new value. A missing key starts at 0; a\n" +
		"missing table is created with the default geometry.",
	example: "shmkv incr demo visits\nshmkv incr demo stock -3",
	nargs:   between(2, 3),
	run:     runIncr,
}

func runIncr(m *Main, args []string) error {
	name, key := args[0], args[1]
	delta := int64(1)
	if len(args) == 3 {
		d, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil {
			return usageError("incr", "DELTA %q is not a whole number", args[2])
		}
		delta = d
	}
	t, err := openOrCreate(name)
	if err != nil {
		return err
	}
	defer t.Close()
	n, err := t.Add([]byte(key), delta)
	if errors.Is(err, kv.ErrNotNumber) {
		// kv's error says which: not a decimal integer, or the sum overflows.
		return fmt.Errorf("incr %s %q: %v", name, key, err)
	}
	if err != nil {
		return opError("incr", name, err)
	}
	fmt.Fprintln(m.Stdout, n)
	return nil
}
