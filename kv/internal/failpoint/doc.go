// Package failpoint lets kv's kill-sweep tests stop a process at any step
// of a write, a recovery or a creation. Every store a writer makes to a
// table's region, and every step of creating a table, calls Step.
//
// Without the shmkvfail build tag (go test -tags shmkvfail) Step is empty
// and inlined away. With it, when CrashAt is positive the process kills
// itself with SIGKILL just before its CrashAt-th step, so a test can check
// what the survivors see; when CrashAt is negative the steps are only
// counted, in Steps.
package failpoint
