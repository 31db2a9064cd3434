package kv

import "github.com/shmkv/shmkv/kv/internal/format"

// Space: how a shard's log makes room for a new entry, by cleaning and, in
// an EvictS3FIFO table, by evicting. (When cleaning would have to work too
// hard, or cannot make room at all, the shard grows instead, while the
// table is below its memory ceiling: grow.go.)
//
// Expiry: an entry's expires word (internal/format/layout.go) holds the Unix nanosecond
// from which it is gone. Readers compare it with their clock and report an
// expired entry as absent, so no process returns it from that moment on,
// whatever the others do. Its space comes back without a sweep: cleaning
// drops expired entries at the log's tail, and a write or delete of the key
// retires it.
//
// Eviction (EvictS3FIFO): S3-FIFO over a small log and this, the main log
// (evict.go). The log is in write order; cleaning takes entries from its
// tail. An entry read since cleaning last passed it has the
// format.SlotReferenced bit set in its slot word: cleaning moves it to the head,
// which writes its slot afresh without the bit (a second chance) and gives
// it a credit; an entry without the bit spends a credit to be moved, and
// with none left is evicted while the shard is over its key or byte limit.
//
// Recording recency cheaply: a reader sets the bit only if it is not set
// already, with one compare-and-swap on the slot word from the exact value
// it read, so a hot entry costs one write per pass of the cleaner, not one
// per hit. The compare-and-swap can only succeed on a slot that still
// points where the reader looked, so at worst it marks an entry that has
// just replaced the one read; it never touches entry bytes. Read-only
// handles never write, so their reads do not count as uses.

// makeRoom cleans the main log from its tail until an entry of a.need
// bytes fits, and reports whether it dropped any entry (limitsOK is
// a.fits(v, l), which every caller has at hand): fits means the largest
// entry the shard holds (or need, if larger) more than need free in the
// log, and the entry within the shard's key and byte limits (l is the
// key's lookup,
// which a drop may turn into not found; a is the entry's admission, which
// makeRoom reloads after each drop). At the tail, a dead entry is
// dropped and an expired one too; in an EvictS3FIFO table an entry nobody read
// since cleaning last passed it and without credit is evicted while the
// limits are exceeded; any other live entry is copied to the head, with its
// referenced mark cleared (and in an evicting table its credit raised if it was
// read, spent if not), and its slot moved. A damaged stretch at the tail,
// or an entry there that fails its checksum and that no slot points at, is
// dropped and counted (format.CtlDamaged); since a slot may point into what was
// dropped, makeRoom then returns errCorruptIndex and the caller rebuilds
// the index and retries.
//
// It terminates: every step drops an entry or moves one, and it stops after
// passing over the log twice, by which time every dead and expired entry is
// gone and, in an evicting table, every entry has lost its mark and then been
// evicted if need be (the second pass heeds neither marks nor credit). In
// a NoEviction table the limits may still be exceeded then: that is
// ErrFull, and what was moved or dropped changed nothing a reader can see.
// Keeping one largest entry free at all times is what lets a live tail
// entry always be moved.
func (v *view) makeRoom(a *admission, l *lookup, now int64, limitsOK bool) (dropped bool, err error) {
	head, tail := v.head(), v.tail()
	size := uint64(v.size)
	room := a.need + a.largest()
	if head-tail > size {
		return false, errCorruptIndex
	}
	// Past one pass, readers in other processes may have marked again
	// what the first pass cleared: the second pass ignores the marks, so
	// that an evicting table always makes room.
	firstPass := head - tail
	budget := 2*firstPass + 1
	for {
		if limitsOK && size-(head-tail) >= uint64(room) {
			return dropped, nil
		}
		if head == tail || budget == 0 {
			if !limitsOK {
				return dropped, ErrFull
			}
			return dropped, errCorruptIndex
		}
		// The tail's item without itemAt in the common case, a plain entry
		// (plain), for which itemAt returns the very same item, with one
		// header load where itemAt makes two. Anything else (a skip
		// record, a marked entry, damage, any header in doubt) goes to
		// itemAt as before, so damage is found as it always was.
		toff, kind := v.mainOff(tail), itemEntry
		e, ok := v.loadHeader(toff)
		var esz uint64
		if ok && e.plain(head-tail) {
			esz = uint64(e.size())
		} else {
			it := v.itemAt(tail, head, false)
			kind, toff, esz, e = it.kind, it.off, it.size, it.hdr
		}
		budget -= min(budget, esz)
		switch {
		case kind == itemDamage:
			// Nothing readable to keep: drop the stretch. A slot may still
			// point into it, so have the caller rebuild the index.
			v.ctlAdd(format.CtlDamaged, 1)
			v.setTail(tail + esz)
			return dropped, errCorruptIndex
		case kind == itemEntry && e.state != format.EntryDead:
			if e.state != format.EntryLive {
				return dropped, errCorruptIndex
			}
			h := v.hashAt(toff, &e)
			i, word, err := v.slotOf(h, toff)
			if err != nil {
				if v.checksumAt(toff, &e) != e.checksum {
					// Damage the index never held (rebuild steps over it).
					v.ctlAdd(format.CtlDamaged, 1)
					v.setTail(tail + esz)
					return dropped, errCorruptIndex
				}
				return dropped, err
			}
			// Past the first pass, neither marks nor credit keep an entry.
			read := word&format.SlotReferenced != 0 && budget > firstPass
			c := credit(e.head)
			if isExpired(&e, now) || (v.evict && !limitsOK && !read && (c == 0 || budget <= firstPass)) {
				v.drop(i, toff, &e, now)
				dropped = true
				if l.found && l.off == toff {
					*l = lookup{} // the key's old entry is gone: it is a new key now
				}
				// Only a drop changes the counts, or l, that the limits are
				// checked on: a move leaves them as they were.
				a.reload(v)
				limitsOK = a.fits(v, l)
			} else {
				if size-(head-tail) < esz {
					return dropped, errCorruptIndex
				}
				hoff := v.mainOff(head)
				v.copyWithin(hoff, toff, int64(esz))
				if v.evict {
					// The cleaner keeps count of the passes an entry was
					// read in (evict.go).
					if read {
						c = min(c+1, maxCredit)
					} else if c > 0 {
						c--
					}
					if w := withCredit(e.head, c); w != e.head {
						v.setWord(hoff+format.EntHead, w)
					}
				}
				head += esz
				v.setHead(head)
				// Written afresh, the slot loses its referenced bit: the
				// entry's second chance.
				v.setSlot(i, slotValue(format.TagOf(h), hoff))
				if l.found && l.off == toff {
					l.off = hoff
				}
			}
		}
		tail += esz
		v.setTail(tail)
	}
}

