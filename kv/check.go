package kv

import (
	"fmt"
	"runtime/debug"
	"time"

	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/region"
)

// Report is what Check found. A table is healthy when Problems is empty.
type Report struct {
	Shards   int       // shards examined
	Entries  int       // live entries found in the logs
	Problems []Problem // everything found wrong, in shard order
	// Dropped is, after Repair, how many damaged entries or stretches of
	// log it dropped, and how many entries it found lost with a shard's
	// damaged extent word (see Repair).
	Dropped int
}

// Problem is one thing Check found wrong.
type Problem struct {
	Shard  int    // the shard, or -1 for the header
	Offset int64  // data offset of the entry concerned, or -1
	What   string // what is wrong
}

func (p Problem) String() string {
	if p.Shard < 0 {
		return "header: " + p.What
	}
	if p.Offset < 0 {
		return fmt.Sprintf("shard %d: %s", p.Shard, p.What)
	}
	return fmt.Sprintf("shard %d, entry at %d: %s", p.Shard, p.Offset, p.What)
}

// Check verifies the whole table: the header's checksum and geometry; in
// every shard, every entry's lengths and checksum, every live key reachable
// from its slot, no key live twice, every slot pointing at a live entry, and
// the counters equal to what is there. It reports what it finds and changes
// no entry; Repair is what drops damage. It holds each shard's lock only to
// copy the shard out, so it can run beside other users of the table; on a
// read-write handle, taking the lock of a shard whose writer died recovers
// that shard first (rebuilds its index from the log), as any write would.
// A read-only handle, which may not lock, copies each shard optimistically
// and reports a dead writer's lock as a problem. Neither waits for a writer
// that holds a shard still (stopped, say): a shard it holds is copied as
// it stands once it has held it a few milliseconds.
func (t *Table) Check() (rep *Report, err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if t.closed.Load() {
		return nil, ErrClosed
	}
	rep = &Report{}
	if _, err := format.DecodeHeader(t.r.B[:format.HeaderSize], int64(len(t.r.B))); err != nil {
		rep.Problems = append(rep.Problems, Problem{Shard: -1, Offset: -1, What: err.Error()})
		return rep, nil
	}
	var img []byte
	// One bound for all the shards: writers that keep a shard changing
	// hold a copy up for livenessBound in all, not per shard.
	deadline := time.Now().Add(min(livenessBound, t.lockTimeout))
	for i := range t.shards {
		if !t.inUse(i) {
			continue
		}
		rep.Shards++
		s := &t.shards[i]
		// A read-write handle recovers such a shard as it copies it; a
		// read-only one can only say so.
		if w := loadLockWord(s); w != 0 && t.readOnly && t.probeOwner(w) == ownerDead {
			rep.add(i, -1, "locked by a process that has died (the next writer recovers it)")
		}
		c, ok, err := t.copyShard(s, &img, deadline)
		if err != nil {
			return rep, fmt.Errorf("shmkv: check shard %d: %w", i, err)
		}
		if !ok {
			what := s.extentProblem(s.ctlLoad(format.CtlExtent))
			if what == "" {
				what = "the shard's extent changed under every copy of it"
			}
			rep.add(i, -1, "%s; 'check --repair' finds the extent again", what)
			continue
		}
		// The copy went by a view that may have checked the extent's
		// header long ago (current): check it again, and call it damage
		// if the word did not change meanwhile (a grow).
		w := s.ctlLoad(format.CtlExtent)
		if what := s.extentProblem(w); what != "" && s.ctlLoad(format.CtlExtent) == w {
			rep.add(i, -1, "%s; 'check --repair' rewrites it", what)
		}
		// The bound is on waiting for writers: the time the check of
		// the copy takes does not count against it.
		start := time.Now()
		rep.Entries += c.check(i, rep)
		deadline = deadline.Add(time.Since(start))
	}
	return rep, nil
}

func (r *Report) add(shard int, off int64, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Shard: shard, Offset: off, What: fmt.Sprintf(format, args...)})
}

