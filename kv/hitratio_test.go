package kv

import (
	"container/list"
	"fmt"
	"math/rand/v2"
	"testing"
)

// lruRef is a textbook LRU of fixed capacity: the reference the CLOCK
// approximation is compared with.
type lruRef struct {
	cap   int
	order *list.List
	items map[int]*list.Element
}

func newLRURef(capacity int) *lruRef {
	return &lruRef{cap: capacity, order: list.New(), items: map[int]*list.Element{}}
}

// access reports whether k was cached, and caches it.
func (l *lruRef) access(k int) bool {
	if e, ok := l.items[k]; ok {
		l.order.MoveToFront(e)
		return true
	}
	l.items[k] = l.order.PushFront(k)
	if l.order.Len() > l.cap {
		old := l.order.Back()
		l.order.Remove(old)
		delete(l.items, old.Value.(int))
	}
	return false
}

// BenchmarkZipfHitRatio: a cache-aside workload (read; on a miss, write)
// with Zipf-skewed keys over a key space ten times what the lru table
// holds. It reports shmkv's hit ratio beside a true LRU's of the same
// capacity, over the same requests.
func BenchmarkZipfHitRatio(b *testing.B) {
	const space = 100_000
	tb := newTable(b, &Options{Keys: space / 10, Memory: space / 10 * 48, MaxKeySize: 32, MaxValueSize: 64, Eviction: EvictLRU})
	var st Stats
	tb.Stats(&st)
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.01, 1, space-1)
	value := make([]byte, 32)
	var key, buf []byte
	// Warm up to the steady state, then size the reference to what the
	// table holds there.
	for range 4 * space {
		key = fmt.Appendf(key[:0], "key-%d", zipf.Uint64())
		if _, ok, _ := tb.Get(buf[:0], key); !ok {
			tb.Set(key, value)
		}
	}
	tb.Stats(&st)
	ref := newLRURef(int(st.Entries))
	for range 4 * space {
		ref.access(int(zipf.Uint64()))
	}
	hits, refHits := 0, 0
	b.ResetTimer()
	for range b.N {
		k := zipf.Uint64()
		key = fmt.Appendf(key[:0], "key-%d", k)
		var ok bool
		if buf, ok, _ = tb.Get(buf[:0], key); ok {
			hits++
		} else {
			tb.Set(key, value)
		}
		if ref.access(int(k)) {
			refHits++
		}
	}
	b.ReportMetric(100*float64(hits)/float64(b.N), "hit%")
	b.ReportMetric(100*float64(refHits)/float64(b.N), "lru-hit%")
	b.ReportMetric(float64(st.Entries), "entries")
}
