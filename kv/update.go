package kv

import "github.com/shmkv/shmkv/kv/internal/format"

// lockShard takes s's lock and makes the shard usable: a shard taken over
// from a dead owner, or left flagged or mid-write, is rebuilt first.
func (t *Table) lockShard(s *shard) error {
	tookOver, err := t.lock(s)
	if err != nil {
		return err
	}
	return t.readyLocked(s, tookOver)
}

// readyLocked is lockShard's second half, for s just locked: it recovers
// the shard if it must, and unlocks it again if it stays unusable.
func (t *Table) readyLocked(s *shard, tookOver bool) error {
	if !tookOver && s.ctlLoad(format.CtlFlags) == 0 && s.ctlLoad(format.CtlSeq)&1 == 0 {
		return nil // usable as it is: the flags need no second look
	}
	t.recoverShard(s)
	if s.ctlLoad(format.CtlFlags) != 0 {
		t.unlock(s)
		return ErrCorrupt
	}
	return nil
}

// recoverShard recovers s under the lock: it finishes or undoes what a
// dead grower left (grow.go) and rebuilds the index from the log. A
// failure leaves format.FlagRebuild set, so that every use reports ErrCorrupt and
// Check can say why.
func (t *Table) recoverShard(s *shard) {
	if s.ctlLoad(format.CtlSeq)&1 == 0 {
		s.beginWrite()
	}
	if v, ok := s.view(); ok {
		t.reclaimGrow(&v)
		t.reclaimSplit(&v)
		v.rebuild()
	} else {
		s.ctlStore(format.CtlFlags, format.FlagRebuild)
	}
	s.ctlAdd(format.CtlRecoveries, 1)
	s.endWrite()
}

// recoverLocked recovers s, held locked, and reports whether it is usable.
func (t *Table) recoverLocked(s *shard) error {
	t.recoverShard(s)
	if s.ctlLoad(format.CtlFlags) != 0 {
		return ErrCorrupt
	}
	return nil
}

// update runs fn on key's shard under its lock with the key's lookup and
// the time. If the index turns out not to match the log, it is rebuilt and
// fn retried once.
//
// The clock is read only where an expiry time can matter: when the write
// sets one (needClock), or when the shard holds live entries that have one
// (every use of now is for such an entry). It is read under the lock, so
// that a long wait for the lock can neither store a value that has already
// expired nor shorten a TTL.
//
// fn gets the shard's view over its current extent, the one this handle's
// readers share (current), which it must not change: a grow inside fn
// makes a new one (grow.go). Copying it instead cost a Set two copies of
// a quarter of a kilobyte.
//
// The key's class may move to another shard while it waits for the lock,
// or in fn (a split: grow.go): fn then returns errClassMoved, having
// changed nothing, and update runs it again on the class's new shard.
func (t *Table) update(key []byte, h uint64, needClock bool, fn func(v *view, l lookup, now int64) error) error {
	// routed's loop, without a closure on the path of every write.
	for range maxRoutes {
		err := t.updateIn(t.shardFor(h), key, h, needClock, fn)
		if err != errClassMoved {
			return err
		}
		if !t.route(h) {
			return ErrCorrupt
		}
	}
	return errRouteLoop
}

// updateIn is update on shard s, or errClassMoved if s does not hold the
// key's class.
func (t *Table) updateIn(s *shard, key []byte, h uint64, needClock bool, fn func(v *view, l lookup, now int64) error) error {
	if err := t.lockShard(s); err != nil {
		return err
	}
	defer t.unlock(s)
	var now int64
	if needClock || s.ctlLoad(format.CtlExpiring) != 0 {
		now = t.now().UnixNano()
	}
	for attempt := 0; ; attempt++ {
		v, ok := s.currentChecked()
		if !ok {
			return ErrCorrupt
		}
		if !v.owns(h) {
			return errClassMoved
		}
		var l lookup
		err := v.find(key, h, now, &l)
		if err == nil {
			err = fn(v, l, now)
		}
		if err != errCorruptIndex {
			return err
		}
		if attempt > 0 || t.recoverLocked(s) != nil {
			return ErrCorrupt
		}
	}
}
