package kv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
	"github.com/shmkv/shmkv/kv/internal/region"
)

// The cross-process part of the model test of features together. Several
// child processes run random operations on two shared tables, one that
// grows and one that evicts at its ceiling, under a fake clock the parent
// advances, while the parent SIGSTOPs a child now and then and SIGKILLs
// others (starting replacements). Half the stops are aimed at a moment the
// child is in the middle of a write, and half the kills at one where it
// holds a shard lock, which stops and kills at random seldom hit. Which
// process's operation lands first is not the model's to know, so it checks
// invariants:
//   - every value read is one some process wrote for that key, whole (each
//     carries its key, its writer, the writer's sequence number and a
//     checksum), and a reader never sees a writer's older value of a key
//     after a newer one;
//   - each child's own keys, which only it writes, are exactly as its model
//     says (on the evicting table: as it says, or gone);
//   - no call fails but for what the API allows: a write may time out on a
//     lock a stopped process holds, a read may not; a read-only reader may
//     get ErrOwnerDead while a dead writer's shard waits for recovery, not
//     while a live writer holds it; and no call runs past its bound;
//   - at most one load of a key runs on the host at a time (a loader holds
//     an flock on a file of its key while it runs; the kernel drops it when
//     the loader dies);
//   - at the end, with every child alive and idle: no claim is held by a
//     live process, a GetOrLoad of each loaded key from the parent (half of
//     them just expired) ends within a bound and loads at most once, every
//     key reads back whole, and Check is clean.
//
// A child reports a broken invariant on its stdout as "FAIL ..." with the
// operation, key and seed, and exits; the parent fails the test with it.
// Where the state at a failure matches an item of issue 21, the message
// names it.

func init() { rawChildren["features"] = childFeatures }

const (
	// featLockTimeout is the children's lock timeout: shorter than most
	// stops, so that a process stopped holding a shard lock makes the
	// others' writes time out, as a stop past the default would.
	featLockTimeout = 250 * time.Millisecond
	// featMaxStop is the longest the parent keeps a child stopped.
	featMaxStop = time.Second
	// featLoadWait bounds a child's GetOrLoad: past the longest chain of
	// waits a live loader can cause (its own stop, a stop of the lock's
	// holder, its sleep).
	featLoadWait = 6 * time.Second
	// featRefresh is the children's RefreshAhead, on the fake clock.
	featRefresh = 200 * time.Millisecond

	featShared   = 16   // s0..s15: written by every child
	featLoaded   = 6    // l0..l5: written by loads (and short SetTTLs)
	featCounters = 4    // c0..c3: Add only
	featFill     = 1500 // f0..: filler, so that one table grows, the other evicts
	featOwn      = 6    // o<writer>-0..5: only their writer writes them
	featOwnCount = 3    // oc<writer>-0..2: likewise, Add only
)

// featTableOptions are the two tables of the cross-process part: one that
// starts with 16 of 64 shards in use, whose shards grow and split (every
// process's handle splits past featSplitAbove), and one that evicts at its
// ceiling, in one shard, so that every process meets every other on its
// lock.
func featTableOptions(now func() time.Time) [2]*Options {
	return [2]*Options{
		{MaxMemory: 1 << 30, MaxKeySize: 64, MaxValueSize: 512, Now: now, splitAbove: featSplitAbove},
		{MaxMemory: 256 << 10, MaxKeySize: 64, MaxValueSize: 512, Eviction: EvictS3FIFO, Now: now},
	}
}

const featSplitAbove = 12 << 10

// sharedClock is a fake clock every process reads: one word in a mapped
// file, which the parent advances.
type sharedClock struct {
	m []byte
	r region.Region
}

func (c *sharedClock) Now() time.Time          { return time.Unix(0, int64(c.r.Load(0))) }
func (c *sharedClock) Advance(d time.Duration) { c.r.Add(0, uint64(d)) }
func (c *sharedClock) unmap()                  { syscall.Munmap(c.m) }
func mapClock(path string, flag, prot int) (*sharedClock, error) {
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if flag&os.O_CREATE != 0 {
		if err := f.Truncate(8); err != nil {
			return nil, err
		}
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, 8, prot, syscall.MAP_SHARED)
	if err != nil {
		return nil, err
	}
	return &sharedClock{m: m, r: region.New(m)}, nil
}

// featValue is a value of key by writer, its seq-th write, padded by pad
// bytes: "checksum|key|writer|seq|padding".
func featValue(key, writer string, seq, pad int) []byte {
	body := fmt.Sprintf("%s|%s|%d|%s", key, writer, seq, strings.Repeat("p", pad))
	return fmt.Appendf(nil, "%016x|%s", xxhash.Sum64String(body), body)
}

// parseFeatValue checks that v is a whole value written for key, and
// returns its writer and sequence number.
func parseFeatValue(key string, v []byte) (writer string, seq int, err error) {
	f := strings.SplitN(string(v), "|", 5)
	if len(f) != 5 {
		return "", 0, fmt.Errorf("value %.80q is not one this test writes", v)
	}
	if sum := fmt.Sprintf("%016x", xxhash.Sum64String(strings.Join(f[1:], "|"))); sum != f[0] {
		return "", 0, fmt.Errorf("value %.80q fails its checksum: torn", v)
	}
	if f[1] != key {
		return "", 0, fmt.Errorf("value %.80q was written for key %q", v, f[1])
	}
	seq, err = strconv.Atoi(f[3])
	return f[2], seq, err
}

