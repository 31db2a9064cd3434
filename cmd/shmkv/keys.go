package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sort"

	"github.com/shmkv/shmkv/kv"
	"github.com/spf13/pflag"
)

var keysCmd = &command{
	name:  "keys",
	usage: "keys NAME [--prefix P] [--json]",
	summary: "Print the table's keys, sorted by their bytes, one a line; a key that is not\n" +
		"printable text is printed Go-quoted (\"a\\nb\", \"\\xff\"). With --json, a JSON\n" +
		"array of objects, {\"key\": ...} or {\"key_base64\": ...} for a key that is not\n" +
		"UTF-8 ('shmkv help output').",
	example: "shmkv keys demo --prefix user:\nshmkv keys demo --json | jq -r '.[].key'",
	nargs:   exactly(1),
	setup: func(f *pflag.FlagSet) runFunc {
		prefix := f.String("prefix", "", "only keys that start with `P`")
		asJSON := f.Bool("json", false, "print a JSON array of {\"key\": ...} objects")
		return func(m *Main, args []string) error { return runKeys(m, args[0], *prefix, *asJSON) }
	},
}

func runKeys(m *Main, name, prefix string, asJSON bool) error {
	t, err := openExisting(name, true)
	if err != nil {
		return err
	}
	defer t.Close()
	var keys []string
	err = t.Range(func(k, _ []byte) bool {
		if bytes.HasPrefix(k, []byte(prefix)) {
			keys = append(keys, string(k))
		}
		return true
	})
	// A damaged table still lists what can be read (Range visits every
	// shard it can), then says what it skipped.
	if err != nil && !errors.Is(err, kv.ErrCorrupt) {
		return opError("keys", name, err)
	}
	if werr := writeKeys(m.Stdout, keys, asJSON); werr != nil {
		return werr
	}
	if err != nil {
		return opError("keys", name, err)
	}
	return nil
}

// writeKeys writes keys sorted, one a line or as a JSON array, by the rule
// of 'shmkv help output'.
func writeKeys(out io.Writer, keys []string, asJSON bool) error {
	sort.Strings(keys)
	if asJSON {
		objs := make([]keyJSON, len(keys))
		for i, k := range keys {
			objs[i] = newKeyJSON([]byte(k))
		}
		return writeJSON(out, objs)
	}
	w := bufio.NewWriter(out)
	for _, k := range keys {
		w.WriteString(printable(k))
		w.WriteByte('\n')
	}
	return w.Flush()
}
