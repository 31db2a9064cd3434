package main

import (
	"fmt"

	"github.com/spf13/pflag"
)

func init() {
	commands["check"] = &command{
		usage: "check NAME",
		summary: "Verify the whole table: header, every entry's checksum and bounds, every key\n" +
			"reachable from its slot, no duplicates, counters equal to the contents. It\n" +
			"reports and repairs nothing. Exits 0 when clean, 1 when it found problems,\n" +
			"2 when it could not check.",
		example: "shmkv check sessions",
		nargs:   exactly(1),
		run:     runCheck,
	}
}

func runCheck(m *Main, _ *pflag.FlagSet, args []string) error {
	name := args[0]
	t, err := openExisting(name, true)
	if err != nil {
		return err
	}
	defer t.Close()
	rep, err := t.Check()
	if err != nil {
		return fmt.Errorf("check %s: could not check: %v", name, err)
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(m.Stdout, p)
	}
	if len(rep.Problems) > 0 {
		return &exitError{code: exitProblems, msg: fmt.Sprintf("check %s: %d problems in %d shards; the table is readable where the index agrees with the log", name, len(rep.Problems), rep.Shards)}
	}
	fmt.Fprintf(m.Stdout, "%s: clean, %d entries in %d shards\n", name, rep.Entries, rep.Shards)
	return nil
}
