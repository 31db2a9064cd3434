package kv

import (
	"context"
	"math"
	"runtime/debug"
	"time"
)

// Loading once per host. When a key is missing, GetOrLoad runs the
// caller's load function in exactly one caller on the host at a time; the
// others, in any process, sleep until the value is stored. The one that
// loads holds a claim: a record among its shard's claimCount (layout.go)
// naming the key (by its hash) and the loading handle (by lock-word owner
// bits, whose liveness the registry proves: registry.go).
//
// Every change to a claim is made under the shard's lock, so claimers and
// takers never race; waiters only read the done word, outside the lock, as
// a futex. The protocol:
//   - A caller that misses locks the shard and looks again: the key may
//     have been stored meanwhile. Then it looks for a claim on the key. If
//     there is none it takes a free record (owner, then claimed at, then the
//     key tag, so that a record in use always has an owner) and loads. If
//     the claim's owner is alive it notes the done word, unlocks and sleeps
//     on it, for loadCheckInterval at most; then it starts again from the
//     read. If the owner is dead it takes the claim over and loads.
//   - The loader stores the value, then ends the claim under the lock (the
//     tag cleared, the done word bumped) and wakes every sleeper. The value
//     is stored before the claim ends, so a woken waiter reads it. A load
//     that fails ends the claim without storing: the next caller to look,
//     a waiter or a newcomer, finds neither value nor claim and loads.
//   - Invalidate, under the lock, deletes the key and marks its claim
//     stale; the loader checks the mark under the lock in the same section
//     as its store, and does not store a load that an invalidation
//     overtook (it may have read the source before the change).
//   - A loader that dies leaves a claim whose owner is dead: the waiters
//     find that at their next check and one of them, under the lock, takes
//     the claim over. A loader that dies between clearing the tag and
//     bumping the done word only costs its waiters the rest of their sleep.
//
// Two keys whose hashes agree share a claim: one waits for the other's
// load, finds its own key still missing, and loads then. A shard whose
// claims are all in use loads without one and does not store the result,
// which no Invalidate could have reached.

// Loader loads the value of a key GetOrLoad missed, and says how long it
// is to live in the table (0 or less: no expiry).
type Loader func() (value []byte, ttl time.Duration, err error)

// loadCheckInterval is how long a waiter sleeps before it checks that the
// loader is alive: a dead loader's key is taken over within about this.
const loadCheckInterval = 100 * time.Millisecond

// GetOrLoad returns the value of key, appended to dst. On a miss exactly
// one caller on the host at a time runs load for the key; it stores what
// load returns for the time to live load gives, as SetTTL does, and every
// other caller, in this process or another, sleeps until then and returns
// the stored value. A load overtaken by an Invalidate of the key is
// returned to its caller but not stored. If the loader's process dies, a waiter takes over within
// about a tenth of a second and runs its own load. If load fails, its caller
// gets load's error and nothing is stored; the next caller, waiting or new,
// runs its own load. If storing the loaded value fails (ErrFull, say),
// GetOrLoad returns the value with that error.
//
// ctx bounds the wait: a waiter whose ctx ends returns ctx's error, and
// disturbs neither the loader nor the other waiters. load runs in the
// calling goroutine, and is not given ctx; it should bound itself.
//
// With Options.RefreshAhead, a hit on an entry close to its expiry is
// refreshed by one caller, while the others get the current value.
//
// A hit allocates nothing. A read-only handle returns what Get would and
// ErrReadOnly on a miss.
func (t *Table) GetOrLoad(ctx context.Context, dst, key []byte, load Loader) ([]byte, error) {
	for {
		v, meta, found, err := t.getMeta(dst, key)
		if err != nil {
			return v, err
		}
		if found {
			if t.refresh > 0 && meta.expires != 0 && time.Unix(0, int64(meta.expires)).Sub(t.now()) < t.refresh {
				return t.refreshAhead(v, dst, key, load)
			}
			return v, nil
		}
		if err := ctx.Err(); err != nil {
			return dst, err
		}
		step, c, done, err := t.claimOrWait(key, false)
		if err != nil {
			return dst, err
		}
		switch step {
		case loadOwn:
			out, _, err := t.loadClaimed(dst, key, load, c)
			return out, err
		case loadUnclaimed:
			// No claim, so no Invalidate could reach this load: what it
			// returns is not stored.
			v, _, err := load()
			if err != nil {
				return dst, err
			}
			return append(dst, v...), nil
		case loadWait:
			if err := c.wait(ctx, done, loadCheckInterval); err != nil {
				return dst, err
			}
		}
		// loadRetry, or after a wait: read again.
	}
}

