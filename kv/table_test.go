package kv

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/shmkv/shmkv/shm"
)

func TestSetGetDelete(t *testing.T) {
	tb := newTable(t, small)
	if _, ok := mustGet(t, tb, "a"); ok {
		t.Fatal("empty table has a")
	}
	mustSet(t, tb, "a", "1")
	mustSet(t, tb, "b", "")
	mustSet(t, tb, "a", "2")
	if v, ok := mustGet(t, tb, "a"); !ok || v != "2" {
		t.Fatalf("a = %q, %v", v, ok)
	}
	v, ok, err := tb.GetCopy([]byte("b"))
	if err != nil || !ok || v == nil || len(v) != 0 {
		t.Fatalf("empty value: %q, %v, %v", v, ok, err)
	}
	if tb.Len() != 2 {
		t.Fatalf("Len = %d", tb.Len())
	}
	if del, err := tb.Delete([]byte("a")); !del || err != nil {
		t.Fatalf("Delete(a) = %v, %v", del, err)
	}
	if del, err := tb.Delete([]byte("a")); del || err != nil {
		t.Fatalf("second Delete(a) = %v, %v", del, err)
	}
	if _, ok := mustGet(t, tb, "a"); ok {
		t.Fatal("deleted key still there")
	}
	if tb.Len() != 1 {
		t.Fatalf("Len = %d", tb.Len())
	}
	mustCheck(t, tb)
}

func TestGetAppends(t *testing.T) {
	tb := newTable(t, small)
	mustSet(t, tb, "k", "value")
	dst := []byte("prefix:")
	out, ok, err := tb.Get(dst, []byte("k"))
	if err != nil || !ok || string(out) != "prefix:value" {
		t.Fatalf("Get = %q, %v, %v", out, ok, err)
	}
	out, ok, _ = tb.Get(dst, []byte("missing"))
	if ok || string(out) != "prefix:" {
		t.Fatalf("miss changed dst: %q", out)
	}
}

func TestBinaryKeysAndValues(t *testing.T) {
	tb := newTable(t, small)
	for n := 1; n <= 200; n++ {
		k := bytes.Repeat([]byte{0, 0xff, byte(n)}, n)[:n]
		v := bytes.Repeat([]byte{byte(n), 0}, 100)[: n*3%97 : n*3%97]
		if err := tb.Set(k, v); err != nil {
			t.Fatal(err)
		}
		got, ok, err := tb.Get(nil, k)
		if err != nil || !ok || !bytes.Equal(got, v) {
			t.Fatalf("len %d: got %v, %v, %v", n, got, ok, err)
		}
	}
	mustCheck(t, tb)
}

func TestLimits(t *testing.T) {
	tb := newTable(t, &Options{Keys: 100, Memory: 1 << 20, MaxKeySize: 8, MaxValueSize: 16})
	cases := []struct {
		k, v string
		want error
	}{
		{"", "v", ErrKeyTooLarge},
		{"123456789", "v", ErrKeyTooLarge},
		{"k", strings.Repeat("v", 17), ErrValueTooLarge},
	}
	for _, c := range cases {
		if err := tb.Set([]byte(c.k), []byte(c.v)); !errors.Is(err, c.want) {
			t.Errorf("Set(%q, %d bytes) = %v, want %v", c.k, len(c.v), err, c.want)
		}
	}
	if _, _, err := tb.Get(nil, nil); !errors.Is(err, ErrKeyTooLarge) {
		t.Errorf("Get(empty key) = %v", err)
	}
	mustSet(t, tb, "12345678", strings.Repeat("v", 16))
	if tb.Len() != 1 {
		t.Errorf("Len = %d after refused sets", tb.Len())
	}
}

