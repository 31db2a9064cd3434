package kv

import (
	"math"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// Get appends the value of key to dst and returns the result, and whether
// the key was found. It allocates nothing when dst has room for the value.
// The returned bytes are the caller's own: never an alias of shared memory.
//
// Get never waits for a lock. Beside a writer that is dead, or stopped in
// the middle of a write, it reads around the writer within milliseconds
// (the first time it meets that writer; at once after). It fails with
// ErrCorrupt for a damaged entry; with ErrLockTimeout if a live writer
// keeps the shard's index unreadable for a second (or LockTimeout if
// shorter), and with ErrOwnerDead, on a read-only handle, if a dead one
// left it so and nobody recovers it within that second; in both cases at
// once for later reads while the shard stays so.
func (t *Table) Get(dst, key []byte) (value []byte, found bool, err error) {
	value, _, found, err = t.getMeta(dst, key)
	return value, found, err
}

// getMeta is Get that also returns the entry's expiry and checksum.
func (t *Table) getMeta(dst, key []byte) (value []byte, meta entryMeta, found bool, err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if err := t.checkKey(key); err != nil {
		return dst, entryMeta{}, false, err
	}
	h := format.HashKey(t.g.Seed, key)
	// routed's loop, without a closure on the path of every Get.
	for range maxRoutes {
		value, meta, found, err = t.get(t.shardFor(h), dst, key, h)
		if err != errClassMoved {
			return value, meta, found, err
		}
		if !t.route(h) {
			return dst, entryMeta{}, false, ErrCorrupt
		}
	}
	return dst, entryMeta{}, false, errRouteLoop
}

// NoExpiry is what TTL reports for a key that never expires.
const NoExpiry = time.Duration(-1)

// TTL reports how long key has left to live (NoExpiry if it never
// expires), and whether it is there at all.
func (t *Table) TTL(key []byte) (ttl time.Duration, found bool, err error) {
	_, meta, found, err := t.getMeta(nil, key)
	if err != nil || !found {
		return 0, false, err
	}
	if meta.expires == 0 {
		return NoExpiry, true, nil
	}
	return max(time.Duration(int64(meta.expires)-t.now().UnixNano()), 0), true, nil
}

// GetCopy returns a new copy of the value of key, and whether it was found.
func (t *Table) GetCopy(key []byte) (value []byte, found bool, err error) {
	v, found, err := t.Get(nil, key)
	if found && v == nil {
		v = []byte{}
	}
	return v, found, err
}

// Set stores value under key, replacing any value it had, and any expiry
// time. On ErrFull the table is as it was.
func (t *Table) Set(key, value []byte) error {
	return t.SetTTL(key, value, 0)
}

// SetTTL stores value under key to expire ttl from now; a ttl of 0 or less
// means never, and one that would end past the year 2262 ends there. The
// clock is read once the shard's lock is held. From that moment no process reads it, and its space is
// reclaimed as the log is cleaned.
func (t *Table) SetTTL(key, value []byte, ttl time.Duration) (err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if err := t.checkWrite(key, len(value)); err != nil {
		return err
	}
	h := format.HashKey(t.g.Seed, key)
	return t.update(key, h, ttl > 0, func(s *view, l lookup, now int64) error {
		return s.put(key, h, value, expiresAt(now, ttl), &l, now)
	})
}

// expiresAt is the expires word for a time to live of ttl from now. A
// deadline past what an int64 of nanoseconds holds (the year 2262)
// saturates there rather than wrapping into the past, which would delete
// the key.
func expiresAt(now int64, ttl time.Duration) uint64 {
	if ttl <= 0 {
		return 0
	}
	if int64(ttl) > math.MaxInt64-now {
		return math.MaxInt64
	}
	return uint64(now + int64(ttl))
}

// SetIfAbsent stores value under key only if key has no value, and reports
// whether it stored it.
func (t *Table) SetIfAbsent(key, value []byte) (stored bool, err error) {
	return t.SetIfAbsentTTL(key, value, 0)
}

// SetIfAbsentTTL is SetIfAbsent of a value that expires ttl from now, as
// SetTTL stores it (0 or less: never). A key whose time is up is absent,
// so this is Redis's SET key value NX PX: a lock with a lease, which
// passes to another taker once its holder stops renewing it, or dies
// (see the example of CompareAndDelete).
func (t *Table) SetIfAbsentTTL(key, value []byte, ttl time.Duration) (stored bool, err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if err := t.checkWrite(key, len(value)); err != nil {
		return false, err
	}
	h := format.HashKey(t.g.Seed, key)
	err = t.update(key, h, ttl > 0, func(s *view, l lookup, now int64) error {
		stored = false
		if l.present() {
			return nil
		}
		if err := s.put(key, h, value, expiresAt(now, ttl), &l, now); err != nil {
			return err
		}
		stored = true
		return nil
	})
	return stored, err
}

// CompareAndSwap stores new under key only if key's value is old, and
// reports whether it did; the key keeps its expiry time. An absent key
// never matches.
func (t *Table) CompareAndSwap(key, old, new []byte) (swapped bool, err error) {
	return t.compareAndSwap(key, old, new, 0, true, false)
}

// CompareAndSwapTTL is CompareAndSwap that also gives the key a new
// expiry time, ttl from now, as SetTTL does (0 or less: never). With new
// equal to old it renews a lease only while it is still the holder's:
// see the example of CompareAndDelete.
func (t *Table) CompareAndSwapTTL(key, old, new []byte, ttl time.Duration) (swapped bool, err error) {
	return t.compareAndSwap(key, old, new, ttl, false, false)
}

// compareAndSwap stores new under key if key's value is old: with its
// expiry time as it was if keep, else ttl from now. With same, the caller
// stores the value it compares (new is old) and only the expiry time may
// change: if it would not, nothing is written.
func (t *Table) compareAndSwap(key, old, new []byte, ttl time.Duration, keep, same bool) (swapped bool, err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if err := t.checkWrite(key, len(new)); err != nil {
		return false, err
	}
	h := format.HashKey(t.g.Seed, key)
	err = t.update(key, h, !keep && ttl > 0, func(s *view, l lookup, now int64) error {
		swapped = false
		if !l.present() {
			return nil
		}
		if !s.verified(&l) {
			return errDamaged(key)
		}
		if l.hdr.vlen != len(old) || !s.equalAt(l.hdr.valueAt(l.off), old) {
			return nil
		}
		expires := l.hdr.expires
		if !keep {
			expires = expiresAt(now, ttl)
		}
		if same && expires == l.hdr.expires {
			swapped = true
			return nil
		}
		if err := s.put(key, h, new, expires, &l, now); err != nil {
			return err
		}
		swapped = true
		return nil
	})
	return swapped, err
}

// CompareAndDelete deletes key only if its value is old, and reports
// whether it did. An absent key never matches.
func (t *Table) CompareAndDelete(key, old []byte) (deleted bool, err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if err := t.checkWrite(key, 0); err != nil {
		return false, err
	}
	h := format.HashKey(t.g.Seed, key)
	err = t.update(key, h, false, func(s *view, l lookup, now int64) error {
		deleted = false
		if !l.present() {
			return nil
		}
		if !s.verified(&l) {
			return errDamaged(key)
		}
		if l.hdr.vlen != len(old) || !s.equalAt(l.hdr.valueAt(l.off), old) {
			return nil
		}
		s.remove(&l, now)
		deleted = true
		return nil
	})
	return deleted, err
}

// touchBuffers hold the values Touch copies out, so that a Touch
// allocates nothing once the pool has a buffer large enough.
var touchBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledTouch is the largest buffer Touch gives back to the pool: a
// rare huge value should not stay pinned in every P's pool.
const maxPooledTouch = 64 << 10

// Touch gives key a new expiry time, ttl from now, as SetTTL does (0 or
// less: never), without changing its value, and reports whether the key
// was there. An absent or expired key is left absent.
//
// It is a write like any other: atomic, and kept or undone whole if its
// process dies during it, and its new expiry time is a change that Watch
// reports (a key's version covers its expiry time). A Touch that changes
// nothing (ttl 0 or less on a key that never expires) writes nothing.
// Beside other writers of the key it is atomic too: it extends the value
// the key holds at that moment, and never stores back a value another
// writer has replaced meanwhile.
func (t *Table) Touch(key []byte, ttl time.Duration) (found bool, err error) {
	if err := t.checkWrite(key, 0); err != nil {
		return false, err
	}
	// The value is copied out, then stored again under the lock if it is
	// still the key's, as CompareAndSwapTTL would: a write under the lock
	// may not allocate, and its room-making may move or drop the entry
	// it would copy from. A value changed in between is read again.
	buf := touchBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledTouch {
			touchBuffers.Put(buf)
		}
	}()
	for {
		v, found, err := t.Get((*buf)[:0], key)
		*buf = v[:0]
		if err != nil || !found {
			return false, err
		}
		swapped, err := t.compareAndSwap(key, v, v, ttl, false, true)
		if err != nil || swapped {
			return swapped, err
		}
	}
}

