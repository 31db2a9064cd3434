package main

import (
	"fmt"
	"os"
	"time"
)

var loadCmd = &command{
	name:  "load",
	usage: "load NAME [FILE]",
	summary: "Store every entry of a dump made by 'shmkv dump', read from FILE or standard\n" +
		"input, creating the table with the default geometry if it does not exist.\n" +
		"The whole dump is read and checked first: a truncated or damaged file\n" +
		"changes nothing. On a terminal, large loads show their progress.",
	example: "shmkv load sessions sessions.dump",
	nargs:   between(1, 2),
	run:     runLoad,
}

// progressEvery is how many entries pass between progress updates.
const progressEvery = 10000

func runLoad(m *Main, args []string) error {
	name := args[0]
	in := m.Stdin
	if len(args) == 2 && args[1] != "-" {
		f, err := os.Open(args[1])
		if err != nil {
			return fmt.Errorf("load %s: %v", name, err)
		}
		defer f.Close()
		in = f
	}
	recs, err := readDump(in)
	if err != nil {
		return fmt.Errorf("load %s: %v; nothing was loaded", name, err)
	}
	t, err := openOrCreate(name)
	if err != nil {
		return err
	}
	defer t.Close()
	showProgress := isTerminal(m.Stderr) && len(recs) >= progressEvery
	start := time.Now()
	for i, r := range recs {
		if err := t.Set(r.key, r.value); err != nil {
			return opError("load", name, fmt.Errorf("after %d of %d entries: %w", i, len(recs), err))
		}
		if showProgress && i%progressEvery == 0 {
			fmt.Fprintf(m.Stderr, "\rloaded %d of %d entries", i, len(recs))
		}
	}
	if showProgress {
		fmt.Fprintf(m.Stderr, "\rloaded %d of %d entries in %v\n", len(recs), len(recs), time.Since(start).Round(time.Millisecond))
	}
	return nil
}
