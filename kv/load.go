package kv

import (
	"context"
	"math"
	"runtime/debug"
	"time"

	"github.com/shmkv/shmkv/kv/internal/failpoint"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/region"
)

// Loading once per host. When a key is missing, GetOrLoad runs the
// caller's load function in exactly one caller on the host at a time; the
// others, in any process, sleep until the value is stored. The one that
// loads holds a claim: one of its shard's format.ClaimCount records (internal/format/layout.go),
// naming the key by its hash (the tag) and the loading handle by its
// lock-word owner bits, whose liveness the registry proves (registry.go).
// The owner bits share one 64-bit word with the record's done counter,
// the futex its waiters sleep on: a record is held while that word's
// owner half is not 0, and ownership changes only by stores of the whole
// word. The protocol:
//   - A caller that misses locks the shard and looks again, reading the
//     clock under the lock: if the key is there now (stored meanwhile, or
//     live again by a clock that stepped back) it copies the value out
//     under the lock and returns it, so that no caller goes round again
//     without sleeping first. Otherwise it looks for a held record with
//     the key's tag. If there is none it takes a record that is not held
//     (or, if every record is held, one whose owner is dead) and loads.
//     If the claim's owner is alive it notes the done counter, unlocks and
//     sleeps on it, for loadCheckInterval at most; then it starts again
//     from the lock-free read. If the owner is dead it takes the claim
//     over and loads.
//   - Taking is done under the lock: the stale mark cleared, the time, the
//     tag, and last the done word with the taker's owner bits and the
//     counter as it was. A kill before that last store leaves the record
//     not held, or held by the dead owner it had, which the next caller of
//     the key its tag now names takes over, as does a taker that finds
//     every record held; the earlier stores matter to no one then, since
//     the stale mark and the time matter only to a live holder.
//   - The loader stores the value (storeClaimed, under the lock), then
//     ends the claim, without the lock, by one compare-and-swap of the
//     done word from its own owner bits and the counter it took the claim
//     at to owner 0 and the counter plus one; then it wakes every sleeper.
//     The value is stored before the claim ends, so a woken waiter reads
//     it. A load that fails or panics, or whose store fails, ends the claim
//     the same way, without storing: the next caller to look, a waiter or
//     a newcomer, finds neither value nor claim and loads. Because the end
//     needs no lock, it happens in every outcome short of the loader's
//     death: a loader whose store timed out on a lock held by a stopped
//     process still ends its claim, and its waiters, woken, either find
//     the value or, needing the lock themselves, get ErrLockTimeout after
//     their LockTimeout. A kill before the compare-and-swap leaves the
//     claim held by a dead owner: the next caller to miss the key takes it
//     over (a waiter looks within loadCheckInterval), and a value stored
//     before the kill is read, not loaded again. A kill after it and
//     before the wake costs the waiters the rest of their sleep.
//   - The compare-and-swap cannot race a taker: only the owner ends its
//     claim, and a taker writes a held record's word only once the owner
//     is dead: its process is gone, or its handle was closed, and Close
//     revokes the mapping before it drops the handle's liveness lock
//     (close.go), so a closed handle makes no store once it can be found
//     dead. A record's word is written by takers, under the lock, and by
//     its owner's end, and by no one else.
//   - Invalidate, under the lock, deletes the key and marks its claim
//     stale; the loader checks, under the lock in the same section as its
//     store, that it still holds the claim it took and that the claim is
//     not stale, and does not store a load that an invalidation overtook
//     (it may have read the source before the change).
//
// Progress: GetOrLoad goes round its loop only after sleeping on a claim
// whose owner was alive; the sleep lasts until the claim ends, ctx ends,
// loadCheckInterval passes, or a spurious wake (another waiter's ctx
// ending wakes every sleeper on the word). So a claim that never ends
// (its loader is stopped) costs a waiter a look about every
// loadCheckInterval, and never a spin; every other step returns. Each
// look under the lock waits for it no longer than LockTimeout.
//
// Two keys whose hashes agree share a claim: one waits for the other's
// load, finds its own key still missing, and loads then. A shard whose
// claims are all held by live loaders loads without one and does not
// store the result, which no Invalidate could have reached.

// Loader loads the value of key, which GetOrLoad missed, and says how long
// it is to live in the table (0 or less: no expiry). ctx is GetOrLoad's.
// key is the slice given to GetOrLoad: the loader may read it while it
// runs, and must neither modify it nor keep it after it returns (a key
// changed under it is not stored). Passing the key lets one Loader, a
// plain function, serve every key, with no closure made per call.
type Loader func(ctx context.Context, key []byte) (value []byte, ttl time.Duration, err error)