func TestLargestSupportedSizes(t *testing.T) {
	t.Parallel()
	tb := newTable(t, &Options{Keys: 10, Memory: 8 << 20, MaxKeySize: 64 << 10, MaxValueSize: 1 << 20})
	k := bytes.Repeat([]byte("k"), 64<<10)
	v := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	for i := range 5 {
		k[0] = byte(i)
		if err := tb.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := tb.Get(nil, k)
	if err != nil || !ok || !bytes.Equal(got, v) {
		t.Fatalf("1 MiB value: ok %v, err %v, equal %v", ok, err, bytes.Equal(got, v))
	}
	mustCheck(t, tb)
}

func TestFullKeepsTable(t *testing.T) {
	tb := newTable(t, &Options{MaxMemory: 128 << 10, Keys: 50, Memory: 16 << 10, MaxKeySize: 64, MaxValueSize: 1024})
	var full error
	n := 0
	for ; n < 100000; n++ {
		if full = tb.Set([]byte(fmt.Sprint("key", n)), bytes.Repeat([]byte{'x'}, 100)); full != nil {
			break
		}
	}
	if !errors.Is(full, ErrFull) {
		t.Fatalf("after %d sets: %v, want ErrFull", n, full)
	}
	if n < 50 {
		t.Fatalf("full after %d keys; Keys was 50", n)
	}
	before := snapshotAll(t, tb)
	// A new key, and an overwrite too large to fit, both refused.
	if err := tb.Set([]byte("new"), []byte("v")); !errors.Is(err, ErrFull) {
		t.Fatalf("Set(new) = %v", err)
	}
	if err := tb.Set([]byte("key0"), bytes.Repeat([]byte{'y'}, 1024)); err != nil && !errors.Is(err, ErrFull) {
		t.Fatalf("Set(key0, big) = %v", err)
	} else if err != nil {
		after := snapshotAll(t, tb)
		if !maps.Equal(before, after) {
			t.Fatal("a refused Set changed the table")
		}
	}
	mustCheck(t, tb)
	// Room comes back after deletes.
	tb.Delete([]byte("key1"))
	tb.Delete([]byte("key2"))
	if err := tb.Set([]byte("new"), []byte("v")); err != nil {
		t.Fatalf("Set after delete: %v", err)
	}
}

func snapshotAll(t testing.TB, tb *Table) map[string]string {
	t.Helper()
	m := map[string]string{}
	if err := tb.Range(func(k, v []byte) bool { m[string(k)] = string(v); return true }); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAdd(t *testing.T) {
	tb := newTable(t, small)
	if n, err := tb.Add([]byte("c"), 5); n != 5 || err != nil {
		t.Fatalf("Add to absent = %d, %v", n, err)
	}
	mustSet(t, tb, "s", "41")
	if n, err := tb.Add([]byte("s"), 1); n != 42 || err != nil {
		t.Fatalf("Add to \"41\" = %d, %v", n, err)
	}
	if v, _ := mustGet(t, tb, "s"); v != "42" {
		t.Fatalf("counter reads %q", v)
	}
	if n, _ := tb.Add([]byte("s"), -100); n != -58 {
		t.Fatalf("Add -100 = %d", n)
	}
	bad := []string{"", "x", "1x", " 1", "+1", "01", "-0", "-", "99999999999999999999", "9223372036854775808"}
	for _, b := range bad {
		mustSet(t, tb, "b", b)
		if _, err := tb.Add([]byte("b"), 1); !errors.Is(err, ErrNotNumber) {
			t.Errorf("Add to %q = %v, want ErrNotNumber", b, err)
		}
		if v, _ := mustGet(t, tb, "b"); v != b {
			t.Errorf("failed Add changed %q to %q", b, v)
		}
	}
	mustSet(t, tb, "max", "9223372036854775807")
	if _, err := tb.Add([]byte("max"), 1); !errors.Is(err, ErrNotNumber) {
		t.Errorf("overflow: %v", err)
	}
	mustSet(t, tb, "min", "-9223372036854775808")
	if _, err := tb.Add([]byte("min"), -1); !errors.Is(err, ErrNotNumber) {
		t.Errorf("underflow: %v", err)
	}
	if n, err := tb.Add([]byte("min"), 1); err != nil || n != -9223372036854775807 {
		t.Errorf("Add to min = %d, %v", n, err)
	}
}

func TestCompareAndSwapAndSetIfAbsent(t *testing.T) {
	tb := newTable(t, small)
	if ok, err := tb.CompareAndSwap([]byte("k"), nil, []byte("x")); ok || err != nil {
		t.Fatalf("CAS on absent = %v, %v", ok, err)
	}
	if ok, err := tb.SetIfAbsent([]byte("k"), []byte("a")); !ok || err != nil {
		t.Fatalf("SetIfAbsent = %v, %v", ok, err)
	}
	if ok, _ := tb.SetIfAbsent([]byte("k"), []byte("b")); ok {
		t.Fatal("SetIfAbsent overwrote")
	}
	if ok, _ := tb.CompareAndSwap([]byte("k"), []byte("b"), []byte("c")); ok {
		t.Fatal("CAS with the wrong old value swapped")
	}
	if ok, _ := tb.CompareAndSwap([]byte("k"), []byte("a"), []byte("c")); !ok {
		t.Fatal("CAS with the right old value did not swap")
	}
	if v, _ := mustGet(t, tb, "k"); v != "c" {
		t.Fatalf("k = %q", v)
	}
}

func TestClosed(t *testing.T) {
	tb := newTable(t, small)
	if err := tb.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tb.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	k := []byte("k")
	errs := []error{tb.Set(k, k)}
	_, _, err := tb.Get(nil, k)
	errs = append(errs, err)
	_, err = tb.Delete(k)
	errs = append(errs, err)
	_, err = tb.Add(k, 1)
	errs = append(errs, err)
	_, err = tb.CompareAndSwap(k, k, k)
	errs = append(errs, err)
	_, err = tb.SetIfAbsent(k, k)
	errs = append(errs, err)
	errs = append(errs, tb.Range(func(k, v []byte) bool { return true }))
	var st Stats
	errs = append(errs, tb.Stats(&st))
	_, err = tb.Check()
	errs = append(errs, err)
	for i, err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("call %d after Close: %v", i, err)
		}
	}
}

