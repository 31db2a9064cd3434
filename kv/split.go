package kv

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/shmkv/shmkv/kv/internal/failpoint"
	"github.com/shmkv/shmkv/kv/internal/format"
)

// Shards follow the data. A key's class is the top log2(shards) bits of
// its hash; a shard of depth d holds the classes whose low d bits are its
// number (internal/format/layout.go). A table that expects nothing starts
// with a few shards in use (plan.go); a shard that would grow past
// splitAbove, or out of its span, splits instead, while its depth is below
// the table's: a small table so keeps its writers' state in a few cache
// lines, and a large one many shards, each quick to grow.
//
// A split of shard c at depth d, run by a writer holding c's lock, is a
// grow (grow.go) that builds two extents, one for c and one for its
// buddy b = c + 2^d, each with the live entries of its half of c's
// classes, both described at depth d+1:
//
//  1. Release b's span and clear its extent words: b is in use by
//     nobody (no shard in use has split into it), so all that can be
//     there is what a split of c that died left.
//  2. Place both extents and record each in its shard's pending word,
//     from where recovery of c releases them; then allocate and fill
//     them, as a grow does.
//  3. Store b's counters, then its extent word, and clear its pending
//     one. Nobody reads them yet: every key of b's classes still leads
//     to c, whose depth is d (populate and Repair's leastDepth look at
//     b's extent, but keep no view of it: peek, extent.go).
//  4. Publish c's extent inside one write section, as a grow publishes:
//     the store of c's extent word, with the depth in its description, is
//     the commit point. From it a reader or writer of b's classes that
//     comes to c finds that c no longer holds them (owns), and goes on to
//     b (route), whose extent word was stored before.
//  5. Give back c's old extent, as a grow does.
//
// A splitter that dies before the commit leaves c as it was, with a
// pending extent and b's half-built one; recovery of c releases both
// (reclaimGrow the first, reclaimSplit the second), and so does Repair. One that dies after it leaves both shards whole but c's
// counters, which recovery recounts.
//
// Readers and writers route by a per-handle table of which shard held
// each class when last looked; a shard's depth only grows, so a shard
// that holds a class now does until it splits, and a route found stale
// (owns, under the read's counter or the writer's lock) leads on to the
// new holder through the buddies (route).

// errClassMoved is internal: the shard an operation went to no longer holds
// its key's class, since a split moved it; route, then try again.
var errClassMoved = errors.New("shmkv: the key's class moved to another shard")

// owns reports whether v's extent holds h's class.
func (v *view) owns(h uint64) bool { return h>>v.classShift&v.classMask == uint64(v.index) }

// setDepth records the extent's depth in v.
func (v *view) setDepth(depth int) {
	v.depth = depth
	v.classMask = 1<<depth - 1
	v.self = v.selfWord(depth)
}

// sameDepth reports whether v's extent header still gives v's depth. A
// handle keeps its view of a shard by extent word (current), and a word
// can come back at a greater depth: a split can place the shard's new
// extent where an old one of the same size was. A view of the old one
// would hold classes the buddy holds now, so whatever a wrong depth could
// mislead checks it: a miss (tryGet), a write (update), a copy of the
// shard (Range, Check), InvalidateAll's marks and routing. A hit needs
// no check: an entry is in an extent only if its shard holds its class. A
// depth only grows, so a stale view can only claim too much, never too
// little.
func (v *view) sameDepth() bool { return v.r.Load(v.hdr+format.ExtSelfShard/8) == v.self }

// currentSteady is currentChecked for routing, which has no sequence
// counter to retry by: a view that cannot be made because a grow or a
// split replaced the extent meanwhile (its header given back, zeros) is
// tried again on the new word. A word that stays the same across a failed
// try is unreadable, and so is one that changes under eight tries in a
// row (writers that never let the shard be, or a hostile peer).
func (s *shard) currentSteady() (*view, bool) {
	for range 8 {
		w := s.ctlLoad(format.CtlExtent)
		if v, ok := s.currentChecked(); ok {
			return v, true
		}
		if s.ctlLoad(format.CtlExtent) == w {
			return nil, false
		}
	}
	return nil, false
}

