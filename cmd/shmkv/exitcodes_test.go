package main

import (
	"path/filepath"
	"testing"
)

// TestMissingTableExitCodes runs every command on a table that does not
// exist: each that needs the table exits 1 (not found), each that makes
// one exits 0. A command added to commands without a row here fails the
// test, so the rule is kept for it too.
func TestMissingTableExitCodes(t *testing.T) {
	dumped := tableName(t)
	mustRun(t, 0, nil, "set", dumped, "k", "v")
	file := filepath.Join(t.TempDir(), "dump")
	mustRun(t, 0, nil, "dump", dumped, file)

	rows := map[string]struct {
		args func(name string) []string
		code int
	}{
		"get":    {func(n string) []string { return []string{n, "k"} }, 1},
		"ttl":    {func(n string) []string { return []string{n, "k"} }, 1},
		"del":    {func(n string) []string { return []string{n, "k"} }, 1},
		"keys":   {func(n string) []string { return []string{n} }, 1},
		"watch":  {func(n string) []string { return []string{n, "k", "--count", "1"} }, 1},
		"stats":  {func(n string) []string { return []string{n} }, 1},
		"check":  {func(n string) []string { return []string{n} }, 1},
		"dump":   {func(n string) []string { return []string{n} }, 1},
		"rm":     {func(n string) []string { return []string{n} }, 1},
		"set":    {func(n string) []string { return []string{n, "k", "v"} }, 0},
		"incr":   {func(n string) []string { return []string{n, "k"} }, 0},
		"create": {func(n string) []string { return []string{n} }, 0},
		"load":   {func(n string) []string { return []string{n, file} }, 0},
		// ls and version name no table.
		"ls":      {nil, 0},
		"version": {nil, 0},
	}
	for _, c := range commands {
		row, ok := rows[c.name]
		if !ok {
			t.Errorf("command %s has no row: what does it exit on a missing table?", c.name)
			continue
		}
		if row.args == nil {
			continue
		}
		name := tableName(t)
		mustRun(t, row.code, nil, append([]string{c.name}, row.args(name)...)...)
	}
}