// maxIntText is the length of the longest int64 in decimal, with its sign.
const maxIntText = 20

// Add adds delta to the integer stored under key, creating it at 0 when the
// key is absent, and returns the new value; the key keeps its expiry time. The value is kept as decimal
// text, as Redis's INCRBY does, so Get reads it and a value Set as "41" can
// be added to. A value that is not a decimal integer, or a sum that would
// overflow, is ErrNotNumber and changes nothing.
func (t *Table) Add(key []byte, delta int64) (n int64, err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if err := t.checkWrite(key, 0); err != nil {
		return 0, err
	}
	h := format.HashKey(t.g.Seed, key)
	err = t.update(key, h, false, func(s *view, l lookup, now int64) error {
		var buf [maxIntText]byte
		var cur int64
		var expires uint64
		if l.present() {
			expires = l.hdr.expires // as Redis's INCRBY keeps a key's TTL
			if l.hdr.vlen > maxIntText {
				return errNotInteger
			}
			if !s.verified(&l) {
				return errDamaged(key)
			}
			text := s.appendAt(buf[:0], l.hdr.valueAt(l.off), l.hdr.vlen)
			var ok bool
			if cur, ok = parseInt(text); !ok {
				return errNotInteger
			}
		}
		if (delta > 0 && cur > math.MaxInt64-delta) || (delta < 0 && cur < math.MinInt64-delta) {
			return errOverflow(cur, delta)
		}
		n = cur + delta
		out := strconv.AppendInt(buf[:0], n, 10)
		if len(out) > t.g.MaxValue {
			return tooLarge(ErrValueTooLarge, len(out), t.g.MaxValue)
		}
		return s.put(key, h, out, expires, &l, now)
	})
	return n, err
}

