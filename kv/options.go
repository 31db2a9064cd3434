package kv

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// Options configure Open. A nil *Options, and every zero field, means the
// default. The geometry fields (MaxMemory, Keys, Memory, MaxKeySize,
// MaxValueSize, Eviction) shape a new table; for an existing one the header
// decides, and a limit that is set and that the existing table does not
// have is ErrInvalidOptions. Open reports a field it cannot meet as an
// *OptionError, which names the field and gives its allowed range or the
// existing table's value.
//
// A table needs no size: it starts small and grows as keys and data
// arrive, while other processes use it, up to MaxMemory.
type Options struct {
	// MaxMemory is the ceiling on the shared memory the table may take, in
	// bytes: the memory its object is given (its allocated blocks), all
	// included. Below it a table grows instead of refusing or evicting;
	// at it, a NoEviction table refuses new entries with ErrFull and an
	// EvictS3FIFO table evicts. Default: a quarter of the /dev/shm
	// filesystem's size (1 GiB if that cannot be read), lowered under an
	// address-space limit (RLIMIT_AS, ulimit -v) until mapping the table,
	// which every process does whole and which takes about six times the
	// ceiling in address space (not memory), takes at most a quarter of
	// the address space the limit leaves the process; see ErrAddressSpace.
	// A MaxMemory that is set is never lowered. Recorded in the header. Each grow checks the ceiling before it allocates, counting
	// every extent whole, though a log gets its memory only as its head
	// reaches it; grows of different shards at the same moment can pass
	// the ceiling by at most the extents they add together. A table at its
	// ceiling is committed to between about half and all of it, since a
	// shard grows by half again at a time and needs room for both extents
	// while it moves; its allocated blocks catch up as its logs fill.
	MaxMemory int64
	// Keys is how many entries the table is expected to hold, so that it
	// is created large enough not to grow on the way there. Optional.
	Keys int
	// Memory is how many bytes of keys and values the table is expected
	// to hold, likewise. Optional.
	Memory int64
	// MaxKeySize is the largest key accepted, in bytes. Default 1 KiB, at
	// most MaxKeyLimit.
	MaxKeySize int
	// MaxValueSize is the largest value accepted, in bytes. Default 1 MiB,
	// at most MaxValueLimit.
	MaxValueSize int
	// Mode is the permission of a created object. Default 0600.
	Mode os.FileMode
	// ReadOnly maps the table read-only: writes return ErrReadOnly, and the
	// process never writes to the region.
	ReadOnly bool
	// Exclusive creates the table and fails with an error matching
	// fs.ErrExist if it already exists.
	Exclusive bool
	// NoCreate opens only an existing table; a missing one is an error
	// matching fs.ErrNotExist.
	NoCreate bool
	// LockTimeout bounds how long a write waits for a shard lock held by a
	// live process before it returns ErrLockTimeout. Default 10s. Reads
	// never wait for a lock; the most they wait (for a rebuild under way)
	// is a second, or LockTimeout if shorter.
	LockTimeout time.Duration
	// InitTimeout bounds how long Open waits for another process that is
	// creating the table to publish its header. Default 2s.
	InitTimeout time.Duration
	// Eviction is what a full new table does: NoEviction refuses new
	// entries with ErrFull; EvictS3FIFO evicts entries that have not been read
	// recently, expired ones first. Recorded in the header.
	Eviction Policy
	// Now is the clock that expiry reads. Default time.Now; tests inject
	// one.
	Now func() time.Time
	// Populate maps every page of the table into this process at Open, so
	// that no operation later pays a page fault: worth it for long-lived
	// processes and large tables, not for short-lived tools. A failure to
	// populate (a full /dev/shm, say) fails Open.
	Populate bool
	// RefreshAhead, for GetOrLoad: a hit on an entry that expires within
	// this long is refreshed by one caller on the host, which runs load
	// and stores its value, while every other caller gets the current
	// value at once; so a hot key is reloaded before it expires, and its
	// expiry causes no miss. 0 (the default) refreshes nothing. Not
	// recorded: each handle decides for its own calls.
	RefreshAhead time.Duration
	// AllowShared accepts an existing object owned by another user; without
	// it such an object is refused with ErrUnsafeObject, since anyone may
	// create a name in /dev/shm. An object this user owns is accepted
	// whatever its mode: its mode is the one its creator chose.
	//
	// Anyone may likewise create the name of a table's lock object (the
	// empty companion that holds its processes' liveness locks; see
	// IsLockObject) before the table exists. Creating the table then fails
	// with ErrUnsafeObject naming the lock object and its owner, whatever
	// AllowShared says: a creator uses only a lock object of its own. In
	// either case the operator finds the owner (ls -l /dev/shm/NAME), and
	// has that user or root remove the object, or uses another table name.
	// /dev/shm is sticky, so no one else can remove it. A planted table
	// name goes with shmkv rm NAME (--force if it is not a table); a
	// planted lock object has no table, so shmkv ls --all lists it among
	// the orphan lock objects, and shmkv rm .shmkv-lock-… removes it.
	AllowShared bool
	// SkipReadChecksums makes this handle's reads of a key (Get, GetCopy, TTL,
	// GetOrLoad, Watch) trust the entry they find without hashing its value
	// against the checksum it was written with: a Get of a 64-byte value takes
	// about a seventh less time, of a 1 KiB value a quarter less, of a 4 KiB
	// value a third less (BenchmarkGetValueSize). Reads are never torn either
	// way: a read that races a writer is detected by the shard's sequence
	// counter, whose ordering fences make that sound without the checksum.
	// What the checksum adds is detecting damage: a value changed
	// by a stray write into the shared memory is read as ErrCorrupt with it,
	// and as whatever it now holds without it (Check and Repair verify every
	// checksum regardless). Reads around a dead or stopped writer verify
	// always. Ignored on architectures other than amd64 and arm64, where the
	// checksum is what makes reads safe. Not recorded: each handle decides for
	// its own reads.
	SkipReadChecksums bool

	// splitAbove, if not 0, is this handle's extent size past which a
	// shard splits rather than grows (split.go): tests make tables that
	// split without taking hundreds of megabytes.
	splitAbove int64
}

