package kv

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
)

// fakeClock is an injected clock that moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestExpiryBoundaries(t *testing.T) {
	clock := newClock()
	name := uniqueName(t)
	opts := &Options{Keys: 100, Memory: 64 << 10, Now: clock.Now}
	tb := openTable(t, name, opts)
	if err := tb.SetTTL([]byte("k"), []byte("v"), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	mustSet(t, tb, "forever", "v")
	if ttl, ok, _ := tb.TTL([]byte("forever")); !ok || ttl != NoExpiry {
		t.Errorf("TTL(forever) = %v, %v", ttl, ok)
	}
	clock.Advance(10*time.Second - 1)
	if v, ok := mustGet(t, tb, "k"); !ok || v != "v" {
		t.Fatalf("1ns before expiry: %q, %v", v, ok)
	}
	if ttl, ok, _ := tb.TTL([]byte("k")); !ok || ttl != 1 {
		t.Fatalf("TTL 1ns before expiry = %v, %v", ttl, ok)
	}
	// Reopened, the expiry time is the same.
	tb.Close()
	tb = openTable(t, name, opts)
	if _, ok := mustGet(t, tb, "k"); !ok {
		t.Fatal("gone after reopen, before expiry")
	}
	clock.Advance(1)
	if _, ok := mustGet(t, tb, "k"); ok {
		t.Fatal("still there at the expiry time")
	}
	if _, ok, _ := tb.TTL([]byte("k")); ok {
		t.Fatal("TTL found an expired key")
	}
	if got := snapshotAll(t, tb); len(got) != 1 || got["forever"] != "v" {
		t.Fatalf("Range sees %v", got)
	}
	if ok, _ := tb.CompareAndSwap([]byte("k"), []byte("v"), []byte("x")); ok {
		t.Fatal("CompareAndSwap matched an expired value")
	}
	if n, err := tb.Add([]byte("k"), 3); err != nil || n != 3 {
		t.Fatalf("Add on an expired key = %d, %v; want 3", n, err)
	}
	var st Stats
	tb.Stats(&st)
	if st.Expirations != 1 {
		t.Errorf("%d expirations, want 1", st.Expirations)
	}
	// Set clears an expiry time; Add and CompareAndSwap keep it.
	tb.SetTTL([]byte("a"), []byte("1"), time.Minute)
	tb.Add([]byte("a"), 1)
	tb.CompareAndSwap([]byte("a"), []byte("2"), []byte("3"))
	if ttl, _, _ := tb.TTL([]byte("a")); ttl != time.Minute {
		t.Errorf("TTL after Add and CompareAndSwap = %v, want 1m", ttl)
	}
	mustSet(t, tb, "a", "4")
	if ttl, _, _ := tb.TTL([]byte("a")); ttl != NoExpiry {
		t.Errorf("TTL after Set = %v, want NoExpiry", ttl)
	}
	// Delete of an expired key reports nothing deleted.
	tb.SetTTL([]byte("d"), []byte("1"), time.Second)
	clock.Advance(time.Second)
	if del, _ := tb.Delete([]byte("d")); del {
		t.Error("Delete reported an expired key as deleted")
	}
	mustCheck(t, tb)
}

func init() {
	children["ttl-read"] = childTTLRead
}

// childTTLRead: args clock-ns key: reads key with its clock at clock-ns and
// prints the value or "absent".
func childTTLRead(tb *Table, args []string) error {
	ns, _ := strconv.ParseInt(args[0], 10, 64)
	tb.now = func() time.Time { return time.Unix(0, ns) }
	v, ok, err := tb.Get(nil, []byte(args[1]))
	if err != nil {
		return err
	}
	if !ok {
		fmt.Print("absent")
		return nil
	}
	fmt.Print(string(v))
	return nil
}

