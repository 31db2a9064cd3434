package kv

import (
	"container/list"
	"fmt"
	"math/rand/v2"
	"testing"
)

// lruRef is a textbook LRU of fixed capacity: the reference the eviction
// policy is compared with.
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
// with Zipf-skewed keys over a key space about twenty times what the lru
// table holds at its ceiling, so that it evicts. It reports shmkv's hit
// ratio beside a true LRU's of the same capacity, over the same requests;
// its time per request is what a cache-aside user pays, eviction included.
func BenchmarkZipfHitRatio(b *testing.B) {
	const space = 100_000
	tb := newTable(b, &Options{MaxMemory: 1 << 20, MaxKeySize: 32, MaxValueSize: 64, Eviction: EvictS3FIFO})
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

// TestScanKeepsHotKeys: in a full evicting table, keys read again and again
// survive a scan that writes ten times the table's capacity of keys
// nobody reads, where LRU or CLOCK would be flushed by it (evict.go).
func TestScanKeepsHotKeys(t *testing.T) {
	t.Parallel()
	tb := newTable(t, &Options{MaxMemory: 1 << 20, MaxKeySize: 32, MaxValueSize: 64, Eviction: EvictS3FIFO})
	value := make([]byte, 48)
	hot := func(i int) []byte { return fmt.Appendf(nil, "hot-%d", i) }
	// Fill to the ceiling with keys read once or never, while a hot set is
	// read over and over.
	var st Stats
	const hotKeys = 500
	for i := 0; st.Evictions < 20_000; i++ {
		mustSet(t, tb, fmt.Sprint("warm-", i), string(value))
		h := hot(i % hotKeys)
		if _, ok, _ := tb.Get(nil, h); !ok {
			if err := tb.Set(h, value); err != nil {
				t.Fatal(err)
			}
		}
		tb.Stats(&st)
	}
	capacity := int(st.Entries)
	if capacity < 4*hotKeys {
		t.Fatalf("the table holds %d entries: too few for the test", capacity)
	}
	present := func() int {
		n := 0
		for i := range hotKeys {
			if _, ok, _ := tb.Get(nil, hot(i)); ok {
				n++
			}
		}
		return n
	}
	before := present() // and a last read of each
	for i := range 10 * capacity {
		mustSet(t, tb, fmt.Sprint("scan-", i), string(value))
	}
	after := present()
	t.Logf("capacity %d entries; hot keys present: %d before the scan, %d after", capacity, before, after)
	if before < hotKeys*9/10 || after < before*9/10 {
		t.Errorf("of %d hot keys, %d were present before a scan of %d keys and %d after", hotKeys, before, 10*capacity, after)
	}
	mustCheck(t, tb)
}
