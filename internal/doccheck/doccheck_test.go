package doccheck

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// root is the repository's root, from this package's directory.
var root = filepath.Join("..", "..")

// TestDocs: the documentation of the published packages, as go doc -all
// shows it, names no source file and no unexported identifier. prose
// lists, per package, the plain words that are identifiers there but
// English in its documentation.
func TestDocs(t *testing.T) {
	for _, pkg := range []struct {
		dir    string
		module bool // a module of its own: absent from this module's zip
		prose  []string
	}{
		{dir: "kv", prose: []string{"absent", "around", "claim", "copied", "create", "extent", "geometry", "liveness", "magic", "region", "shard", "snapshot", "stall"}},
		{dir: "shm", prose: []string{"fallocate"}},
		{dir: "metrics"},
		{dir: "redisnear", module: true, prose: []string{"lease"}},
		{dir: "promshmkv", module: true},
	} {
		t.Run(pkg.dir, func(t *testing.T) {
			dir := filepath.Join(root, pkg.dir)
			if _, err := os.Stat(dir); pkg.module && os.IsNotExist(err) {
				t.Skipf("%s is not here: this is not a checkout of the repository", pkg.dir)
			}
			problems, err := Problems(dir, pkg.prose)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("%s: %s", pkg.dir, p)
			}
		})
	}
}

// TestProblemsFinds: the check finds each kind of mention in a package
// written to have them, and passes what is English.
func TestProblemsFinds(t *testing.T) {
	got, err := Problems(filepath.Join("testdata", "bad"), []string{"widget", "helper"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"package doc: mentions the source file bad.go",
		"package doc: mentions the unexported identifier maxSize",
		"Thing: mentions the unexported identifier helper",
		"Thing: mentions the unexported identifier count",
		"Thing.Do: mentions the unexported identifier widget",
		"Limit: mentions the unexported identifier gizmo",
		"Thing: mentions the unexported identifier maxSize",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
