package main

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/kv"
)

func TestVersion(t *testing.T) {
	layout := fmt.Sprintf("table layout version %d\n", kv.LayoutVersion)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := mustRun(t, 0, nil, args...)
		if !strings.HasPrefix(r.stdout, "shmkv ") || !strings.HasSuffix(r.stdout, layout) {
			t.Errorf("%v said %q", args, r.stdout)
		}
	}
	mustRun(t, 2, nil, "version", "extra")
	mustRun(t, 2, nil, "--version", "extra")
}

func TestWriteVersion(t *testing.T) {
	for _, c := range []struct {
		bi   *debug.BuildInfo
		want []string
		not  []string
	}{
		{nil, []string{"shmkv (devel)\n", "table layout version"}, []string{"built from"}},
		{&debug.BuildInfo{Main: debug.Module{Version: "v0.1.0"}, GoVersion: "go1.99"},
			[]string{"shmkv v0.1.0\n", "built with go1.99 "}, []string{"built from"}},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-06T02:00:00Z"},
			{Key: "vcs.modified", Value: "true"}}},
			[]string{"shmkv (devel)\n", "built from commit abc123, 2026-12-06T02:00:00Z, with uncommitted changes\n"}, nil},
		{&debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}},
			[]string{"built from commit abc123\n"}, []string{"uncommitted"}},
	} {
		var b bytes.Buffer
		writeVersion(&b, c.bi)
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("writeVersion(%+v) = %q, lacks %q", c.bi, b.String(), w)
			}
		}
		for _, w := range c.not {
			if strings.Contains(b.String(), w) {
				t.Errorf("writeVersion(%+v) = %q, has %q", c.bi, b.String(), w)
			}
		}
	}
}