// parseInt parses a decimal int64 the way Redis does: an optional '-', then
// digits with no leading zero (except "0" itself), nothing else.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	if len(digits) == 0 || len(digits) > 19 || (digits[0] == '0' && (len(digits) > 1 || neg)) {
		return 0, false
	}
	var u uint64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return int64(-u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// Delete removes key and reports whether it was there.
func (t *Table) Delete(key []byte) (deleted bool, err error) {
	defer t.guard(debug.SetPanicOnFault(true), &err)
	if err := t.checkWrite(key, 0); err != nil {
		return false, err
	}
	h := format.HashKey(t.g.Seed, key)
	err = t.update(key, h, false, func(s *view, l lookup, now int64) error {
		deleted = l.present()
		if l.found {
			s.remove(&l, now) // an expired entry goes too, as an expiration
		}
		return nil
	})
	return deleted, err
}

// Len returns the number of live entries in the table: every key a reader
// can see, plus keys that have expired but whose entries log cleaning has
// not yet dropped (Get, TTL and Range never return those). Under
// concurrent writes it is a sum of per-shard counts read at slightly
// different moments. Like Stats, it leaves out the shards that a shard
// whose extent cannot be read split into.
func (t *Table) Len() (n int) {
	if t.closed.Load() {
		return 0
	}
	var err error
	defer func() {
		if err != nil {
			n = 0
		}
	}()
	defer t.guard(debug.SetPanicOnFault(true), &err)
	for i := range t.shards {
		if t.inUse(i) {
			n += int(t.shards[i].ctlLoad(format.CtlLiveEntries))
		}
	}
	return n
}
