package main

import (
	"fmt"
	"time"

	"github.com/shmkv/shmkv/kv"
)

var ttlCmd = &command{
	name:  "ttl",
	usage: "ttl NAME KEY",
	summary: "Print how long KEY has left to live, such as 29m59.5s, or \"never\" if it\n" +
		"does not expire. A missing key, or a missing table, exits 1.",
	example: "shmkv ttl demo session",
	nargs:   exactly(2),
	run:     runTTL,
}

func runTTL(m *Main, args []string) error {
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
	if ttl == kv.NoExpiry {
		fmt.Fprintln(m.Stdout, "never")
		return nil
	}
	fmt.Fprintln(m.Stdout, ttl.Round(time.Millisecond))
	return nil
}