// Policy is what a full table does to make room.
type Policy uint32

const (
	// NoEviction: a full table refuses new entries with ErrFull.
	NoEviction Policy = iota
	// EvictS3FIFO: a full table evicts entries not read recently, expired
	// first, and keeps keys read often through scans of cold keys, by the
	// S3-FIFO policy (Yang et al., SOSP '23), which beats least recently
	// used: new keys wait in a small log and leave it unless read.
	EvictS3FIFO
)

// EvictLRU is EvictS3FIFO's first name.
//
// Deprecated: use EvictS3FIFO; the policy never was least recently used.
const EvictLRU = EvictS3FIFO

func (p Policy) String() string {
	switch p {
	case NoEviction:
		return "none"
	case EvictS3FIFO:
		return "s3fifo"
	}
	return "policy(" + strconv.Itoa(int(p)) + ")"
}

const (
	defaultMaxKey      = 1 << 10
	defaultMaxValue    = 1 << 20
	defaultMode        = 0o600
	defaultLockTimeout = 10 * time.Second
	defaultInitTimeout = 2 * time.Second
	defaultProcs       = format.MaxProcs
)

// withDefaults returns a copy of o with every zero field filled in.
func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.MaxMemory == 0 {
		r.MaxMemory = defaultMaxMemory()
	}
	if r.MaxKeySize == 0 {
		r.MaxKeySize = defaultMaxKey
	}
	if r.MaxValueSize == 0 {
		r.MaxValueSize = defaultMaxValue
	}
	if r.Mode == 0 {
		r.Mode = defaultMode
	}
	if r.LockTimeout == 0 {
		r.LockTimeout = defaultLockTimeout
	}
	if r.InitTimeout == 0 {
		r.InitTimeout = defaultInitTimeout
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return r
}

func (o *Options) validate() error {
	switch {
	case o.MaxMemory < minMaxMemory || o.MaxMemory > maxMaxMemory:
		return &OptionError{Option: "MaxMemory", Value: o.MaxMemory, Min: minMaxMemory, Max: maxMaxMemory, InRange: true}
	case o.Keys < 0 || int64(o.Keys) > format.MaxShards*format.MaxSlots/2:
		return &OptionError{Option: "Keys", Value: int64(o.Keys), Max: format.MaxShards * format.MaxSlots / 2, InRange: true}
	case o.Memory < 0 || o.Memory > o.MaxMemory:
		return &OptionError{Option: "Memory", Value: o.Memory, Max: o.MaxMemory, MaxOption: "MaxMemory", InRange: true}
	case o.MaxKeySize < 1 || o.MaxKeySize > MaxKeyLimit:
		return &OptionError{Option: "MaxKeySize", Value: int64(o.MaxKeySize), Min: 1, Max: MaxKeyLimit, InRange: true}
	case o.MaxValueSize < 0 || o.MaxValueSize > MaxValueLimit:
		return &OptionError{Option: "MaxValueSize", Value: int64(o.MaxValueSize), Max: MaxValueLimit, InRange: true}
	case o.Mode&^os.ModePerm != 0:
		return &OptionError{Option: "Mode", Value: int64(o.Mode), Reason: fmt.Sprintf("Options.Mode %v has bits beyond the permissions", o.Mode)}
	case o.LockTimeout < 0:
		return &OptionError{Option: "LockTimeout", Value: int64(o.LockTimeout), Reason: fmt.Sprintf("Options.LockTimeout %v is negative", o.LockTimeout)}
	case o.InitTimeout < 0:
		return &OptionError{Option: "InitTimeout", Value: int64(o.InitTimeout), Reason: fmt.Sprintf("Options.InitTimeout %v is negative", o.InitTimeout)}
	case o.Eviction > EvictS3FIFO:
		return &OptionError{Option: "Eviction", Value: int64(o.Eviction), Min: int64(NoEviction), Max: int64(EvictS3FIFO), InRange: true}
	case o.Exclusive && o.NoCreate:
		return &OptionError{Option: "Exclusive", Value: 1, Reason: "Options.Exclusive and Options.NoCreate together"}
	case o.ReadOnly && o.Exclusive:
		return &OptionError{Option: "Exclusive", Value: 1, Reason: "Options.ReadOnly cannot create a table (Options.Exclusive)"}
	}
	return nil
}