// loadStep is what claimOrWait found a missing key's caller must do.
type loadStep int

const (
	loadRetry     loadStep = iota // the key is there now: read it
	loadOwn                       // this handle holds the claim: load
	loadUnclaimed                 // no claim record is free: load without one
	loadWait                      // a live loader holds the claim: wait for it
)

// refreshAhead is GetOrLoad's hit on an entry about to expire, whose
// value current is (appended to dst): if no one on the host is loading
// the key, this caller loads and stores it and returns the new value;
// otherwise it returns current at once. A refresh whose load fails leaves
// the current value, which is returned, and the next hit tries again.
func (t *Table) refreshAhead(current, dst, key []byte, load Loader) ([]byte, error) {
	step, c, _, err := t.claimOrWait(key, true)
	if err != nil || step != loadOwn {
		return current, nil
	}
	out, loaded, err := t.loadClaimed(dst, key, load, c)
	if !loaded {
		return current, nil
	}
	return out, err
}

// claimOrWait decides, under the shard's lock, what a caller that missed
// key does next (see the top of this file); for loadOwn and loadWait it
// returns the claim, and for loadWait its done word as it was. With
// present, the caller found the key and wants to refresh it: it claims it
// all the same.
func (t *Table) claimOrWait(key []byte, present bool) (step loadStep, c claim, done uint32, err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if err := t.checkWrite(key, 0); err != nil {
		return loadRetry, claim{}, 0, err
	}
	h := hashKey(t.g.seed, key)
	s := t.shardFor(h)
	tag := h | 1 // never 0, which marks a free record
	err = t.update(key, h, false, func(_ shard, l lookup, _ int64) error {
		if l.found && !present {
			step = loadRetry
			return nil
		}
		free := -1
		for i := range claimCount {
			c = claimOf(s, i)
			switch c.tag() {
			case tag:
				if owner := c.owner(); owner == 0 || t.probeOwner(owner) == ownerDead {
					c.take(tag, t.owner)
					step = loadOwn
					return nil
				}
				step, done = loadWait, c.doneValue()
				return nil
			case 0:
				if free < 0 {
					free = i
				}
			}
		}
		if free < 0 {
			step = loadUnclaimed
			return nil
		}
		c = claimOf(s, free)
		c.take(tag, t.owner)
		step = loadOwn
		return nil
	})
	c.h = h
	return step, c, done, err
}

// loadClaimed runs load as the holder of claim c, stores what it
// returns unless an Invalidate of the key came first (storeClaimed), and
// ends the claim however load returns, panics included. loaded reports
// whether load succeeded; err is then the store's.
func (t *Table) loadClaimed(dst, key []byte, load Loader, c claim) (out []byte, loaded bool, err error) {
	defer t.endClaim(c, c.h|1)
	v, ttl, err := load()
	if err != nil {
		return dst, false, err
	}
	return append(dst, v...), true, t.storeClaimed(key, v, ttl, c)
}

// storeClaimed stores value under key, with ttl, as SetTTL does, if this
// handle still holds claim c and no Invalidate of the key has
// marked it stale since the claim was taken. The check and the store are
// made under the shard's lock, which Invalidate takes too: a load that
// raced an invalidation never installs what it loaded.
func (t *Table) storeClaimed(key, value []byte, ttl time.Duration, c claim) (err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if err := t.checkWrite(key, len(value)); err != nil {
		return err
	}
	h := c.h
	return t.update(key, h, ttl > 0, func(s shard, l lookup, now int64) error {
		if c.tag() != h|1 || c.owner() != t.owner || c.stale() {
			return nil
		}
		return s.store(key, h, value, expiresAt(now, ttl), l, now)
	})
}

// endClaim ends claim c, taken with tag, if this handle still holds it,
// and wakes its waiters.
func (t *Table) endClaim(c claim, tag uint64) {
	var err error
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if t.lockShard(c.s) != nil {
		// Closed, or the shard is held by someone else for longer than
		// the lock timeout: the waiters find this handle dead, or wait.
		return
	}
	if c.tag() == tag && c.owner() == t.owner {
		c.end()
	}
	t.unlock(c.s)
	futexWake(c.doneWord(), math.MaxInt32)
}

// claim is one claim record of a shard (layout.go).
type claim struct {
	s *shard
	w int64  // word index of the record
	h uint64 // the hash of the key it was taken or waited for, when claimOrWait returned it
}