// copyShard copies s's control block and current extent into *img, which
// it grows as needed, and returns a shard over the copy; ok is false when
// the extent word names no extent. It copies as copyAround says: never
// waiting for a lock, under one only where it was free or its holder dead.
func (t *Table) copyShard(s *shard, img *[]byte, deadline time.Time) (c view, ok bool, err error) {
	copyOut := func() (view, bool) {
		v, ok := s.view()
		if !ok {
			return view{}, false
		}
		n := format.ControlSize + v.ext.Size
		if int64(cap(*img)) < n {
			return view{}, false // the caller sizes img and tries again
		}
		*img = (*img)[:n]
		copy(*img, t.r.B[s.ctl*8:s.ctl*8+format.ControlSize])
		// Only what has memory: reading a hole would give it some. The
		// log beyond was never written and reads as zeros.
		have := v.data + v.lo + v.allocated()
		m := copy((*img)[format.ControlSize:], t.r.B[v.ext.Off:have])
		clear((*img)[format.ControlSize+m:])
		return imageShard(&v, *img), true
	}
	// Size the copy before taking any lock: nothing allocates under one.
	fit := func() {
		if v, ok := s.view(); ok && int64(cap(*img)) < format.ControlSize+v.ext.Size {
			*img = make([]byte, 0, format.ControlSize+2*v.ext.Size)
		}
	}
	for attempt := 0; ; attempt++ {
		fit()
		c, ok, err = t.copyAround(s, copyOut, deadline)
		if err != nil {
			return view{}, false, err
		}
		if ok || attempt > 2 {
			return c, ok, nil
		}
		if _, valid := s.view(); !valid {
			return view{}, false, nil
		}
	}
}

