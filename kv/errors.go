package kv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// Errors returned by this package, matched with errors.Is. An operation that
// returns any of them changed nothing in the table, with one exception: a
// call still under way when another goroutine closes its Table returns
// ErrClosed whatever it had done (see Table.Close).
var (
	// ErrFull reports that the table has no room for a new entry: the key's
	// shard is full and cannot grow, because the table is at its memory
	// ceiling (Options.MaxMemory), its shard's span is used up, or
	// /dev/shm is full. EvictS3FIFO tables evict instead, except when /dev/shm
	// itself is full: then a write that needs new memory for its shard's
	// log is refused with ErrFull whatever the policy.
	ErrFull = errors.New("shmkv: table full")
	// ErrKeyTooLarge reports an empty key or one longer than the table's
	// maximum key size. The error returned wraps it and gives the key's
	// size and the limit.
	ErrKeyTooLarge = errors.New("shmkv: key empty or too large")
	// ErrValueTooLarge reports a value longer than the table's maximum value
	// size. The error returned wraps it and gives the value's size and the
	// limit.
	ErrValueTooLarge = errors.New("shmkv: value too large")
	// ErrCorrupt reports a region that is not a valid table: a bad magic
	// number, a header checksum mismatch, geometry that does not fit the
	// object, or an entry that fails its checks.
	ErrCorrupt = format.ErrCorrupt
	// ErrVersion reports a table written with a layout version this package
	// does not know.
	ErrVersion = format.ErrVersion
	// ErrClosed reports use of a Table after Close.
	ErrClosed = errors.New("shmkv: table closed")
	// ErrReadOnly reports a write to a table opened read-only.
	ErrReadOnly = errors.New("shmkv: table opened read-only")
	// ErrLockTimeout reports, to a write, that a shard's lock stayed held
	// by a live process for longer than Options.LockTimeout; to a read,
	// that a live process kept the shard's index unreadable (stopped in
	// the middle of rebuilding it, say), or writers kept changing the
	// shard under every attempt, for a second, or LockTimeout if shorter.
	ErrLockTimeout = errors.New("shmkv: lock timeout")
	// ErrOwnerDead reports, to a read-only handle, a shard whose writer
	// died in a state that only recovery can read (in the middle of
	// rebuilding its index), when no read-write user began that recovery
	// within a second; the next read-write user of the shard performs it.
	ErrOwnerDead = errors.New("shmkv: shard held by a writer that died; a read-write open recovers it")
	// ErrInvalidOptions reports Options that cannot be met, or that
	// contradict the geometry of an existing table. Open returns it as an
	// *OptionError for a field out of range or contradicting the table.
	ErrInvalidOptions = errors.New("shmkv: invalid options")
	// ErrNotInitialized reports an object whose creator has not finished
	// writing its header within the wait Open allows; the creator may have
	// died.
	ErrNotInitialized = errors.New("shmkv: table not initialized")
	// ErrTooManyProcesses reports that every registry slot is held by a
	// live process.
	ErrTooManyProcesses = errors.New("shmkv: too many processes have the table open")
	// ErrNotNumber reports an Add on a value that is not a decimal integer,
	// or whose result would overflow an int64. The error returned wraps it
	// and says which.
	ErrNotNumber = errors.New("shmkv: value is not an integer or would overflow")
	// ErrUnsafeObject reports an existing object owned by another user,
	// opened without Options.AllowShared.
	ErrUnsafeObject = errors.New("shmkv: object owned by another user")
	// ErrLockObjectInUse reports a Remove of a lock object (IsLockObject)
	// that its table, or a creator of its table, still needs.
	ErrLockObjectInUse = errors.New("shmkv: lock object in use")
	// ErrAddressSpace reports that this process may not map the table:
	// every handle maps the table's whole object, about six times its
	// maximum memory (Options.MaxMemory) though only what the table holds
	// takes memory, and that passes the process's address-space limit
	// (RLIMIT_AS, ulimit -v). The error returned names the table, the
	// bytes its mapping takes, the limit and what to do: raise the limit,
	// or create the table with a smaller maximum memory. It also matches
	// the failed mmap's error (syscall.ENOMEM) when there was one. A
	// table created with the default maximum memory gets one small enough
	// to fit the limit (see Options.MaxMemory), so this comes from a table
	// created elsewhere with a larger one, from an explicit MaxMemory, or
	// from a limit too tight for even the smallest table.
	ErrAddressSpace = errors.New("shmkv: not enough address space to map the table")
)

