package kv

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/shmkv/shmkv/kv/internal/failpoint"
	"github.com/shmkv/shmkv/kv/internal/format"
)

// Memory behind a log. An extent's log takes memory only as far as its
// head has gone on its first pass through it: a grown log is half again as
// large as its data or more, and allocating it whole at the grow would
// hold that slack in memory until the head got there. The extent header's
// allocated word (internal/format/layout.go) says how many bytes from the log's start have
// memory; a writer extends it, with fallocate, before it writes past it,
// so that a full /dev/shm is an ENOSPC the writer reports (ErrFull) and not
// a SIGBUS at its first store into a hole.
//
// Invariant: while allocated < the log's size, head <= allocated, and
// every position the log has held is below head, so below allocated.
// Positions wrap to the log's start only once the head has passed its end,
// and by then allocated covers the whole log. A writer keeps the invariant
// by allocating before it moves the head (allocateFor, before its write
// section), and a grow by allocating what it copies (grow.go). A word a
// crash left behind is at worst lower than what is allocated, which costs
// a repeated fallocate of pages that already have memory, a no-op.
//
// The table's memory ceiling is kept on what the extents may come to take
// (committedBytes), not on what they have allocated so far: a log's memory
// grows with writes that run no check, and may reach its whole size.

const (
	// minLogChunk and maxLogChunk bound how much of a log one fallocate
	// adds: a sixteenth of what it already has, so that a shard filling up
	// makes few calls and leaves little allocated ahead of its head.
	minLogChunk = 16 << 10
	maxLogChunk = 1 << 20
)

// firstLogBytes is how much of the main log of v, the view of a new
// table's first extent, gets memory at creation: a chunk, to the end of
// its page. What comes before the main log (the index, and in an evicting
// table the small log) gets memory whole, and so does the ghost after it.
func firstLogBytes(v view) (index, log int64) {
	index = v.data + v.lo - v.ext.Off
	return index, min(format.RoundUp(index+minLogChunk, format.PageSize), index+v.size) - index
}

// allocated is how many bytes of v's main log, from its start, have
// memory.
func (v *view) allocated() int64 {
	return int64(min(v.r.Load(v.hdr+format.ExtAllocated/8), uint64(v.size)))
}

// allocateFor gives the log memory wherever put may write for an entry
// of a.need bytes replacing l's: at the head, or, if cleaning will move
// entries (the log is short of room or the shard over its limits),
// anywhere. It runs before the write section, so readers never wait for
// the system call.
//
// Once a log has memory to its end it keeps it, so the views of it this
// handle uses say so (logFull), and the write does not touch the extent
// header's allocated word, a cache line of its own, to learn it again.
func (v *view) allocateFor(a *admission, l *lookup) error {
	if v.logFull {
		return nil
	}
	have := v.allocated()
	if have == v.size {
		v.noteLogFull()
		return nil
	}
	head, tail := v.head(), v.tail()
	need := a.need
	// What the write may append to the main log, cleaning apart.
	appended := need
	if v.lo > 0 {
		// Cleaning the small log moves entries to the main log until the
		// small log has room for need bytes and a skip record of less than
		// need: less than 2*need, and one entry more; and the entry itself
		// may then go to the main log (put).
		appended = 3*need + a.largest()
	}
	end := int64(head) + appended
	if end > v.size || head < tail || uint64(v.size)-(head-tail) < uint64(appended+a.largest()) || !a.fits(v, l) {
		end = v.size
	}
	return v.allocateTo(have, end)
}

// noteLogFull records that v's main log has memory to its end, for the
// writes that come after: it replaces v, if it is still the view this
// handle's readers and writers share for its shard (current), by a copy
// that says so. The view itself is not changed: readers share it without
// the lock. The copy is published as any new view is, by the cache's
// atomic store, so a reader sees it whole. A compare-and-swap, so that a
// view another goroutine cached meanwhile (for a newer extent word) is
// kept; missing the swap costs nothing but doing this again.
//
// Why what it records stays true: for one extent, the allocated word only
// grows. Only allocateTo raises it, and only after the fallocate that
// gives the memory; a grow sets it once, before it publishes the extent;
// nothing lowers it. Nor does a word that a view was cached for come back
// with other memory behind it (current trusts this already): the memory
// of a current extent is never given back, only a pending or retired
// one's (grow.go); a grow publishes a larger extent than the current one,
// so, at one depth, a word not in use before; a split publishes a smaller
// one, whose word may have been used before, but at a lesser depth, and a
// write checks the depth of the view it is given first (currentChecked,
// split.go), making it again if the depth changed; the buddy's extent a
// split publishes may have the word, and the depth, of one a split that
// died left there, but no view is kept of a shard before it is in use
// (populate and leastDepth make theirs with peek, extent.go, and nothing
// else reads a shard no walk leads to); and Repair republishes only an extent whose
// header still describes itself, which a given-back one's (zeros) does
// not. (After a Repair that fell back to an older extent, a later grow
// could publish the word of one given back; a handle that cached it
// before would then also keep its stale generation. What logFull adds to
// that is a write into pages fallocate did not reserve, which tmpfs fills
// on the fault unless /dev/shm is full, and then the fault is an error of
// the write, as any fault is (guard), not ErrFull.) A hostile peer can
// write anything into the allocated word, its log's size included, which
// the check below already trusts: remembering it adds nothing such a peer
// could not already do.
func (v *view) noteLogFull() {
	cache := &v.t.views[v.index]
	if cache.Load() != v {
		return
	}
	nv := *v
	nv.logFull = true
	cache.CompareAndSwap(v, &nv)
}

// allocateTo gives the log memory up to at least end, have being what it
// has, in steps of at least a chunk so that appends rarely call the
// system.
func (v *view) allocateTo(have, end int64) error {
	if end <= have {
		return nil
	}
	chunk := min(max(have/16, minLogChunk), maxLogChunk)
	// Whole pages of the object, so that the next step starts on one.
	main := v.data + v.lo
	to := min(format.RoundUp(main+max(end, have+chunk), format.PageSize)-main, v.size)
	failpoint.Step()
	if err := v.t.sh.AllocateRange(main+have, to-have); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("%w: /dev/shm is full: %v", ErrFull, err)
		}
		return err
	}
	v.r.Store(v.hdr+format.ExtAllocated/8, uint64(to))
	return nil
}

// committedBytes is the memory the object may come to take as it stands:
// the header, registry and control blocks, and every extent a shard has,
// current, pending or retired, whole. Or, if more, what the object has
// allocated (pages touched in released extents by late readers).
func (t *Table) committedBytes() (int64, error) {
	n := t.g.ExtentsOffset
	for i := range t.shards {
		s := &t.shards[i]
		for _, field := range []int64{format.CtlExtent, format.CtlPending, format.CtlRetired} {
			if e, ok := format.DecodeExtent(s.ctlLoad(field), s.spanStart, s.spanEnd); ok {
				n += e.Size
			}
		}
	}
	blocks, err := t.sh.Blocks()
	return max(n, blocks), err
}
