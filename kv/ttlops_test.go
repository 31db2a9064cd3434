package kv

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// TestSetIfAbsentTTL: the value is stored with its expiry; while it lives
// the key is refused to others; once its time is up, the key is absent
// and the next taker gets it (a lease).
func TestSetIfAbsentTTL(t *testing.T) {
	clock := newClock()
	tb := newTable(t, &Options{Keys: 100, Memory: 64 << 10, Now: clock.Now})
	k := []byte("lock")
	if ok, err := tb.SetIfAbsentTTL(k, []byte("a"), 10*time.Second); err != nil || !ok {
		t.Fatalf("first taker: %v, %v", ok, err)
	}
	if d, _, _ := tb.TTL(k); d != 10*time.Second {
		t.Fatalf("TTL = %v, want 10s", d)
	}
	clock.Advance(9 * time.Second)
	if ok, err := tb.SetIfAbsentTTL(k, []byte("b"), 10*time.Second); err != nil || ok {
		t.Fatalf("second taker while the lease lives: %v, %v", ok, err)
	}
	clock.Advance(time.Second)
	if ok, err := tb.SetIfAbsentTTL(k, []byte("b"), 0); err != nil || !ok {
		t.Fatalf("second taker after the lease: %v, %v", ok, err)
	}
	if v, _ := mustGet(t, tb, "lock"); v != "b" {
		t.Fatalf("value %q, want b", v)
	}
	if d, _, _ := tb.TTL(k); d != NoExpiry {
		t.Fatalf("TTL = %v after a ttl of 0, want NoExpiry", d)
	}
	mustCheck(t, tb)
}