func TestExpiryAcrossProcesses(t *testing.T) {
	clock := newClock()
	name := uniqueName(t)
	tb := openTable(t, name, &Options{Keys: 100, Memory: 64 << 10, Now: clock.Now})
	if err := tb.SetTTL([]byte("k"), []byte("shared"), time.Hour); err != nil {
		t.Fatal(err)
	}
	read := func(at time.Time) string {
		out, err := testproc.Run(t, childEnv("ttl-read", name, strconv.FormatInt(at.UnixNano(), 10), "k")...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	expiry := clock.Now().Add(time.Hour)
	if got := read(expiry.Add(-1)); got != "shared" {
		t.Errorf("another process, 1ns before expiry: %q", got)
	}
	if got := read(expiry); got != "absent" {
		t.Errorf("another process, at expiry: %q", got)
	}
}

// TestExpiredSpaceReclaimed fills a NoEviction table with expiring entries;
// once they expire, new entries fit without any sweep.
func TestExpiredSpaceReclaimed(t *testing.T) {
	clock := newClock()
	tb := newTable(t, &Options{MaxMemory: 64 << 10, MaxKeySize: 32, MaxValueSize: 200, Now: clock.Now})
	n := 0
	for ; ; n++ {
		err := tb.SetTTL(fmt.Appendf(nil, "old-%d", n), make([]byte, 100), time.Minute)
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil || n > 10000 {
			t.Fatalf("filling: %v after %d", err, n)
		}
	}
	if err := tb.Set([]byte("new-0"), make([]byte, 100)); !errors.Is(err, ErrFull) {
		t.Fatalf("full table took a new key: %v", err)
	}
	clock.Advance(time.Minute)
	for i := range n {
		if err := tb.Set(fmt.Appendf(nil, "new-%d", i), make([]byte, 100)); err != nil {
			t.Fatalf("after expiry, new key %d of %d: %v", i, n, err)
		}
	}
	var st Stats
	tb.Stats(&st)
	if st.Expirations == 0 || st.Entries != uint64(n) {
		t.Errorf("%d expirations, %d entries (want %d)", st.Expirations, st.Entries, n)
	}
	mustCheck(t, tb)
}

// TestLRUKeepsHotKeys writes ten times what the table's memory ceiling
// holds while reading a hot set throughout: every Set succeeds, the hot
// keys stay, the memory taken never passes the ceiling.
func TestLRUKeepsHotKeys(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, &Options{MaxMemory: 512 << 10, MaxKeySize: 32, MaxValueSize: 256, Eviction: EvictS3FIFO})
	var st Stats
	// What the ceiling holds: fill until the first eviction.
	for i := 0; st.Evictions == 0; i++ {
		mustSet(t, tb, fmt.Sprint("fill-", i), string(make([]byte, i%200)))
		tb.Stats(&st)
	}
	capacity := int(st.Entries)
	hot := 50
	for i := range hot {
		mustSet(t, tb, fmt.Sprint("hot-", i), fmt.Sprint("hot value ", i))
	}
	var buf []byte
	for i := range 10 * capacity {
		if err := tb.Set(fmt.Appendf(nil, "cold-%d", i), make([]byte, i%200)); err != nil {
			t.Fatalf("Set %d under lru: %v", i, err)
		}
		buf, _, _ = tb.Get(buf[:0], fmt.Appendf(nil, "hot-%d", i%hot))
	}
	for i := range hot {
		if v, ok := mustGet(t, tb, fmt.Sprint("hot-", i)); !ok || v != fmt.Sprint("hot value ", i) {
			t.Errorf("hot-%d evicted (%q, %v)", i, v, ok)
		}
	}
	tb.Stats(&st)
	if st.TotalBytes > st.MaxBytes || st.Evictions == 0 || st.Entries > uint64(2*capacity) {
		t.Errorf("after 10x capacity: %+v", st)
	}
	t.Logf("capacity %d keys; %d evictions; %d entries left", capacity, st.Evictions, st.Entries)
	mustCheck(t, tb)
}

func TestEvictionRecorded(t *testing.T) {
	name := uniqueName(t)
	openTable(t, name, &Options{Keys: 10, Eviction: EvictS3FIFO})
	if _, err := Open(name, &Options{Eviction: EvictS3FIFO}); err != nil {
		t.Fatalf("reopening with the same policy: %v", err)
	}
	tb := openTable(t, name, nil)
	var st Stats
	tb.Stats(&st)
	if st.Eviction != EvictS3FIFO || st.Eviction.String() != "s3fifo" {
		t.Errorf("policy %v", st.Eviction)
	}
	other := uniqueName(t)
	openTable(t, other, &Options{Keys: 10})
	if _, err := Open(other, &Options{Eviction: EvictS3FIFO}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("asking lru of a none table: %v", err)
	}
	if _, err := Open(uniqueName(t), &Options{Eviction: 7}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("policy 7: %v", err)
	}
}

// A TTL whose deadline an int64 of nanoseconds cannot hold once stored the
// deadline in the past, which deleted the key and its old value. It now
// saturates at the year 2262.
func TestHugeTTLSaturates(t *testing.T) {
	tb := newTable(t, &Options{Keys: 100, Memory: 64 << 10})
	mustSet(t, tb, "k", "old")
	for _, d := range []time.Duration{math.MaxInt64, 2100000 * time.Hour, math.MaxInt64 - 1} {
		if err := tb.SetTTL([]byte("k"), []byte("new"), d); err != nil {
			t.Fatalf("SetTTL(%v): %v", d, err)
		}
		if v, ok := mustGet(t, tb, "k"); !ok || v != "new" {
			t.Fatalf("after SetTTL(%v): %q, %v", d, v, ok)
		}
		ttl, ok, err := tb.TTL([]byte("k"))
		if err != nil || !ok || ttl < 200*365*24*time.Hour {
			t.Fatalf("TTL after SetTTL(%v) = %v, %v, %v", d, ttl, ok, err)
		}
	}
	mustCheck(t, tb)
}

// The clock is read once the lock is held: a writer that waited for the
// lock while the clock moved stores a deadline measured from when it
// wrote, not from when it started waiting.
func TestClockReadUnderLock(t *testing.T) {
	clock := newClock()
	tb := newTable(t, &Options{Keys: 100, Memory: 64 << 10, Now: clock.Now})
	h := format.HashKey(tb.g.Seed, []byte("k"))
	s := tb.shardFor(h)
	if err := tb.lockShard(s); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- tb.SetTTL([]byte("k"), []byte("v"), 10*time.Second) }()
	time.Sleep(50 * time.Millisecond) // let SetTTL reach the lock
	clock.Advance(time.Hour)
	tb.unlock(s)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if ttl, ok, _ := tb.TTL([]byte("k")); !ok || ttl != 10*time.Second {
		t.Fatalf("TTL = %v, %v; want 10s from the moment of writing", ttl, ok)
	}
}