// loadCheckInterval is how long a waiter sleeps before it checks that the
// loader is alive: a dead loader's key is taken over within about this.
const loadCheckInterval = 100 * time.Millisecond

// GetOrLoad returns the value of key, appended to dst. On a miss exactly
// one caller on the host at a time runs load for the key; it stores what
// load returns for the time to live load gives, as SetTTL does, and every
// other caller, in this process or another, sleeps until then and returns
// the stored value. A load overtaken by an Invalidate of the key is
// returned to its caller but not stored. If the loader's process dies, or
// its handle is closed, a waiter takes over within about a tenth of a
// second and runs its own load. If load fails or panics, its caller gets
// load's error (or the panic) and nothing is stored; the next caller,
// waiting or new, runs its own load. If storing the loaded value fails
// (ErrFull, say), GetOrLoad returns the value with that error.
//
// The one-load promise holds while the key's shard has a free claim
// record: a shard holds eight loads under way at once (of keys whose
// hashes place them there). A caller that finds all eight held by live
// loaders of other keys does not wait for them: it runs its own load,
// returns what it loads and does not store it, so several such callers of
// one key may each load.
//
// ctx bounds the wait for another caller's load: a waiter whose ctx ends
// returns ctx's error, and disturbs neither the loader nor the other
// waiters. load runs in the calling goroutine, with ctx and key; it should
// heed ctx, or bound itself otherwise, since its waiters wait for it as
// long as its process lives and their own ctx lets them. Each look at the key's shard
// under its lock waits for the lock as every write does, up to
// Options.LockTimeout and not bounded by ctx: if a live process holds the
// lock longer (it is stopped, say), GetOrLoad returns ErrLockTimeout; a
// loader whose store timed out so returns the loaded value with
// ErrLockTimeout, and ends its claim all the same, so that the key's other
// callers are not left waiting on it.
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
				return t.refreshAhead(ctx, v, dst, key, load)
			}
			return v, nil
		}
		if err := ctx.Err(); err != nil {
			return dst, err
		}
		step, out, c, err := t.claimOrWait(dst, key, false)
		if err != nil {
			return dst, err
		}
		switch step {
		case loadHit:
			return out, nil
		case loadOwn:
			out, _, err := t.loadClaimed(ctx, dst, key, load, c)
			return out, err
		case loadUnclaimed:
			// No claim, so no Invalidate could reach this load: what it
			// returns is not stored.
			v, _, err := load(ctx, key)
			if err != nil {
				return dst, err
			}
			return append(dst, v...), nil
		}
		// loadWait: sleep, then read again.
		if err := c.wait(ctx, loadCheckInterval); err != nil {
			return dst, err
		}
	}
}

// loadStep is what claimOrWait found a missing key's caller must do.
type loadStep int

const (
	loadHit       loadStep = iota // the key is there now: its value is returned
	loadOwn                       // this handle holds the claim: load
	loadUnclaimed                 // every claim record is held: load without one
	loadWait                      // a live loader holds the claim: wait for it
)

// refreshAhead is GetOrLoad's hit on an entry about to expire, whose
// value current is (appended to dst): if no one on the host is loading
// the key, this caller loads and stores it and returns the new value;
// otherwise it returns current at once. A refresh whose load fails leaves
// the current value, which is returned, and the next hit tries again.
func (t *Table) refreshAhead(ctx context.Context, current, dst, key []byte, load Loader) ([]byte, error) {
	step, _, c, err := t.claimOrWait(dst, key, true)
	if err != nil || step != loadOwn {
		return current, nil
	}
	out, loaded, err := t.loadClaimed(ctx, dst, key, load, c)
	if !loaded {
		return current, nil
	}
	return out, err
}

