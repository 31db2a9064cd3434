package format

import "errors"

// The errors the codecs return. kv exports these same values as its
// ErrCorrupt and ErrVersion, so errors.Is matches an error from here
// against either.
var (
	// ErrCorrupt reports bytes that are no valid table: a header whose
	// checksum or geometry does not hold.
	ErrCorrupt = errors.New("shmkv: corrupt table")
	// ErrVersion reports a table of a layout version, or an eviction
	// policy, that this package does not know.
	ErrVersion = errors.New("shmkv: incompatible layout version")
)