// checkAgainst reports an explicitly set limit that the existing geometry
// g does not have. Keys and Memory are expectations, not limits: a table
// grows to meet them, so they are not checked.
func checkAgainst(o *Options, g *format.Geometry) error {
	if o == nil {
		return nil
	}
	differs := func(option string, value, table int64) error {
		return &OptionError{Option: option, Value: value, Existing: true, Table: table}
	}
	switch {
	case o.Eviction != NoEviction && uint32(o.Eviction) != g.Eviction:
		return differs("Eviction", int64(o.Eviction), int64(g.Eviction))
	case o.MaxKeySize != 0 && o.MaxKeySize != g.MaxKey:
		return differs("MaxKeySize", int64(o.MaxKeySize), int64(g.MaxKey))
	case o.MaxValueSize != 0 && o.MaxValueSize != g.MaxValue:
		return differs("MaxValueSize", int64(o.MaxValueSize), int64(g.MaxValue))
	case o.MaxMemory != 0 && o.MaxMemory != g.MaxMemory:
		return differs("MaxMemory", o.MaxMemory, g.MaxMemory)
	}
	return nil
}

// The largest sizes an Options may ask for.
const (
	// MaxKeyLimit is the largest MaxKeySize an Options may ask for.
	MaxKeyLimit = 1 << 20
	// MaxValueLimit is the largest MaxValueSize an Options may ask for.
	MaxValueLimit = 1 << 30
)

// OptionError is the error Open returns for an Options field it cannot
// meet: a value out of its range, or a limit an existing table does not
// have. It matches ErrInvalidOptions (errors.Is), and errors.As gives a
// caller the field and the numbers, so that a command can say them in its
// own words (its flag's name, its units). Its text names the field as
// Options.Field and gives sizes in binary units:
//
//	shmkv: invalid options: Options.MaxMemory 1 B is out of range (64 KiB to 5.3 TiB)
//	shmkv: invalid options: Options.MaxKeySize 64 B, the table has 1 KiB
type OptionError struct {
	// Option is the name of the Options field, such as "MaxMemory".
	Option string
	// Value is the field's value: bytes for MaxMemory, Memory, MaxKeySize
	// and MaxValueSize (see IsSize), a count for Keys, the Policy for
	// Eviction, the permission bits for Mode, nanoseconds for a timeout.
	Value int64
	// Min and Max are the range Value must be in, when InRange is set.
	Min, Max int64
	// InRange says that Value is outside Min to Max, both included.
	InRange bool
	// MaxOption, when set, names the field whose value Max is, such as
	// "MaxMemory" for Memory, which may not exceed it.
	MaxOption string
	// Existing says that the table exists, and that Table, its value for
	// this field, differs from Value: the options contradict it.
	Existing bool
	Table    int64
	// Reason says what is wrong when it is neither of the two above, in
	// words that name the fields.
	Reason string
}

// IsSize reports whether the option counts bytes.
func (e *OptionError) IsSize() bool {
	switch e.Option {
	case "MaxMemory", "Memory", "MaxKeySize", "MaxValueSize":
		return true
	}
	return false
}

func (e *OptionError) Error() string {
	val := func(n int64) string {
		switch {
		case e.IsSize():
			return sizeText(n)
		case e.Option == "Eviction":
			return Policy(n).String()
		}
		return strconv.FormatInt(n, 10)
	}
	prefix := ErrInvalidOptions.Error() + ": "
	switch {
	case e.Existing:
		return fmt.Sprintf("%sOptions.%s %s, the table has %s", prefix, e.Option, val(e.Value), val(e.Table))
	case e.InRange && e.MaxOption != "":
		return fmt.Sprintf("%sOptions.%s %s is out of range (%s to %s, Options.%s)", prefix, e.Option, val(e.Value), val(e.Min), val(e.Max), e.MaxOption)
	case e.InRange:
		return fmt.Sprintf("%sOptions.%s %s is out of range (%s to %s)", prefix, e.Option, val(e.Value), val(e.Min), val(e.Max))
	}
	return prefix + e.Reason
}

// Unwrap makes an OptionError match ErrInvalidOptions.
func (e *OptionError) Unwrap() error { return ErrInvalidOptions }
