package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"sort"

	"github.com/spf13/pflag"
)

func init() {
	commands["keys"] = &command{
		usage: "keys NAME [--prefix P] [--json]",
		summary: "Print the table's keys, sorted, one a line; with --json, a JSON array of\n" +
			"strings. Keys are printed as stored; use 'shmkv dump' for a binary-safe copy.",
		example: "shmkv keys demo --prefix user:",
		nargs:   exactly(1),
		flags: func(fs *pflag.FlagSet) {
			fs.String("prefix", "", "only keys that start with `P`")
			fs.Bool("json", false, "print a JSON array")
		},
		run: runKeys,
	}
}

func runKeys(m *Main, fs *pflag.FlagSet, args []string) error {
	name := args[0]
	prefix, _ := fs.GetString("prefix")
	asJSON, _ := fs.GetBool("json")
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
	if err != nil {
		return opError("keys", name, err)
	}
	sort.Strings(keys)
	if asJSON {
		if keys == nil {
			keys = []string{}
		}
		return json.NewEncoder(m.Stdout).Encode(keys)
	}
	w := bufio.NewWriter(m.Stdout)
	for _, k := range keys {
		w.WriteString(k)
		w.WriteByte('\n')
	}
	return w.Flush()
}