// featWorker is one goroutine of a child process of the cross-process
// part, with its own writer name, random source and models.
type featWorker struct {
	id       string // writer name, unique on the host
	seed     uint64
	ro       bool
	rng      *rand.Rand
	tabs     [2]*Table
	lockDir  string
	seq      int
	own      [2]map[string]string // own keys' values; absent: not there
	ownCount [2]map[string]int64  // own counters
	seen     map[string]int       // "table|key|writer": the highest seq read
	counters map[string]int64     // shared counters of the growing table: the highest read
	stats    map[string]int
	cur      atomic.Pointer[featOp] // the operation under way
	last     atomic.Pointer[featOp] // the operation begun last
	step     atomic.Int64
}

func newFeatWorker(id string, stream uint64, seed uint64, ro bool, tabs [2]*Table, lockDir string) *featWorker {
	w := &featWorker{
		id: id, seed: seed, ro: ro, rng: rand.New(rand.NewPCG(seed, stream)), tabs: tabs, lockDir: lockDir,
		seen: map[string]int{}, counters: map[string]int64{}, stats: map[string]int{},
	}
	for i := range w.own {
		w.own[i], w.ownCount[i] = map[string]string{}, map[string]int64{}
	}
	return w
}

// childFeatures: args nameA nameB clock lockDir id seed ro. A read-only
// child runs one reading worker; a read-write child runs a worker of
// every operation and one that writes as fast as it can, so that stops
// and kills land inside writes. They run until stdin says "stop"; then
// the child checks its own keys, prints "stopped" and its counts, and
// holds its tables open until stdin ends.
func childFeatures(args []string) error {
	clock, err := mapClock(args[2], os.O_RDONLY, syscall.PROT_READ)
	if err != nil {
		return err
	}
	seed, _ := strconv.ParseUint(args[5], 10, 64)
	id, _ := strconv.Atoi(args[4])
	ro := args[6] == "1"
	var tabs [2]*Table
	for i := range tabs {
		o := &Options{NoCreate: true, LockTimeout: featLockTimeout, Now: clock.Now, RefreshAhead: featRefresh, splitAbove: featSplitAbove}
		if ro {
			o = &Options{ReadOnly: true, Now: clock.Now}
		}
		if tabs[i], err = Open(args[i], o); err != nil {
			return err
		}
	}
	workers := []*featWorker{newFeatWorker(fmt.Sprint("w", id), uint64(2*id), seed, ro, tabs, args[3])}
	workers = append(workers, newFeatWorker(fmt.Sprintf("w%dr", id), uint64(2*id+1), seed, ro, tabs, args[3]))
	steps := []func(*featWorker){(*featWorker).readStep, (*featWorker).readStep}
	if !ro {
		workers = workers[:1]
		workers = append(workers, newFeatWorker(fmt.Sprintf("w%dc", id), uint64(2*id+1), seed, ro, tabs, args[3]))
		steps = []func(*featWorker){(*featWorker).writeStep, (*featWorker).churnStep}
	}
	var stopping atomic.Bool
	eof := make(chan struct{})
	go func() {
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			if in.Text() == "stop" {
				stopping.Store(true)
			}
		}
		stopping.Store(true)
		close(eof)
	}()
	go featWatchdog(workers)
	fmt.Println("ready")
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopping.Load() {
				steps[i](w)
				w.step.Add(1)
			}
		}()
	}
	wg.Wait()
	counts := map[string]int{}
	for _, w := range workers {
		w.step.Store(-1)
		if !ro {
			for tab := range tabs {
				for i := range featOwn {
					w.ownOp(tab, fmt.Sprintf("o%s-%d", w.id, i), 4)
				}
			}
		}
		for k, v := range w.stats {
			counts[k] += v
		}
	}
	var out []string
	for k, v := range counts {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	fmt.Println("stopped", strings.Join(out, " "))
	<-eof
	return nil
}

// fail reports a broken invariant and ends the child.
func (c *featWorker) fail(format string, args ...any) {
	op := "-"
	if last := c.last.Load(); last != nil {
		op = last.desc
	}
	fmt.Printf("FAIL %s (seed %d, step %d) %s: %s\n", c.id, c.seed, c.step.Load(), op, fmt.Sprintf(format, args...))
	os.Exit(1)
}

// featWatchdog fails the child if an operation of a worker runs past its
// bound, which allows for the child being stopped meanwhile.
func featWatchdog(workers []*featWorker) {
	for range time.Tick(50 * time.Millisecond) {
		for _, w := range workers {
			if op := w.cur.Load(); op != nil && time.Since(op.start) > op.bound+featMaxStop+time.Second {
				w.fail("%s has not returned after %v (issue 21: a call that never ends)", op.desc, time.Since(op.start))
			}
		}
	}
}

// do runs fn as the operation desc on table tab, bounded by bound.
func (c *featWorker) do(tab int, bound time.Duration, desc string, fn func()) {
	c.stats["ops"]++
	op := &featOp{desc: fmt.Sprintf("%s on table %c", desc, 'A'+tab), start: time.Now(), bound: bound}
	c.last.Store(op)
	c.cur.Store(op)
	fn()
	c.cur.Store(nil)
}

const featOpBound = 2 * time.Second

// writeErr judges the error of a write on table tab: a lock timeout is
// what a write beside a stopped lock holder may get; anything else fails.
func (c *featWorker) writeErr(tab int, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, ErrLockTimeout):
		c.stats["writeLockTimeouts"]++
		return false
	}
	c.fail("%v", err)
	return false
}