// claimOrWait decides, under the shard's lock, what a caller that missed
// key does next (see the top of this file). For loadHit it returns the
// key's value, appended to dst; for loadOwn the claim taken, and for
// loadWait the claim and, in it, the done counter as it was. With
// refresh, the caller found the key and wants to refresh it: it claims it
// present or not.
func (t *Table) claimOrWait(dst, key []byte, refresh bool) (step loadStep, out []byte, c claim, err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	out = dst
	if err := t.checkWrite(key, 0); err != nil {
		return loadWait, dst, claim{}, err
	}
	h := format.HashKey(t.g.Seed, key)
	s := t.claimHome(h)
	tag := h | 1 // never 0
	// The clock is read under the lock, so that the key's presence is
	// judged at one time: an entry that expired after the lock-free read
	// is a miss here too, and one that a clock stepping back finds live
	// again is returned from here.
	err = t.update(key, h, true, func(v *view, l lookup, _ int64) error {
		if l.present() && !refresh {
			if !v.verified(&l) {
				return errDamaged(key)
			}
			out = v.appendAt(dst, l.hdr.valueAt(l.off), l.hdr.vlen)
			step = loadHit
			return nil
		}
		free := -1
		for i := range format.ClaimCount {
			r := claimOf(s, i)
			word := r.word()
			owner := uint32(word >> 32)
			switch {
			case owner == 0:
				if free < 0 {
					free = i
				}
			case r.tag() == tag:
				c = r
				if t.probeOwner(owner) == ownerDead {
					c.d = c.take(tag, t.owner)
					step = loadOwn
					return nil
				}
				c.d = uint32(word)
				step = loadWait
				return nil
			}
		}
		if free < 0 {
			// Every record is held; one whose loader died with no caller
			// of its key since would stay held for good: reuse it.
			for i := range format.ClaimCount {
				if r := claimOf(s, i); t.probeOwner(r.owner()) == ownerDead {
					free = i
					break
				}
			}
		}
		if free < 0 {
			step = loadUnclaimed
			return nil
		}
		c = claimOf(s, free)
		c.d = c.take(tag, t.owner)
		step = loadOwn
		return nil
	})
	if err != nil {
		return loadWait, dst, claim{}, err
	}
	c.h = h
	return step, out, c, nil
}

// loadClaimed runs load as the holder of claim c, stores what it returns
// unless an Invalidate of the key came first (storeClaimed), and ends the
// claim however load returns, panics included. loaded reports whether
// load succeeded; err is then the store's.
func (t *Table) loadClaimed(ctx context.Context, dst, key []byte, load Loader, c claim) (out []byte, loaded bool, err error) {
	defer t.endClaim(c)
	v, ttl, err := load(ctx, key)
	if err != nil {
		return dst, false, err
	}
	return append(dst, v...), true, t.storeClaimed(key, v, ttl, c)
}

// storeClaimed stores value under key, with ttl, as SetTTL does, if this
// handle still holds claim c, as it took it, and no Invalidate of the key
// has marked it stale since. The check and the store are made under the
// shard's lock, which Invalidate takes too: a load that raced an
// invalidation never installs what it loaded.
//
// The key is hashed again: the loader was given the caller's key and may
// have changed it, which Loader forbids. A key that no longer hashes as it
// did when the claim was taken is not stored, so that no entry is filed
// under another key's hash.
func (t *Table) storeClaimed(key, value []byte, ttl time.Duration, c claim) (err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if err := t.checkWrite(key, len(value)); err != nil {
		return err
	}
	h := format.HashKey(t.g.Seed, key)
	if h != c.h {
		return nil
	}
	return t.update(key, h, ttl > 0, func(s *view, l lookup, now int64) error {
		if c.word() != c.heldBy(t.owner) || c.tag() != h|1 || c.stale() {
			return nil
		}
		return s.put(key, h, value, expiresAt(now, ttl), &l, now)
	})
}

// endClaim ends claim c if this handle still holds it, and wakes its
// waiters. It takes no lock (see the top of this file), so that the claim
// ends even when the shard's lock is held by a process that does not let
// go of it.
func (t *Table) endClaim(c claim) {
	var err error
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if t.closed.Load() {
		// Close has revoked the mapping, or is about to, and then drops
		// this handle's liveness lock: the claim's owner is dead to
		// everyone, and the next caller takes it over.
		return
	}
	if c.end(t.owner) {
		region.FutexWake(c.doneWord(), math.MaxInt32)
	}
}

// claim is one claim record of a shard (internal/format/layout.go).
type claim struct {
	s *shard
	w int64  // word index of the record
	h uint64 // the hash of the key it was taken or waited for, when claimOrWait returned it
	d uint32 // the done counter when it was taken, or when the waiter looked
}

func claimOf(s *shard, i int) claim {
	return claim{s: s, w: s.ctl + (format.CtlClaims+int64(i)*format.ClaimSize)/8}
}

