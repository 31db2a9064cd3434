package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/shmkv/shmkv/kv"
	"github.com/spf13/pflag"
)

var lsCmd = &command{
	name:    "ls",
	usage:   "ls [--json]",
	summary: "List the shmkv tables in /dev/shm, with their size and entry count.",
	example: "shmkv ls",
	nargs:   exactly(0),
	setup: func(f *pflag.FlagSet) runFunc {
		asJSON := f.Bool("json", false, "print a JSON array of objects")
		return func(m *Main, _ []string) error { return runLs(m, *asJSON) }
	},
}

// lsJSON is the stable shape of one table in 'shmkv ls --json'.
type lsJSON struct {
	Name       string `json:"name"`
	TotalBytes uint64 `json:"total_bytes"`
	Entries    uint64 `json:"entries"`
	Error      string `json:"error,omitempty"`
}

func runLs(m *Main, asJSON bool) error {
	names, err := kv.List()
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
	if asJSON {
		return json.NewEncoder(m.Stdout).Encode(rows)
	}
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(m.Stdout, "%-32s %s\n", r.Name, r.Error)
			continue
		}
		fmt.Fprintf(m.Stdout, "%-32s %10s %12d entries\n", r.Name, humanBytes(r.TotalBytes), r.Entries)
	}
	return nil
}
