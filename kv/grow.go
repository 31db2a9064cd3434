package kv

import (
	"errors"
	"syscall"
	"time"

	"github.com/shmkv/shmkv/kv/internal/failpoint"
	"github.com/shmkv/shmkv/kv/internal/format"
)

// Growth. A shard's index and log live in one extent (extent.go); a shard
// short of room moves into a larger one, while the table is below its
// memory ceiling (the header's max memory, against the object's allocated
// blocks). The protocol, run by a writer holding the shard's lock:
//
//  1. Place the new extent in the shard's span, beside the current one,
//     and record it in the control block's pending word. From here on a
//     grower that dies is undone by the next lock holder (reclaimGrow):
//     the pending extent is released and the shard carries on in the old
//     one, which the grow only reads.
//  2. Allocate memory for its index and for as much log as the live
//     entries take (the rest of the log gets memory as the head reaches
//     it: logmemory.go): a full /dev/shm stops the grow here, with
//     nothing changed.
//  3. Build it: copy the live entries, in log order, into a compact new
//     log, and index them. Readers are not held up: the sequence counter
//     stays even and they go on reading the old extent, which nothing
//     changes.
//  4. Describe it: write its self-description (extent.go) into its
//     header, the next generation of the shard's extents, naming the word
//     that will publish it. A grower that dies here leaves an extent no
//     word names, which recovery releases as in step 1.
//  5. Publish, inside one write section (sequence odd): record the old
//     extent in the retired word, then store the new extent word — the
//     commit point, one atomic store — then the counters. A reader that
//     read the old extent finds the counter changed and retries on the
//     new one. A grower that dies after the commit leaves a shard whose
//     recovery rebuilds the new extent's index from its log.
//  6. Give back the old extent's memory (a punched hole). A reader still
//     copying from it (it loaded the old extent word before step 5) sees
//     zeros and retries; but its touch re-allocates the page it reads
//     (tmpfs fills holes on a read fault), so the retired word stays set,
//     and a second release a second later (releaseStale) gives back what
//     such stragglers touched.
//
// A grow takes the memory of both extents until step 6; the ceiling check
// counts the new one, whole, on top of what the extents may come to take
// (committedBytes). One the ceiling refuses at the size asked for takes
// the largest extent that fits, if that holds an eighth more (fitted).

// errNoGrowth is internal: the shard cannot grow now (the memory ceiling,
// its span, or a full /dev/shm), and carries on as it is.
var errNoGrowth = errors.New("shmkv: the shard cannot grow")

// growAtNum/growAtDen is how full a shard's log may be, its live data plus
// the reserve, before it grows: beyond it, cleaning would move much live
// data to free little.
const growAtNum, growAtDen = 3, 4

