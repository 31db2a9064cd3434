package kv

import (
	"strconv"
	"strings"
	"testing"

	"github.com/shmkv/shmkv/internal/testproc"
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

// TestKeysTableUnderAddressLimit: under ulimit -v 4G, a table opened with
// Keys 1,000,000 and the default ceiling opens, as a default table does
// (TestDefaultTableUnderAddressLimit), with a mapping within its share.
func TestKeysTableUnderAddressLimit(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory alone passes a 4 GiB address-space limit")
	}
	name := uniqueName(t)
	ch := testproc.Start(t, "SHMKV_RAW_CHILD=address-limited", "SHMKV_ARGS="+name+" keys")
	line, _ := ch.Line()
	err := ch.Wait()
	t.Logf("the child: %s", line)
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "ok" {
		t.Fatalf("the child said %q", line)
	}
	total, _ := strconv.ParseInt(f[2], 10, 64)
	share, _ := strconv.ParseInt(f[3], 10, 64)
	if total > share {
		t.Errorf("the table maps %d bytes, more than the share %d", total, share)
	}
}