// readErr judges the error of a read of key on table tab.
func (c *featWorker) readErr(tab int, key []byte, err error) bool {
	if err == nil {
		return true
	}
	tb := c.tabs[tab]
	s := tb.shardFor(format.HashKey(tb.g.Seed, key))
	w := loadLockWord(s)
	switch {
	case c.ro && errors.Is(err, ErrOwnerDead):
		if w != 0 && tb.probeOwner(w&^lockStateMask) == ownerLive {
			c.fail("%v, while %s holds the shard (issue 21 item 4: a read-only reader gets ErrOwnerDead while a live writer recovers)", err, describeOwner(tb, w&^lockStateMask))
		}
		// Allowed while the dead writer's shard waits for a read-write
		// process to recover it: counted by whether it was flagged for
		// rebuild (died mid-rebuild, as ErrOwnerDead says) or not.
		if s.ctlLoad(format.CtlFlags) != 0 {
			c.stats["readOnlyOwnerDeadFlagged"]++
		} else {
			c.stats["readOnlyOwnerDeadUnflagged"]++
		}
	case c.ro && errors.Is(err, ErrLockTimeout):
		// Allowed beside a live writer that is rebuilding the shard.
		c.stats["readOnlyLockTimeouts"]++
	case errors.Is(err, ErrLockTimeout) && s.ctlLoad(format.CtlFlags) != 0:
		// Beside a holder stopped in the middle of rebuilding the index,
		// which no reader can read around: allowed, as for read-only
		// handles (getReadOnly).
		c.stats["readLockTimeoutsRebuild"]++
	case errors.Is(err, ErrLockTimeout):
		if w != 0 && strings.Contains(procState(ownerPid(tb, w&^lockStateMask)), "stopped") {
			c.fail("%v: the shard's lock is held by %s, sequence %d (issue 21 item 3: a writer stopped inside a write stalls readers)", err, describeOwner(tb, w&^lockStateMask), s.ctlLoad(format.CtlSeq))
		}
		// Behind a live, running holder for longer than the lock
		// timeout: a busy machine, not a stop.
		c.stats["readLockTimeouts"]++
	default:
		c.fail("%v", err)
	}
	return false
}

// check judges a value read of key on table tab: whole, written for the
// key, and not older than what this child read of the same writer before.
func (c *featWorker) check(tab int, key string, v []byte) {
	switch {
	case strings.HasPrefix(key, "c"), strings.HasPrefix(key, "oc"):
		n, ok := parseInt(v)
		if !ok {
			c.fail("counter %s = %.80q", key, v)
		}
		if tab == 0 && strings.HasPrefix(key, "c") {
			if n < c.counters[key] {
				c.fail("counter %s went back from %d to %d", key, c.counters[key], n)
			}
			c.counters[key] = n
		}
		return
	}
	writer, seq, err := parseFeatValue(key, v)
	if err != nil {
		c.fail("%s: %v", key, err)
	}
	sk := fmt.Sprintf("%d|%s|%s", tab, key, writer)
	if last, ok := c.seen[sk]; ok && seq < last {
		c.fail("%s = write %d of %s, after this child read its write %d: an older value came back", key, seq, writer, last)
	}
	c.seen[sk] = seq
}

// anyKey picks a key of any family, for reads.
func (c *featWorker) anyKey() string {
	switch c.rng.IntN(6) {
	case 0:
		return fmt.Sprint("s", c.rng.IntN(featShared))
	case 1:
		return fmt.Sprint("l", c.rng.IntN(featLoaded))
	case 2:
		return fmt.Sprint("c", c.rng.IntN(featCounters))
	case 3:
		return fmt.Sprint("f", c.rng.IntN(featFill))
	case 4:
		return fmt.Sprintf("ow%d-%d", c.rng.IntN(12), c.rng.IntN(featOwn))
	}
	return fmt.Sprintf("ocw%d-%d", c.rng.IntN(12), c.rng.IntN(featOwnCount))
}

func (c *featWorker) value(key string) []byte {
	c.seq++
	return featValue(key, c.id, c.seq, c.rng.IntN(400))
}

// fakeTTL is a time to live on the fake clock: none, short (so that keys
// expire under the callers), or long.
func (c *featWorker) fakeTTL() time.Duration {
	switch c.rng.IntN(3) {
	case 0:
		return 0
	case 1:
		return time.Duration(5+c.rng.IntN(50)) * time.Millisecond
	}
	return time.Duration(50+c.rng.IntN(1000)) * time.Millisecond
}

func (c *featWorker) get(tab int, key string) {
	var v []byte
	var ok bool
	var err error
	c.do(tab, featOpBound, "Get("+key+")", func() { v, ok, err = c.tabs[tab].Get(nil, []byte(key)) })
	if c.readErr(tab, []byte(key), err) && ok {
		c.check(tab, key, v)
	}
}

func (c *featWorker) watch(tab int, key string) {
	tb, kb := c.tabs[tab], []byte(key)
	var v []byte
	var ver, next uint64
	var err error
	c.do(tab, featOpBound, "GetVersion("+key+")", func() { v, ver, err = tb.GetVersion(nil, kb) })
	if !c.readErr(tab, kb, err) {
		return
	}
	if ver != 0 {
		c.check(tab, key, v)
	}
	wait := time.Duration(20+c.rng.IntN(200)) * time.Millisecond
	c.do(tab, featOpBound+wait, fmt.Sprintf("Watch(%s, %v)", key, wait), func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		v, next, err = tb.Watch(ctx, nil, kb, ver)
	})
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		c.stats["watchTimeouts"]++
	case !c.readErr(tab, kb, err):
	case next == ver:
		c.fail("Watch(%s) returned its own version %#x", key, ver)
	default:
		c.stats["watchChanges"]++
		if next != 0 {
			c.check(tab, key, v)
		}
	}
}

