package kv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"slices"
	"time"

	"github.com/shmkv/shmkv/kv"
)

func ExampleOpen() {
	name := fmt.Sprintf("example-open-%d", os.Getpid())
	t, err := kv.Open(name, &kv.Options{Keys: 10_000, Memory: 4 << 20})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kv.Remove(name)
	defer t.Close()

	// A second handle, as another process would open it: the header decides
	// the geometry, so no options are needed.
	other, err := kv.Open(name, &kv.Options{NoCreate: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer other.Close()
	t.Set([]byte("greeting"), []byte("hello"))
	v, found, _ := other.Get(nil, []byte("greeting"))
	fmt.Println(string(v), found)
	// Output: hello true
}

// An evicting table as a cache: at its memory ceiling it makes room for
// new keys by evicting, and a key read again and again stays through a
// stream of keys written once and never read.
func ExampleOpen_cache() {
	name := fmt.Sprintf("example-cache-%d", os.Getpid())
	cache, err := kv.Open(name, &kv.Options{MaxMemory: 1 << 20, Eviction: kv.EvictS3FIFO})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kv.Remove(name)
	defer cache.Close()

	cache.Set([]byte("config"), []byte("v1"))
	for i := range 200_000 {
		cache.Set(fmt.Appendf(nil, "once-%d", i), make([]byte, 100))
		if i%1000 == 0 {
			cache.Get(nil, []byte("config"))
		}
	}
	var st kv.Stats
	cache.Stats(&st)
	v, found, _ := cache.Get(nil, []byte("config"))
	fmt.Println(string(v), found, st.Evictions > 0, st.TotalBytes <= st.MaxBytes)
	// Output: v1 true true true
}

// A reader that wants the fastest reads opens its own handle with
// SkipReadChecksums: its reads are never torn, but a value damaged by a
// stray write reads as it now is rather than as ErrCorrupt. Check, which
// verifies every checksum, finds such damage whoever reads.
func ExampleOptions_skipReadChecksums() {
	name := fmt.Sprintf("example-skip-%d", os.Getpid())
	t, err := kv.Open(name, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kv.Remove(name)
	defer t.Close()
	t.Set([]byte("price"), []byte("42"))

	fast, err := kv.Open(name, &kv.Options{NoCreate: true, SkipReadChecksums: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer fast.Close()
	v, found, err := fast.Get(nil, []byte("price"))
	fmt.Println(string(v), found, err)
	report, err := fast.Check()
	fmt.Println(len(report.Problems), err)
	// Output:
	// 42 true <nil>
	// 0 <nil>
}

func ExampleTable_Get() {
	name := fmt.Sprintf("example-get-%d", os.Getpid())
	t, err := kv.Open(name, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kv.Remove(name)
	defer t.Close()

	t.Set([]byte("a"), []byte("1"))
	t.Set([]byte("b"), []byte("22"))
	// Get appends to the buffer it is given: with room to spare, no
	// allocation.
	buf := make([]byte, 0, 64)
	for _, k := range []string{"a", "b", "c"} {
		var found bool
		buf, found, _ = t.Get(buf[:0], []byte(k))
		fmt.Printf("%s: %q %v\n", k, buf, found)
	}
	// Output:
	// a: "1" true
	// b: "22" true
	// c: "" false
}

func ExampleTable_Add() {
	name := fmt.Sprintf("example-add-%d", os.Getpid())
	t, err := kv.Open(name, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kv.Remove(name)
	defer t.Close()

	t.Set([]byte("visits"), []byte("41"))
	n, _ := t.Add([]byte("visits"), 1)
	v, _, _ := t.GetCopy([]byte("visits"))
	fmt.Println(n, string(v))

	t.Set([]byte("name"), []byte("alice"))
	_, err = t.Add([]byte("name"), 1)
	fmt.Println(err, errors.Is(err, kv.ErrNotNumber))
	// Output:
	// 42 42
	// shmkv: value is not a decimal integer true
}

func ExampleTable_CompareAndSwap() {
	name := fmt.Sprintf("example-cas-%d", os.Getpid())
	t, err := kv.Open(name, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kv.Remove(name)
	defer t.Close()

	stored, _ := t.SetIfAbsent([]byte("leader"), []byte("worker-1"))
	fmt.Println(stored)
	stored, _ = t.SetIfAbsent([]byte("leader"), []byte("worker-2"))
	fmt.Println(stored)
	swapped, _ := t.CompareAndSwap([]byte("leader"), []byte("worker-1"), []byte("worker-3"))
	fmt.Println(swapped)
	// Output:
	// true
	// false
	// true
}

func ExampleTable_GetOrLoad() {
	name := fmt.Sprintf("example-load-%d", os.Getpid())
	t, err := kv.Open(name, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kv.Remove(name)
	defer t.Close()

	// The load is given ctx and the key, so one function serves every key;
	// it says how long what it returns is to live in the table.
	query := func(ctx context.Context, key []byte) ([]byte, time.Duration, error) {
		fmt.Printf("querying the database for %s\n", key)
		return []byte("alice"), time.Minute, nil
	}
	// The first call misses and loads; the second finds what it stored.
	for range 2 {
		v, err := t.GetOrLoad(context.Background(), nil, []byte("user:42"), query)
		fmt.Println(string(v), err)
	}
	// Output:
	// querying the database for user:42
	// alice <nil>
	// alice <nil>
}

func ExampleTable_Watch() {
	name := fmt.Sprintf("example-watch-%d", os.Getpid())
	t, err := kv.Open(name, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kv.Remove(name)
	defer t.Close()

	t.Set([]byte("config"), []byte("v1"))
	_, version, _ := t.GetVersion(nil, []byte("config"))
	go func() {
		// Another process would do this; a goroutine does here.
		time.Sleep(10 * time.Millisecond)
		t.Set([]byte("config"), []byte("v2"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, _, err := t.Watch(ctx, nil, []byte("config"), version)
	fmt.Println(string(v), err)
	// Output: v2 <nil>
}

// A lock with a lease, as Redis's SET key token NX PX makes one: the
// holder takes it with a token of its own, renews the lease while it
// works, and releases it only if it is still its own. A holder that dies
// or stalls loses the lock when its lease runs out, and its late release
// cannot delete the lock of the next holder.
func ExampleTable_CompareAndDelete() {
	name := fmt.Sprintf("example-lock-%d", os.Getpid())
	t, err := kv.Open(name, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kv.Remove(name)
	defer t.Close()

	lock := []byte("lock:nightly-report")
	me := fmt.Appendf(nil, "pid %d, start %d", os.Getpid(), time.Now().UnixNano()) // unique to this holder
	const lease = 30 * time.Second

	taken, err := t.SetIfAbsentTTL(lock, me, lease)
	fmt.Println("taken:", taken, err)
	taken, _ = t.SetIfAbsentTTL(lock, []byte("another worker"), lease)
	fmt.Println("taken by another:", taken)

	// While working: renew the lease, if the lock is still this holder's.
	renewed, _ := t.CompareAndSwapTTL(lock, me, me, lease)
	fmt.Println("renewed:", renewed)

	// Done: release it, if it is still this holder's.
	released, _ := t.CompareAndDelete(lock, me)
	fmt.Println("released:", released)
	released, _ = t.CompareAndDelete(lock, me)
	fmt.Println("released again:", released)
	// Output:
	// taken: true <nil>
	// taken by another: false
	// renewed: true
	// released: true
	// released again: false
}

func ExampleTable_All() {
	name := fmt.Sprintf("example-all-%d", os.Getpid())
	t, err := kv.Open(name, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer kv.Remove(name)
	defer t.Close()
	t.Set([]byte("user:1"), []byte("alice"))
	t.Set([]byte("user:2"), []byte("bob"))
	t.Set([]byte("config"), []byte("v1"))

	// The slices are valid until the next iteration: keep a copy.
	users := map[string]string{}
	for key, value := range t.All(&err) {
		if bytes.HasPrefix(key, []byte("user:")) {
			users[string(key)] = string(value)
		}
	}
	if err != nil {
		fmt.Println(err) // damage skipped, or a shard that could not be read
	}
	fmt.Println(users)

	var keys []string
	for key := range t.Keys([]byte("user:"), &err) {
		keys = append(keys, string(key))
	}
	slices.Sort(keys) // a table has no order
	fmt.Println(keys, err)
	// Output:
	// map[user:1:alice user:2:bob]
	// [user:1 user:2] <nil>
}

// The README's examples. They are compiled, not run: they open tables by
// the names a program would use, which a test must not touch. The README
// test (internal/doccheck) checks that each of the README's Go blocks is
// here as it is there.

// db stands for the caller's database in the README's example of
// GetOrLoad.
var db userDB

type userDB struct{}

func (userDB) QueryUser(ctx context.Context, key []byte) ([]byte, error) {
	return []byte("alice"), ctx.Err()
}

func Example_readmeLibrary() {
	t, err := kv.Open("sessions", nil) // creates it with defaults if absent
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	err = t.Set([]byte("user:42"), []byte("alice"))
	buf := make([]byte, 0, 64)
	buf, found, err := t.Get(buf[:0], []byte("user:42")) // appends; no allocation
	n, err := t.Add([]byte("visits"), 1)                 // atomic, stored as decimal text

	// Every entry, a shard at a time; key and value are valid until the next
	// iteration. The error is set after the loop: damage skipped, say.
	for key, value := range t.All(&err) {
		fmt.Printf("%s=%s\n", key, value)
	}

	// A lock with a lease, as Redis's SET NX PX makes one; only its holder
	// (token) renews or releases it.
	token := fmt.Appendf(nil, "pid %d", os.Getpid()) // unique to this holder
	taken, err := t.SetIfAbsentTTL([]byte("lock:report"), token, 30*time.Second)
	renewed, err := t.CompareAndSwapTTL([]byte("lock:report"), token, token, 30*time.Second)
	released, err := t.CompareAndDelete([]byte("lock:report"), token)

	fmt.Println(buf, found, n, taken, renewed, released, err)
}

func Example_readmeLoad() {
	t, err := kv.Open("sessions", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()
	buf := make([]byte, 0, 64)

	ctx := context.Background() // or the request's

	// On a miss, one caller on the host runs the load; the others, in any
	// process, sleep until its value is stored. A dead loader is replaced.
	// The load is given the caller's ctx and the key: one function serves
	// every key, and says how long its value lives.
	loadUser := func(ctx context.Context, key []byte) ([]byte, time.Duration, error) {
		v, err := db.QueryUser(ctx, key)
		return v, time.Minute, err
	}
	v, err := t.GetOrLoad(ctx, buf[:0], []byte("user:42"), loadUser)

	// A change at the source: drop the key, and keep a load of it under way
	// from storing what it read before the change.
	deleted, err := t.Invalidate([]byte("user:42"))

	// Sleep until another process changes the key (woken by a futex, no polling).
	v, version, err := t.GetVersion(buf[:0], []byte("config"))
	v, version, err = t.Watch(ctx, v[:0], []byte("config"), version)

	fmt.Println(v, deleted, version, err)
}