// currentChecked is current, with a view whose depth is stale dropped and
// made again from the extent's header.
func (s *shard) currentChecked() (*view, bool) {
	v, ok := s.current()
	if !ok || v.sameDepth() {
		return v, ok
	}
	s.t.views[s.index].CompareAndSwap(v, nil)
	return s.current()
}

// shardFor returns the shard that held h's class when this handle last
// looked. A split since may have moved the class on: every operation
// checks (owns) and, if so, routes anew.
func (t *Table) shardFor(h uint64) *shard {
	return &t.shards[t.routes[h>>t.shardShift].Load()]
}

// route finds the shard that holds h's class now and remembers it for
// shardFor. It reports false if a shard on the way is unreadable: its
// depth, and so where its classes went, is unknown.
//
// From a shard that once held the class: its depth has since passed the
// lowest bit in which its number and the class differ (k), since the
// class was its when that bit was beyond its depth. When it passed that
// bit it split into its number plus 2^k, which holds the class or
// split into a shard that does. Each step sets a higher bit, so the walk
// takes at most log2(shards) steps.
func (t *Table) route(h uint64) bool {
	_, ok := t.walk(h)
	return ok
}

// walk is route; it also returns the shard where it stopped: the holder,
// or the shard it could not read. A caller that wants the holder uses
// what walk returns, not the route it stored: another goroutine's walk,
// begun before a split, may store an older one between the two.
func (t *Table) walk(h uint64) (int, bool) {
	class := h >> t.shardShift
	i := uint64(t.routes[class].Load())
	for range t.shards[0].maxDepth + 1 {
		v, ok := t.shards[i].currentSteady()
		if !ok {
			return int(i), false
		}
		if v.owns(h) {
			t.routes[class].Store(uint32(i))
			return int(i), true
		}
		i |= 1 << bits.TrailingZeros64((class^i)&v.classMask)
	}
	return int(i), false
}

// inUse reports whether shard i is in use: initial, or split into. One
// that is, but whose own extent is unreadable, is in use too: Check and
// Repair go to it to say so. One past an unreadable shard is not known
// to be, and is left to when that one is read again.
func (t *Table) inUse(i int) bool {
	at, _ := t.walk(t.shards[i].classHash())
	return at == i
}

// routed runs op on the shard that holds h's class, and again on the
// shard a split moved it to if op finds it moved (errClassMoved).
func (t *Table) routed(h uint64, op func(s *shard) error) error {
	for range maxRoutes {
		err := op(t.shardFor(h))
		if err != errClassMoved {
			return err
		}
		if !t.route(h) {
			return ErrCorrupt
		}
	}
	return errRouteLoop
}

// maxRoutes bounds how many times one operation routes its key anew.
// Each time follows a split made meanwhile, and a class goes through at
// most log2(shards) of them; more is a region that a hostile or damaged
// peer keeps rewriting.
const maxRoutes = 2*format.MaxShardBits + 2

// errRouteLoop is what an operation whose key's class kept moving past
// maxRoutes returns.
var errRouteLoop = fmt.Errorf("%w: the key's shard kept changing its depth", ErrCorrupt)

// wantsSplit reports whether v, locked, should split rather than grow
// into an extent of size bytes.
func (v *view) wantsSplit(size int64) bool {
	if v.depth >= v.maxDepth {
		return false
	}
	_, fits := v.place(size)
	return size > v.t.splitAbove || !fits
}