func claimOf(s *shard, i int) claim {
	return claim{s: s, w: s.ctl + (ctlClaims+int64(i)*claimSize)/8}
}

func (c claim) tag() uint64       { return c.s.r.load(c.w + claimTag/8) }
func (c claim) stale() bool       { return c.s.r.load(c.w+claimStale/8) != 0 }
func (c claim) owner() uint32     { return uint32(c.s.r.load(c.w+claimDone/8) >> 32) }
func (c claim) doneWord() *uint32 { return c.s.r.lockWord(c.w + claimDone/8) }
func (c claim) doneValue() uint32 { return uint32(c.s.r.load(c.w + claimDone/8)) }
func (c claim) setDone(owner, done uint32) {
	storeStep()
	c.s.r.store(c.w+claimDone/8, uint64(owner)<<32|uint64(done))
}

// take records owner as the loader of the key tagged tag. Under the
// lock; the tag goes last, so that a record in use has its owner.
func (c claim) take(tag uint64, owner uint32) {
	c.setDone(owner, c.doneValue())
	storeStep()
	c.s.r.store(c.w+claimStale/8, 0)
	storeStep()
	c.s.r.store(c.w+claimStarted/8, uint64(time.Now().UnixNano()))
	storeStep()
	c.s.r.store(c.w+claimTag/8, tag)
}

// markStale records that the claimed key was invalidated while it loaded.
// Under the lock.
func (c claim) markStale() {
	storeStep()
	c.s.r.store(c.w+claimStale/8, 1)
}

// end frees the record and bumps its done word. Under the lock.
func (c claim) end() {
	storeStep()
	c.s.r.store(c.w+claimTag/8, 0)
	c.setDone(0, c.doneValue()+1)
}

// wait sleeps until c's done word moves from done, ctx ends, or d passes,
// and returns ctx's error if it ended.
func (c claim) wait(ctx context.Context, done uint32, d time.Duration) error {
	return sleepOn(ctx, c.doneWord(), done, d)
}

// sleepOn sleeps on the futex word w while it holds val, for d at most,
// and returns ctx's error once ctx has ended; ctx ending wakes every
// sleeper on w, which the others take as a spurious wake.
func sleepOn(ctx context.Context, w *uint32, val uint32, d time.Duration) error {
	if deadline, ok := ctx.Deadline(); ok {
		d = min(d, time.Until(deadline))
	}
	if d <= 0 {
		return ctx.Err()
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { futexWake(w, math.MaxInt32) })
		defer stop()
	}
	futexWait(w, val, d)
	return ctx.Err()
}

// Invalidate deletes key, as Delete does, and also marks stale any load of
// the key under way on the host (GetOrLoad), so that it does not store
// what it loaded: the load may have read the source before the change
// that this invalidation reports. Its caller still gets the loaded value.
// It reports whether the key was there.
func (t *Table) Invalidate(key []byte) (deleted bool, err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if err := t.checkWrite(key, 0); err != nil {
		return false, err
	}
	h := hashKey(t.g.seed, key)
	s := t.shardFor(h)
	err = t.update(key, h, false, func(v shard, l lookup, now int64) error {
		for i := range claimCount {
			if c := claimOf(s, i); c.tag() == h|1 {
				c.markStale()
			}
		}
		deleted = l.present()
		if l.found {
			v.remove(l, now)
		}
		return nil
	})
	return deleted, err
}

// InvalidateAll is Invalidate of every key: it marks stale every load
// under way on the host, then deletes every key. A key stored meanwhile
// comes from a load that began after the mark, and may stay.
func (t *Table) InvalidateAll() (err error) {
	if err := t.markAllStale(); err != nil {
		return err
	}
	var keys [][]byte
	if err := t.Range(func(key, _ []byte) bool {
		keys = append(keys, append([]byte(nil), key...))
		return true
	}); err != nil {
		return err
	}
	for _, k := range keys {
		if _, err := t.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// markAllStale marks every claim in use stale, shard by shard, each under
// its lock.
func (t *Table) markAllStale() (err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if t.readOnly {
		return ErrReadOnly
	}
	for i := range t.shards {
		s := &t.shards[i]
		if err := t.lockShard(s); err != nil {
			return err
		}
		for j := range claimCount {
			if c := claimOf(s, j); c.tag() != 0 {
				c.markStale()
			}
		}
		t.unlock(s)
	}
	return nil
}
