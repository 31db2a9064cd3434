package main

import (
	"errors"
	"io/fs"

	"github.com/shmkv/shmkv/kv"
	"github.com/spf13/pflag"
)

func init() {
	commands["get"] = &command{
		usage: "get NAME KEY",
		summary: "Write the value stored under KEY to standard output, exactly as stored.\n" +
			"A missing key, or a missing table, exits 1 with nothing on standard output.",
		example: "shmkv get demo greeting",
		nargs:   exactly(2),
		run:     runGet,
	}
}

func runGet(m *Main, _ *pflag.FlagSet, args []string) error {
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
	_, err = m.Stdout.Write(v)
	return err
}

// openForRead opens an existing table read-write, so that a shard whose
// writer died can be recovered, or read-only where the caller may only
// read it. A missing table is a miss: exit status 1.
func openForRead(name string) (*kv.Table, error) {
	t, err := kv.Open(name, &kv.Options{NoCreate: true})
	if errors.Is(err, fs.ErrPermission) {
		t, err = kv.Open(name, &kv.Options{NoCreate: true, ReadOnly: true})
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound("table " + name + " does not exist")
	}
	return t, describe(name, err)
}
