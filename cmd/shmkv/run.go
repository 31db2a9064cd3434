package main

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/pflag"
)

// Main is the shmkv command with its standard streams, so that every
// command can be run and tested without a subprocess.
type Main struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// command is one subcommand: its usage line, what it does, an example, and
// the function that runs it.
type command struct {
	usage   string
	summary string
	example string
	run     func(m *Main, fs *pflag.FlagSet, args []string) error
	flags   func(fs *pflag.FlagSet)
	nargs   func(n int) bool
}

var commands = map[string]*command{}

// Exit statuses: 0 done; 1 not found (or, for check, problems found);
// 2 usage errors and every other failure.
const (
	exitOK       = 0
	exitNotFound = 1
	exitProblems = 1 // check found problems
	exitFailure  = 2
)

// exitError carries an exit status and the one line said on stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// notFound is exit status 1 with a note on stderr (or none if msg is "").
func notFound(msg string) error { return &exitError{code: exitNotFound, msg: msg} }

// usageError is exit status 2 with a hint to read the command's help.
func usageError(cmd, format string, args ...any) error {
	hint := "run 'shmkv help'"
	if cmd != "" {
		hint = "run 'shmkv " + cmd + " --help'"
	}
	return &exitError{code: exitFailure, msg: fmt.Sprintf(format, args...) + "; " + hint}
}

// ExitCode is the process exit status for what Run returned.
func ExitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return exitFailure
}

// Run runs the command line args (without the program name). A failure is
// said in one line on Stderr, starting "shmkv:", and returned; ExitCode
// gives its exit status.
func (m *Main) Run(args []string) error {
	err := m.dispatch(args)
	if err != nil {
		msg := err.Error()
		if msg != "" {
			if !strings.HasPrefix(msg, "shmkv: ") {
				msg = "shmkv: " + msg
			}
			fmt.Fprintln(m.Stderr, msg)
		}
	}
	return err
}

func (m *Main) dispatch(args []string) error {
	if len(args) == 0 {
		return usageError("", "no command given")
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help":
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				m.printCommandHelp(args[1], c, newFlagSet(args[1], c))
				return nil
			}
		}
		m.printUsage()
		return nil
	}
	c, ok := commands[name]
	if !ok {
		return usageError("", "unknown command %q", name)
	}
	fs := newFlagSet(name, c)
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			m.printCommandHelp(name, c, fs)
			return nil
		}
		return usageError(name, "%v", err)
	}
	if c.nargs != nil && !c.nargs(fs.NArg()) {
		return usageError(name, "usage: shmkv %s", c.usage)
	}
	return c.run(m, fs, fs.Args())
}

func newFlagSet(name string, c *command) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	if c.flags != nil {
		c.flags(fs)
	}
	return fs
}

func (m *Main) printCommandHelp(name string, c *command, fs *pflag.FlagSet) {
	fmt.Fprintf(m.Stdout, "usage: shmkv %s\n\n%s\n", c.usage, c.summary)
	if fs.HasFlags() {
		fmt.Fprintf(m.Stdout, "\nflags:\n%s", fs.FlagUsages())
	}
	fmt.Fprintf(m.Stdout, "\nexample:\n  %s\n", strings.ReplaceAll(c.example, "\n", "\n  "))
}

func (m *Main) printUsage() {
	w := m.Stdout
	fmt.Fprintln(w, "shmkv reads and writes shared-memory key-value tables.")
	fmt.Fprintln(w, "\nusage: shmkv COMMAND [ARGS]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %s\n      %s\n", commands[n].usage, firstSentence(commands[n].summary))
	}
	fmt.Fprintln(w, "\nNAME is a table name, with or without a leading '/'.")
	fmt.Fprintln(w, "Exit status: 0 done, 1 not found, 2 usage error or failure.")
	fmt.Fprintln(w, "Run 'shmkv COMMAND --help' for a command's flags and an example.")
}

func firstSentence(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

func exactly(n int) func(int) bool      { return func(k int) bool { return k == n } }
func between(lo, hi int) func(int) bool { return func(k int) bool { return k >= lo && k <= hi } }
func atLeast(n int) func(int) bool      { return func(k int) bool { return k >= n } }