// drop removes the live entry at off, whose slot is i, from the index and
// the counts: an eviction, or an expiration if it has expired.
func (v *view) drop(i uint64, off int64, e *entryHeader, now int64) {
	if !isExpired(e, now) {
		v.ctlAdd(format.CtlEvictions, 1)
	}
	v.retire(off, e, now)
	v.clearSlot(i)
	v.ctlAdd(format.CtlLiveEntries, ^uint64(0))
}

// markReferenced records a read through slot i, which held v.
func (v *view) markReferenced(i, word uint64) {
	if word&format.SlotReferenced == 0 {
		v.r.CAS(v.slots+int64(i), word, word|format.SlotReferenced)
	}
}

// admission is what a store of need bytes is admitted on: the shard's
// live counts and its largest entry, loaded from the control block once
// (admit), where each check used to load them afresh (growing, the
// limits, the log's memory, and cleaning once per entry it took). Only
// the lock holder changes these counters, so they stay as loaded until it
// changes them itself: whoever does (a drop, a rebuild, the small log's
// cleaning) loads them again (reload). The values are taken as loaded and
// checked as each check always did: a hostile or damaged counter can make
// a check wrong, never a read or a write go out of the shard's memory.
type admission struct {
	need    int64
	live    int64 // the shard's live bytes (format.CtlLiveBytes)
	small   int64 // of which in the small log (format.CtlSmallBytes); 0 without one
	entries int   // live entries (format.CtlLiveEntries)
	held    int64 // the largest entry held (format.CtlLargest), at most the table's largest
}

// admit loads the admission of an entry of need bytes.
func (v *view) admit(need int64) admission {
	a := admission{need: need, held: int64(min(v.ctlLoad(format.CtlLargest), uint64(v.maxEntry)))}
	a.reload(v)
	return a
}

// reload loads the live counts again, after the caller changed them.
func (a *admission) reload(v *view) {
	a.live = int64(v.ctlLoad(format.CtlLiveBytes))
	if v.lo != 0 { // no small log: spare a table that does not evict the load
		a.small = int64(v.ctlLoad(format.CtlSmallBytes))
	}
	a.entries = int(v.ctlLoad(format.CtlLiveEntries))
}

// largest is shard.largest(need) as loaded.
func (a *admission) largest() int64 { return max(a.held, a.need) }

// reserve is shard.reserve(need) as loaded.
func (a *admission) reserve() int64 { return 2 * a.largest() }

// fits reports whether the entry, in the main log of v and replacing l's
// entry if found, fits the shard's key and byte limits as loaded.
func (a *admission) fits(v *view, l *lookup) bool {
	liveBytes := a.live - a.small + a.need
	if l.found {
		if l.off >= v.lo {
			liveBytes -= l.hdr.size()
		}
	} else if a.entries >= v.keyCap {
		return false
	}
	return liveBytes <= v.size-a.reserve()
}

// growWanted reports whether v's index or log is too full to take the
// entry for l's key without growing (growFor, which decides the same from
// the counters afresh).
func (a *admission) growWanted(v *view, l *lookup) bool {
	live, entries := a.live+a.need, a.entries
	if l.found {
		live -= l.hdr.size()
	} else {
		entries++
	}
	return entries > v.ext.Slots*maxLoadNum/maxLoadDen || live+a.reserve() > v.end*growAtNum/growAtDen
}

// maxCredit is the most passes of the main log's cleaner an entry may
// stay for without being read.
const maxCredit = 3

// mainLive is the live bytes of the main log.
func (v *view) mainLive() int64 {
	live := int64(v.ctlLoad(format.CtlLiveBytes))
	if v.lo == 0 {
		return live // no small log: spare a table that does not evict the load
	}
	return live - int64(v.ctlLoad(format.CtlSmallBytes))
}

// credit is the credit of a main log entry with head word w.
func credit(w uint64) uint64 { return w & format.EntCreditMask >> format.EntCreditShift }

// withCredit is head word w with credit c.
func withCredit(w, c uint64) uint64 { return w&^format.EntCreditMask | c<<format.EntCreditShift }
