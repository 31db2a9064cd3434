package kv

// Expiry and eviction.
//
// Expiry: an entry's expires word (layout.go) holds the Unix nanosecond
// from which it is gone. Readers compare it with their clock and report an
// expired entry as absent, so no process returns it from that moment on,
// whatever the others do. Its space comes back without a sweep: cleaning
// drops expired entries at the log's tail, and a write or delete of the key
// retires it.
//
// Eviction (EvictLRU): an approximation of least-recently-used, the CLOCK
// algorithm laid over the log. The log is in write order; cleaning takes
// entries from its tail. An entry read since cleaning last passed it has
// the slotReferenced bit set in its slot word: cleaning moves it to the
// head, which writes its slot afresh without the bit (a second chance); an
// entry without the bit is evicted while the shard is over its key or byte
// limit.
//
// Recording recency cheaply: a reader sets the bit only if it is not set
// already, with one compare-and-swap on the slot word from the exact value
// it read, so a hot entry costs one write per pass of the cleaner, not one
// per hit. The compare-and-swap can only succeed on a slot that still
// points where the reader looked, so at worst it marks an entry that has
// just replaced the one read; it never touches entry bytes. Read-only
// handles never write, so their reads do not count as uses.

// isExpired reports whether e has expired at now (Unix nanoseconds).
func isExpired(e *entryHeader, now int64) bool {
	return e.expires != 0 && now >= int64(e.expires)
}

// drop removes the live entry at off, whose slot is i, from the index and
// the counts: an eviction, or an expiration if it has expired.
func (s *shard) drop(i uint64, off int64, e *entryHeader, now int64) {
	if !isExpired(e, now) {
		s.ctlAdd(ctlEvictions, 1)
	}
	s.retire(off, e, now)
	s.clearSlot(i)
	s.ctlAdd(ctlLiveEntries, ^uint64(0))
}

// markReferenced records a read through slot i, which held v.
func (s *shard) markReferenced(i, v uint64) {
	if v&slotReferenced == 0 {
		s.r.cas(s.slots+int64(i), v, v|slotReferenced)
	}
}
