package main

import (
	"fmt"
	"time"

	"github.com/shmkv/shmkv/kv"
	"github.com/spf13/pflag"
)

var ttlCmd = &command{
	name:  "ttl",
	usage: "ttl NAME KEY [--json]",
	summary: "Print how long KEY has left to live, such as 29m59.5s, or \"never\" if it\n" +
		"does not expire. With --json, print {\"key\": ..., \"ttl_ms\": N}: the\n" +
		"milliseconds left, or -1 if it does not expire (as Redis's PTTL). A missing\n" +
		"key, or a missing table, exits 1.",
	example: "shmkv ttl demo session\nshmkv ttl demo session --json",
	nargs:   exactly(2),
	setup: func(f *pflag.FlagSet) runFunc {
		asJSON := f.Bool("json", false, "print a JSON object with the key and the milliseconds left")
		return func(m *Main, args []string) error { return runTTL(m, args, *asJSON) }
	},
}

// ttlJSON is the stable shape of 'shmkv ttl --json'.
type ttlJSON struct {
	keyJSON
	// TTLMillis is the time left, rounded to the millisecond as the text
	// is, or -1 for a key that does not expire.
	TTLMillis int64 `json:"ttl_ms"`
}

func runTTL(m *Main, args []string, asJSON bool) error {
	name, key := args[0], args[1]
	t, err := openForRead(name)
	if err != nil {
		return err
	}
	defer t.Close()
	ttl, found, err := t.TTL([]byte(key))
	if err != nil {
		return opError("ttl", name, err)
	}
	if !found {
		return notFound("")
	}
	if asJSON {
		ms := int64(-1)
		if ttl != kv.NoExpiry {
			ms = ttl.Round(time.Millisecond).Milliseconds()
		}
		return writeJSON(m.Stdout, ttlJSON{newKeyJSON([]byte(key)), ms})
	}
	if ttl == kv.NoExpiry {
		fmt.Fprintln(m.Stdout, "never")
		return nil
	}
	fmt.Fprintln(m.Stdout, ttl.Round(time.Millisecond))
	return nil
}
