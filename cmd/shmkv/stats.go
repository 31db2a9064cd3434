package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/metrics"
	"github.com/spf13/pflag"
)

var statsCmd = &command{
	name:  "stats",
	usage: "stats NAME [--json | --prometheus | --watch [--interval 1s] [--count N]]",
	summary: "Print the table's entries, bytes used and free, hit rate, lock waits and\n" +
		"geometry. Read counts are those every process has flushed (each does once a\n" +
		"second and when it closes the table). --json prints a stable JSON object;\n" +
		"--prometheus the same figures as Prometheus metrics in the text format, for\n" +
		"node_exporter's textfile collector. --watch shows rates per second, refreshed\n" +
		"in place on a terminal (a line per interval otherwise), until Ctrl-C.",
	example: "shmkv stats demo --json\n" +
		"shmkv stats demo --prometheus > /var/lib/node_exporter/shmkv_demo.prom\n" +
		"shmkv stats demo --watch --interval 2s",
	nargs: exactly(1),
	setup: func(f *pflag.FlagSet) runFunc {
		var o statsFlags
		f.BoolVar(&o.json, "json", false, "print a JSON object")
		f.BoolVar(&o.prometheus, "prometheus", false, "print Prometheus metrics in the text exposition format")
		f.BoolVar(&o.watch, "watch", false, "show rates per second until interrupted")
		f.DurationVar(&o.interval, "interval", time.Second, "with --watch, refresh every `DURATION`")
		f.IntVar(&o.count, "count", 0, "with --watch, stop after `N` refreshes (0: until interrupted)")
		return func(m *Main, args []string) error {
			o.watchOnly = f.Changed("interval") || f.Changed("count")
			return runStats(m, args[0], &o)
		}
	},
}

// statsFlags are the flags of stats.
type statsFlags struct {
	json, prometheus, watch bool
	interval                time.Duration
	count                   int
	watchOnly               bool // a flag that only --watch reads was given
}

// statsJSON is the stable shape of 'shmkv stats --json'.
type statsJSON struct {
	nameJSON
	Entries      uint64  `json:"entries"`
	BytesUsed    uint64  `json:"bytes_used"`
	BytesFree    uint64  `json:"bytes_free"`
	TotalBytes   uint64  `json:"total_bytes"`
	MaxBytes     uint64  `json:"max_bytes"`
	Grows        uint64  `json:"grows"`
	Splits       uint64  `json:"splits"`
	Gets         uint64  `json:"gets"`
	Hits         uint64  `json:"hits"`
	Misses       uint64  `json:"misses"`
	HitRate      float64 `json:"hit_rate"`
	Sets         uint64  `json:"sets"`
	Deletes      uint64  `json:"deletes"`
	LockWaits    uint64  `json:"lock_waits"`
	ReadRetries  uint64  `json:"read_retries"`
	Recoveries   uint64  `json:"recoveries"`
	Damaged      uint64  `json:"damaged"`
	Rebuilds     uint64  `json:"rebuilds"`
	Evictions    uint64  `json:"evictions"`
	Promotions   uint64  `json:"promotions"`
	Expirations  uint64  `json:"expirations"`
	Eviction     string  `json:"eviction"`
	Shards       int     `json:"shards"`
	MaxShards    int     `json:"max_shards"`
	IndexSlots   int     `json:"index_slots"`
	KeyCapacity  int     `json:"key_capacity"`
	MaxKeySize   int     `json:"max_key_size"`
	MaxValueSize int     `json:"max_value_size"`
}

