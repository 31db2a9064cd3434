package kv

import (
	"testing"

	"github.com/shmkv/shmkv/kv/internal/format"
)

// TestPlanMapsAboutSixTimesTheCeiling: a table maps about six times its
// ceiling (README, Deploying; Options.MaxMemory; ErrAddressSpace), also
// when Keys says what to expect and the ceiling holds it with room. A
// table planning fewer shards in use than it has must not size every
// span, the unused shards' too, for its larger first extents.
func TestPlanMapsAboutSixTimesTheCeiling(t *testing.T) {
	for _, c := range []Options{
		{Keys: 300_000, MaxMemory: 16 << 20},
		{Keys: 1_000_000, MaxMemory: 64 << 20},
		{Keys: 5_000_000, MaxMemory: 256 << 20},
		{Keys: 16_000_000, MaxMemory: 1 << 30},
		{Keys: 10_000_000, Memory: 8 << 30, MaxMemory: 16 << 30},
	} {
		o := c.withDefaults()
		g, first, err := plan(&o)
		if err != nil {
			t.Errorf("Keys %d MaxMemory %d: %v", c.Keys, c.MaxMemory, err)
			continue
		}
		want := g.ExtentsOffset + spanFactor*o.MaxMemory + int64(g.Shards)*format.PageSize
		if g.TotalSize > want {
			t.Errorf("Keys %d MaxMemory %d: the table maps %d bytes, %.1f times its ceiling (want at most %d): "+
				"%d shards, %d in use from creation, first extents of %d bytes, spans of %d",
				c.Keys, c.MaxMemory, g.TotalSize, float64(g.TotalSize)/float64(o.MaxMemory), want,
				g.Shards, g.InitialShards, first.Size, g.Span)
		}
	}
}
