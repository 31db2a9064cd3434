// Package kv_test holds the benchmark that the A/B tool (bench/ab/run)
// copies into the kv directory of each build it compares. It uses only
// the API every build since tables grew has (Open with default options,
// Set, Get, Close, Remove), so one file measures both sides alike.
package kv_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shmkv/shmkv/kv"
)

// stride walks the keys in an order no prefetcher follows; it is prime,
// so coprime with every key count measured.
const stride = 7919

// BenchmarkAB measures Get and Set of 16-byte keys and 64-byte values at
// 10k and 1M keys, through RunParallel so that -cpu 1,2 gives one and two
// workers. The 10k table is opened with default options (nil); the 1M
// table says how many keys it will hold (Options.Keys), since a default
// table of a build from before tables grew cannot hold a million.
func BenchmarkAB(b *testing.B) {
	value := make([]byte, 64)
	for _, n := range []int{10_000, 1_000_000} {
		abSize(b, n, value)
	}
}

func abSize(b *testing.B, n int, value []byte) {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "%016d", i)
	}
	name := fmt.Sprintf("shmkv-ab-%d-%d", os.Getpid(), time.Now().UnixNano())
	var opts *kv.Options
	if n > 10_000 {
		opts = &kv.Options{Keys: n}
	}
	t, err := kv.Open(name, opts)
	if err != nil {
		b.Fatal(err)
	}
	// Deferred, so that a failed Set (b.Fatal) leaves nothing in /dev/shm.
	defer kv.Remove(name)
	defer t.Close()
	for _, k := range keys {
		if err := t.Set(k, value); err != nil {
			b.Fatal(err)
		}
	}
	var worker atomic.Int64
	b.Run(fmt.Sprintf("Get/keys=%d", n), func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := int(worker.Add(1)) * (n / 7)
			buf := make([]byte, 0, 128)
			for pb.Next() {
				i = (i + stride) % n
				buf, _, _ = t.Get(buf[:0], keys[i])
			}
		})
	})
	b.Run(fmt.Sprintf("Set/keys=%d", n), func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			i := int(worker.Add(1)) * (n / 7)
			for pb.Next() {
				i = (i + stride) % n
				if err := t.Set(keys[i], value); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