// growFor grows the shard, before a store of need bytes for the key of l,
// when its index or its log is too full and the table may take more
// memory. A shard that cannot grow carries on as it is: cleaning, evicting
// or ErrFull decide. After a grow it returns the view of the new extent,
// and l is the key's lookup in it; v, which readers may share, is left as
// it was.
func (v *view) growFor(need int64, l *lookup, key []byte, h uint64, now int64) (*view, error) {
	live := int64(v.ctlLoad(format.CtlLiveBytes)) + need
	entries := int(v.ctlLoad(format.CtlLiveEntries))
	if l.found {
		live -= l.hdr.size()
	} else {
		entries++
	}
	slots, data, want := v.ext.Slots, v.end, live+v.reserve(need)
	if entries <= slots*maxLoadNum/maxLoadDen && want <= data*growAtNum/growAtDen {
		return nil, nil
	}
	// Grow the log by half again, or to half again what it must hold, and
	// the index with it, for as many entries of the shard's average size
	// as the log holds: growing one without the other would soon copy the
	// shard again.
	if want > data*growAtNum/growAtDen {
		data = min(max(data+data/2, format.RoundUp(want+want/2, 8)), format.MaxData)
	}
	avg := max(live/int64(max(entries, 1)), format.EntryHeaderSize+8)
	for (entries > slots*maxLoadNum/maxLoadDen || data*growAtNum/growAtDen/avg > int64(slots*maxLoadNum/maxLoadDen)) && slots < format.MaxSlots {
		slots *= 2
	}
	grown, err := v.t.grow(v, slots, data, need, h)
	if err == errNoGrowth {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !grown.owns(h) {
		return nil, errClassMoved // a split: the key's class went to the buddy
	}
	// A new variable, so that only a grow made puts a view on the heap:
	// one that grow refuses, as at the memory ceiling on every write to
	// a full shard, allocates nothing.
	nv := grown
	return &nv, nv.find(key, h, now, l)
}

// grow moves v, held locked, into a new extent of slots slots and at least
// data bytes of log, and returns the view of it, for a write of need bytes
// for a key hashing to h. See the top of this file. A shard that should
// split instead (split.go) does, and the view returned may then not hold
// h's class.
func (t *Table) grow(v *view, slots int, data, need int64, h uint64) (view, error) {
	d := &t.denials[v.index]
	e := format.NewExtent(0, slots, data, v.evict)
	if v.wantsSplit(e.Size) {
		if nv, err := t.split(v, need, h); err != errNoGrowth {
			return nv, err
		}
	}
	if at := d.at.Load(); at != 0 && time.Since(time.Unix(0, at)) < time.Second && e.Size >= d.size.Load() {
		return view{}, errNoGrowth
	}
	deny := func() (view, error) {
		d.size.Store(e.Size)
		d.at.Store(time.Now().UnixNano())
		return view{}, errNoGrowth
	}
	// The retired extent's range is free once released, and only one is
	// kept.
	t.releaseRetired(v)
	committed, err := t.committedBytes()
	if err != nil {
		return view{}, err
	}
	if committed+e.Size > t.g.MaxMemory {
		fitted, ok := v.fitted(t.g.MaxMemory-committed, slots)
		if !ok {
			return deny()
		}
		e = fitted
	}
	off, ok := v.place(e.Size)
	if !ok {
		return deny()
	}
	e.Off = off

	v.ctlStore(format.CtlPending, e.Word()) // 1
	failpoint.Step()
	// The index, and as much log as the live entries take: the log's
	// memory grows with its head from there (logmemory.go).
	nv := v.at(e)
	nv.setDepth(v.depth)
	if err := nv.allocateNew(v.mainLive()); err != nil { // 2
		t.sh.Release(e.Off, e.Size)
		v.ctlStore(format.CtlPending, 0)
		if err == errNoGrowth {
			return deny()
		}
		return view{}, err
	}
	n, err := nv.copyFrom(v) // 3
	if err != nil {
		t.sh.Release(e.Off, e.Size)
		v.ctlStore(format.CtlPending, 0)
		return view{}, err
	}

	nv.gen = v.gen + 1
	nv.describe(e, nv.gen, nv.depth)    // 4
	t.publish(v, e, n, format.CtlGrows) // 5, 6
	return nv, nil
}

// publish makes e, built and described, the current extent of v's shard,
// held locked, and gives back the old one: steps 5 and 6 above, for a
// grow and for a split (split.go). n is what the copy put in e, stored as
// the shard's counters, and counter counts the publish.
func (t *Table) publish(v *view, e format.Extent, n copied, counter int64) {
	old := v.ext
	v.beginWrite()
	v.ctlStore(format.CtlRetired, old.Word())
	v.ctlStore(format.CtlRetiredAt, uint64(time.Now().UnixNano()))
	v.ctlStore(format.CtlExtent, e.Word()) // the commit point
	v.ctlStore(format.CtlPending, 0)
	v.storeCounters(n)
	v.ctlStore(format.CtlTombstones, 0)
	if n.dropped > 0 {
		v.ctlAdd(format.CtlDamaged, n.dropped)
	}
	v.ctlAdd(counter, 1)
	v.endWrite()
	failpoint.Step()
	t.sh.Release(old.Off, old.Size)
}

// storeCounters stores what a copy put in s's new extent as s's counters.
func (s *shard) storeCounters(n copied) {
	s.ctlStore(format.CtlLiveEntries, n.entries)
	s.ctlStore(format.CtlLiveBytes, n.bytes)
	s.ctlStore(format.CtlSmallBytes, n.small)
	s.ctlStore(format.CtlExpiring, n.expiring)
	s.ctlStore(format.CtlLargest, n.largest)
}

// allocateNew gives memory to v's index, ghost and as much of its log as
// live bytes of entries take (logmemory.go), for a new extent nothing
// reads yet, and records it in the extent's header.
func (v *view) allocateNew(live int64) error {
	main := v.data + v.lo // the small log, before it, gets memory whole with the index
	logBytes := min(format.RoundUp(main+live, format.PageSize), main+v.size) - main
	err := v.t.sh.AllocateRange(v.ext.Off, main+logBytes-v.ext.Off)
	if ghost, n := v.ghostRange(); err == nil && n > 0 {
		err = v.t.sh.AllocateRange(ghost, n)
	}
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return errNoGrowth
		}
		return err
	}
	v.r.Store(v.hdr+format.ExtAllocated/8, uint64(logBytes))
	return nil
}

