package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/shm"
	"github.com/spf13/pflag"
)

var loadCmd = &command{
	name:  "load",
	usage: "load NAME [FILE] [--max-memory SIZE] [--progress]",
	summary: "Store every entry of a dump made by 'shmkv dump', read from FILE or standard\n" +
		"input. The whole dump is read and checked first: a truncated or damaged\n" +
		"file changes nothing. A table that does not exist is created sized for\n" +
		"the dump (its entries, their bytes, its longest key and value), with kv's\n" +
		"default ceiling or --max-memory; if the dump does not fit, the new table\n" +
		"is removed again, so that NAME is never left half loaded. (A table that\n" +
		"exists keeps what was stored before a failure.) Progress, with rate and\n" +
		"time left, is shown while reading and loading when standard error is a\n" +
		"terminal, or with --progress.",
	example: "shmkv load sessions sessions.dump\nshmkv dump sessions | shmkv load sessions-copy --max-memory 2GiB",
	nargs:   between(1, 2),
	setup: func(f *pflag.FlagSet) runFunc {
		var o loadFlags
		f.Var(&o.maxMemory, "max-memory", "a new table's ceiling (default: a quarter of /dev/shm)")
		f.BoolVar(&o.progress, "progress", false, "show progress on standard error even if it is not a terminal")
		return func(m *Main, args []string) error { return runLoad(m, args, &o) }
	},
}

type loadFlags struct {
	maxMemory sizeFlag
	progress  bool
}

// loadPresize lets a test create the new table without the dump's sizes,
// so that it fills while loading, as a table whose keys hash unevenly
// beyond kv's allowance can.
var loadPresize = true

// loadStep is called every 256 entries stored; tests interrupt a load
// through it.
var loadStep = func(i int) {}

func runLoad(m *Main, args []string, f *loadFlags) error {
	name := args[0]
	in, label, size := m.Stdin, "standard input", int64(-1)
	file := ""
	if len(args) == 2 && args[1] != "-" {
		file = args[1]
		fh, err := os.Open(file)
		if err != nil {
			return fmt.Errorf("load %s: %v", name, err)
		}
		defer fh.Close()
		if fi, err := fh.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
		in, label = fh, file
	}
	p := newProgress(m.Stderr, f.progress)
	recs, err := readDump(&countingReader{r: in, tick: func(n int64) { p.update("reading "+label, n, size, bytesText) }})
	if err != nil {
		p.clear()
		return fmt.Errorf("load %s: %v; nothing was loaded", name, err)
	}
	// An interrupt from here on stops the load, and removes a table it
	// made, as a failure does: registered before the table can exist, so
	// that no signal finds it half loaded. (One while reading ends the
	// process as it always did: nothing is made yet.)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	t, made, err := openLoadTarget(name, recs, f, file)
	if err != nil {
		p.clear()
		return err
	}
	p.restart()
	n := int64(len(recs))
	for i, r := range recs {
		err := t.Set(r.key, r.value)
		if err == nil && i%256 == 0 {
			p.update("loading entries into "+name, int64(i), n, countText)
			loadStep(i)
			if ctx.Err() != nil {
				err = errInterrupted
			}
		}
		if err != nil {
			p.clear()
			return loadFailed(name, t, made, file, recs, i, err)
		}
	}
	t.Close()
	p.finish(fmt.Sprintf("loaded %d entries into %s", n, name), n, countText)
	return nil
}

// errInterrupted is a load stopped by a signal.
var errInterrupted = errors.New("interrupted")

// newTable is what load knows of a table it created: the object it made,
// so that it removes that object and no other.
type newTable struct {
	path string
	made os.FileInfo // the object as load made it, nil if it could not stat it
}

