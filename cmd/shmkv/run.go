package main

import (
	"errors"
	"fmt"
	"io"
	"regexp"
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

// command is one subcommand: its name, usage line, what it does, an
// example, and how it runs.
type command struct {
	name    string
	usage   string
	summary string
	example string
	nargs   func(n int) bool
	// run runs a command that has no flags.
	run runFunc
	// setup defines a command's flags on fs, each bound to a variable of
	// its own, and returns the function that runs the command with them.
	setup func(fs *pflag.FlagSet) runFunc
}

// runFunc runs a command with its arguments (flags parsed and removed).
type runFunc func(m *Main, args []string) error

// commands is every command, in the order help lists them.
var commands = []*command{
	getCmd, setCmd, delCmd, incrCmd, ttlCmd, keysCmd,
	watchCmd, createCmd, statsCmd, checkCmd, lsCmd, dumpCmd, loadCmd, rmCmd,
	versionCmd,
}

// lookup returns the command called name, or nil.
func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// Exit statuses, one rule for every command: 0 done; 1 not found, a
// missing key or table (and, for check, problems found); 2 usage errors and
// every other failure. The README's table lists them per command.
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
		if msg := oneLine(err); msg != "" {
			fmt.Fprintln(m.Stderr, msg)
		}
	}
	return err
}

// oneLine is err's message with one "shmkv:" prefix: the library's errors
// start with their own, which a command's context ("set NAME: ...") would
// otherwise put in the middle of the line.
func oneLine(err error) string {
	msg := err.Error()
	if msg == "" {
		return ""
	}
	msg = strings.ReplaceAll(strings.TrimPrefix(msg, "shmkv: "), ": shmkv: ", ": ")
	return "shmkv: " + msg
}

// negativeNumber is an argument such as -3 or -0.5: a DELTA or VALUE, never
// a flag (no flag has a digit for its shorthand), so that 'shmkv incr t k
// -3' works without "--".
var negativeNumber = regexp.MustCompile(`^-[0-9]+(\.[0-9]+)?$`)

// protectNegatives hides each negative number before the first "--" from
// the flag parser behind a leading NUL, which no argument from a command
// line can hold; revealNegatives takes it off the parsed arguments. A
// number that is the value of the flag before it ('--count -1') is left
// to the parser, which gives it to that flag.
func protectNegatives(fs *pflag.FlagSet, args []string) []string {
	out := make([]string, len(args))
	copy(out, args)
	for i, a := range out {
		if a == "--" {
			break
		}
		if negativeNumber.MatchString(a) && (i == 0 || !takesValue(fs, args[i-1])) {
			out[i] = "\x00" + a
		}
	}
	return out
}

// takesValue reports whether arg is a flag of fs, written without '=',
// whose value is the next argument.
func takesValue(fs *pflag.FlagSet, arg string) bool {
	var f *pflag.Flag
	switch {
	case strings.Contains(arg, "="):
		return false
	case strings.HasPrefix(arg, "--"):
		f = fs.Lookup(arg[2:])
	case len(arg) == 2 && arg[0] == '-':
		f = fs.ShorthandLookup(arg[1:])
	}
	return f != nil && f.NoOptDefVal == ""
}

func revealNegatives(args []string) []string {
	for i, a := range args {
		if strings.HasPrefix(a, "\x00") && negativeNumber.MatchString(a[1:]) {
			args[i] = a[1:]
		}
	}
	return args
}

func (m *Main) dispatch(args []string) error {
	if len(args) == 0 {
		return usageError("", "no command given")
	}
	name := args[0]
	switch name {
	case "--version":
		name, args = "version", append([]string{"version"}, args[1:]...)
	case "help", "-h", "--help":
		switch {
		case len(args) > 2:
			return usageError("", "usage: shmkv help [COMMAND | output]")
		case len(args) == 2 && args[1] == "output":
			fmt.Fprint(m.Stdout, outputHelp)
			return nil
		case len(args) == 2:
			c := lookup(args[1])
			if c == nil {
				return usageError("", "unknown command %q", args[1])
			}
			fs, _ := newFlagSet(c)
			m.printCommandHelp(c, fs)
			return nil
		}
		m.printUsage()
		return nil
	}
	c := lookup(name)
	if c == nil {
		return usageError("", "unknown command %q", name)
	}
	fs, run := newFlagSet(c)
	if err := fs.Parse(protectNegatives(fs, args[1:])); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			m.printCommandHelp(c, fs)
			return nil
		}
		return usageError(name, "%v", err)
	}
	if c.nargs != nil && !c.nargs(fs.NArg()) {
		return usageError(name, "usage: shmkv %s", c.usage)
	}
	return run(m, revealNegatives(fs.Args()))
}

// newFlagSet makes c's flag set and returns it with the function that runs
// c once it has parsed the command line.
func newFlagSet(c *command) (*pflag.FlagSet, runFunc) {
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	if c.setup != nil {
		return fs, c.setup(fs)
	}
	return fs, c.run
}

func (m *Main) printCommandHelp(c *command, fs *pflag.FlagSet) {
	fmt.Fprintf(m.Stdout, "usage: shmkv %s\n\n%s\n", c.usage, c.summary)
	if fs.HasFlags() {
		fmt.Fprintf(m.Stdout, "\nflags:\n%s", flagUsages(fs))
	}
	fmt.Fprintf(m.Stdout, "\nexample:\n  %s\n", strings.ReplaceAll(c.example, "\n", "\n  "))
}

// flagUsages lists fs's flags as pflag does, one a line, but shows a
// boolean flag as "--json", not "--json[=true|false]", and names each
// flag's argument by its placeholder (SIZE, N, DURATION, as the usage lines
// do): the word in backquotes in its usage, else its type's.
func flagUsages(fs *pflag.FlagSet) string {
	type row struct{ left, usage string }
	var rows []row
	width := 0
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		left := "  --" + f.Name
		if f.Shorthand != "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		name, usage := pflag.UnquoteUsage(f)
		if f.Value.Type() != "bool" && name != "" {
			left += " " + strings.ToUpper(name)
		}
		switch f.DefValue {
		case "", "0", "0s", "false":
		default:
			usage += " (default " + f.DefValue + ")"
		}
		rows = append(rows, row{left, usage})
		width = max(width, len(left))
	})
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s   %s\n", width, r.left, r.usage)
	}
	return b.String()
}

func (m *Main) printUsage() {
	w := m.Stdout
	fmt.Fprintln(w, "shmkv reads and writes shared-memory key-value tables.")
	fmt.Fprintln(w, "\nusage: shmkv COMMAND [ARGS]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %s\n      %s\n", c.usage, firstSentence(c.summary))
	}
	fmt.Fprintln(w, "\nNAME is a table name, with or without a leading '/'. SIZE is a byte count")
	fmt.Fprintln(w, "such as 4096, 64MiB or 1.5G: K, M, G, T (and KiB, MiB, ...) are powers of")
	fmt.Fprintln(w, "1024, KB, MB, GB, TB powers of 1000 (4GB is 4000000000 bytes).")
	fmt.Fprintln(w, "Exit status: 0 done; 1 not found: a missing key or table, for every command")
	fmt.Fprintln(w, "(and for check, problems found); 2 usage error or failure.")
	fmt.Fprintln(w, "Run 'shmkv COMMAND --help' for a command's flags and an example, and")
	fmt.Fprintln(w, "'shmkv help output' for how keys, values and names print (--json, binary).")
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
