package main

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/shmkv/shmkv/kv"
)

var dumpCmd = &command{
	name:  "dump",
	usage: "dump NAME [FILE]",
	summary: "Write every entry of the table to FILE, or to standard output, in shmkv's\n" +
		"binary-safe dump format (see dumpfile.go). 'shmkv load' reads it back.\n" +
		"FILE is written whole or not at all: the dump goes to a temporary file\n" +
		"beside it, synced, then renamed over it, so a dump that fails leaves an\n" +
		"older FILE as it was. A terminal is refused as standard output, as gzip\n" +
		"does: redirect it or give a FILE.",
	example: "shmkv dump sessions sessions.dump\nshmkv dump sessions | ssh backup 'cat > sessions.dump'",
	nargs:   between(1, 2),
	run:     runDump,
}

// dumpFileWriter wraps the temporary file a dump is written to; tests
// inject write errors through it.
var dumpFileWriter = func(f *os.File) io.Writer { return f }

func runDump(m *Main, args []string) error {
	name := args[0]
	toFile := len(args) == 2 && args[1] != "-"
	if !toFile && isTerminal(m.Stdout) {
		return usageError("dump", "refusing to write binary to a terminal; redirect it or give a FILE")
	}
	t, err := openExisting(name, true)
	if err != nil {
		return err
	}
	defer t.Close()
	if toFile {
		err = dumpToFile(args[1], t.Range)
	} else {
		err = writeDump(m.Stdout, t.Range)
	}
	if err != nil {
		return opError("dump", name, err)
	}
	return nil
}

// dumpToFile writes the dump to a temporary file in path's directory (the
// same filesystem, so that the rename is atomic), syncs it and renames it
// over path: a dump that fails at any point leaves path as it was, and
// removes its temporary file. A damaged table's dump (ErrCorrupt) is still
// put in place: it holds, whole, all that could be read, and the error
// says what was not. path that exists and is not a regular file (a
// device, a pipe) is written in place, never replaced. A symbolic link is
// followed, so that the file it names gets the dump.
func dumpToFile(path string, rangeFn func(func(k, v []byte) bool) error) error {
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			f, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			err = writeDump(f, rangeFn)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		}
		mode = fi.Mode().Perm()
		if real, err := filepath.EvalSymlinks(path); err == nil {
			path = real
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close() // a second Close only returns an error
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	werr := writeDump(dumpFileWriter(tmp), rangeFn)
	if werr != nil && !errors.Is(werr, kv.ErrCorrupt) {
		return werr
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err // the deferred func removes the closed temporary file
	}
	done = true
	// The rename is durable once the directory is synced; a failure to
	// sync it is no failure of the dump, which is in place.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return werr
}

// writeDump writes every entry that rangeFn yields.
func writeDump(w io.Writer, rangeFn func(func(k, v []byte) bool) error) error {
	d := newDumpWriter(w)
	err := rangeFn(func(k, v []byte) bool {
		d.record(k, v)
		return d.err() == nil // stop at the first write error
	})
	if werr := d.err(); werr != nil {
		return werr
	}
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