// tooLarge is ErrKeyTooLarge or ErrValueTooLarge (sentinel) for a key or
// value of n bytes where limit is the most allowed. Made only on the error
// path, so that Get and Set allocate nothing when they succeed.
func tooLarge(sentinel error, n, limit int) error {
	return &sizeError{sentinel, n, limit}
}

type sizeError struct {
	sentinel error
	n, limit int
}

func (e *sizeError) Error() string {
	if e.n == 0 {
		return e.sentinel.Error() + ": the key is empty"
	}
	return fmt.Sprintf("%v: %d bytes, limit %d", e.sentinel, e.n, e.limit)
}

func (e *sizeError) Unwrap() error { return e.sentinel }

// notNumberError is ErrNotNumber saying which of its two cases it is.
type notNumberError string

func (e notNumberError) Error() string { return string(e) }
func (e notNumberError) Unwrap() error { return ErrNotNumber }

// errNotInteger is ErrNotNumber for a value that is not a decimal integer.
var errNotInteger error = notNumberError("shmkv: value is not a decimal integer")

// errOverflow is ErrNotNumber for cur+delta outside the int64 range.
func errOverflow(cur, delta int64) error {
	return notNumberError(fmt.Sprintf("shmkv: value %d plus %d overflows a 64-bit integer", cur, delta))
}

// addressSpaceError is ErrAddressSpace for a table whose mapping takes
// need bytes, under a limit of limit bytes of which used (VmSize) were in
// use, or -1 if unknown. maxMemory is the table's ceiling, or 0 if
// unknown (an existing table whose header could not be mapped); err is the
// failed mmap, or nil when the mapping was not tried.
type addressSpaceError struct {
	need, maxMemory int64
	limit           uint64
	used            int64
	opening         bool // an existing table, rather than a new one
	least           bool // a new table with the least ceiling a table has
	err             error
}

func (e *addressSpaceError) Error() string {
	var b strings.Builder
	b.WriteString(ErrAddressSpace.Error())
	if e.err != nil {
		fmt.Fprintf(&b, " (%v)", e.err)
	}
	fmt.Fprintf(&b, ": mapping it takes %d bytes", e.need)
	if e.maxMemory > 0 {
		fmt.Fprintf(&b, " (for a maximum memory of %d bytes)", e.maxMemory)
	}
	fmt.Fprintf(&b, ", and this process's address-space limit (RLIMIT_AS, ulimit -v) is %d bytes", e.limit)
	if e.used >= 0 {
		fmt.Fprintf(&b, ", %d of them in use", e.used)
	}
	switch {
	case e.least:
		b.WriteString("; no smaller table maps less: raise ulimit -v")
	case e.opening:
		b.WriteString("; raise ulimit -v, or, where the limit allows, dump the table, remove it and load the dump into one created with a smaller maximum memory (Options.MaxMemory, shmkv create --max-memory)")
	default:
		b.WriteString("; raise ulimit -v, or give the table a smaller maximum memory (Options.MaxMemory, shmkv create --max-memory)")
	}
	return b.String()
}

func (e *addressSpaceError) Unwrap() []error {
	if e.err == nil {
		return []error{ErrAddressSpace}
	}
	return []error{ErrAddressSpace, e.err}
}

// wrapOp is err from op (such as "open /name") said with one "shmkv:"
// prefix: the prefix of a sentinel err wraps is left out of the text, not
// out of the chain that errors.Is follows.
func wrapOp(op string, err error) error {
	return &opError{op, err}
}

type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	return "shmkv: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "shmkv: ")
}

func (e *opError) Unwrap() error { return e.err }

// sizeText writes n bytes in the largest binary unit that holds it whole,
// else to one decimal: "1 B", "64 KiB", "5.3 TiB".
func sizeText(n int64) string {
	const units = "KMGTPE"
	if n < 1024 && n > -1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	i, div := 0, int64(1024)
	for i < len(units)-1 && (n/div >= 1024 || n/div <= -1024) {
		i, div = i+1, div*1024
	}
	if n%div == 0 {
		return fmt.Sprintf("%d %ciB", n/div, units[i])
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), units[i])
}

// errCorruptIndex is internal: the index disagrees with the log, and a
// rebuild from the log will fix it.
var errCorruptIndex = errors.New("shmkv: index disagrees with the log")

// errUnreadable is the error for a shard that no read gets through with
// nobody holding its lock.
var errUnreadable = fmt.Errorf("%w: shard unreadable with no writer at work; 'shmkv check' says why", ErrCorrupt)

// errDamaged is the error for a key whose entry fails its checksum.
func errDamaged(key []byte) error {
	return fmt.Errorf("%w: the entry of key %q fails its checksum; 'shmkv check --repair' drops it", ErrCorrupt, string(key))
}