// TestCompareAndSwapTTL: a match stores the new value with the new expiry
// (0: none); a mismatch changes neither; an expired key never matches.
func TestCompareAndSwapTTL(t *testing.T) {
	clock := newClock()
	tb := newTable(t, &Options{Keys: 100, Memory: 64 << 10, Now: clock.Now})
	k := []byte("k")
	if err := tb.SetTTL(k, []byte("v1"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if ok, err := tb.CompareAndSwapTTL(k, []byte("nope"), []byte("v2"), time.Hour); err != nil || ok {
		t.Fatalf("mismatch: %v, %v", ok, err)
	}
	if d, _, _ := tb.TTL(k); d != time.Minute {
		t.Fatalf("a mismatch changed the TTL to %v", d)
	}
	if ok, err := tb.CompareAndSwapTTL(k, []byte("v1"), []byte("v2"), time.Hour); err != nil || !ok {
		t.Fatalf("match: %v, %v", ok, err)
	}
	if v, _ := mustGet(t, tb, "k"); v != "v2" {
		t.Fatalf("value %q", v)
	}
	if d, _, _ := tb.TTL(k); d != time.Hour {
		t.Fatalf("TTL = %v, want 1h", d)
	}
	if ok, err := tb.CompareAndSwapTTL(k, []byte("v2"), []byte("v3"), 0); err != nil || !ok {
		t.Fatalf("match, no expiry: %v, %v", ok, err)
	}
	if d, _, _ := tb.TTL(k); d != NoExpiry {
		t.Fatalf("TTL = %v, want NoExpiry", d)
	}
	// CompareAndSwap keeps the expiry; its TTL form replaces it.
	if err := tb.SetTTL(k, []byte("v4"), time.Second); err != nil {
		t.Fatal(err)
	}
	if ok, _ := tb.CompareAndSwap(k, []byte("v4"), []byte("v5")); !ok {
		t.Fatal("CompareAndSwap did not swap")
	}
	if d, _, _ := tb.TTL(k); d != time.Second {
		t.Fatalf("CompareAndSwap changed the TTL to %v", d)
	}
	clock.Advance(time.Second)
	if ok, err := tb.CompareAndSwapTTL(k, []byte("v5"), []byte("v6"), time.Hour); err != nil || ok {
		t.Fatalf("an expired key matched: %v, %v", ok, err)
	}
	mustCheck(t, tb)
}

// TestCompareAndDelete: deletes only a live key holding old.
func TestCompareAndDelete(t *testing.T) {
	clock := newClock()
	tb := newTable(t, &Options{Keys: 100, Memory: 64 << 10, Now: clock.Now})
	mustSet(t, tb, "k", "mine")
	if ok, err := tb.CompareAndDelete([]byte("k"), []byte("theirs")); err != nil || ok {
		t.Fatalf("mismatch: %v, %v", ok, err)
	}
	if ok, err := tb.CompareAndDelete([]byte("k"), []byte("min")); err != nil || ok {
		t.Fatalf("a prefix matched: %v, %v", ok, err)
	}
	if _, found := mustGet(t, tb, "k"); !found {
		t.Fatal("a mismatch deleted the key")
	}
	if ok, err := tb.CompareAndDelete([]byte("k"), []byte("mine")); err != nil || !ok {
		t.Fatalf("match: %v, %v", ok, err)
	}
	if _, found := mustGet(t, tb, "k"); found {
		t.Fatal("the key is still there")
	}
	if ok, err := tb.CompareAndDelete([]byte("k"), []byte("mine")); err != nil || ok {
		t.Fatalf("absent key: %v, %v", ok, err)
	}
	if err := tb.SetTTL([]byte("e"), []byte("mine"), time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if ok, err := tb.CompareAndDelete([]byte("e"), []byte("mine")); err != nil || ok {
		t.Fatalf("expired key: %v, %v", ok, err)
	}
	var st Stats
	tb.Stats(&st)
	if st.Deletes != 1 {
		t.Errorf("Deletes = %d, want 1", st.Deletes)
	}
	mustCheck(t, tb)
}

// TestTouch: a new expiry, the value kept; 0 or less takes the expiry
// away; an absent or expired key is not created; Touch is a write, refused
// on a read-only handle, and a change Watch sees; one that changes
// nothing writes nothing.
func TestTouch(t *testing.T) {
	clock := newClock()
	name := uniqueName(t)
	tb := openTable(t, name, &Options{Keys: 100, Memory: 256 << 10, MaxValueSize: 100 << 10, Now: clock.Now})
	k := []byte("k")
	mustSet(t, tb, "k", "value")
	if found, err := tb.Touch(k, time.Minute); err != nil || !found {
		t.Fatalf("Touch: %v, %v", found, err)
	}
	if v, _ := mustGet(t, tb, "k"); v != "value" {
		t.Fatalf("Touch changed the value to %q", v)
	}
	if d, _, _ := tb.TTL(k); d != time.Minute {
		t.Fatalf("TTL = %v, want 1m", d)
	}
	clock.Advance(30 * time.Second)
	if found, err := tb.Touch(k, time.Minute); err != nil || !found {
		t.Fatalf("second Touch: %v, %v", found, err)
	}
	clock.Advance(59 * time.Second)
	if v, found := mustGet(t, tb, "k"); !found || v != "value" {
		t.Fatal("the key expired on its first expiry time, not the one Touch gave it")
	}

	// Watch: Touch changes the version; a no-op Touch does not write.
	_, ver, err := tb.GetVersion(nil, k)
	if err != nil || ver == 0 {
		t.Fatalf("GetVersion: %v, %v", ver, err)
	}
	if found, err := tb.Touch(k, 0); err != nil || !found {
		t.Fatalf("Touch(0): %v, %v", found, err)
	}
	if d, _, _ := tb.TTL(k); d != NoExpiry {
		t.Fatalf("TTL = %v after Touch(0), want NoExpiry", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	v, next, err := tb.Watch(ctx, nil, k, ver)
	if err != nil || next == ver || string(v) != "value" {
		t.Fatalf("Watch after Touch = %q, %#x, %v (was %#x): want the value at a new version", v, next, err, ver)
	}
	var before, after Stats
	tb.Stats(&before)
	if found, err := tb.Touch(k, -time.Second); err != nil || !found {
		t.Fatalf("no-op Touch: %v, %v", found, err)
	}
	tb.Stats(&after)
	if after.Sets != before.Sets {
		t.Errorf("a Touch that changed nothing wrote %d entries", after.Sets-before.Sets)
	}
	if _, v2, _ := tb.GetVersion(nil, k); v2 != next {
		t.Errorf("a Touch that changed nothing changed the version")
	}

	// Absent and expired keys stay absent.
	if found, err := tb.Touch([]byte("absent"), time.Minute); err != nil || found {
		t.Fatalf("Touch of an absent key: %v, %v", found, err)
	}
	if err := tb.SetTTL([]byte("e"), []byte("x"), time.Second); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if found, err := tb.Touch([]byte("e"), time.Minute); err != nil || found {
		t.Fatalf("Touch of an expired key: %v, %v", found, err)
	}
	if _, found := mustGet(t, tb, "e"); found {
		t.Fatal("Touch brought an expired key back")
	}

	// A value larger than any buffer the pool keeps.
	big := bytes.Repeat([]byte("B"), maxPooledTouch+1000)
	if err := tb.Set([]byte("big"), big); err != nil {
		t.Fatal(err)
	}
	if found, err := tb.Touch([]byte("big"), time.Hour); err != nil || !found {
		t.Fatalf("Touch of a big value: %v, %v", found, err)
	}
	if v, _, _ := tb.Get(nil, []byte("big")); !bytes.Equal(v, big) {
		t.Fatal("the big value changed")
	}

	ro := openTable(t, name, &Options{ReadOnly: true})
	if _, err := ro.Touch(k, time.Minute); !errors.Is(err, ErrReadOnly) {
		t.Errorf("read-only Touch: %v, want ErrReadOnly", err)
	}
	mustCheck(t, tb)
}

// TestTouchDamaged: Touch of a damaged entry is ErrCorrupt, and does not
// give the damaged value a fresh checksum, on a handle that skips read
// checksums too; CompareAndDelete of it is ErrCorrupt and keeps it.
func TestTouchDamaged(t *testing.T) {
	name := uniqueName(t)
	tb := openTable(t, name, damageOptions)
	fillDamageTable(t, tb)
	skipping := openTable(t, name, &Options{NoCreate: true, SkipReadChecksums: true})
	s, l := entryOf(t, tb, "key-7")
	tb.r.B[s.data+l.off+format.EntryHeaderSize+int64(l.hdr.klen)+3] ^= 0x20
	for _, h := range []*Table{tb, skipping} {
		if _, err := h.Touch([]byte("key-7"), time.Hour); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Touch of a damaged entry: %v, want ErrCorrupt", err)
		}
		if _, err := h.CompareAndDelete([]byte("key-7"), []byte("valUe number 7")); !errors.Is(err, ErrCorrupt) {
			t.Errorf("CompareAndDelete of a damaged entry: %v, want ErrCorrupt", err)
		}
	}
	if rep, err := tb.Check(); err != nil || len(rep.Problems) != 1 {
		t.Errorf("Check = %v, %v; want the damaged entry still reported", rep.Problems, err)
	}
}

// TestTouchRacingWriters: a Touch never stores back a value that a writer
// has replaced. One goroutine sets a key to 0, 1, 2, ... and reads each
// value back after its Set; others Touch the key all along. A Touch that
// read the value and then stored it unconditionally would, now and then,
// put back an older number.
func TestTouchRacingWriters(t *testing.T) {
	t.Parallel()
	tb := newTable(t, &Options{Keys: 1000, Memory: 1 << 20})
	k := []byte("k")
	mustSet(t, tb, "k", "0")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var touches [2]int
	for i := range touches {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := tb.Touch(k, time.Hour); err != nil {
					t.Error(err)
					return
				}
				touches[i]++
			}
		})
	}
	deadline := time.Now().Add(time.Second)
	n := 1
	for ; time.Now().Before(deadline); n++ {
		want := strconv.Itoa(n)
		if err := tb.Set(k, []byte(want)); err != nil {
			t.Fatal(err)
		}
		if got, _ := mustGet(t, tb, "k"); got != want {
			close(stop)
			wg.Wait()
			t.Fatalf("after Set(%s) the key reads %s: a Touch stored an old value", want, got)
		}
	}
	close(stop)
	wg.Wait()
	if touches[0] == 0 || touches[1] == 0 {
		t.Fatalf("touches %v: the test raced nothing", touches)
	}
	t.Logf("%d sets, %v touches", n, touches)
	mustCheck(t, tb)
}

// BenchmarkTouch: a Touch is a Get and a write of the same value.
func BenchmarkTouch(b *testing.B) {
	tb := newTable(b, &Options{Keys: 100, Memory: 100 * 200})
	key := []byte("0123456789abcdef")
	tb.Set(key, make([]byte, 64))
	b.ReportAllocs()
	for b.Loop() {
		tb.Touch(key, time.Hour)
	}
}
