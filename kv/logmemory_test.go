package kv

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/shmkv/shmkv/internal/testproc"
	"github.com/shmkv/shmkv/kv/internal/format"
)

var logMemorySeed = flag.Uint64("kv.logmemory.seed", 0, "seed for TestLogMemoryAheadOfTheHead (0: from the clock)")

// TestLogMemoryFollowsTheHead: a log takes memory as its head reaches it
// (logmemory.go), so a table created for many keys, or grown for them,
// takes about what its entries take, and reading it (Check) gives no hole
// memory.
func TestLogMemoryFollowsTheHead(t *testing.T) {
	t.Parallel()
	// Enough keys that the default table's 256 shards' first pages and
	// chunks are small beside them, as at the 1M keys of the goal.
	n := 300_000
	value := make([]byte, 64)
	raw := uint64(n) * (16 + 64)
	for _, c := range []struct {
		name string
		opts *Options
	}{
		{"presized", &Options{MaxMemory: 64 << 20, Keys: n, Memory: int64(n) * 80}},
		{"growing", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tb := newTable(t, c.opts)
			var st Stats
			tb.Stats(&st)
			var extents int64
			for i := range tb.shards {
				if tb.inUse(i) {
					extents += viewOf(t, &tb.shards[i]).ext.Size
				}
			}
			if c.opts != nil && st.TotalBytes*2 > uint64(extents) {
				t.Errorf("created for %d keys: %d bytes allocated, extents of %d: the logs were allocated ahead of their heads", n, st.TotalBytes, extents)
			}
			for _, k := range benchKeys(n) {
				if err := tb.Set(k, value); err != nil {
					t.Fatal(err)
				}
			}
			tb.Stats(&st)
			t.Logf("%d keys of 16+64 bytes: %d bytes allocated (%.2fx the keys and values), %d grows", n, st.TotalBytes, float64(st.TotalBytes)/float64(raw), st.Grows)
			if st.TotalBytes*10 > raw*16 {
				t.Errorf("%d bytes allocated for %d bytes of keys and values: more than 1.6x", st.TotalBytes, raw)
			}
			before := st.TotalBytes
			mustCheck(t, tb)
			tb.Stats(&st)
			if st.TotalBytes != before {
				t.Errorf("Check changed the allocated bytes from %d to %d: it read holes", before, st.TotalBytes)
			}
			openTable(t, tb.name, &Options{NoCreate: true, Populate: true})
			tb.Stats(&st)
			if st.TotalBytes != before {
				t.Errorf("opening with Populate changed the allocated bytes from %d to %d: it populated holes", before, st.TotalBytes)
			}
		})
	}
}

// TestLogMemoryAheadOfTheHead keeps logmemory.go's invariant under the
// writes that move the most: in an evicting table whose small log promotes and
// evicts, with entries of many sizes, no main log's head ever passes what
// it has allocated while it has not allocated it all.
func TestLogMemoryAheadOfTheHead(t *testing.T) {
	t.Parallel()
	seed := testproc.Seed(t, *logMemorySeed, "kv.logmemory.seed")
	rng := rand.New(rand.NewPCG(seed, 11))
	tb := newTable(t, &Options{MaxMemory: 16 << 20, MaxKeySize: 32, MaxValueSize: 64 << 10, Eviction: EvictS3FIFO})
	for i := range 30_000 {
		key := fmt.Appendf(nil, "k%d", rng.IntN(5000))
		if rng.IntN(3) == 0 {
			tb.Get(nil, key)
		}
		size := rng.IntN(1000)
		if rng.IntN(20) == 0 {
			size = rng.IntN(64 << 10) // entries near a chunk's size move past what a chunk covers
		}
		if err := tb.Set(key, make([]byte, size)); err != nil {
			t.Fatalf("Set %d: %v", i, err)
		}
		v := viewOf(t, tb.shardFor(format.HashKey(tb.g.Seed, key)))
		if have := v.allocated(); have < v.size && int64(v.head()) > have {
			t.Fatalf("after Set %d: main log head %d past the %d bytes allocated of %d", i, v.head(), have, v.size)
		} else if have < v.size && v.logFull {
			t.Fatalf("after Set %d: the view says the log has memory to its end; it has %d bytes of %d", i, have, v.size)
		}
	}
	var st Stats
	tb.Stats(&st)
	if st.Promotions == 0 || st.Evictions == 0 || st.Grows == 0 {
		t.Errorf("the test grew %d times, promoted %d and evicted %d entries: it proved less than it says", st.Grows, st.Promotions, st.Evictions)
	}
	mustCheck(t, tb)
}

// TestLogFullRemembered: once a shard's main log has memory to its end,
// the view its writes use says so (noteLogFull, logmemory.go), and a Set
// then leaves the extent header's allocated word alone; no view of a log
// that has less says so.
func TestLogFullRemembered(t *testing.T) {
	t.Parallel()
	tb := newTable(t, &Options{MaxMemory: 16 << 20}) // one shard
	if len(tb.shards) != 1 {
		t.Fatalf("%d shards, want 1", len(tb.shards))
	}
	s := &tb.shards[0]
	value := make([]byte, 200)
	var v *view
	i := 0
	for ; i < 1_000_000; i++ {
		if err := tb.Set(fmt.Appendf(nil, "k%d", i%200), value); err != nil {
			t.Fatal(err)
		}
		v = viewOf(t, s)
		if v.allocated() == v.size {
			break
		}
		if v.logFull {
			t.Fatalf("after Set %d: the view says the log has memory to its end; it has %d bytes of %d", i, v.allocated(), v.size)
		}
	}
	if v.allocated() != v.size {
		t.Fatalf("after %d Sets the log has %d bytes of memory of %d", i, v.allocated(), v.size)
	}
	// The Set that found the log full noted it: the next one uses that.
	if err := tb.Set([]byte("k0"), value); err != nil {
		t.Fatal(err)
	}
	v = viewOf(t, s)
	if !v.logFull {
		t.Fatalf("the log has memory to its end (%d bytes), but the shard's view does not say so", v.size)
	}
	// Prove the word is not read: lower it, Set, and find it as lowered.
	word := v.hdr + format.ExtAllocated/8
	tb.r.Store(word, 0)
	if err := tb.Set([]byte("k1"), value); err != nil {
		t.Fatal(err)
	}
	if got := tb.r.Load(word); got != 0 {
		t.Errorf("a Set on a log known to be full read and raised its allocated word to %d", got)
	}
	tb.r.Store(word, uint64(v.size))
	mustCheck(t, tb)
}