// openLoadTarget opens the table name, or creates it sized for recs; made
// is not nil if it created it.
func openLoadTarget(name string, recs []dumpRecord, f *loadFlags, file string) (*kv.Table, *newTable, error) {
	var o kv.Options
	var data int64
	longestKey, longestValue := 0, 0
	for _, r := range recs {
		data += int64(len(r.key) + len(r.value))
		longestKey, longestValue = max(longestKey, len(r.key)), max(longestValue, len(r.value))
	}
	o.MaxMemory = int64(f.maxMemory)
	if loadPresize {
		o.Keys, o.Memory = len(recs), data
		// Keys and values the default limits (1 KiB, 1 MiB) refuse get
		// limits that take them, a power of two.
		if longestKey > 1<<10 {
			o.MaxKeySize = int(min(ceilPow2(longestKey), kv.MaxKeyLimit))
		}
		if longestValue > 1<<20 {
			o.MaxValueSize = int(min(ceilPow2(longestValue), kv.MaxValueLimit))
		}
	}
	for range 4 {
		// An existing table is loaded as it is (--max-memory, if given,
		// must be its ceiling).
		t, err := kv.Open(name, &kv.Options{NoCreate: true, MaxMemory: o.MaxMemory})
		if !errors.Is(err, fs.ErrNotExist) {
			if errors.Is(err, kv.ErrInvalidOptions) {
				if msg, ok := optionError(err); ok {
					return nil, nil, usageError("load", "%s", msg)
				}
			}
			return t, nil, describe(name, err)
		}
		o.Exclusive = true
		t, err = kv.Open(name, &o)
		o.Exclusive = false
		switch {
		case errors.Is(err, fs.ErrExist):
			continue // made by another process meanwhile: load into it
		case errors.Is(err, kv.ErrInvalidOptions) && o.Memory > 0:
			return nil, nil, fmt.Errorf("load %s: the dump's %d entries (%s of keys and values) need more than a new table's ceiling allows; nothing was loaded; give it a higher one: %s",
				name, len(recs), humanBytes(uint64(data)), loadAdvice(name, file, suggestCeiling(len(recs), data, 0)))
		case errors.Is(err, kv.ErrInvalidOptions):
			if msg, ok := optionError(err); ok {
				return nil, nil, usageError("load", "%s", msg)
			}
			return nil, nil, fmt.Errorf("load %s: %v", name, err)
		case err != nil:
			return nil, nil, describe(name, err)
		}
		made := &newTable{path: filepath.Join(shm.Dir, cleanName(name))}
		made.made, _ = os.Stat(made.path)
		return t, made, nil
	}
	return nil, nil, fmt.Errorf("load %s: the table was made and removed by others while load tried to open it", name)
}

// loadFailed closes t after entry i of recs failed with err and says so.
// A table load made is removed: a name either holds a whole load or what
// it held before. A concurrent user of the new table sees it vanish, as
// when any table it has open is removed; its handle keeps working on the
// unlinked object. It is removed only if its name still holds the object
// load made (the inode is the same), so a table made under the name since
// someone else removed this one is not touched (a remove between that
// check and the unlink, a window of one system call, is not guarded).
func loadFailed(name string, t *kv.Table, made *newTable, file string, recs []dumpRecord, i int, err error) error {
	var st kv.Stats
	t.Stats(&st)
	t.Close()
	if made == nil {
		return opError("load", name, fmt.Errorf("after %d of %d entries, which the table keeps: %w", i, len(recs), err))
	}
	if fi, serr := os.Stat(made.path); serr == nil && os.SameFile(fi, made.made) {
		if rerr := kv.Remove(name); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			return fmt.Errorf("load %s: after %d of %d entries: %v; removing the half-loaded new table failed: %v", name, i, len(recs), err, rerr)
		}
	}
	undone := fmt.Sprintf("load %s: after %d of %d entries: %v; nothing was loaded (the new table is removed)", name, i, len(recs), err)
	switch {
	case errors.Is(err, errInterrupted):
		return errors.New(undone)
	case errors.Is(err, kv.ErrFull) && !isShmFull(err):
		var stored int64
		for _, r := range recs[:i] {
			stored += int64(len(r.key) + len(r.value))
		}
		var data int64
		for _, r := range recs {
			data += int64(len(r.key) + len(r.value))
		}
		// Scale the ceiling that held i entries to all of them.
		ceiling := float64(st.MaxBytes) * 1.5 * max(float64(len(recs))/float64(max(i, 1)), float64(data)/float64(max(stored, 1)))
		return fmt.Errorf("%s; give it a higher ceiling: %s", undone, loadAdvice(name, file, max(suggestCeiling(len(recs), data, 0), int64(min(ceiling, math.MaxInt64/4)))))
	case errors.Is(err, kv.ErrFull):
		return fmt.Errorf("%s; %s", undone, fullAdvice(name, err))
	}
	return errors.New(undone)
}

