package main

import (
	"github.com/spf13/pflag"
)

var getCmd = &command{
	name:  "get",
	usage: "get NAME KEY [--json]",
	summary: "Write the value stored under KEY to standard output, exactly as stored.\n" +
		"With --json, print {\"key\": ..., \"value\": ...} instead, by the rule of\n" +
		"'shmkv help output' (base64 for bytes that are not UTF-8). A missing key,\n" +
		"or a missing table, exits 1 with nothing on standard output.",
	example: "shmkv get demo greeting\nshmkv get demo greeting --json | jq -r .value",
	nargs:   exactly(2),
	setup: func(f *pflag.FlagSet) runFunc {
		asJSON := f.Bool("json", false, "print a JSON object with the key and the value")
		return func(m *Main, args []string) error { return runGet(m, args, *asJSON) }
	},
}

// getJSON is the stable shape of 'shmkv get --json'.
type getJSON struct {
	keyJSON
	valueJSON
}

func runGet(m *Main, args []string, asJSON bool) error {
	name, key := args[0], args[1]
	t, err := openForRead(name)
	if err != nil {
		return err
	}
	defer t.Close()
	v, found, err := t.Get(nil, []byte(key))
	if err != nil {
		return opError("get", name, err)
	}
	if !found {
		return notFound("")
	}
	if asJSON {
		return writeJSON(m.Stdout, getJSON{newKeyJSON([]byte(key)), newValueJSON(v)})
	}
	if isTerminal(m.Stdout) && (len(v) == 0 || v[len(v)-1] != '\n') {
		// For the person reading it, not for a pipe, which gets the
		// value byte for byte.
		v = append(v, '\n')
	}
	_, err = m.Stdout.Write(v)
	return err
}