// fitted is the extent of at most budget bytes that holds the most
// entries of v's average size, for a grow that the ceiling refuses at the
// size growFor asked for: its index as large as asked for or smaller, down
// to v's, its logs together no smaller than v's. Near the ceiling, a
// table so grows into what the ceiling leaves instead of stopping at the
// last extent that could grow by half. It reports false if no such extent
// holds an eighth more entries than v's.
func (v *view) fitted(budget int64, slots int) (format.Extent, bool) {
	budget = budget / format.PageSize * format.PageSize
	avg := max(int64(v.ctlLoad(format.CtlLiveBytes))/int64(max(v.ctlLoad(format.CtlLiveEntries), 1)), format.EntryHeaderSize+8)
	capacity := func(slots int, log int64) int64 {
		return min(int64(slots*maxLoadNum/maxLoadDen), log*growAtNum/growAtDen/avg)
	}
	have := capacity(v.ext.Slots, v.end)
	best, most := format.Extent{}, have+have/8
	for s := slots; s >= v.ext.Slots; s /= 2 {
		log := budget - format.ExtHeaderSize - int64(s)*format.SlotSize
		ceiling := int64(format.MaxData)
		if v.evict {
			log -= format.GhostBytes(s)
			ceiling -= format.GhostBytes(s)
		}
		log = min(log, ceiling) &^ 7
		if log < v.end {
			continue
		}
		if c := capacity(s, log); c > most {
			if e := format.NewExtent(0, s, log, v.evict); e.Size <= budget {
				best, most = e, c
			}
		}
	}
	return best, best.Size > 0
}

// place finds room for an extent of size bytes in v's span beside its
// current extent: after it if there is room, else before it.
func (v *view) place(size int64) (int64, bool) {
	if after := v.ext.End(); v.spanEnd-after >= size {
		return after, true
	}
	if v.ext.Off-v.spanStart >= size {
		return v.spanStart, true
	}
	return 0, false
}

// copied is what copyFrom put in a new extent.
type copied struct {
	entries, bytes, largest, expiring uint64
	small                             uint64 // bytes of them in the small log
	dropped                           uint64 // live entries no slot pointed at: damage rebuild stepped over
}

// copyFrom fills v, a new extent nothing reads yet, with those of src's
// live entries whose class v's shard holds at v's depth (all of them, in
// a grow; half, in a split), in log order, each log's as a compact log
// from position 0 of the same log in v, and indexes them, keeping their
// referenced marks. In a grow the small log of v is at least as large as
// src's, so what src's held fits; in a split it may not, and what does
// not goes on into the main log, which is given memory for all of the
// half's entries (split.go). It fails with errCorruptIndex when src's logs
// or counters cannot be what they claim: the write that asked for the
// grow then rebuilds src, which recounts them, and tries once more.
func (v *view) copyFrom(src *view) (copied, error) {
	var n copied
	failpoint.Step()
	clear(v.r.B[v.slots*8 : (v.slots+int64(v.mask)+1)*8])
	from, to := src.rings(), v.rings()
	var cursors [2]copyCursor // nothing allocates under the lock
	dst := cursors[:len(to)]
	for k, r := range to {
		dst[k] = copyCursor{ring: r, room: uint64(v.allocated())}
		if !r.wraps {
			dst[k].room = uint64(r.size)
		}
	}
	for k, r := range from {
		// A log's entries go to the same log of v, and on to the next
		// (the main log) when it is full.
		if err := v.copyRing(src, r, dst[k:], &n); err != nil {
			return n, err
		}
	}
	for _, c := range dst {
		v.r.Store(v.hdr+c.ring.tail/8, 0)
		v.r.Store(v.hdr+c.ring.head/8, c.p)
	}
	return n, nil
}