// isShmFull: the ErrFull of a full /dev/shm, which no ceiling changes.
func isShmFull(err error) bool {
	return errors.Is(err, kv.ErrFull) && strings.Contains(err.Error(), "/dev/shm is full")
}

// suggestCeiling is a ceiling, at least least, that holds n entries of data
// bytes with room to spare.
func suggestCeiling(n int, data, least int64) int64 {
	return max(least, 2*(data+int64(n)*64), 1<<20)
}

// loadAdvice is the load that creates name with the ceiling given, from
// file (or, if the dump came on standard input, the same load run again).
func loadAdvice(name, file string, ceiling int64) string {
	size := flagSize(ceiling, 1)
	if file == "" {
		return "run the load again with --max-memory " + size
	}
	return advise("load", []string{name, file}, "--max-memory", size)
}

// cleanName is name without its leading '/'.
func cleanName(name string) string {
	if base, err := shm.CleanName(name); err == nil {
		return base
	}
	return name
}

func ceilPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// countingReader counts what is read through it, and tells tick.
type countingReader struct {
	r    io.Reader
	n    int64
	tick func(n int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.tick(c.n)
	return n, err
}

// progressClock is the clock progress reads; tests step it.
var progressClock = time.Now

// progress says how far a long task is, on w: on a terminal, one line
// rewritten in place at most five times a second; elsewhere, if asked
// for, a line at most each second, so that a log is not flooded. Nothing
// is said until a task has run for that long, so quick ones say nothing.
type progress struct {
	w          io.Writer
	on, term   bool
	every      time.Duration
	start      time.Time
	last       time.Time
	said, open bool // a line was said; a terminal line is open
}

func newProgress(w io.Writer, asked bool) *progress {
	term := isTerminal(w)
	p := &progress{w: w, on: asked || term, term: term, every: time.Second}
	if term {
		p.every = 200 * time.Millisecond
	}
	p.restart()
	return p
}

// restart times a new task.
func (p *progress) restart() {
	p.start = progressClock()
	p.last = p.start
}

// update says that done of total (-1 if unknown) are done, in the units
// text writes, if it is time to.
func (p *progress) update(what string, done, total int64, text func(int64) string) {
	if !p.on {
		return
	}
	now := progressClock()
	if now.Sub(p.last) < p.every {
		return
	}
	p.last = now
	elapsed := now.Sub(p.start).Seconds()
	rate := float64(done) / max(elapsed, 1e-9)
	line := what + ": " + text(done)
	if total >= 0 {
		line += " of " + text(total)
	}
	line += ", " + text(int64(rate)) + "/s"
	if total >= 0 && rate > 0 {
		left := time.Duration(float64(total-done) / rate * float64(time.Second))
		line += ", about " + left.Round(time.Second).String() + " left"
	}
	p.say(line)
}

func (p *progress) say(line string) {
	p.said = true
	if p.term {
		fmt.Fprintf(p.w, "\r%s\x1b[K", line)
		p.open = true
		return
	}
	fmt.Fprintln(p.w, "shmkv: "+line)
}

// finish says the task is done, with its rate, if anything was said, or
// progress was asked for.
func (p *progress) finish(line string, n int64, text func(int64) string) {
	if !p.on || !p.said && p.term {
		return
	}
	elapsed := progressClock().Sub(p.start)
	line += fmt.Sprintf(" in %v (%s/s)", elapsed.Round(time.Millisecond), text(int64(float64(n)/max(elapsed.Seconds(), 1e-9))))
	p.say(line)
	if p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
}

// clear takes an open terminal line away, before an error is said.
func (p *progress) clear() {
	if p.open {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.open = false
	}
}

func countText(n int64) string { return strconv.FormatInt(n, 10) }
func bytesText(n int64) string { return humanBytes(uint64(max(n, 0))) }