func (c claim) tag() uint64       { return c.s.r.Load(c.w + format.ClaimTag/8) }
func (c claim) stale() bool       { return c.s.r.Load(c.w+format.ClaimStale/8) != 0 }
func (c claim) word() uint64      { return c.s.r.Load(c.w + format.ClaimDone/8) }
func (c claim) owner() uint32     { return uint32(c.word() >> 32) }
func (c claim) doneWord() *uint32 { return c.s.r.LockWord(c.w + format.ClaimDone/8) }

// heldBy is the done word of c as owner holds it, taken at counter c.d.
func (c claim) heldBy(owner uint32) uint64 { return uint64(owner)<<32 | uint64(c.d) }

// take records owner as the loader of the key tagged tag, and returns the
// done counter it took the record at. Under the lock; the done word, which
// makes the record held, goes last (see the top of this file).
func (c claim) take(tag uint64, owner uint32) uint32 {
	done := uint32(c.word())
	c.s.r.Store(c.w+format.ClaimStale/8, 0)
	c.s.r.Store(c.w+format.ClaimStarted/8, uint64(time.Now().UnixNano()))
	c.s.r.Store(c.w+format.ClaimTag/8, tag)
	c.s.r.Store(c.w+format.ClaimDone/8, uint64(owner)<<32|uint64(done))
	return done
}

// markStale records that the claimed key was invalidated while it loaded.
// Under the lock.
func (c claim) markStale() {
	c.s.r.Store(c.w+format.ClaimStale/8, 1)
}

// end frees the record if owner still holds it as taken at counter c.d,
// bumping the counter, in one compare-and-swap; it reports whether it did.
// It needs no lock.
func (c claim) end(owner uint32) bool {
	failpoint.Step()
	return c.s.r.CAS(c.w+format.ClaimDone/8, c.heldBy(owner), uint64(c.d+1))
}

// wait sleeps until c's done counter moves from c.d, ctx ends, or d
// passes, and returns ctx's error if it ended.
func (c claim) wait(ctx context.Context, d time.Duration) error {
	return sleepOn(ctx, c.doneWord(), c.d, d)
}

// sleepOn sleeps on the futex word w while it holds val, for d at most,
// and returns ctx's error once ctx has ended; ctx ending wakes every
// sleeper on w, which the others take as a spurious wake. A deadline that
// has passed while ctx has not ended yet (its timer is about to fire)
// still gets a short sleep, which ctx's end cuts: returning at once would
// have the caller look again and come back, a spin until the timer fires.
func sleepOn(ctx context.Context, w *uint32, val uint32, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok {
		d = min(d, max(time.Until(deadline), time.Millisecond))
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { region.FutexWake(w, math.MaxInt32) })
		defer stop()
	}
	region.FutexWait(w, val, d)
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
	h := format.HashKey(t.g.Seed, key)
	s := t.claimHome(h)
	err = t.update(key, h, false, func(v *view, l lookup, now int64) error {
		for i := range format.ClaimCount {
			if c := claimOf(s, i); c.tag() == h|1 {
				c.markStale()
			}
		}
		deleted = l.present()
		if l.found {
			v.remove(&l, now)
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

// markAllStale marks every claim in use stale, class by class, each under
// the lock of the shard that holds the class.
func (t *Table) markAllStale() (err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if t.readOnly {
		return ErrReadOnly
	}
	for class := range t.shards {
		home := &t.shards[class]
		err := t.routed(home.classHash(), func(s *shard) error {
			if err := t.lockShard(s); err != nil {
				return err
			}
			defer t.unlock(s)
			if v, ok := s.currentChecked(); !ok {
				return ErrCorrupt
			} else if !v.owns(home.classHash()) {
				return errClassMoved
			}
			for j := range format.ClaimCount {
				if c := claimOf(home, j); c.owner() != 0 {
					c.markStale()
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// claimHome is the shard whose control block keeps the load claims of
// keys hashing to h: the one numbered as h's class, whatever shard holds
// the class now, so that a claim stays where its waiters look when a
// split moves the class. A claim is taken, taken over and marked stale
// only under the lock of the shard that holds the class (update), which
// two shards never hold at once; it ends without the lock, by one
// compare-and-swap of its done word, as the top of this file says.
func (t *Table) claimHome(h uint64) *shard { return &t.shards[h>>t.shardShift] }

// classHash is a hash whose class is s's number.
func (s *shard) classHash() uint64 { return uint64(s.index) << s.classShift }