func (c *featWorker) ttl(tab int, key string) {
	var err error
	c.do(tab, featOpBound, "TTL("+key+")", func() { _, _, err = c.tabs[tab].TTL([]byte(key)) })
	c.readErr(tab, []byte(key), err)
}

// readStep is one random operation of a read-only child.
func (c *featWorker) readStep() {
	tab := c.rng.IntN(2)
	switch r := c.rng.IntN(100); {
	case r < 90:
		c.get(tab, c.anyKey())
	case r < 93:
		c.watch(tab, fmt.Sprint("s", c.rng.IntN(featShared)))
	default:
		c.ttl(tab, c.anyKey())
	}
}

// writeStep is one random operation of a read-write child.
func (c *featWorker) writeStep() {
	tab := c.rng.IntN(2)
	tb := c.tabs[tab]
	skey := fmt.Sprint("s", c.rng.IntN(featShared))
	lkey := fmt.Sprint("l", c.rng.IntN(featLoaded))
	switch r := c.rng.IntN(100); {
	case r < 12:
		v, d := c.value(skey), c.fakeTTL()
		var err error
		c.do(tab, featOpBound, fmt.Sprintf("SetTTL(%s, %v)", skey, d), func() { err = tb.SetTTL([]byte(skey), v, d) })
		c.writeErr(tab, err)
	case r < 22:
		c.get(tab, c.anyKey())
	case r < 27:
		key := skey
		if c.rng.IntN(2) == 0 {
			key = lkey
		}
		var err error
		if c.rng.IntN(2) == 0 {
			c.do(tab, featOpBound, "Invalidate("+key+")", func() { _, err = tb.Invalidate([]byte(key)) })
		} else {
			c.do(tab, featOpBound, "Delete("+key+")", func() { _, err = tb.Delete([]byte(key)) })
		}
		c.writeErr(tab, err)
	case r < 32:
		var old []byte
		var ok bool
		var err error
		c.do(tab, featOpBound, "Get("+skey+")", func() { old, ok, err = tb.Get(nil, []byte(skey)) })
		if !c.readErr(tab, []byte(skey), err) || !ok {
			break
		}
		c.check(tab, skey, old)
		nv := c.value(skey)
		c.do(tab, featOpBound, "CompareAndSwap("+skey+")", func() { _, err = tb.CompareAndSwap([]byte(skey), old, nv) })
		c.writeErr(tab, err)
	case r < 36:
		var err error
		c.do(tab, featOpBound, "SetIfAbsent("+skey+")", func() { _, err = tb.SetIfAbsent([]byte(skey), c.value(skey)) })
		c.writeErr(tab, err)
	case r < 42:
		c.watch(tab, skey)
	case r < 45:
		c.ttl(tab, c.anyKey())
	case r < 66:
		c.getOrLoad(tab, lkey)
	case r < 70:
		// A short life, so that loads meet keys just expired.
		v, d := c.value(lkey), time.Duration(1+c.rng.IntN(30))*time.Millisecond
		var err error
		c.do(tab, featOpBound, fmt.Sprintf("SetTTL(%s, %v)", lkey, d), func() { err = tb.SetTTL([]byte(lkey), v, d) })
		c.writeErr(tab, err)
	case r < 76:
		key := fmt.Sprint("c", c.rng.IntN(featCounters))
		var n int64
		var err error
		c.do(tab, featOpBound, "Add("+key+")", func() { n, err = tb.Add([]byte(key), 1) })
		// On the growing table a counter only rises; on the evicting one
		// it may be evicted and start again.
		if c.writeErr(tab, err) && tab == 0 {
			if n <= c.counters[key] {
				c.fail("Add(%s, 1) = %d, after this child read %d", key, n, c.counters[key])
			}
			c.counters[key] = n
		}
	case r < 90:
		if i := c.rng.IntN(featOwn + featOwnCount); i < featOwn {
			c.ownOp(tab, fmt.Sprintf("o%s-%d", c.id, i), c.rng.IntN(5))
		} else {
			c.ownAdd(tab, fmt.Sprintf("oc%s-%d", c.id, i-featOwn))
		}
	default:
		key := fmt.Sprint("f", c.rng.IntN(featFill))
		var err error
		c.do(tab, featOpBound, "Set("+key+")", func() { err = tb.Set([]byte(key), c.value(key)) })
		c.writeErr(tab, err)
	}
}

// churnStep is one operation of a worker that writes as fast as it can,
// mostly filler, with its own keys checked.
func (c *featWorker) churnStep() {
	tab := c.rng.IntN(2)
	switch r := c.rng.IntN(10); {
	case r < 6:
		key := fmt.Sprint("f", c.rng.IntN(featFill))
		var err error
		c.do(tab, featOpBound, "Set("+key+")", func() { err = c.tabs[tab].Set([]byte(key), c.value(key)) })
		c.writeErr(tab, err)
	case r < 8:
		c.ownOp(tab, fmt.Sprintf("o%s-%d", c.id, c.rng.IntN(featOwn)), c.rng.IntN(5))
	case r < 9:
		c.ownAdd(tab, fmt.Sprintf("oc%s-%d", c.id, c.rng.IntN(featOwnCount)))
	default:
		c.get(tab, c.anyKey())
	}
}

