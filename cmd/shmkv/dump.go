package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/shmkv/shmkv/kv"
)

var dumpCmd = &command{
	name:  "dump",
	usage: "dump NAME [FILE]",
	summary: "Write every entry of the table to FILE, or to standard output, in shmkv's\n" +
		"binary-safe dump format (see dumpfile.go). 'shmkv load' reads it back.",
	example: "shmkv dump sessions sessions.dump",
	nargs:   between(1, 2),
	run:     runDump,
}

func runDump(m *Main, args []string) error {
	name := args[0]
	t, err := openExisting(name, true)
	if err != nil {
		return err
	}
	defer t.Close()
	out := m.Stdout
	var file *os.File
	if len(args) == 2 && args[1] != "-" {
		if file, err = os.OpenFile(args[1], os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600); err != nil {
			return fmt.Errorf("dump %s: %v", name, err)
		}
		out = file
	}
	err = writeDump(out, t.Range)
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return opError("dump", name, err)
	}
	return nil
}

// writeDump writes every entry that rangeFn yields.
func writeDump(w io.Writer, rangeFn func(func(k, v []byte) bool) error) error {
	d := newDumpWriter(w)
	err := rangeFn(func(k, v []byte) bool {
		d.record(k, v)
		return true
	})
	if err != nil && !errors.Is(err, kv.ErrCorrupt) {
		return err
	}
	// A damaged table's dump holds, whole, what can be read, and the
	// error says what was skipped.
	if cerr := d.close(); cerr != nil {
		return cerr
	}
	return err
}
