package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/metrics"
	"github.com/shmkv/shmkv/shm"
)

func TestLs(t *testing.T) {
	a, b := tableName(t), tableName(t)
	mustRun(t, 0, nil, "set", a, "k", "v")
	mustRun(t, 0, nil, "set", b, "k1", "v")
	mustRun(t, 0, nil, "set", b, "k2", "v")
	r := mustRun(t, 0, nil, "ls")
	for _, line := range strings.Split(r.stdout, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == b && (len(f) != 4 || f[3] != "2") {
			t.Errorf("ls line for %s: %q", b, line)
		}
	}
	if !strings.Contains(r.stdout, a) || !strings.Contains(r.stdout, b) {
		t.Fatalf("ls does not list both tables:\n%s", r.stdout)
	}
	var rows []lsJSON
	r = mustRun(t, 0, nil, "ls", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, row := range rows {
		if row.Name == a && row.Entries == 1 || row.Name == b && row.Entries == 2 {
			found++
			if row.TotalBytes == 0 {
				t.Errorf("%s: no size", row.Name)
			}
		}
	}
	if found != 2 {
		t.Errorf("ls --json: %+v", rows)
	}
}

// orphanOf makes a table name, removes it by hand as an operator might
// (rm /dev/shm/NAME), and returns the name of the lock object it leaves.
func orphanOf(t *testing.T, name string) string {
	t.Helper()
	mustRun(t, 0, nil, "set", name, "k", "v")
	if err := os.Remove(filepath.Join(shm.Dir, name)); err != nil {
		t.Fatal(err)
	}
	orphan := lockObjectOf(t, name)
	if _, err := os.Lstat(filepath.Join(shm.Dir, orphan)); err != nil {
		t.Fatalf("removing %s by hand left no lock object: %v", name, err)
	}
	return orphan
}

// TestLsOrphanLockObjects: ls --all lists the lock object a table removed
// by hand leaves, and plain ls says there is one.
func TestLsOrphanLockObjects(t *testing.T) {
	name := tableName(t)
	orphan := orphanOf(t, name)
	r := mustRun(t, 0, nil, "ls")
	if strings.Contains(r.stdout, orphan) {
		t.Errorf("plain ls lists the orphan:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "orphan lock object") || !strings.Contains(r.stderr, "ls --all") {
		t.Errorf("plain ls does not point to ls --all: %q", r.stderr)
	}
	r = mustRun(t, 0, nil, "ls", "--all")
	found := false
	for _, line := range strings.Split(r.stdout, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == orphan {
			found = strings.Contains(line, "orphan lock object") && strings.Contains(line, "shmkv rm "+orphan)
		}
	}
	if !found {
		t.Errorf("ls --all has no orphan line for %s:\n%s", orphan, r.stdout)
	}
	var rows []lsJSON
	r = mustRun(t, 0, nil, "ls", "--all", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rows, lsJSON{Name: orphan, OrphanLockObject: true}) {
		t.Errorf("ls --all --json has no orphan row for %s: %+v", orphan, rows)
	}
}

// oddTableName returns a unique table name ending in suffix, which may
// hold any byte but '/' and NUL, and removes the table when the test ends.
func oddTableName(t *testing.T, suffix string) string {
	t.Helper()
	name := testproc.UniqueName("cli") + suffix
	t.Cleanup(func() {
		if err := kv.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cleanup: %v", err)
		}
	})
	return name
}

// TestLsFormat pins the text: a header, columns aligned by tabwriter, no
// trailing blanks, and names and notes that are not printable text
// Go-quoted, so that none breaks its line.
func TestLsFormat(t *testing.T) {
	var b strings.Builder
	err := writeLs(&b, []lsJSON{
		{Name: "demo", TotalBytes: 65536, Entries: 3},
		{Name: "a-much-longer-name", TotalBytes: 3 << 30, Entries: 1234567},
		{Name: "bad\xff\xfe", TotalBytes: 1024},
		{Name: "ctl\x01\nname", Error: "shmkv: open /ctl\x01\nname: not a shmkv table"},
		{Name: ".shmkv-lock-0123", OrphanLockObject: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `NAME                SIZE      ENTRIES  NOTE
demo                64.0 KiB  3
a-much-longer-name  3.0 GiB   1234567
"bad\xff\xfe"       1.0 KiB   0
"ctl\x01\nname"     -         -        "shmkv: open /ctl\x01\nname: not a shmkv table"
.shmkv-lock-0123    -         -        orphan lock object: its table is gone; 'shmkv rm .shmkv-lock-0123' removes it
`
	if b.String() != want {
		t.Errorf("ls wrote\n%s\nwant\n%s", b.String(), want)
	}
}

// TestLsNamesNotText: ls lists tables whose names hold control characters,
// newlines or bytes that are not UTF-8 one a line, Go-quoted, in columns
// aligned with the header, each name as 'stats --prometheus' labels it;
// ls --json gives each name back exactly (base64 when not UTF-8).
func TestLsNamesNotText(t *testing.T) {
	names := []string{oddTableName(t, "-\xff\xfe"), oddTableName(t, "-\x01\n"), oddTableName(t, "-\t")}
	for _, name := range names {
		mustRun(t, 0, nil, "set", name, "k", "v")
	}
	r := mustRun(t, 0, nil, "ls")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	header := lines[0]
	sizeAt, entriesAt := strings.Index(header, "SIZE"), strings.Index(header, "ENTRIES")
	if !strings.HasPrefix(header, "NAME ") || sizeAt < 0 || entriesAt < 0 || !strings.HasSuffix(header, "  NOTE") {
		t.Fatalf("ls header %q", header)
	}
	for _, name := range names {
		shown := strconv.Quote(name)
		var line string
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, shown+" ") {
				line = l
			}
		}
		if line == "" {
			t.Errorf("ls has no line for %s:\n%s", shown, r.stdout)
			continue
		}
		// Columns line up with the header (the name and size are all one
		// byte a column here).
		if len(line) <= entriesAt || line[sizeAt-1] != ' ' || line[sizeAt] == ' ' || line[entriesAt-1] != ' ' || line[entriesAt:] != "1" {
			t.Errorf("ls line %q is not under the header %q", line, header)
		}
		label := metrics.Samples(nil, name, &kv.Stats{})[0].LabelValues[0]
		if label != shown {
			t.Errorf("ls shows %s, stats --prometheus labels it %s", shown, label)
		}
	}
	var rows []map[string]any
	r = mustRun(t, 0, nil, "ls", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, row := range rows {
		name, _ := row["name"].(string)
		if b64, ok := row["name_base64"].(string); ok {
			if _, dup := row["name"]; dup {
				t.Errorf("ls --json row with name and name_base64: %v", row)
			}
			b, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatal(err)
			}
			name = string(b)
		}
		if slices.Contains(names, name) {
			found++
			if row["entries"] != 1.0 {
				t.Errorf("ls --json row for %q: %v", name, row)
			}
		}
	}
	if found != len(names) {
		t.Errorf("ls --json gave back %d of the %d names:\n%s", found, len(names), r.stdout)
	}
}
