package main

import (
	"fmt"

	"github.com/shmkv/shmkv/kv"
	"github.com/spf13/pflag"
)

var checkCmd = &command{
	name:  "check",
	usage: "check NAME [--repair] [--json]",
	summary: "Verify the whole table: header, every entry's checksum and bounds, every key\n" +
		"reachable from its slot, no duplicates, counters equal to the contents.\n" +
		"Without --repair it changes nothing. With --repair it drops every damaged\n" +
		"entry (saying which), keeps every entry whose checksum holds, rebuilds the\n" +
		"indexes, then checks again. Exits 0 when clean (after a repair: when the\n" +
		"table is whole again), 1 when problems remain or the table does not exist,\n" +
		"2 when it could not check. With --json, print what it found as one JSON\n" +
		"object: {\"name\", \"clean\", \"shards\", \"entries\", \"problems\": [{\"shard\",\n" +
		"\"offset\", \"what\"}], and with --repair \"repair\": {\"dropped\", \"entries\",\n" +
		"\"problems\"}}; shard -1 is the header, offset -1 no entry in particular.",
	example: "shmkv check sessions\nshmkv check sessions --repair\nshmkv check sessions --json | jq .clean",
	nargs:   exactly(1),
	setup: func(f *pflag.FlagSet) runFunc {
		repair := f.Bool("repair", false, "drop damaged entries and rebuild what depends on them")
		asJSON := f.Bool("json", false, "print a JSON object")
		return func(m *Main, args []string) error { return runCheck(m, args[0], *repair, *asJSON) }
	},
}

// checkJSON is the stable shape of 'shmkv check --json': the Report of
// the check (after the repair, with --repair).
type checkJSON struct {
	nameJSON
	Clean    bool          `json:"clean"`
	Shards   int           `json:"shards"`
	Entries  int           `json:"entries"`
	Problems []problemJSON `json:"problems"`
	// Repair is what --repair did, before the check whose figures are
	// above.
	Repair *repairJSON `json:"repair,omitempty"`
}

// repairJSON is what 'shmkv check --repair --json' says the repair did.
type repairJSON struct {
	Dropped  int           `json:"dropped"`
	Entries  int           `json:"entries"`
	Problems []problemJSON `json:"problems"`
}

// problemJSON is a kv.Problem: shard -1 is the header, offset -1 no entry.
type problemJSON struct {
	Shard  int    `json:"shard"`
	Offset int64  `json:"offset"`
	What   string `json:"what"`
}

func problemsJSON(ps []kv.Problem) []problemJSON {
	out := make([]problemJSON, len(ps))
	for i, p := range ps {
		out[i] = problemJSON{p.Shard, p.Offset, p.What}
	}
	return out
}

func runCheck(m *Main, name string, repair, asJSON bool) error {
	t, err := openExisting(name, !repair)
	if err != nil {
		return err
	}
	defer t.Close()
	var repaired *repairJSON
	if repair {
		rep, err := t.Repair()
		if err != nil {
			return fmt.Errorf("check %s: repair failed: %v", name, err)
		}
		if asJSON {
			repaired = &repairJSON{Dropped: rep.Dropped, Entries: rep.Entries, Problems: problemsJSON(rep.Problems)}
		} else {
			for _, p := range rep.Problems {
				fmt.Fprintln(m.Stdout, p)
			}
			fmt.Fprintf(m.Stdout, "%s: repaired: %d dropped, %d entries kept\n", printable(name), rep.Dropped, rep.Entries)
		}
	}
	return report(m, name, t, asJSON, repaired)
}

// report runs Check and prints what it found: as text, or with what the
// repair did (if it ran) as JSON.
func report(m *Main, name string, t *kv.Table, asJSON bool, repaired *repairJSON) error {
	rep, err := t.Check()
	if err != nil {
		return fmt.Errorf("check %s: could not check: %v", name, err)
	}
	if asJSON {
		err := writeJSON(m.Stdout, checkJSON{
			nameJSON: newNameJSON(name), Clean: len(rep.Problems) == 0, Shards: rep.Shards, Entries: rep.Entries,
			Problems: problemsJSON(rep.Problems), Repair: repaired,
		})
		if err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintln(m.Stdout, p)
		}
	}
	if len(rep.Problems) > 0 {
		hint := "; 'shmkv check " + name + " --repair' drops what is damaged"
		return &exitError{code: exitProblems, msg: fmt.Sprintf("check %s: %d problems in %d shards%s", name, len(rep.Problems), rep.Shards, hint)}
	}
	if !asJSON {
		fmt.Fprintf(m.Stdout, "%s: clean, %d entries in %d shards\n", printable(name), rep.Entries, rep.Shards)
	}
	return nil
}