// TestLRUExpiredGoFirst: when everything a full evicting table holds has
// expired, new keys nobody reads take the room of the expired entries;
// they are not evicted while expired entries hold it (evict.go).
func TestLRUExpiredGoFirst(t *testing.T) {
	clock := newClock()
	tb := newTable(t, &Options{MaxMemory: 512 << 10, MaxKeySize: 32, MaxValueSize: 64, Eviction: EvictS3FIFO, Now: clock.Now})
	value := make([]byte, 40)
	var st Stats
	for i := 0; st.Evictions == 0; i++ {
		if err := tb.SetTTL(fmt.Appendf(nil, "old-%d", i), value, time.Minute); err != nil {
			t.Fatal(err)
		}
		tb.Stats(&st)
	}
	capacity := int(st.Entries)
	clock.Advance(2 * time.Minute)
	evictedBefore := st.Evictions
	n := capacity / 2
	for i := range n {
		mustSet(t, tb, fmt.Sprint("new-", i), string(value))
	}
	tb.Stats(&st)
	present := 0
	for i := range n {
		if _, ok := mustGet(t, tb, fmt.Sprint("new-", i)); ok {
			present++
		}
	}
	t.Logf("capacity %d; of %d new keys %d present; %d expirations, %d evictions after the old keys expired",
		capacity, n, present, st.Expirations, st.Evictions-evictedBefore)
	if present < n*9/10 {
		t.Errorf("of %d new keys written into a table of %d expired entries, %d are present", n, capacity, present)
	}
	mustCheck(t, tb)
}
