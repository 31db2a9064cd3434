package kv

import (
	"fmt"
	"runtime/debug"
)

// Repair salvages what damage left of the table: in every shard it drops
// each damaged stretch of the log (an entry that fails its checksum, or
// bytes no entry can be read from), keeps every entry whose checksum holds,
// rebuilds the index and the counters from what is kept, and reports each
// thing it dropped as a Problem. Report.Entries is the live entries after.
// Nothing else repairs: reads of a damaged key return ErrCorrupt, and Check
// lists the damage, until Repair runs.
//
// It is safe to run beside other users of the table, and to kill: it works
// on one shard at a time under the shard's lock, each drop is one atomic
// store of a skip record (logwalk.go) over bytes that were already
// unreadable, and the rebuild after is idempotent, so a Repair cut short
// leaves a table that the next lock holder recovers and the next Repair
// finishes. A shard whose log bounds themselves are damaged cannot be
// repaired; it is reported and left as it is.
func (t *Table) Repair() (rep *Report, err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if t.closed.Load() {
		return nil, ErrClosed
	}
	if t.readOnly {
		return nil, ErrReadOnly
	}
	rep = &Report{Shards: t.g.shards}
	for i := range t.shards {
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
		s.ctlAdd(ctlRecoveries, 1)
	}
	if s.ctlLoad(ctlSeq)&1 == 0 {
		s.beginWrite()
	}
	defer s.endWrite()
	v, ok := s.view()
	if !ok {
		rep.add(i, -1, "extent word %#x names no extent of the shard's span: cannot repair", s.ctlLoad(ctlExtent))
		return nil
	}
	t.reclaimGrow(&v)
	s = &v
	for _, r := range s.rings() {
		head, tail := s.ringHead(r), s.ringTail(r)
		if head < tail || head-tail > uint64(r.size) {
			rep.add(i, -1, "log head %d and tail %d do not bound a log of %d bytes: cannot repair", head, tail, r.size)
			return nil
		}
		for p := tail; p != head; {
			it := s.itemIn(r, p, head, true)
			if it.kind == itemDamage {
				rep.add(i, it.off, "dropped: %s", s.describeDamage(it.off, it.size))
				s.writeSkip(r, p, it.size)
				s.ctlAdd(ctlDamaged, 1)
			}
			p += it.size
		}
	}
	if err := s.rebuild(); err != nil {
		rep.add(i, -1, "index rebuild failed: %v", err)
		return nil
	}
	rep.Entries += int(s.ctlLoad(ctlLiveEntries))
	return nil
}

// writeSkip covers the n bytes of log r at position p with skip records,
// one atomic store each, none running past the end of a log whose entries
// do not wrap.
func (s *shard) writeSkip(r ring, p, n uint64) {
	for n > 0 {
		chunk := min(n, maxSkip)
		if !r.wraps {
			chunk = min(chunk, uint64(r.size)-p%uint64(r.size))
		}
		s.setWord(r.base+int64(p%uint64(r.size)), chunk<<32)
		p, n = p+chunk, n-chunk
	}
}
