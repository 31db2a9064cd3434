package main

import (
	"fmt"
)

var delCmd = &command{
	name:    "del",
	usage:   "del NAME KEY...",
	summary: "Delete each KEY and print how many were there. Exits 1 if none was.",
	example: "shmkv del demo greeting old-key",
	nargs:   atLeast(2),
	run:     runDel,
}

func runDel(m *Main, args []string) error {
	name := args[0]
	t, err := openExisting(name, false)
	if err != nil {
		return err
	}
	defer t.Close()
	n := 0
	for _, k := range args[1:] {
		deleted, err := t.Delete([]byte(k))
		if err != nil {
			return opError("del", name, err)
		}
		if deleted {
			n++
		}
	}
	fmt.Fprintln(m.Stdout, n)
	if n == 0 {
		return notFound("")
	}
	return nil
}
