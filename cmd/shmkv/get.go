package main

import ()

var getCmd = &command{
	name:  "get",
	usage: "get NAME KEY",
	summary: "Write the value stored under KEY to standard output, exactly as stored.\n" +
		"A missing key, or a missing table, exits 1 with nothing on standard output.",
	example: "shmkv get demo greeting",
	nargs:   exactly(2),
	run:     runGet,
}

func runGet(m *Main, args []string) error {
	name, key := args[0], args[1]
	t, err := openForRead(name)
	if err != nil {
		return err
	}
	defer t.Close()
	v, found, err := t.Get(nil, []byte(key))
	if err != nil {
		return opError("get", name, err)
	}
	if !found {
		return notFound("")
	}
	if isTerminal(m.Stdout) && (len(v) == 0 || v[len(v)-1] != '\n') {
		// For the person reading it, not for a pipe, which gets the
		// value byte for byte.
		v = append(v, '\n')
	}
	_, err = m.Stdout.Write(v)
	return err
}
