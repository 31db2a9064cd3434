package kv

import (
	"fmt"
	"math/bits"
	"runtime/debug"

	"github.com/shmkv/shmkv/kv/internal/failpoint"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/host"
)

// Repair salvages what damage left of the table: in every shard it drops
// each damaged stretch of the log (an entry that fails its checksum, or
// bytes no entry can be read from), keeps every entry whose checksum holds,
// rebuilds the index and the counters from what is kept, and reports each
// thing it dropped as a Problem, and counts it in Report.Dropped.
// Report.Entries is the live entries after. Nothing else repairs: reads of
// a damaged key return ErrCorrupt, and Check lists the damage, until Repair
// runs.
//
// A shard whose extent word (the word that places the shard's index and
// log) is damaged, so that the header of the extent it names does not
// describe that shard, has its extent found again: Repair scans the
// shard's span for extent headers that describe themselves as this
// shard's, takes the newest generation whose log bounds hold, republishes
// it, and rebuilds from its log as above. Entries the shard's counters
// held that its log does not are reported lost. An extent whose header
// alone is damaged, and whose word still names it, gets its
// self-description rewritten. A shard none of whose extents can be found
// is reported lost, and left as it is.
//
// It is safe to run beside other users of the table, and to kill: it works
// on one shard at a time under the shard's lock, each drop is one atomic
// store of a skip record over bytes that were already unreadable, a
// republished extent is one atomic store of the word its header already
// names, and the rebuild after is idempotent, so a Repair cut short
// leaves a table that the next lock holder recovers and the next Repair
// finishes. A shard whose log bounds themselves are damaged cannot
// be repaired; it is reported and left as it is.
func (t *Table) Repair() (rep *Report, err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if t.closed.Load() {
		return nil, ErrClosed
	}
	if t.readOnly {
		return nil, ErrReadOnly
	}
	rep = &Report{}
	// In order of number: a shard's buddies are numbered above it, and
	// are known to be in use only once it is readable (split.go).
	for i := range t.shards {
		if !t.inUse(i) {
			continue
		}
		rep.Shards++
		if err := t.repairShard(i, rep); err != nil {
			return rep, fmt.Errorf("shmkv: repair shard %d: %w", i, err)
		}
	}
	return rep, nil
}

func (t *Table) repairShard(i int, rep *Report) error {
	s := &t.shards[i]
	// The lock itself, without lockShard's recovery: that recovery would
	// fail on what Repair is here to fix, and Repair's own rebuild is a
	// recovery.
	tookOver, err := t.lock(s)
	if err != nil {
		return err
	}
	defer t.unlock(s)
	if tookOver {
		s.ctlAdd(format.CtlRecoveries, 1)
	}
	if s.ctlLoad(format.CtlSeq)&1 == 0 {
		s.beginWrite()
	}
	defer s.endWrite()
	counted := s.ctlLoad(format.CtlLiveEntries)
	v, refound, guessed, ok := t.repairExtent(s, rep)
	if !ok {
		return nil
	}
	t.reclaimGrow(&v)
	if !guessed {
		// Only from a depth the extent's checksum vouches for: one taken
		// on trust could name an in-use buddy as a dead split's.
		t.reclaimSplit(&v)
	}
	var dropped uint64
	for _, r := range v.rings() {
		head, tail := v.ringHead(r), v.ringTail(r)
		if head < tail || head-tail > uint64(r.size) {
			rep.add(i, -1, "log head %d and tail %d do not bound a log of %d bytes: cannot repair", head, tail, r.size)
			return nil
		}
		for p := tail; p != head; {
			it := v.itemIn(r, p, head, true)
			if it.kind == itemDamage {
				rep.add(i, it.off, "dropped: %s", v.describeDamage(it.off, it.size))
				rep.Dropped++
				dropped++
				v.writeSkip(r, p, it.size)
				v.ctlAdd(format.CtlDamaged, 1)
			}
			p += it.size
		}
	}
	if err := v.rebuild(); err != nil {
		rep.add(i, -1, "index rebuild failed: %v", err)
		return nil
	}
	live := v.ctlLoad(format.CtlLiveEntries)
	// A shard whose extent was found again may have lost what its log
	// does not hold: say how much, by the counters it had (which may
	// themselves be damaged, so this is what they claimed, at most what
	// any extent holds). Not bounded by the found extent's index: one
	// smaller than the lost one is exactly when the most was lost.
	if counted = min(counted, uint64(format.MaxSlots)); refound && counted > live+dropped {
		lost := counted - live - dropped
		rep.add(i, -1, "lost: %d entries the shard's counters held are not in the log of the extent found", lost)
		rep.Dropped += int(lost)
	}
	rep.Entries += int(live)
	return nil
}

