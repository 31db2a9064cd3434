package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/shmkv/shmkv/kv"
	"github.com/spf13/pflag"
)

var lsCmd = &command{
	name:  "ls",
	usage: "ls [--all] [--json]",
	summary: "List the shmkv tables in /dev/shm, with their size and entry count. --all\n" +
		"also lists orphan lock objects: the companion a table keeps its processes'\n" +
		"liveness locks in, left without its table by a creator that was killed or a\n" +
		"table removed by hand (rm /dev/shm/NAME); 'shmkv rm' removes them.",
	example: "shmkv ls --all",
	nargs:   exactly(0),
	setup: func(f *pflag.FlagSet) runFunc {
		asJSON := f.Bool("json", false, "print a JSON array of objects")
		all := f.Bool("all", false, "list orphan lock objects too")
		return func(m *Main, _ []string) error { return runLs(m, *asJSON, *all) }
	},
}

// lsJSON is the stable shape of one table in 'shmkv ls --json'.
type lsJSON struct {
	Name       string `json:"name"`
	TotalBytes uint64 `json:"total_bytes"`
	Entries    uint64 `json:"entries"`
	Error      string `json:"error,omitempty"`
	// OrphanLockObject marks, with --all, a lock object whose table is
	// gone; Name is the lock object's.
	OrphanLockObject bool `json:"orphan_lock_object,omitempty"`
}

func runLs(m *Main, asJSON, all bool) error {
	names, err := kv.List()
	if err != nil {
		return fmt.Errorf("ls: %v", err)
	}
	orphans, err := kv.OrphanLockObjects()
	if err != nil {
		return fmt.Errorf("ls: %v", err)
	}
	rows := make([]lsJSON, 0, len(names))
	for _, name := range names {
		row := lsJSON{Name: name}
		t, err := kv.Open(name, &kv.Options{NoCreate: true, ReadOnly: true, InitTimeout: 10 * time.Millisecond})
		if err != nil {
			row.Error = err.Error()
		} else {
			var st kv.Stats
			t.Stats(&st)
			row.TotalBytes, row.Entries = st.TotalBytes, st.Entries
			t.Close()
		}
		rows = append(rows, row)
	}
	if all {
		for _, o := range orphans {
			rows = append(rows, lsJSON{Name: o, OrphanLockObject: true})
		}
	}
	if asJSON {
		return json.NewEncoder(m.Stdout).Encode(rows)
	}
	for _, r := range rows {
		if r.OrphanLockObject {
			fmt.Fprintf(m.Stdout, "%-32s orphan lock object: its table is gone; 'shmkv rm %s' removes it\n", r.Name, r.Name)
			continue
		}
		if r.Error != "" {
			fmt.Fprintf(m.Stdout, "%-32s %s\n", r.Name, r.Error)
			continue
		}
		fmt.Fprintf(m.Stdout, "%-32s %10s %12d entries\n", r.Name, humanBytes(r.TotalBytes), r.Entries)
	}
	if !all && len(orphans) > 0 {
		fmt.Fprintf(m.Stderr, "shmkv: and %d orphan lock object(s), whose table is gone: 'shmkv ls --all' lists them\n", len(orphans))
	}
	return nil
}
