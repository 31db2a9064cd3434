package kv

// Stats describes a table. Filling one allocates nothing.
//
// Entries, bytes and the write-side counters (Sets, Deletes, LockWaits,
// Recoveries, Rebuilds) are the table's, shared by every process: they live
// in the shards' control blocks and are kept under the shard locks. The
// read-side counters (Gets, Hits, Misses, ReadRetries) are this handle's
// own: a reader never writes shared memory, so that readers in different
// processes never contend on a cache line.
type Stats struct {
	Entries    uint64 // keys in the table
	BytesUsed  uint64 // log bytes the live entries take, headers included
	BytesFree  uint64 // log bytes that can still take new entries
	TotalBytes uint64 // size of the shared-memory object

	Sets       uint64 // writes that stored an entry
	Deletes    uint64 // deletes that removed a key
	LockWaits  uint64 // lock acquisitions that had to wait
	Recoveries uint64 // shards rebuilt after a dead writer or a bad index
	Rebuilds   uint64 // index rebuilds to drop tombstones

	Gets        uint64 // reads by this handle
	Hits        uint64 // reads by this handle that found their key
	Misses      uint64 // reads by this handle that did not
	ReadRetries uint64 // optimistic reads by this handle that raced a writer

	Shards        int // shards in the table
	SlotsPerShard int // index slots per shard
	MaxKeySize    int // largest key accepted
	MaxValueSize  int // largest value accepted
	KeyCapacity   int // most keys the table can hold
}

// Stats fills st. It is a sum of per-shard counters read at slightly
// different moments.
func (t *Table) Stats(st *Stats) error {
	if t.closed.Load() {
		return ErrClosed
	}
	*st = Stats{
		TotalBytes:    uint64(t.g.totalSize),
		Shards:        t.g.shards,
		SlotsPerShard: t.g.slotsPerShard,
		MaxKeySize:    t.g.maxKey,
		MaxValueSize:  t.g.maxValue,
		KeyCapacity:   t.g.keyCapacity() * t.g.shards,
	}
	for i := range t.shards {
		s := &t.shards[i]
		st.Entries += s.ctlLoad(ctlLiveEntries)
		used := s.ctlLoad(ctlLiveBytes)
		st.BytesUsed += used
		if limit := uint64(s.size - s.reserve); used < limit {
			st.BytesFree += limit - used
		}
		st.Sets += s.ctlLoad(ctlSets)
		st.Deletes += s.ctlLoad(ctlDeletes)
		st.LockWaits += s.ctlLoad(ctlLockWaits)
		st.Recoveries += s.ctlLoad(ctlRecoveries)
		st.Rebuilds += s.ctlLoad(ctlRebuilds)
		c := &t.counters[i]
		st.Hits += c.hits.Load()
		st.Misses += c.misses.Load()
		st.ReadRetries += c.retries.Load()
	}
	st.Gets = st.Hits + st.Misses
	return nil
}
