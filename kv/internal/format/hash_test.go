package format

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/shmkv/shmkv/internal/testproc"
)

var hashSeed = flag.Uint64("kv.hash.seed", 0, "seed of TestHashKeyIsXXHashOfSeedAndKey (0: from the clock)")

// TestHashKeyIsXXHashOfSeedAndKey: every path of HashKey gives xxhash64
// of the seed's 8 little-endian bytes followed by the key, the hash the
// layout promises, at every key length up to past the longest short path.
func TestHashKeyIsXXHashOfSeedAndKey(t *testing.T) {
	seed := testproc.Seed(t, *hashSeed, "kv.hash.seed")
	r := rand.New(rand.NewPCG(seed, 0))
	for n := 1; n <= 2*shortKey+9; n++ {
		for range 20 {
			tableSeed := r.Uint64()
			key := make([]byte, n)
			for i := range key {
				key[i] = byte(r.Uint32())
			}
			want := xxhash.Sum64(append(binary.LittleEndian.AppendUint64(nil, tableSeed), key...))
			if got := HashKey(tableSeed, key); got != want {
				t.Fatalf("key of %d bytes, seed %#x: hashKey %#x, xxhash %#x", n, tableSeed, got, want)
			}
		}
	}
}

func BenchmarkHashKey(b *testing.B) {
	for _, n := range []int{8, 16, 23, 32, 64} {
		key := make([]byte, n)
		b.Run(fmt.Sprint("bytes=", n), func(b *testing.B) {
			b.SetBytes(int64(n))
			var sink uint64
			for b.Loop() {
				sink += HashKey(0x1234, key)
			}
			_ = sink
		})
	}
}
