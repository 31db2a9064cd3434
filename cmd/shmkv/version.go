package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/shmkv/shmkv/kv"
)

var versionCmd = &command{
	name:  "version",
	usage: "version",
	summary: "Print this shmkv's release and the table layout version it reads and\n" +
		"writes. Also the commit it was built from, when the build recorded it, and\n" +
		"the Go that built it. A table made with another layout version is refused.\n" +
		"'shmkv --version' does the same.",
	example: "shmkv version",
	nargs:   exactly(0),
	run: func(m *Main, _ []string) error {
		bi, _ := debug.ReadBuildInfo()
		writeVersion(m.Stdout, bi)
		return nil
	},
}

// writeVersion writes what bi says of the build. 'go install
// github.com/shmkv/shmkv/cmd/shmkv@VERSION' records the release; 'go build'
// in a git checkout records the commit and a pseudo-version after the last
// tag, unless -buildvcs=false; other builds say "(devel)".
func writeVersion(w io.Writer, bi *debug.BuildInfo) {
	version := "(devel)"
	var vcs []string
	goVersion := runtime.Version()
	if bi != nil {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		settings := map[string]string{}
		for _, s := range bi.Settings {
			settings[s.Key] = s.Value
		}
		if r := settings["vcs.revision"]; r != "" {
			vcs = append(vcs, "commit "+r)
			if t := settings["vcs.time"]; t != "" {
				vcs = append(vcs, t)
			}
			if settings["vcs.modified"] == "true" {
				vcs = append(vcs, "with uncommitted changes")
			}
		}
	}
	fmt.Fprintf(w, "shmkv %s\n", version)
	if len(vcs) > 0 {
		fmt.Fprintf(w, "built from %s\n", strings.Join(vcs, ", "))
	}
	fmt.Fprintf(w, "built with %s for %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "table layout version %d\n", kv.LayoutVersion)
}