func TestOpenOptions(t *testing.T) {
	name := uniqueName(t)
	if _, err := Open(name, &Options{NoCreate: true}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("NoCreate on a missing table: %v", err)
	}
	a := openTable(t, name, &Options{Keys: 500, Memory: 1 << 20, MaxKeySize: 32, MaxValueSize: 100})
	mustSet(t, a, "k", "v")
	if _, err := Open(name, &Options{Exclusive: true}); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("Exclusive on an existing table: %v", err)
	}
	for _, o := range []*Options{
		{MaxKeySize: 64},
		{MaxValueSize: 50},
		{MaxMemory: 1 << 30},
		{Eviction: EvictS3FIFO},
	} {
		if _, err := Open(name, o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Open(%+v) on a table with other geometry: %v", o, err)
		}
	}
	// Options the table can honour, and none at all, open it. Keys and
	// Memory are expectations, which a table grows to meet.
	b := openTable(t, name, &Options{Keys: 1 << 20, Memory: 1 << 30, MaxKeySize: 32})
	if v, _ := mustGet(t, b, "k"); v != "v" {
		t.Fatalf("second handle reads %q", v)
	}
	c := openTable(t, name, nil)
	if c.Len() != 1 {
		t.Fatal("nil options did not open the same table")
	}
	ro := openTable(t, name, &Options{ReadOnly: true})
	if v, _ := mustGet(t, ro, "k"); v != "v" {
		t.Fatalf("read-only handle reads %q", v)
	}
	if err := ro.Set([]byte("k"), []byte("x")); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Set on read-only: %v", err)
	}
	if _, err := ro.Delete([]byte("k")); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Delete on read-only: %v", err)
	}
	for _, o := range []*Options{
		{Keys: -1}, {Memory: -5}, {MaxKeySize: MaxKeyLimit + 1}, {MaxValueSize: -1},
		{Mode: 0o1777}, {LockTimeout: -1}, {Exclusive: true, NoCreate: true}, {ReadOnly: true, Exclusive: true},
	} {
		if _, err := Open(uniqueName(t), o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("Open(%+v) = %v, want ErrInvalidOptions", o, err)
		}
	}
	for _, bad := range []string{"", "/", "a/b", "..", "a\x00b"} {
		if _, err := Open(bad, nil); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

// TestDefaults: a default table takes little memory (its allocated
// blocks, not its size: the object is sparse) and grows as keys arrive.
func TestDefaults(t *testing.T) {
	t.Parallel()
	name := uniqueName(t)
	tb := openTable(t, name, nil)
	var st Stats
	tb.Stats(&st)
	if st.MaxKeySize != defaultMaxKey || st.MaxValueSize != defaultMaxValue || st.MaxBytes != uint64(defaultMaxMemory()) {
		t.Errorf("defaults: %+v", st)
	}
	fi, err := os.Stat(filepath.Join(shm.Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	allocated := fi.Sys().(*syscall.Stat_t).Blocks * 512
	if allocated > 4<<20 || uint64(allocated) != st.TotalBytes {
		t.Errorf("an empty default table takes %d bytes (Stats says %d), want at most 4 MiB", allocated, st.TotalBytes)
	}
	t.Logf("default table: %d shards, %d bytes allocated of %d in the object, ceiling %d", st.Shards, allocated, fi.Size(), st.MaxBytes)
	for i := range 20000 {
		mustSet(t, tb, fmt.Sprint("key-", i), strings.Repeat("v", 100))
	}
	tb.Stats(&st)
	if st.Entries != 20000 || st.Grows == 0 || st.TotalBytes <= uint64(allocated) {
		t.Errorf("after 20000 keys: %d entries, %d grows, %d bytes", st.Entries, st.Grows, st.TotalBytes)
	}
	mustCheck(t, tb)
}

func TestKeysAndMemoryHonoured(t *testing.T) {
	t.Parallel()
	// A table asked for N keys of a given total size holds them.
	for _, n := range []int{1, 10, 1000, 50000} {
		tb := newTable(t, &Options{Keys: n, Memory: int64(n) * 100, MaxKeySize: 32, MaxValueSize: 200})
		for i := range n {
			if err := tb.Set(fmt.Appendf(nil, "key-%08d", i), bytes.Repeat([]byte{'v'}, 100-12)); err != nil {
				t.Fatalf("Keys %d: key %d: %v", n, i, err)
			}
		}
		tb.Close()
	}
}

func TestRange(t *testing.T) {
	tb := newTable(t, small)
	want := map[string]string{}
	for i := range 300 {
		k, v := fmt.Sprint("k", i), fmt.Sprint("v", i)
		mustSet(t, tb, k, v)
		want[k] = v
	}
	for i := range 100 {
		tb.Delete(fmt.Appendf(nil, "k%d", i*3))
		delete(want, fmt.Sprint("k", i*3))
	}
	if got := snapshotAll(t, tb); !maps.Equal(got, want) {
		t.Fatalf("Range saw %d entries, want %d", len(got), len(want))
	}
	n := 0
	tb.Range(func(k, v []byte) bool { n++; return n < 5 })
	if n != 5 {
		t.Fatalf("Range went on after false: %d calls", n)
	}
	// fn may use the table: no lock is held.
	err := tb.Range(func(k, v []byte) bool {
		tb.Set(k, []byte("x"))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestStatsAcrossHandles(t *testing.T) {
	name := uniqueName(t)
	a := openTable(t, name, small)
	b := openTable(t, name, nil)
	mustSet(t, a, "k", "v")
	mustGet(t, a, "k")
	mustGet(t, a, "k")
	mustGet(t, a, "nope")
	mustGet(t, b, "k")
	var st Stats
	// b's reads are in the table's counters once b flushes (at Close here);
	// a's own are flushed by its Stats.
	b.Close()
	if err := a.Stats(&st); err != nil {
		t.Fatal(err)
	}
	if st.Gets != 4 || st.Hits != 3 || st.Misses != 1 || st.Sets != 1 || st.Entries != 1 {
		t.Errorf("stats %+v", st)
	}
	// Flushing again adds nothing twice.
	a.Stats(&st)
	if st.Gets != 4 {
		t.Errorf("second Stats: %d gets", st.Gets)
	}
}

// TestStatsCountEveryRead: reads from many goroutines at once, which add
// to different stripes of the handle's counters, are all counted, once.
func TestStatsCountEveryRead(t *testing.T) {
	tb := newTable(t, small)
	mustSet(t, tb, "k", "v")
	const goroutines, reads = 16, 2000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, 8)
			for i := range reads {
				key := "k"
				if (g+i)%4 == 0 {
					key = "absent"
				}
				if _, _, err := tb.Get(buf[:0], []byte(key)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var st Stats
	tb.Stats(&st)
	if st.Gets != goroutines*reads || st.Misses != goroutines*reads/4 {
		t.Errorf("%d gets, %d misses; want %d and %d", st.Gets, st.Misses, goroutines*reads, goroutines*reads/4)
	}
}

func TestPopulate(t *testing.T) {
	name := uniqueName(t)
	a := openTable(t, name, &Options{Keys: 1000, Memory: 1 << 20, Populate: true})
	mustSet(t, a, "k", "v")
	b := openTable(t, name, &Options{ReadOnly: true, Populate: true})
	if v, _ := mustGet(t, b, "k"); v != "v" {
		t.Fatalf("k = %q", v)
	}
}