// repairExtent returns the view of shard s, held locked in a write
// section, over its extent: the one its word names, if that extent's
// header describes it; else the one it finds again by its header and
// republishes (refound). It reports what it finds wrong, and false when
// it finds no extent of s. guessed says that the extent's depth is what
// its damaged self-description said, with no checksum to vouch for it.
func (t *Table) repairExtent(s *shard, rep *Report) (v view, refound, guessed, ok bool) {
	i := s.index
	w := s.ctlLoad(format.CtlExtent)
	problem := s.extentProblem(w)
	if problem == "" {
		e, _ := s.decode(w)
		v = s.at(e)
		d, _ := s.described(e)
		v.gen = d.gen
		v.setDepth(d.depth())
		return v, false, false, true
	}
	rep.add(i, -1, "%s", problem)
	found, err := t.findExtents(s)
	if err != nil {
		rep.add(i, -1, "cannot scan the shard's span for its extent: %v; cannot repair", err)
		return view{}, false, false, false
	}
	// The newest extent whose log walks; an unpublished one a grower left
	// (pending) only if there is no other: it holds a copy of the same
	// entries, which the one it was to replace still holds.
	pending := s.ctlLoad(format.CtlPending)
	least := t.leastDepth(s)
	best := -1
	for j, c := range found {
		switch {
		case !c.walks || c.depth < least:
			// Too shallow: an extent from before a split, which would
			// hold the classes a buddy holds now.
		case best < 0 || found[best].e.Word() == pending && c.e.Word() != pending:
			best = j
		case c.gen > found[best].gen && c.e.Word() != pending:
			best = j
		}
	}
	for _, c := range found {
		if !c.walks && (best < 0 || c.gen > found[best].gen) {
			rep.add(i, -1, "the extent at %d (generation %d) describes itself, but its log does not walk: passed over", c.e.Off, c.gen)
		}
	}
	if best >= 0 {
		c := found[best]
		// The rest of the span holds nothing the shard keeps: older
		// extents, the one a dead grower left, and pages that reads by the
		// damaged word gave memory. Give it all back first, so that a
		// Repair killed at any step leaves no memory the next one, which
		// finds the word whole, would not give back.
		for _, r := range [...][2]int64{{s.spanStart, c.e.Off}, {c.e.End(), s.spanEnd}} {
			if r[1] > r[0] {
				failpoint.Step()
				t.sh.Release(r[0], r[1]-r[0])
			}
		}
		s.ctlStore(format.CtlPending, 0)
		s.ctlStore(format.CtlRetired, 0)
		s.ctlStore(format.CtlExtent, c.e.Word())
		rep.add(i, -1, "found the shard's extent at %d by its header (generation %d) and republished it as extent word %#x", c.e.Off, c.gen, c.e.Word())
		v = s.at(c.e)
		v.gen = c.gen
		v.setDepth(c.depth)
		return v, true, false, true
	}
	// No extent describes itself. One that the word still names, one
	// word of whose self-description is damaged, is described again.
	if e, ok := s.decode(w); ok {
		d := s.describedAt(e.Off)
		self, vouched, ok := d.oneWordOff(s, w)
		// A depth taken on trust must be no less than the buddies'
		// extents say the shard has split to.
		ok = ok && (vouched || int(self>>32) >= t.leastDepth(s))
		if v = s.at(e); v.logWalks() && ok {
			// The generation is kept only if the checksum vouches for it:
			// a damaged one (say all ones) would pass into the next
			// grow's, which could wrap to 0, a generation no reader
			// accepts. No other extent of the shard was found to order
			// this one against, so 1 serves.
			v.gen = 1
			if d.gen != 0 && d.sum == format.SelfSum(s.seed, w, self, d.gen) {
				v.gen = d.gen
			}
			v.setDepth(int(self >> 32))
			v.describe(e, v.gen, v.depth)
			// This handle's view of the word may hold another depth.
			t.views[i].Store(nil)
			rep.add(i, -1, "rewrote the self-description of the extent at %d", e.Off)
			return v, true, !vouched, true
		}
	}
	rep.add(i, -1, "no extent of the shard describes itself in its span: its entries (%d by its counters) are lost; cannot repair", s.ctlLoad(format.CtlLiveEntries))
	rep.Dropped += int(min(s.ctlLoad(format.CtlLiveEntries), uint64(format.MaxSlots)))
	return view{}, false, false, false
}

// leastDepth is the least depth an extent of s may have: one past the
// highest bit at which s has split, as its buddies' extents show. A
// buddy's extent that a split which died left before its commit counts
// too, and rightly: it is written only once the splitting shard's new
// extent, at the depth it implies, is whole.
func (t *Table) leastDepth(s *shard) int {
	least := max(s.minDepth, bits.Len(uint(s.index)))
	for k := least; k < s.maxDepth; k++ {
		b := &t.shards[s.index|1<<k]
		if _, ok := b.peek(); ok {
			least = k + 1
		}
	}
	return least
}

// foundExtent is an extent findExtents found by its header.
type foundExtent struct {
	e     format.Extent
	gen   uint64
	depth int
	walks bool // its logs' heads and tails bound them
}

// findExtents scans s's span, page by page where it has memory, for
// extent headers that describe themselves as s's.
func (t *Table) findExtents(s *shard) ([]foundExtent, error) {
	var found []foundExtent
	err := host.DataRanges(t.sh.Fd(), s.spanStart, s.spanEnd, func(a, b int64) {
		for off := format.RoundUp(a, format.PageSize); off+format.ExtHeaderSize <= b; off += format.PageSize {
			if d := s.describedAt(off); d.valid(s, off) {
				e, _ := s.decode(d.word)
				v := s.at(e)
				found = append(found, foundExtent{e: e, gen: d.gen, depth: d.depth(), walks: v.logWalks()})
			}
		}
	})
	return found, err
}

// logWalks reports whether the heads and tails of v's logs bound them.
func (v *view) logWalks() bool {
	for _, r := range v.rings() {
		if head, tail := v.ringHead(r), v.ringTail(r); head < tail || head-tail > uint64(r.size) {
			return false
		}
	}
	return true
}

// writeSkip covers the n bytes of log r at position p with skip records,
// one atomic store each, none running past the end of a log whose entries
// do not wrap.
func (v *view) writeSkip(r ring, p, n uint64) {
	for n > 0 {
		chunk := min(n, maxSkip)
		if !r.wraps {
			chunk = min(chunk, uint64(r.size)-p%uint64(r.size))
		}
		v.setWord(r.base+int64(p%uint64(r.size)), chunk<<32)
		p, n = p+chunk, n-chunk
	}
}
