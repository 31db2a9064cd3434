package main

import (
	"fmt"

	"github.com/shmkv/shmkv/kv"
	"github.com/spf13/pflag"
)

var checkCmd = &command{
	name:  "check",
	usage: "check NAME [--repair]",
	summary: "Verify the whole table: header, every entry's checksum and bounds, every key\n" +
		"reachable from its slot, no duplicates, counters equal to the contents.\n" +
		"Without --repair it changes nothing. With --repair it drops every damaged\n" +
		"entry (saying which), keeps every entry whose checksum holds, rebuilds the\n" +
		"indexes, then checks again. Exits 0 when clean (after a repair: when the\n" +
		"table is whole again), 1 when problems remain or the table does not exist,\n" +
		"2 when it could not check.",
	example: "shmkv check sessions\nshmkv check sessions --repair",
	nargs:   exactly(1),
	setup: func(f *pflag.FlagSet) runFunc {
		repair := f.Bool("repair", false, "drop damaged entries and rebuild what depends on them")
		return func(m *Main, args []string) error { return runCheck(m, args[0], *repair) }
	},
}

func runCheck(m *Main, name string, repair bool) error {
	t, err := openExisting(name, !repair)
	if err != nil {
		return err
	}
	defer t.Close()
	if repair {
		rep, err := t.Repair()
		if err != nil {
			return fmt.Errorf("check %s: repair failed: %v", name, err)
		}
		for _, p := range rep.Problems {
			fmt.Fprintln(m.Stdout, p)
		}
		fmt.Fprintf(m.Stdout, "%s: repaired: %d dropped, %d entries kept\n", name, rep.Dropped, rep.Entries)
	}
	return report(m, name, t)
}

// report runs Check and prints what it found.
func report(m *Main, name string, t *kv.Table) error {
	rep, err := t.Check()
	if err != nil {
		return fmt.Errorf("check %s: could not check: %v", name, err)
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(m.Stdout, p)
	}
	if len(rep.Problems) > 0 {
		hint := "; 'shmkv check " + name + " --repair' drops what is damaged"
		return &exitError{code: exitProblems, msg: fmt.Sprintf("check %s: %d problems in %d shards%s", name, len(rep.Problems), rep.Shards, hint)}
	}
	fmt.Fprintf(m.Stdout, "%s: clean, %d entries in %d shards\n", name, rep.Entries, rep.Shards)
	return nil
}
