package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/shmkv/shmkv/kv"
	"github.com/spf13/pflag"
)

var lsCmd = &command{
	name:  "ls",
	usage: "ls [--all] [--json]",
	summary: "List the shmkv tables in /dev/shm, with their size and entry count, under a\n" +
		"header, in aligned columns; a name that is not printable text is printed\n" +
		"Go-quoted ('shmkv help output'). --all\n" +
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

// lsJSON is the stable shape of one table in 'shmkv ls --json'. Name is
// the name; JSON output moves one that is not UTF-8 to NameBase64
// (forJSON), by the rule of 'shmkv help output'.
type lsJSON struct {
	Name       string `json:"name,omitempty"`
	NameBase64 string `json:"name_base64,omitempty"`
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
		for i := range rows {
			rows[i] = rows[i].forJSON()
		}
		return json.NewEncoder(m.Stdout).Encode(rows)
	}
	if err := writeLs(m.Stdout, rows); err != nil {
		return err
	}
	if !all && len(orphans) > 0 {
		fmt.Fprintf(m.Stderr, "shmkv: and %d orphan lock object(s), whose table is gone: 'shmkv ls --all' lists them\n", len(orphans))
	}
	return nil
}

// forJSON is r with a name that is not UTF-8 in NameBase64.
func (r lsJSON) forJSON() lsJSON {
	n := newNameJSON(r.Name)
	r.Name, r.NameBase64 = n.Name, n.NameBase64
	return r
}

// writeLs writes rows under a header, in columns aligned as text/tabwriter
// aligns them (two spaces between), without trailing blanks; each name
// and note by printable, so that none breaks its line or the columns.
func writeLs(out io.Writer, rows []lsJSON) error {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tENTRIES\tNOTE")
	for _, r := range rows {
		name := printable(r.Name)
		switch {
		case r.OrphanLockObject:
			fmt.Fprintf(tw, "%s\t-\t-\torphan lock object: its table is gone; %s removes it\n", name, advise("rm", []string{r.Name}))
		case r.Error != "":
			fmt.Fprintf(tw, "%s\t-\t-\t%s\n", name, printable(r.Error))
		default:
			fmt.Fprintf(tw, "%s\t%s\t%d\t\n", name, humanBytes(r.TotalBytes), r.Entries)
		}
	}
	tw.Flush()
	w := bufio.NewWriter(out)
	for line := range bytes.Lines(b.Bytes()) {
		w.Write(bytes.TrimRight(line, " \n"))
		w.WriteByte('\n')
	}
	return w.Flush()
}
