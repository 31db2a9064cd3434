package main

import (
	"encoding/json"
	"fmt"

	"github.com/shmkv/shmkv/kv"
	"github.com/spf13/pflag"
)

var statsCmd = &command{
	name:  "stats",
	usage: "stats NAME [--json]",
	summary: "Print the table's entries, bytes used and free, hit rate, lock waits and\n" +
		"geometry. Read counts are those every process has flushed (each does once a\n" +
		"second and when it closes the table). --json prints a stable JSON object.",
	example: "shmkv stats demo --json",
	nargs:   exactly(1),
	setup: func(f *pflag.FlagSet) runFunc {
		asJSON := f.Bool("json", false, "print a JSON object")
		return func(m *Main, args []string) error { return runStats(m, args[0], *asJSON) }
	},
}

// statsJSON is the stable shape of 'shmkv stats --json'.
type statsJSON struct {
	Name          string  `json:"name"`
	Entries       uint64  `json:"entries"`
	BytesUsed     uint64  `json:"bytes_used"`
	BytesFree     uint64  `json:"bytes_free"`
	TotalBytes    uint64  `json:"total_bytes"`
	Gets          uint64  `json:"gets"`
	Hits          uint64  `json:"hits"`
	Misses        uint64  `json:"misses"`
	HitRate       float64 `json:"hit_rate"`
	Sets          uint64  `json:"sets"`
	Deletes       uint64  `json:"deletes"`
	LockWaits     uint64  `json:"lock_waits"`
	ReadRetries   uint64  `json:"read_retries"`
	Recoveries    uint64  `json:"recoveries"`
	Damaged       uint64  `json:"damaged"`
	Rebuilds      uint64  `json:"rebuilds"`
	Evictions     uint64  `json:"evictions"`
	Expirations   uint64  `json:"expirations"`
	Eviction      string  `json:"eviction"`
	Shards        int     `json:"shards"`
	SlotsPerShard int     `json:"slots_per_shard"`
	KeyCapacity   int     `json:"key_capacity"`
	MaxKeySize    int     `json:"max_key_size"`
	MaxValueSize  int     `json:"max_value_size"`
}

func runStats(m *Main, name string, asJSON bool) error {
	t, err := openExisting(name, true)
	if err != nil {
		return err
	}
	defer t.Close()
	var st kv.Stats
	if err := t.Stats(&st); err != nil {
		return opError("stats", name, err)
	}
	hitRate := 0.0
	if st.Gets > 0 {
		hitRate = float64(st.Hits) / float64(st.Gets)
	}
	if asJSON {
		return json.NewEncoder(m.Stdout).Encode(statsJSON{
			Name: name, Entries: st.Entries, BytesUsed: st.BytesUsed, BytesFree: st.BytesFree,
			TotalBytes: st.TotalBytes, Gets: st.Gets, Hits: st.Hits, Misses: st.Misses, HitRate: hitRate,
			Sets: st.Sets, Deletes: st.Deletes, LockWaits: st.LockWaits, ReadRetries: st.ReadRetries,
			Recoveries: st.Recoveries, Damaged: st.Damaged, Rebuilds: st.Rebuilds, Shards: st.Shards,
			Evictions: st.Evictions, Expirations: st.Expirations, Eviction: st.Eviction.String(),
			SlotsPerShard: st.SlotsPerShard, KeyCapacity: st.KeyCapacity,
			MaxKeySize: st.MaxKeySize, MaxValueSize: st.MaxValueSize,
		})
	}
	w := m.Stdout
	fmt.Fprintf(w, "table       %s\n", name)
	fmt.Fprintf(w, "entries     %d of at most %d\n", st.Entries, st.KeyCapacity)
	fmt.Fprintf(w, "bytes       %s used, %s free, %s in shared memory\n", humanBytes(st.BytesUsed), humanBytes(st.BytesFree), humanBytes(st.TotalBytes))
	fmt.Fprintf(w, "reads       %d (%d hits, %d misses, hit rate %.1f%%), %d retried\n", st.Gets, st.Hits, st.Misses, 100*hitRate, st.ReadRetries)
	fmt.Fprintf(w, "writes      %d sets, %d deletes, %d lock waits\n", st.Sets, st.Deletes, st.LockWaits)
	fmt.Fprintf(w, "expiry      %d evictions (eviction %v), %d expirations\n", st.Evictions, st.Eviction, st.Expirations)
	fmt.Fprintf(w, "recoveries  %d after dead writers, %d index rebuilds, %d damaged entries dropped\n", st.Recoveries, st.Rebuilds, st.Damaged)
	fmt.Fprintf(w, "geometry    %d shards of %d slots; keys up to %s, values up to %s\n", st.Shards, st.SlotsPerShard, humanBytes(uint64(st.MaxKeySize)), humanBytes(uint64(st.MaxValueSize)))
	return nil
}