// ownOp runs operation op (0 Set, 1 Delete, 2 CompareAndSwap, 3
// SetIfAbsent, 4 Get) on key, which only this child writes, and checks
// the answer exactly against its model; on the evicting table (tab 1) the
// key may also be gone.
func (c *featWorker) ownOp(tab int, key string, op int) {
	tb, kb := c.tabs[tab], []byte(key)
	want, has := c.own[tab][key]
	lost := func() {
		if tab == 0 {
			c.fail("%s lost: the model has %.60q", key, want)
		}
		c.stats["ownEvicted"]++
		delete(c.own[tab], key)
	}
	var err error
	switch op {
	case 0:
		v := c.value(key)
		c.do(tab, featOpBound, "Set("+key+")", func() { err = tb.Set(kb, v) })
		if c.writeErr(tab, err) {
			c.own[tab][key] = string(v)
		}
	case 1:
		var del bool
		c.do(tab, featOpBound, "Delete("+key+")", func() { del, err = tb.Delete(kb) })
		if !c.writeErr(tab, err) {
			break
		}
		if del && !has {
			c.fail("Delete(%s) deleted a key the model has absent", key)
		}
		if has && !del {
			lost()
		}
		delete(c.own[tab], key)
	case 2:
		old, nv := []byte(want), c.value(key)
		if !has || c.rng.IntN(4) == 0 {
			old = c.value(key)
		}
		var swapped bool
		c.do(tab, featOpBound, "CompareAndSwap("+key+")", func() { swapped, err = tb.CompareAndSwap(kb, old, nv) })
		if !c.writeErr(tab, err) {
			break
		}
		wantSwap := has && string(old) == want
		switch {
		case swapped && !wantSwap:
			c.fail("CompareAndSwap(%s) swapped; the model has %.60q, present %v", key, want, has)
		case swapped:
			c.own[tab][key] = string(nv)
		case wantSwap:
			lost()
		}
	case 3:
		v := c.value(key)
		var stored bool
		c.do(tab, featOpBound, "SetIfAbsent("+key+")", func() { stored, err = tb.SetIfAbsent(kb, v) })
		if !c.writeErr(tab, err) {
			break
		}
		switch {
		case stored && has:
			lost()
		case !stored && !has:
			c.fail("SetIfAbsent(%s) refused a key the model has absent", key)
		}
		if stored {
			c.own[tab][key] = string(v)
		}
	default:
		var v []byte
		var ok bool
		c.do(tab, featOpBound, "Get("+key+")", func() { v, ok, err = tb.Get(nil, kb) })
		if !c.readErr(tab, kb, err) {
			break
		}
		switch {
		case ok && (!has || string(v) != want):
			c.fail("Get(%s) = %.60q; the model has %.60q, present %v", key, v, want, has)
		case !ok && has:
			lost()
		}
	}
}

// ownAdd adds 1 to key, a counter only this child writes, and checks the
// sum against the model.
func (c *featWorker) ownAdd(tab int, key string) {
	want, has := c.ownCount[tab][key]
	var n int64
	var err error
	c.do(tab, featOpBound, "Add("+key+")", func() { n, err = c.tabs[tab].Add([]byte(key), 1) })
	if !c.writeErr(tab, err) {
		return
	}
	switch {
	case n == want+1:
	case tab == 1 && has && n == 1:
		c.stats["ownEvicted"]++
	default:
		c.fail("Add(%s, 1) = %d; the model has %d, present %v", key, n, want, has)
	}
	c.ownCount[tab][key] = n
}

// getOrLoad runs GetOrLoad of key on table tab with a loader of a random
// kind, and checks what it returns.
func (c *featWorker) getOrLoad(tab int, key string) {
	tb, kb := c.tabs[tab], []byte(key)
	kind := c.rng.IntN(loadKinds)
	v, d := c.value(key), c.fakeTTL()
	sleep := time.Duration(20+c.rng.IntN(130)) * time.Millisecond
	ran := 0
	load := func(context.Context, []byte) ([]byte, time.Duration, error) {
		ran++
		c.stats["loads"]++
		release := c.loading(tab, key)
		defer release()
		switch kind {
		case loadFail:
			return nil, 0, errFeatLoad
		case loadPanic:
			panic(featPanic)
		case loadSlow:
			time.Sleep(sleep)
		case loadInvalidate:
			if _, err := tb.Invalidate(kb); err != nil && !errors.Is(err, ErrLockTimeout) {
				c.fail("Invalidate(%s) in a loader: %v", key, err)
			}
		}
		return v, d, nil
	}
	var got []byte
	var err error
	var panicked any
	start := time.Now()
	c.do(tab, featLoadWait, fmt.Sprintf("GetOrLoad(%s), loader %s", key, loadKindNames[kind]), func() {
		defer func() { panicked = recover() }()
		ctx, cancel := context.WithTimeout(context.Background(), featLoadWait)
		defer cancel()
		got, err = tb.GetOrLoad(ctx, nil, kb, load)
	})
	switch {
	case panicked != nil:
		if panicked != featPanic || kind != loadPanic || ran != 1 {
			c.fail("GetOrLoad(%s) panicked with %v; loader %s ran %d times", key, panicked, loadKindNames[kind], ran)
		}
		return
	case ran > 1:
		c.fail("GetOrLoad(%s) ran its loader %d times", key, ran)
	case errors.Is(err, context.DeadlineExceeded):
		c.fail("GetOrLoad(%s) did not end within %v (its loader ran %d times): %s%s", key, time.Since(start).Round(time.Millisecond), ran, diagnoseLoad(tb, kb), featLoadItem(tb, kb, ran, loadRecord(c.lockDir, tab, key)))
	case errors.Is(err, errFeatLoad):
		if ran != 1 || kind != loadFail {
			c.fail("GetOrLoad(%s) = %v from someone else's loader", key, err)
		}
		return
	case err != nil && !errors.Is(err, ErrLockTimeout):
		c.fail("GetOrLoad(%s): %v", key, err)
	}
	if err == nil {
		c.check(tab, key, got)
		return
	}
	// A load whose store timed out: its value is whole, but was never
	// stored, so it says nothing of what later reads may see.
	c.stats["loadLockTimeouts"]++
	if len(got) > 0 {
		if bad := featBadValue(key, got); bad != "" {
			c.fail("GetOrLoad(%s) = %v and %s", key, err, bad)
		}
	}
}