// copyCursor is where copyRing puts entries in one log of a new extent:
// at position p, with room bytes in all.
type copyCursor struct {
	ring
	room, p uint64
}

// copyRing copies the live entries of from's log r that v's shard holds
// to the first of dst's logs with room for each.
func (v *view) copyRing(from *view, r ring, dst []copyCursor, n *copied) error {
	return from.liveItems(r, func(it *logItem, h uint64) error {
		if !v.owns(h) {
			// The other half's, in a split; or an entry of another
			// shard's class, which no reader would look for here: count
			// it once, in the copy that keeps the shard's number.
			if !from.owns(h) && v.index == from.index {
				n.dropped++
			}
			return nil
		}
		_, w, err := from.slotOf(h, it.off)
		if err != nil {
			n.dropped++
			return nil
		}
		for dst[0].p+it.size > dst[0].room {
			if len(dst) == 1 {
				return errCorruptIndex // more live data than the counters said
			}
			dst = dst[1:]
		}
		c := &dst[0]
		a, b := from.pieces(it.off, int(it.size))
		off := c.base + int64(c.p)
		failpoint.Step()
		copy(v.r.B[v.data+off:], a)
		copy(v.r.B[v.data+off+int64(len(a)):], b)
		if !v.insertCopied(h, slotValue(format.TagOf(h), off)|w&format.SlotReferenced) {
			return errCorruptIndex
		}
		n.entries++
		n.bytes += it.size
		if !c.wraps {
			n.small += it.size
		}
		n.largest = max(n.largest, it.size)
		if it.hdr.expires != 0 {
			n.expiring++
		}
		c.p += it.size
		return nil
	})
}

// insertCopied puts slot word w for a key hashing to h into the first
// empty slot of its probe path.
func (v *view) insertCopied(h, w uint64) bool {
	i := h & v.mask
	for range v.mask + 1 {
		if v.slot(i) == format.SlotEmpty {
			v.setSlot(i, w)
			return true
		}
		i = (i + 1) & v.mask
	}
	return false
}

// reclaimGrow, in recovery, undoes or finishes what a grower that died
// left in v's control block: a pending extent that was never published is
// released (one that was is simply no longer pending), and so is a retired
// one. A word that names no extent of this shard's span, or one that
// overlaps the current extent, is cleared without releasing anything: a
// hostile word must not make recovery punch live data.
func (t *Table) reclaimGrow(v *view) {
	for _, field := range []int64{format.CtlPending, format.CtlRetired} {
		t.releaseExtentAt(v, field)
	}
}

// releaseRetired gives back the memory of v's retired extent, if any.
func (t *Table) releaseRetired(v *view) { t.releaseExtentAt(v, format.CtlRetired) }

func (t *Table) releaseExtentAt(v *view, field int64) {
	w := v.ctlLoad(field)
	if w == 0 {
		return
	}
	if e, ok := format.DecodeExtent(w, v.spanStart, v.spanEnd); ok && (e.End() <= v.ext.Off || e.Off >= v.ext.End()) {
		failpoint.Step()
		t.sh.Release(e.Off, e.Size)
	}
	v.ctlStore(field, 0)
}

// releaseStale releases, a second time, the retired extents that grows
// left more than a second ago, for the pages that readers still on them
// touched after the first release. The flusher calls it; it skips a shard
// whose lock is taken.
func (t *Table) releaseStale() {
	cutoff := uint64(time.Now().Add(-time.Second).UnixNano())
	for i := range t.shards {
		s := &t.shards[i]
		if s.ctlLoad(format.CtlRetired) == 0 || s.ctlLoad(format.CtlRetiredAt) > cutoff || !t.tryLock(s) {
			continue
		}
		if v, ok := s.view(); ok && s.ctlLoad(format.CtlSeq)&1 == 0 {
			t.releaseRetired(&v)
		}
		t.unlock(s)
	}
}
