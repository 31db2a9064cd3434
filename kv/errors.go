package kv

import "errors"

// Errors returned by this package, matched with errors.Is. An operation that
// returns any of them changed nothing in the table, with one exception: a
// call still under way when another goroutine closes its Table returns
// ErrClosed whatever it had done (see Table.Close).
var (
	// ErrFull reports that the table has no room for a new entry: the key's
	// shard is full and cannot grow, because the table is at its memory
	// ceiling (Options.MaxMemory), its shard's span is used up, or
	// /dev/shm is full. EvictLRU tables evict instead, except when /dev/shm
	// itself is full: then a write that needs new memory for its shard's
	// log is refused with ErrFull whatever the policy.
	ErrFull = errors.New("shmkv: table full")
	// ErrKeyTooLarge reports an empty key or one longer than the table's
	// maximum key size.
	ErrKeyTooLarge = errors.New("shmkv: key empty or too large")
	// ErrValueTooLarge reports a value longer than the table's maximum value
	// size.
	ErrValueTooLarge = errors.New("shmkv: value too large")
	// ErrCorrupt reports a region that is not a valid table: a bad magic
	// number, a header checksum mismatch, geometry that does not fit the
	// object, or an entry that fails its checks.
	ErrCorrupt = errors.New("shmkv: corrupt table")
	// ErrVersion reports a table written with a layout version this package
	// does not know.
	ErrVersion = errors.New("shmkv: incompatible layout version")
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
	// contradict the geometry of an existing table.
	ErrInvalidOptions = errors.New("shmkv: invalid options")
	// ErrNotInitialized reports an object whose creator has not finished
	// writing its header within the wait Open allows; the creator may have
	// died.
	ErrNotInitialized = errors.New("shmkv: table not initialized")
	// ErrTooManyProcesses reports that every registry slot is held by a
	// live process.
	ErrTooManyProcesses = errors.New("shmkv: too many processes have the table open")
	// ErrNotNumber reports an Add on a value that is not a decimal integer,
	// or whose result would overflow an int64.
	ErrNotNumber = errors.New("shmkv: value is not an integer or would overflow")
	// ErrUnsafeObject reports an existing object owned by another user,
	// opened without Options.AllowShared.
	ErrUnsafeObject = errors.New("shmkv: object owned by another user")
	// ErrLockObjectInUse reports a Remove of a lock object (IsLockObject)
	// that its table, or a creator of its table, still needs.
	ErrLockObjectInUse = errors.New("shmkv: lock object in use")
)