// loading records that this process runs a load of key on table tab,
// until the function it returns is called: an exclusive flock on a file of
// the key, which fails if another load of the key is under way on the
// host, and which the kernel drops if the loader dies.
func (c *featWorker) loading(tab int, key string) (release func()) {
	path := loadRecord(c.lockDir, tab, key)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		c.fail("load record: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(holder)))
		c.fail("a second load of %s on table %c at once: pid %s%s is loading it too (%v)", key, 'A'+tab, holder, procState(pid), err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())), 0)
	return func() { f.Close() }
}

// featLoadItem names the issue item a GetOrLoad that never ended seems to
// be, from the state of its key: an expired entry that no claim covers is
// item 1; a claim whose holder lives and is not stopped while no load of
// the key runs (record, the key's load record, is free) is item 2.
func featLoadItem(tb *Table, key []byte, ran int, record string) string {
	h := format.HashKey(tb.g.Seed, key)
	s := tb.shardFor(h)
	for j := range format.ClaimCount {
		if c := claimOf(s, j); c.tag() == h|1 {
			owner := c.owner()
			if owner == 0 || tb.probeOwner(owner) != ownerLive || strings.Contains(procState(ownerPid(tb, owner)), "stopped") {
				return ""
			}
			if loadRunning(record) {
				return " (its holder is loading)"
			}
			return " (issue 21 item 2: a claim leaks: its holder lives and runs, and no load of the key is under way)"
		}
	}
	if v, ok := s.view(); ok && ran == 0 {
		var l lookup
		if err := v.find(key, h, tb.now().UnixNano(), &l); err == nil && l.found && l.expired {
			return " (issue 21 item 1: GetOrLoad of an expired key livelocks)"
		}
	}
	return ""
}

// loadRunning reports whether a load holds the load record at path.
func loadRunning(path string) bool {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return false
	}
	defer f.Close()
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil
}

// loadRecord is the path of the load record of key on table tab.
func loadRecord(dir string, tab int, key string) string {
	return filepath.Join(dir, fmt.Sprintf("%d-%s", tab, key))
}

// featProc is a child process as the parent sees it.
type featProc struct {
	id      int
	ro      bool
	c       *testproc.Child
	ready   chan struct{} // closed when it says "ready"
	stopped chan struct{} // closed when it says "stopped"
	done    chan struct{} // closed when its stdout has ended and it is reaped
	killed  bool

	mu      sync.Mutex
	fails   []string
	summary string
	err     error // how it exited, once done
}

