// Package host holds the Linux system calls kv rests on, other than the
// futex (package region): open-file-description byte locks, by which a
// process's liveness is known; sched_yield for spinning; the address-space
// limit and the size of /dev/shm, by which a table is sized; and the
// sparse-file calls by which Repair scans only memory that exists.
//
// Elsewhere than on Linux every call is a stand-in that fails or reports
// nothing: kv's Open fails first, with an error matching
// errors.ErrUnsupported.
package host
