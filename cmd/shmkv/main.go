// Command shmkv reads and writes shmkv tables from a shell: the same
// shared-memory tables that Go programs open with package kv.
//
//	shmkv set demo greeting hello
//	shmkv get demo greeting
//
// Run "shmkv help" for the list of commands, and "shmkv COMMAND --help" for
// one of them.
package main

import (
	"os"
)

func main() {
	m := &Main{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	os.Exit(ExitCode(m.Run(os.Args[1:])))
}
