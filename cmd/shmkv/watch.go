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
	usage: "watch NAME KEY [--count N] [--json]",
	summary: "Wait for KEY to change and print each change as etcdctl watch does: PUT, the\n" +
		"key and the new value, each on a line of its own; DELETE and the key when it\n" +
		"is deleted or expires. A key or value that is not printable text (a newline,\n" +
		"a control character, bytes that are not UTF-8) is printed Go-quoted, so that\n" +
		"it keeps to its line ('shmkv help output'). With --json, each change is one\n" +
		"JSON object a line: {\"type\": \"PUT\" or \"DELETE\", \"key\": ..., \"value\": ...}.\n" +
		"A write of the same value and expiry is no change. Woken by the writer,\n" +
		"without polling. Runs until interrupted (Ctrl-C), or until --count changes.",
	example: "shmkv watch demo greeting\nshmkv watch demo greeting --json | jq -r .value",
	nargs:   exactly(2),
	setup: func(f *pflag.FlagSet) runFunc {
		var count int
		f.IntVar(&count, "count", 0, "stop after `N` changes (0: until interrupted)")
		asJSON := f.Bool("json", false, "print each change as a line of JSON")
		return func(m *Main, args []string) error { return runWatch(m, args, count, *asJSON) }
	},
}

// watchJSON is the stable shape of one line of 'shmkv watch --json'. A
// DELETE has no value.
type watchJSON struct {
	Type string `json:"type"`
	keyJSON
	valueJSON
}

func runWatch(m *Main, args []string, count int, asJSON bool) error {
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
		switch {
		case asJSON && version == 0:
			err = writeJSON(m.Stdout, watchJSON{Type: "DELETE", keyJSON: newKeyJSON(key)})
		case asJSON:
			err = writeJSON(m.Stdout, watchJSON{"PUT", newKeyJSON(key), newValueJSON(value)})
		case version == 0:
			_, err = fmt.Fprintf(m.Stdout, "DELETE\n%s\n", printable(string(key)))
		default:
			_, err = fmt.Fprintf(m.Stdout, "PUT\n%s\n%s\n", printable(string(key)), printable(string(value)))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
