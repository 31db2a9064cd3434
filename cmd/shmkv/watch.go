package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"
)

var watchCmd = &command{
	name:  "watch",
	usage: "watch NAME KEY [--count N]",
	summary: "Wait for KEY to change and print each change as etcdctl watch does: PUT, the\n" +
		"key and the new value, each on a line of its own; DELETE and the key when it\n" +
		"is deleted or expires. A write of the same value and expiry is no change.\n" +
		"Woken by the writer, without polling. Runs until interrupted (Ctrl-C), or\n" +
		"until --count changes.",
	example: "shmkv watch demo greeting",
	nargs:   exactly(2),
	setup: func(f *pflag.FlagSet) runFunc {
		var count int
		f.IntVar(&count, "count", 0, "stop after `N` changes (0: until interrupted)")
		return func(m *Main, args []string) error { return runWatch(m, args, count) }
	},
}

func runWatch(m *Main, args []string, count int) error {
	if count < 0 {
		return usageError("watch", "--count %d: not a count", count)
	}
	name, key := args[0], []byte(args[1])
	t, err := openForRead(name)
	if err != nil {
		return err
	}
	defer t.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, version, err := t.GetVersion(nil, key)
	if err != nil {
		return opError("watch", name, err)
	}
	var value []byte
	for n := 0; count == 0 || n < count; n++ {
		value, version, err = t.Watch(ctx, value[:0], key, version)
		if errors.Is(err, context.Canceled) {
			return nil // interrupted: the normal end
		}
		if err != nil {
			return opError("watch", name, err)
		}
		if version == 0 {
			_, err = fmt.Fprintf(m.Stdout, "DELETE\n%s\n", key)
		} else {
			_, err = fmt.Fprintf(m.Stdout, "PUT\n%s\n%s\n", key, value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