func runStats(m *Main, name string, o *statsFlags) error {
	switch {
	case b2i(o.json)+b2i(o.prometheus)+b2i(o.watch) > 1:
		return usageError("stats", "--json, --prometheus and --watch are one each")
	case o.interval <= 0:
		return usageError("stats", "--interval %v is not positive", o.interval)
	case o.count < 0:
		return usageError("stats", "--count %d is negative", o.count)
	case o.watchOnly && !o.watch:
		return usageError("stats", "--interval and --count go with --watch")
	}
	t, err := openExisting(name, true)
	if err != nil {
		return err
	}
	defer t.Close()
	if o.watch {
		return watchStats(m, name, t, o.interval, o.count)
	}
	var st kv.Stats
	if err := t.Stats(&st); err != nil {
		return opError("stats", name, err)
	}
	if o.prometheus {
		return metrics.WriteText(m.Stdout, metrics.Samples(nil, name, &st))
	}
	asJSON := o.json
	hitRate := 0.0
	if st.Gets > 0 {
		hitRate = float64(st.Hits) / float64(st.Gets)
	}
	if asJSON {
		return json.NewEncoder(m.Stdout).Encode(statsJSON{
			nameJSON: newNameJSON(name), Entries: st.Entries, BytesUsed: st.BytesUsed, BytesFree: st.BytesFree,
			TotalBytes: st.TotalBytes, MaxBytes: st.MaxBytes, Grows: st.Grows, Splits: st.Splits, Gets: st.Gets, Hits: st.Hits, Misses: st.Misses, HitRate: hitRate,
			Sets: st.Sets, Deletes: st.Deletes, LockWaits: st.LockWaits, ReadRetries: st.ReadRetries,
			Recoveries: st.Recoveries, Damaged: st.Damaged, Rebuilds: st.Rebuilds, Shards: st.Shards, MaxShards: st.MaxShards,
			Evictions: st.Evictions, Promotions: st.Promotions, Expirations: st.Expirations, Eviction: st.Eviction.String(),
			IndexSlots: st.Slots, KeyCapacity: st.KeyCapacity,
			MaxKeySize: st.MaxKeySize, MaxValueSize: st.MaxValueSize,
		})
	}
	if warning := shmWarning(shmSize(), st.MaxBytes); warning != "" {
		fmt.Fprintf(m.Stderr, "shmkv: warning: %s\n", warning)
	}
	w := m.Stdout
	fmt.Fprintf(w, "table       %s\n", printable(name))
	fmt.Fprintf(w, "entries     %d (room for %d before growing)\n", st.Entries, st.KeyCapacity)
	fmt.Fprintf(w, "memory      %s of at most %s in shared memory; %s used by entries, %s free before growing; grew %d times\n",
		humanBytes(st.TotalBytes), humanBytes(st.MaxBytes), humanBytes(st.BytesUsed), humanBytes(st.BytesFree), st.Grows)
	fmt.Fprintf(w, "reads       %d (%d hits, %d misses, hit rate %.1f%%), %d retried\n", st.Gets, st.Hits, st.Misses, 100*hitRate, st.ReadRetries)
	fmt.Fprintf(w, "writes      %d sets, %d deletes, %d lock waits\n", st.Sets, st.Deletes, st.LockWaits)
	fmt.Fprintf(w, "expiry      %d evictions, %d promotions (eviction %v), %d expirations\n", st.Evictions, st.Promotions, st.Eviction, st.Expirations)
	fmt.Fprintf(w, "recoveries  %d after dead writers, %d index rebuilds, %d damaged entries dropped\n", st.Recoveries, st.Rebuilds, st.Damaged)
	fmt.Fprintf(w, "geometry    %d shards of at most %d, split %d times; %d index slots; keys up to %s, values up to %s\n", st.Shards, st.MaxShards, st.Splits, st.Slots, humanBytes(uint64(st.MaxKeySize)), humanBytes(uint64(st.MaxValueSize)))
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// smallShm: a /dev/shm smaller than this is small, its quarter (kv's
// default maximum memory) under 256 MiB. Docker gives a container 64 MiB
// unless told otherwise, and so a default table there 16 MiB.
const smallShm = 1 << 30

// shmWarning is what stats says, besides its figures, about a table whose
// maximum memory is maxBytes on a host whose /dev/shm is size bytes (0 if
// unknown): a warning when /dev/shm is small (under smallShm) and the
// table's ceiling is at least a quarter of it, which is the default a
// table created here gets, or more; "" otherwise. A table given a ceiling
// below that on purpose, or by kv to fit an address-space limit, gets
// none.
func shmWarning(size int64, maxBytes uint64) string {
	if size <= 0 || size >= smallShm || maxBytes < uint64(size/4) {
		return ""
	}
	var what string
	switch {
	case maxBytes == uint64(size/4):
		what = fmt.Sprintf("the table's maximum memory, %s, is the default: a quarter of /dev/shm, which is only %s", humanBytes(maxBytes), humanBytes(uint64(size)))
	case maxBytes > uint64(size):
		what = fmt.Sprintf("the table's maximum memory is %s, but /dev/shm, which holds every table here, is only %s", humanBytes(maxBytes), humanBytes(uint64(size)))
	default:
		what = fmt.Sprintf("the table's maximum memory, %s, is more than a quarter of /dev/shm, which holds every table here and is only %s", humanBytes(maxBytes), humanBytes(uint64(size)))
	}
	return what + "; give /dev/shm more room (docker run --shm-size 1g; compose: shm_size: 1gb; Kubernetes: an emptyDir with medium: Memory and a sizeLimit, mounted at /dev/shm; a host: mount -o remount,size=1G /dev/shm) and create the table again with a larger --max-memory (see README, Deploying)"
}
