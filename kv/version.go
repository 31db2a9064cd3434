package kv

import "github.com/shmkv/shmkv/kv/internal/format"

// LayoutVersion is the version of the shared-memory layout that this
// package reads and writes, stored in every table's header. Open refuses a
// table of any other layout version with ErrVersion: copy it with the
// release that made it ('shmkv dump NAME FILE'), remove it, and load the
// copy with this one ('shmkv load NAME FILE'). Two programs on one host
// share a table only if their shmkv releases have the same LayoutVersion.
const LayoutVersion = format.LayoutVersion