// split splits v, held locked, as the top of this file says, for a write
// of need bytes for a key hashing to h, and returns the view of its new
// extent. It returns errNoGrowth if the memory ceiling or /dev/shm has no
// room for the two extents: the shard then tries to grow instead.
func (t *Table) split(v *view, need int64, h uint64) (view, error) {
	b := &t.shards[v.index|1<<v.depth]
	depth := v.depth + 1
	halves, err := v.halves()
	if err != nil {
		return view{}, err
	}
	// The half the key goes to makes room for the write too.
	halves[h>>v.classShift>>v.depth&1].add(need)
	ec, eb := halves[0].extent(v), halves[1].extent(v)

	t.releaseRetired(v)
	committed, err := t.committedBytes()
	if err != nil {
		return view{}, err
	}
	if committed+ec.Size+eb.Size > t.g.MaxMemory {
		return view{}, errNoGrowth
	}
	off, ok := v.place(ec.Size)
	if !ok || eb.Size > b.spanEnd-b.spanStart {
		return view{}, errNoGrowth
	}
	ec.Off, eb.Off = off, b.spanStart

	t.clearUnused(b) // 1
	v.ctlStore(format.CtlPending, ec.Word())
	b.ctlStore(format.CtlPending, eb.Word())
	failpoint.Step()
	nc, nb := v.at(ec), b.at(eb) // 2
	nc.setDepth(depth)
	nb.setDepth(depth)
	release := func() {
		t.sh.Release(ec.Off, ec.Size)
		t.sh.Release(eb.Off, eb.Size)
		v.ctlStore(format.CtlPending, 0)
		b.ctlStore(format.CtlPending, 0)
	}
	for k, n := range [...]*view{&nc, &nb} {
		if err = n.allocateNew(halves[k].bytes); err != nil {
			release()
			return view{}, err
		}
	}
	cc, err := nc.copyFrom(v)
	var cb copied
	if err == nil {
		cb, err = nb.copyFrom(v)
	}
	if err != nil {
		release()
		return view{}, err
	}
	nc.gen, nb.gen = v.gen+1, 1
	nc.describe(ec, nc.gen, depth)
	nb.describe(eb, nb.gen, depth)

	b.storeCounters(cb) // 3
	b.ctlStore(format.CtlTombstones, 0)
	b.ctlStore(format.CtlFlags, 0)
	b.ctlStore(format.CtlExtent, eb.Word())
	b.ctlStore(format.CtlPending, 0)
	failpoint.Step()

	cc.dropped += cb.dropped
	t.publish(v, ec, cc, format.CtlSplits) // 4, 5
	return nc, nil
}

// clearUnused releases the span of shard s, which is in use by nobody,
// and clears its extent words: what a split that died left there.
func (t *Table) clearUnused(s *shard) {
	for _, f := range [...]int64{format.CtlExtent, format.CtlPending, format.CtlRetired} {
		if s.ctlLoad(f) != 0 {
			failpoint.Step()
			t.sh.Release(s.spanStart, s.spanEnd-s.spanStart)
			break
		}
	}
	for _, f := range [...]int64{format.CtlExtent, format.CtlPending, format.CtlRetired} {
		s.ctlStore(f, 0)
	}
}

// reclaimSplit, in the recovery of v's shard, releases what a split of it
// that died before its commit left in its buddy's span (the pending
// extent in its own span is reclaimGrow's).
func (t *Table) reclaimSplit(v *view) {
	if v.depth >= v.maxDepth {
		return
	}
	if b := &t.shards[v.index|1<<v.depth]; b.ctlLoad(format.CtlExtent)|b.ctlLoad(format.CtlPending)|b.ctlLoad(format.CtlRetired) != 0 {
		t.clearUnused(b)
	}
}

// splitHalf is what one half of a splitting shard's classes hold.
type splitHalf struct {
	entries, bytes, largest int64
}

func (h *splitHalf) add(size int64) {
	h.entries++
	h.bytes += size
	h.largest = max(h.largest, size)
}

// halves counts the live entries of v, locked, by the half of its
// classes they fall in at the next depth: [0] stays, [1] goes to the
// buddy.
func (v *view) halves() ([2]splitHalf, error) {
	var hs [2]splitHalf
	for _, r := range v.rings() {
		if err := v.liveItems(r, func(it *logItem, h uint64) error {
			hs[h>>v.classShift>>v.depth&1].add(int64(it.size))
			return nil
		}); err != nil {
			return hs, err
		}
	}
	return hs, nil
}

// extent is the extent for one half of splitting shard v: room for its
// entries and half again, as a grow gives, and the reserve beside them.
func (h splitHalf) extent(v *view) format.Extent {
	want := h.bytes + 2*max(h.largest, format.EntryHeaderSize+8)
	data := min(max(format.RoundUp(want+want/2, 8), int64(initialData)), format.MaxData)
	avg := max(h.bytes/max(h.entries, 1), format.EntryHeaderSize+8)
	slots := initialSlots
	for (h.entries+h.entries/2 > int64(slots*maxLoadNum/maxLoadDen) || data*growAtNum/growAtDen/avg > int64(slots*maxLoadNum/maxLoadDen)) && slots < format.MaxSlots {
		slots *= 2
	}
	return format.NewExtent(0, slots, data, v.evict)
}
