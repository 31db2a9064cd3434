package kv

import (
	"fmt"
	"math"
	"testing"
)

// TestExtentDamagedGenerationGrows: a generation damaged to the largest
// value, with the word and the shard intact, is described again by Repair;
// the shard must then grow into an extent that reads, not one whose
// generation wrapped to 0, which no reader accepts.
func TestExtentDamagedGenerationGrows(t *testing.T) {
	name, tb, want, shard0 := extentDamageTable(t, 2000)
	v := viewOf(t, &tb.shards[0])
	tb.r.store(v.hdr+extGeneration/8, math.MaxUint64)
	fresh := openTable(t, name, &Options{NoCreate: true})
	repairAll(t, fresh, want)
	var st Stats
	fresh.Stats(&st)
	grows := st.Grows
	for i := 0; st.Grows == grows; i++ {
		k := fmt.Sprint("more-", i)
		if fresh.shardFor(hashKey(fresh.g.seed, []byte(k))).index != 0 {
			continue
		}
		if err := fresh.Set([]byte(k), []byte("v")); err != nil {
			t.Fatalf("Set %q after %d: %v", k, i, err)
		}
		want[k] = "v"
		fresh.Stats(&st)
	}
	again := openTable(t, name, &Options{NoCreate: true})
	if right, corrupt := readShard0(t, again, want, shard0[:100]); corrupt != 0 {
		t.Fatalf("after a grow, %d of shard 0's keys read right and %d ErrCorrupt", right, corrupt)
	}
	mustCheck(t, again)
}
