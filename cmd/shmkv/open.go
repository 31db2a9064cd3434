package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/shm"
)

// openOrCreate opens the table name, creating it with kv's defaults if it
// does not exist.
func openOrCreate(name string) (*kv.Table, error) {
	t, err := kv.Open(name, nil)
	return t, describe(name, err)
}

// openExisting opens the table name, which must exist.
func openExisting(name string, readOnly bool) (*kv.Table, error) {
	t, err := kv.Open(name, &kv.Options{NoCreate: true, ReadOnly: readOnly})
	return t, describe(name, err)
}

// openForRead opens an existing table read-write, so that a shard whose
// writer died can be recovered, or read-only where the caller may only
// read it or every registry slot is taken.
func openForRead(name string) (*kv.Table, error) {
	t, err := kv.Open(name, &kv.Options{NoCreate: true})
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, kv.ErrTooManyProcesses) {
		t, err = kv.Open(name, &kv.Options{NoCreate: true, ReadOnly: true})
	}
	return t, describe(name, err)
}

// describe turns an open error into one line that says what to do. A
// missing table is not found, exit status 1, for every command: the one
// rule, so that a script tells "no such table" from a failure alike
// whichever command it ran. Every command it advises works as written in
// the case it is advised for (open_test.go runs them).
func describe(name string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, shm.ErrInvalidName) && kv.IsLockObject(name):
		return fmt.Errorf("%q has the form of a lock object's name (.shmkv-lock- and hex digits), which no table may have; choose another name", name)
	case errors.Is(err, shm.ErrInvalidName):
		return fmt.Errorf("%q is not a table name: 1 to 255 bytes, no '/' after an optional first one, no NUL", name)
	case errors.Is(err, fs.ErrNotExist):
		return notFound(fmt.Sprintf("table %s does not exist; create it with %s", name, advise("create", []string{name})))
	case errors.Is(err, kv.ErrCorrupt), errors.Is(err, kv.ErrNotInitialized):
		return fmt.Errorf("%v; if %s is not needed, remove it with %s", err, name, rmAdvice(name))
	case errors.Is(err, kv.ErrVersion):
		return fmt.Errorf("%v; copy it with the shmkv release that made it (%s), remove it (%s), and %s with this one", err,
			advise("dump", []string{name, "FILE"}), rmAdvice(name), advise("load", []string{name, "FILE"}))
	case errors.Is(err, kv.ErrUnsafeObject):
		return fmt.Errorf("%v; check who made %s", err, name)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%v; run as the table's owner", err)
	}
	return err
}

// rmAdvice is the rm command that removes the object name as it is now:
// one that is not a shmkv table needs --force.
func rmAdvice(name string) string {
	if ok, err := kv.IsTable(name); ok && err == nil {
		return advise("rm", []string{name})
	}
	return advise("rm", []string{name}, "--force")
}

// advise writes a shmkv command line to be run as it stands, between
// single quotes: cmd, then flags as they are, then each of args, a name or
// a file, quoted for a POSIX shell if it needs to be, after "--" if one
// starts with '-' (so that it is not read as a flag).
func advise(cmd string, args []string, flags ...string) string {
	line := append([]string{"shmkv", cmd}, flags...)
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			line = append(line, "--")
			break
		}
	}
	for _, a := range args {
		line = append(line, shellWord(a))
	}
	return "'" + strings.Join(line, " ") + "'"
}

// shellWord is w as one word of a POSIX shell command: as it is if that
// is safe, else in double quotes with \, ", $ and ` escaped (double, so
// that the single quotes around an advised command still delimit it).
func shellWord(w string) string {
	safe := w != ""
	for _, r := range w {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,:@%+=/", r)) {
			safe = false
			break
		}
	}
	if safe {
		return w
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range w {
		if strings.ContainsRune("\\\"$`", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// opError says which operation failed on which table.
func opError(op, name string, err error) error {
	switch {
	case errors.Is(err, kv.ErrFull):
		return fmt.Errorf("%s %s: %v; %s", op, name, err, fullAdvice(name, err))
	case errors.Is(err, kv.ErrKeyTooLarge), errors.Is(err, kv.ErrValueTooLarge):
		return fmt.Errorf("%s %s: %v; see the limits with %s", op, name, err, advise("stats", []string{name}))
	}
	return fmt.Errorf("%s %s: %w", op, name, err)
}

// fullAdvice says what makes room in the full table name: on a full
// /dev/shm, memory freed there; else a copy in a new table with twice the
// ceiling, by a pipeline that works as written.
func fullAdvice(name string, err error) string {
	if strings.Contains(err.Error(), "/dev/shm is full") {
		return "free memory in /dev/shm ('df -h /dev/shm'; 'shmkv ls' lists the tables and the memory each takes)"
	}
	t, oerr := openExisting(name, true)
	if oerr != nil {
		return "delete keys, or copy it into a table with a higher ceiling"
	}
	var st kv.Stats
	t.Stats(&st)
	t.Close()
	load := advise("load", []string{name + "-2"}, "--max-memory", flagSize(2*int64(st.MaxBytes), 1))
	pipe := strings.TrimSuffix(advise("dump", []string{name}), "'") + " | " + strings.TrimPrefix(load, "'")
	return "delete keys, or copy it into a table with twice the ceiling: " + pipe
}

// optionFlags are the flags that set kv's Options fields.
var optionFlags = map[string]string{
	"MaxMemory": "--max-memory", "Keys": "--keys", "Memory": "--memory",
	"MaxKeySize": "--max-key", "MaxValueSize": "--max-value",
	"Eviction": "--eviction", "Mode": "--mode",
}

// optionNames turns the Options fields a kv.OptionError's Reason names
// into the flags that set them.
var optionNames = func() *strings.Replacer {
	var pairs []string
	for field, flag := range optionFlags {
		pairs = append(pairs, "Options."+field, flag)
	}
	return strings.NewReplacer(pairs...)
}()

// optionError says an invalid option as the command line gave it: the
// flag's name, and sizes as SIZE flags take them. ok is false for an
// error that names no flag.
func optionError(err error) (msg string, ok bool) {
	var oe *kv.OptionError
	if !errors.As(err, &oe) {
		return "", false
	}
	flag, ok := optionFlags[oe.Option]
	if !ok {
		return "", false
	}
	if !oe.Existing && !oe.InRange {
		return optionNames.Replace(oe.Reason), true
	}
	val := func(n int64, dir int) string {
		switch {
		case oe.IsSize():
			return flagSize(n, dir)
		case oe.Option == "Eviction":
			return kv.Policy(n).String()
		case oe.Option == "Mode":
			return fmt.Sprintf("%04o", n)
		}
		return strconv.FormatInt(n, 10)
	}
	switch {
	case oe.Existing:
		have := val(oe.Table, 0)
		if oe.IsSize() && oe.Table >= 1024 && have == strconv.FormatInt(oe.Table, 10) {
			have += " (" + humanBytes(uint64(oe.Table)) + ")" // no unit holds it whole
		}
		return fmt.Sprintf("%s %s, the table has %s", flag, val(oe.Value, 0), have), true
	case oe.MaxOption != "" && oe.Value > oe.Max:
		return fmt.Sprintf("%s %s is more than %s %s", flag, val(oe.Value, 0), optionFlags[oe.MaxOption], val(oe.Max, 0)), true
	}
	lo := oe.Min
	if oe.IsSize() {
		lo = max(lo, 1) // a SIZE flag of 0 is one not given
	}
	return fmt.Sprintf("%s %s is out of range (%s to %s)", flag, val(oe.Value, 0), val(lo, 1), val(oe.Max, -1)), true
}