func (p *featProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func runFeaturesProcs(t *testing.T, seed uint64) {
	d := 5 * time.Second
	if testing.Short() {
		d = 2 * time.Second
	}
	const writers = 4
	rng := rand.New(rand.NewPCG(seed, 22))
	clockPath := filepath.Join(t.TempDir(), "clock")
	clock, err := mapClock(clockPath, os.O_CREATE|os.O_RDWR, syscall.PROT_READ|syscall.PROT_WRITE)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(clock.unmap)
	clock.Advance(time.Duration(newClock().ns.Load()))
	lockDir := t.TempDir()
	var names [2]string
	var tabs [2]*Table
	for i, o := range featTableOptions(clock.Now) {
		names[i] = uniqueName(t)
		tabs[i] = openTable(t, names[i], o)
	}

	var procs []*featProc
	var fails []string
	var failsMu sync.Mutex
	nextID := 0
	start := func(ro bool) *featProc {
		nextID++
		roArg := "0"
		if ro {
			roArg = "1"
		}
		p := &featProc{id: nextID, ro: ro, ready: make(chan struct{}), stopped: make(chan struct{}), done: make(chan struct{})}
		p.c = testproc.Start(t, "SHMKV_RAW_CHILD=features",
			"SHMKV_ARGS="+strings.Join([]string{names[0], names[1], clockPath, lockDir, strconv.Itoa(nextID), strconv.FormatUint(seed, 10), roArg}, " "))
		go func() {
			for {
				line, err := p.c.Line()
				switch {
				case line == "ready":
					close(p.ready)
				case strings.HasPrefix(line, "stopped"):
					p.mu.Lock()
					p.summary = line
					p.mu.Unlock()
					close(p.stopped)
				case strings.HasPrefix(line, "FAIL"):
					failsMu.Lock()
					fails = append(fails, line)
					failsMu.Unlock()
				}
				if err != nil {
					break
				}
			}
			err := p.c.Wait()
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
			close(p.done)
		}()
		procs = append(procs, p)
		return p
	}
	// Before testproc's own cleanup, which would race with the readers'
	// Wait: kill every child and wait for its reader.
	t.Cleanup(func() {
		for _, p := range procs {
			p.c.Cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("child %d never ended after SIGKILL", p.id)
			}
		}
	})
	for range writers {
		start(false)
	}
	start(true)
	for _, p := range procs {
		select {
		case <-p.ready:
		case <-p.done:
		case <-time.After(20 * time.Second):
			t.Fatalf("child %d never started", p.id)
		}
	}

	// The clock moves about four times as fast as real time, in steps.
	stopClock := make(chan struct{})
	clockDone := make(chan struct{})
	go func() {
		defer close(clockDone)
		crng := rand.New(rand.NewPCG(seed, 23))
		for {
			select {
			case <-stopClock:
				return
			case <-time.After(10 * time.Millisecond):
			}
			clock.Advance(time.Duration(crng.IntN(80)) * time.Millisecond)
		}
	}()

	// Chaos: now and then a child is stopped for a while (two at a time at
	// most, in the background), and others are killed and replaced.
	stops, kills, aimedKills := 0, 0, 0
	var aimedStops atomic.Int32
	var stopper sync.WaitGroup
	stopped := 0 // children stopped now, at most two
	stopDone := make(chan struct{}, 2)
	for end := time.Now().Add(d); time.Now().Before(end); {
		time.Sleep(time.Duration(20+rng.IntN(100)) * time.Millisecond)
		for len(stopDone) > 0 {
			<-stopDone
			stopped--
		}
		var live []*featProc
		for _, p := range procs {
			if !p.ro && !p.killed && !p.exited() {
				live = append(live, p)
			}
		}
		if len(live) == 0 {
			break // every child failed
		}
		p := live[rng.IntN(len(live))]
		switch r := rng.IntN(100); {
		case r < 40 && stopped < 2:
			// Half the stops are aimed at a moment the child is in the
			// middle of a write, which a stop at random seldom hits.
			stop := time.Duration(50+rng.IntN(int(featMaxStop/time.Millisecond)-50)) * time.Millisecond
			aim := rng.IntN(2) == 0
			stopped++
			stops++
			stopper.Add(1)
			go func() {
				defer stopper.Done()
				if aim && stopInLock(p, tabs, true) {
					aimedStops.Add(1)
				} else {
					p.c.Cmd.Process.Signal(syscall.SIGSTOP)
				}
				time.Sleep(stop)
				p.c.Cmd.Process.Signal(syscall.SIGCONT)
				stopDone <- struct{}{}
			}()
		case r >= 40 && r < 70:
			// Half the kills are aimed at a moment the child holds a
			// shard lock; a child may be killed while stopped, too.
			if rng.IntN(2) == 0 && stopInLock(p, tabs, false) {
				aimedKills++
			}
			p.c.Cmd.Process.Signal(syscall.SIGKILL)
			p.killed = true
			kills++
			start(false)
		}
	}
	stopper.Wait()
	close(stopClock)
	<-clockDone

	// Stop every child, and wait until each is idle with its tables open.
	for _, p := range procs {
		if !p.killed && !p.exited() {
			p.c.Cmd.Process.Signal(syscall.SIGCONT)
			fmt.Fprintln(p.c.Stdin, "stop")
		}
	}
	for _, p := range procs {
		if p.killed {
			continue
		}
		select {
		case <-p.stopped:
		case <-p.done:
		case <-time.After(featLoadWait + 2*featMaxStop + 5*time.Second):
			t.Errorf("seed %d: child %d did not stop", seed, p.id)
		}
	}
	failsMu.Lock()
	for _, f := range fails {
		t.Errorf("seed %d: child %s", seed, f)
	}
	failsMu.Unlock()

	// Every claim has ended, or belongs to a dead loader (killed mid-load)
	// that the next GetOrLoad of its key takes over.
	for i, tb := range tabs {
		for _, c := range claimsInUse(tb) {
			if strings.Contains(c, ", alive") {
				t.Errorf("seed %d: table %c: with every process idle, a claim is still held: %s (issue 21 item 2: a claim leaks)", seed, 'A'+i, c)
			}
		}
	}
	// Each loaded key: a GetOrLoad ends within a bound, loading at most
	// once. All at once, so that the bound is paid once if they fail.
	// Half of them have just expired, as a short life under a moving
	// clock leaves keys, whatever the children did last.
	for _, tb := range tabs {
		for k := range featLoaded / 2 {
			key := fmt.Sprint("l", k)
			if err := tb.SetTTL([]byte(key), featValue(key, "parent", 0, 10), time.Millisecond); err != nil {
				t.Errorf("seed %d: SetTTL(%s): %v", seed, key, err)
			}
		}
	}
	clock.Advance(10 * time.Millisecond)
	var wg sync.WaitGroup
	errs := make(chan string, 2*featLoaded)
	for i, tb := range tabs {
		for k := range featLoaded {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := fmt.Sprint("l", k)
				var ran atomic.Int32
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				got, err := tb.GetOrLoad(ctx, nil, []byte(key), func(context.Context, []byte) ([]byte, time.Duration, error) {
					ran.Add(1)
					return featValue(key, "parent", 0, 10), 0, nil
				})
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					errs <- fmt.Sprintf("table %c: the parent's GetOrLoad(%s) did not end within 3s: %s%s", 'A'+i, key, diagnoseLoad(tb, []byte(key)), featLoadItem(tb, []byte(key), int(ran.Load()), loadRecord(lockDir, i, key)))
				case err != nil:
					errs <- fmt.Sprintf("table %c: the parent's GetOrLoad(%s): %v", 'A'+i, key, err)
				case ran.Load() > 1:
					errs <- fmt.Sprintf("table %c: the parent's GetOrLoad(%s) loaded %d times", 'A'+i, key, ran.Load())
				default:
					if _, _, err := parseFeatValue(key, got); err != nil {
						errs <- fmt.Sprintf("table %c: GetOrLoad(%s): %v", 'A'+i, key, err)
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("seed %d: %s", seed, e)
	}
	// Every key reads back whole, through Range and through Get, and Check
	// finds nothing.
	for i, tb := range tabs {
		seen := map[string][]byte{}
		if err := tb.Range(func(k, v []byte) bool {
			seen[string(k)] = append([]byte(nil), v...)
			return true
		}); err != nil {
			t.Errorf("seed %d: table %c: Range: %v", seed, 'A'+i, err)
		}
		for k, v := range seen {
			if bad := featBadValue(k, v); bad != "" {
				t.Errorf("seed %d: table %c: Range: %s", seed, 'A'+i, bad)
			}
			gv, ok, err := tb.Get(nil, []byte(k))
			if err != nil {
				t.Errorf("seed %d: table %c: Get(%s): %v", seed, 'A'+i, k, err)
			} else if bad := featBadValue(k, gv); ok && bad != "" {
				t.Errorf("seed %d: table %c: Get: %s", seed, 'A'+i, bad)
			}
		}
		rep, err := tb.Check()
		if err != nil {
			t.Errorf("seed %d: table %c: Check: %v", seed, 'A'+i, err)
		} else {
			for _, p := range rep.Problems {
				t.Errorf("seed %d: table %c: Check: %v", seed, 'A'+i, p)
			}
		}
	}

	// Let the children go; each that was not killed ends cleanly.
	for _, p := range procs {
		p.c.Stdin.Close()
	}
	loads := 0
	for _, p := range procs {
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("seed %d: child %d did not exit", seed, p.id)
			continue
		}
		p.mu.Lock()
		summary, err := p.summary, p.err
		p.mu.Unlock()
		if !p.killed && summary != "" && err != nil {
			t.Errorf("seed %d: child %d: %v", seed, p.id, err)
		}
		if summary != "" {
			t.Logf("child %d (read-only %v): %s", p.id, p.ro, summary)
		}
		for _, f := range strings.Fields(summary) {
			if n, ok := strings.CutPrefix(f, "loads="); ok {
				x, _ := strconv.Atoi(n)
				loads += x
			}
		}
	}
	var st [2]Stats
	tabs[0].Stats(&st[0])
	tabs[1].Stats(&st[1])
	t.Logf("%d stops (%d in mid-write), %d kills (%d holding a lock); %d loads by children that lived; table A: %d grows, %d splits, %d recoveries; table B: %d evictions, %d recoveries",
		stops, aimedStops.Load(), kills, aimedKills, loads, st[0].Grows, st[0].Splits, st[0].Recoveries, st[1].Evictions, st[1].Recoveries)
	if stops == 0 || kills == 0 || loads == 0 || st[0].Grows == 0 || st[0].Splits == 0 || st[1].Evictions == 0 {
		t.Error("no stop, no kill, no load, no grow, no split or no eviction: the test proved less than it says")
	}
}

// stopInLock tries to stop child p at a moment it holds the lock of a
// shard of tabs (with midWrite, in the middle of a write: the shard's
// sequence odd): it stops it, looks, and lets it run again if not, a few
// dozen times. It reports whether p is left stopped.
func stopInLock(p *featProc, tabs [2]*Table, midWrite bool) bool {
	pid := p.c.Cmd.Process.Pid
	for range 100 {
		if p.c.Cmd.Process.Signal(syscall.SIGSTOP) != nil {
			return false
		}
		for range 100 {
			if strings.Contains(procState(pid), "stopped") {
				break
			}
			time.Sleep(50 * time.Microsecond)
		}
		for _, tb := range tabs {
			for i := range tb.shards {
				s := &tb.shards[i]
				if w := loadLockWord(s); w != 0 && ownerPid(tb, w&^lockStateMask) == pid && (!midWrite || s.ctlLoad(format.CtlSeq)&1 != 0) {
					return true
				}
			}
		}
		p.c.Cmd.Process.Signal(syscall.SIGCONT)
		time.Sleep(time.Millisecond)
	}
	return false
}

// featBadValue says what is wrong with v as the value of key k, if
// anything.
func featBadValue(k string, v []byte) string {
	switch {
	case strings.HasPrefix(k, "c"), strings.HasPrefix(k, "oc"):
		if _, ok := parseInt(v); !ok {
			return fmt.Sprintf("counter %s = %.80q", k, v)
		}
	default:
		if _, _, err := parseFeatValue(k, v); err != nil {
			return fmt.Sprintf("%s: %v", k, err)
		}
	}
	return ""
}

// ownerPid is the pid recorded in the registry slot of owner (lock-word
// owner bits).
func ownerPid(tb *Table, owner uint32) int {
	slot := int(owner >> 2 & (format.MaxProcs - 1))
	if slot >= tb.g.RegistrySlots {
		return 0
	}
	return int(tb.r.Load(tb.g.RegistryOffset/8 + int64(slot)*format.RegistryRecordSize/8 + format.RegPID/8))
}