// copyAround runs copyOut by the ladder of around.go. A read-write handle
// takes the lock when it is free, or when its holder died (which recovers
// the shard first); a shard whose recovery fails is copied as it is, for
// Check to report. Otherwise it copies under the sequence counter, or
// around a writer that holds the shard still (stopped, or dead beside a
// read-only handle) once it has judged so, so that Check reports the
// shard as that writer left it; and past the deadline around any writer
// that holds the counter still across the copy: a copy that a writer
// changed under it then is torn, and gives ErrLockTimeout, not its
// problems. A copy around a live writer mid-write that shows problems is
// taken only past the deadline, or it would report a write under way.
func (t *Table) copyAround(s *shard, copyOut func() (view, bool), deadline time.Time) (view, bool, error) {
	a := t.around(s, deadline)
	a.lockFree = true
	for {
		mv, err := a.next()
		switch {
		case err == ErrCorrupt:
			// Recovery failed: copied as it is, for Check to report.
			c, ok := copyOut()
			return c, ok, nil
		case err != nil:
			return view{}, false, err
		case mv == moveLocked:
			c, ok := copyOut()
			t.unlock(s)
			return c, ok, nil
		}
		// Optimistic, or around a writer: either way the counter must
		// hold still across the copy (odd or not, around one).
		seq := s.ctlLoad(format.CtlSeq)
		if seq&1 == 0 || mv == moveAround {
			c, ok := copyOut()
			region.LoadFence() // the copy's loads before the counter's
			moved := s.ctlLoad(format.CtlSeq) != seq
			if time.Now().After(deadline) {
				if moved {
					// A copy a writer changed under it is torn: its
					// problems would be the write's, not the shard's.
					return view{}, false, ErrLockTimeout
				}
				return c, ok, nil
			}
			if moved {
				continue
			}
			if !ok || seq&1 == 0 || a.w == 0 {
				return c, ok, nil
			}
			if a.holderDead() {
				if !t.readOnly && !a.takeOver {
					// Remembered as stalled, the holder has died since:
					// recover the shard under its lock (next) and copy it
					// then, as a first look would have.
					a.takeOver = true
					continue
				}
				return c, ok, nil
			}
			// A live writer's section is under way, held still: stopped,
			// or only off its processor for a while. Check must not
			// report a write in progress as damage: a copy that looks
			// wrong waits, until the deadline, for the writer to move.
			var scratch Report
			if c.check(s.index, &scratch); len(scratch.Problems) == 0 {
				return c, ok, nil
			}
			for loadLockWord(s) == a.w && s.ctlLoad(format.CtlSeq) == seq && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
	}
}

// imageShard is v over a private copy of its control block and extent
// made by copyShard.
func imageShard(v *view, img []byte) view {
	c := *v
	c.r = region.New(img)
	c.lockWord = nil
	c.ctl = 0
	iv := c.at(format.Extent{Off: format.ControlSize, Size: v.ext.Size, Slots: v.ext.Slots})
	iv.setDepth(v.depth)
	return iv
}

// check examines a shard image and returns how many live entries it holds.
func (v *view) check(i int, rep *Report) int {
	if f := v.ctlLoad(format.CtlFlags); f != 0 {
		rep.add(i, -1, "flagged for rebuild (%#x): a rebuild failed or is under way", f)
	}
	liveAt := make(map[int64]bool)
	byKey := make(map[string]int64)
	var live, liveBytes, smallBytes uint64
	for _, r := range v.rings() {
		name := "log"
		if !r.wraps {
			name = "small log"
		}
		head, tail := v.ringHead(r), v.ringTail(r)
		if head < tail || head-tail > uint64(r.size) {
			rep.add(i, -1, "%s head %d and tail %d do not bound a log of %d bytes", name, head, tail, r.size)
			return 0
		}
		n, bytes := v.checkRing(i, r, head, tail, rep, liveAt, byKey)
		live += n
		liveBytes += bytes
		if !r.wraps {
			smallBytes = bytes
		}
	}
	var tombstones, expiring uint64
	for j := range v.mask + 1 {
		word := v.slot(j)
		switch {
		case word == format.SlotEmpty:
		case word == format.SlotTombstone:
			tombstones++
		default:
			if off, ok := v.slotOffset(word); !ok || !liveAt[off] {
				rep.add(i, -1, "slot %d points at %d, which is not a live entry", j, off)
			} else if e, _ := v.loadHeader(off); e.expires != 0 {
				expiring++
			}
		}
	}
	if n := v.ctlLoad(format.CtlLiveEntries); n != live {
		rep.add(i, -1, "live entry counter %d, the log holds %d", n, live)
	}
	if n := v.ctlLoad(format.CtlLiveBytes); n != liveBytes {
		rep.add(i, -1, "live byte counter %d, the log holds %d", n, liveBytes)
	}
	if n := v.ctlLoad(format.CtlSmallBytes); n != smallBytes {
		rep.add(i, -1, "small log byte counter %d, the small log holds %d", n, smallBytes)
	}
	if n := v.ctlLoad(format.CtlExpiring); n != expiring {
		rep.add(i, -1, "expiring entry counter %d, the index holds %d", n, expiring)
	}
	if n := v.ctlLoad(format.CtlTombstones); n != tombstones {
		rep.add(i, -1, "tombstone counter %d, the index holds %d", n, tombstones)
	}
	return int(live)
}

// checkRing examines the log r of a shard image, noting every live entry
// in liveAt and byKey, and returns how many live entries it holds and how
// many bytes they take.
func (v *view) checkRing(i int, r ring, head, tail uint64, rep *Report, liveAt map[int64]bool, byKey map[string]int64) (live, liveBytes uint64) {
	for p := tail; p != head; {
		it := v.itemIn(r, p, head, true)
		p += it.size
		off, e := it.off, it.hdr
		switch {
		case it.kind == itemDamage:
			rep.add(i, off, "%s; 'check --repair' drops it", v.describeDamage(off, it.size))
			if e, ok := v.loadHeader(off); ok && e.state == format.EntryLive && uint64(e.size()) <= it.size {
				// Still counted and indexed as live until Repair drops it:
				// one problem, not three.
				live++
				liveBytes += uint64(e.size())
				liveAt[off] = true
			}
			continue
		case it.kind == itemSkip || e.state == format.EntryDead:
			continue
		case e.state != format.EntryLive:
			rep.add(i, off, "entry state %#x is neither live nor dead", e.state)
			continue
		}
		live++
		liveBytes += uint64(e.size())
		liveAt[off] = true
		key := v.keyString(off, &e)
		if prev, dup := byKey[key]; dup {
			rep.add(i, off, "key %q is also live at %d", key, prev)
		}
		byKey[key] = off
		h := v.hashAt(off, &e)
		if !v.owns(h) {
			rep.add(i, off, "key %q is of class %d, which the shard does not hold at depth %d", key, h>>v.classShift, v.depth)
		} else if !v.reachable(h, off) {
			rep.add(i, off, "key %q is not reachable from its home slot", key)
		}
	}
	return live, liveBytes
}

// keyString copies out the key of the entry e at off.
func (v *view) keyString(off int64, e *entryHeader) string {
	a, b := v.pieces(e.keyAt(off), e.klen)
	return string(a) + string(b)
}

// describeDamage says what the damaged stretch of n bytes at off was.
func (v *view) describeDamage(off int64, n uint64) string {
	if e, ok := v.loadHeader(off); ok && e.state == format.EntryLive && uint64(e.size()) <= n {
		return fmt.Sprintf("entry of key %q fails its checksum", v.keyString(off, &e))
	}
	return fmt.Sprintf("%d bytes of log unreadable", n)
}

// reachable reports whether a probe for hash h meets the slot pointing at
// off before an empty slot.
func (v *view) reachable(h uint64, off int64) bool {
	want := slotValue(format.TagOf(h), off)
	j := h & v.mask
	for range v.mask + 1 {
		word := v.slot(j)
		if word != format.SlotTombstone && word&^format.SlotReferenced == want {
			return true
		}
		if word == format.SlotEmpty {
			return false
		}
		j = (j + 1) & v.mask
	}
	return false
}
