package metrics

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shmkv/shmkv/kv"
)

var someStats = kv.Stats{
	Entries: 3, BytesUsed: 240, BytesFree: 1000, TotalBytes: 65536, MaxBytes: 1 << 30, Grows: 12,
	Sets: 5, Deletes: 2, LockWaits: 1, Recoveries: 1, Rebuilds: 4,
	Evictions: 6, Promotions: 13, Expirations: 7, Damaged: 8,
	Gets: 10, Hits: 9, Misses: 1, ReadRetries: 11,
	Shards: 2, MaxShards: 16, Splits: 1, Slots: 128, MaxKeySize: 1024, MaxValueSize: 1 << 20, KeyCapacity: 96, Eviction: kv.EvictS3FIFO,
}

// TestWriteText pins the exposition, names and all: they are an interface
// that dashboards and alerts are written against.
func TestWriteText(t *testing.T) {
	var b strings.Builder
	if err := WriteText(&b, Samples(nil, "/demo", &someStats)); err != nil {
		t.Fatal(err)
	}
	want := `# HELP shmkv_reads_total Reads of a key (Get, TTL), by whether they found it.
# TYPE shmkv_reads_total counter
shmkv_reads_total{result="hit",table="demo"} 9
shmkv_reads_total{result="miss",table="demo"} 1
# HELP shmkv_read_retries_total Lock-free reads that raced a writer and ran again.
# TYPE shmkv_read_retries_total counter
shmkv_read_retries_total{table="demo"} 11
# HELP shmkv_sets_total Writes that stored an entry (Set, Add, CompareAndSwap, SetIfAbsent).
# TYPE shmkv_sets_total counter
shmkv_sets_total{table="demo"} 5
# HELP shmkv_deletes_total Deletes that removed a key.
# TYPE shmkv_deletes_total counter
shmkv_deletes_total{table="demo"} 2
# HELP shmkv_lock_waits_total Shard lock acquisitions that had to wait.
# TYPE shmkv_lock_waits_total counter
shmkv_lock_waits_total{table="demo"} 1
# HELP shmkv_recoveries_total Shards recovered after a writer died or their index disagreed with their log.
# TYPE shmkv_recoveries_total counter
shmkv_recoveries_total{table="demo"} 1
# HELP shmkv_index_rebuilds_total Index rebuilds that dropped tombstones.
# TYPE shmkv_index_rebuilds_total counter
shmkv_index_rebuilds_total{table="demo"} 4
# HELP shmkv_evictions_total Entries evicted to make room.
# TYPE shmkv_evictions_total counter
shmkv_evictions_total{table="demo"} 6
# HELP shmkv_promotions_total Entries moved from the small log to the main log, read since they were written (eviction policy s3fifo).
# TYPE shmkv_promotions_total counter
shmkv_promotions_total{table="demo"} 13
# HELP shmkv_expirations_total Expired entries whose space was taken back.
# TYPE shmkv_expirations_total counter
shmkv_expirations_total{table="demo"} 7
# HELP shmkv_grows_total Shards moved into larger extents.
# TYPE shmkv_grows_total counter
shmkv_grows_total{table="demo"} 12
# HELP shmkv_splits_total Shards split in two as the table grew.
# TYPE shmkv_splits_total counter
shmkv_splits_total{table="demo"} 1
# HELP shmkv_damaged_entries_total Damaged entries or stretches of log dropped by cleaning or repair.
# TYPE shmkv_damaged_entries_total counter
shmkv_damaged_entries_total{table="demo"} 8
# HELP shmkv_entries Live entries in the table.
# TYPE shmkv_entries gauge
shmkv_entries{table="demo"} 3
# HELP shmkv_bytes Bytes of the table: used by live entries, free for new ones before shards grow, total memory taken, max memory it may take.
# TYPE shmkv_bytes gauge
shmkv_bytes{kind="used",table="demo"} 240
shmkv_bytes{kind="free",table="demo"} 1000
shmkv_bytes{kind="total",table="demo"} 65536
shmkv_bytes{kind="max",table="demo"} 1.073741824e+09
# HELP shmkv_key_capacity Most keys the table holds before shards grow.
# TYPE shmkv_key_capacity gauge
shmkv_key_capacity{table="demo"} 96
# HELP shmkv_shards Shards in use in the table; they split as it grows.
# TYPE shmkv_shards gauge
shmkv_shards{table="demo"} 2
# HELP shmkv_max_shards The most shards the table may come to have.
# TYPE shmkv_max_shards gauge
shmkv_max_shards{table="demo"} 16
# HELP shmkv_index_slots Index slots in all shards, as they stand before they grow.
# TYPE shmkv_index_slots gauge
shmkv_index_slots{table="demo"} 128
# HELP shmkv_max_key_bytes Largest key the table accepts.
# TYPE shmkv_max_key_bytes gauge
shmkv_max_key_bytes{table="demo"} 1024
# HELP shmkv_max_value_bytes Largest value the table accepts.
# TYPE shmkv_max_value_bytes gauge
shmkv_max_value_bytes{table="demo"} 1.048576e+06
# HELP shmkv_table_info Always 1; the table's eviction policy in a label.
# TYPE shmkv_table_info gauge
shmkv_table_info{eviction="s3fifo",table="demo"} 1
`
	if got := b.String(); got != want {
		t.Errorf("WriteText wrote\n%s\nwant\n%s", got, want)
	}
}

// TestLabelEscaping: a table name may hold any byte but '/' and NUL,
// quotes, backslashes and newlines among them. A printable one is the
// label as it is, escaped as the format wants; any other is Go-quoted
// first (TableLabel), then escaped.
func TestLabelEscaping(t *testing.T) {
	for name, want := range map[string]string{
		`a"b\c`:      `table="a\"b\\c"`,
		"a\"b\\c\nd": `table="\"a\\\"b\\\\c\\nd\""`,
	} {
		var b strings.Builder
		WriteText(&b, Samples(nil, name, &someStats)[:1])
		if line := `shmkv_reads_total{result="hit",` + want + "} 9\n"; !strings.Contains(b.String(), line) {
			t.Errorf("%q: no line %s in\n%s", name, line, b.String())
		}
	}
}

// TestTableLabel: a name that is not printable UTF-8 text, or that starts
// with a quote, is labelled Go-quoted; every other name as it is. No two
// names share a label.
func TestTableLabel(t *testing.T) {
	for name, want := range map[string]string{
		"/demo":      "demo",
		"café-ü 1":   "café-ü 1",
		`back\xff`:   `back\xff`,
		"back\xff":   `"back\xff"`,
		"\xff\xfe":   `"\xff\xfe"`,
		"tab\there":  `"tab\there"`,
		"bell\a":     `"bell\a"`,
		"nl\n":       `"nl\n"`,
		"del\x7f":    `"del\x7f"`,
		"nbsp\u00a0": `"nbsp\u00a0"`,
		"fffd\ufffd": "fffd\ufffd",
		`"quoted"`:   `"\"quoted\""`,
		`in"side`:    `in"side`,
	} {
		got := TableLabel(name)
		if got != want {
			t.Errorf("TableLabel(%q) = %q, want %q", name, got, want)
		}
		if !utf8.ValidString(got) {
			t.Errorf("TableLabel(%q) = %q: not UTF-8", name, got)
		}
		if strings.HasPrefix(got, `"`) {
			if back, err := strconv.Unquote(got); err != nil || back != strings.TrimPrefix(name, "/") {
				t.Errorf("TableLabel(%q) = %q does not unquote to the name: %q, %v", name, got, back, err)
			}
		}
	}
}

func TestSamplesCoverFamilies(t *testing.T) {
	seen := map[*Family]bool{}
	var last *Family
	for _, s := range Samples(nil, "x", &someStats) {
		if s.Family != last && seen[s.Family] {
			t.Errorf("%s: samples not adjacent", s.Family.Name)
		}
		seen[s.Family], last = true, s.Family
	}
	for _, f := range Families {
		if !seen[f] {
			t.Errorf("no sample of %s", f.Name)
		}
	}
	if len(seen) != len(Families) {
		t.Errorf("%d families sampled, %d listed", len(seen), len(Families))
	}
}

func TestSamplesAllocateNothing(t *testing.T) {
	buf := make([]Sample, 0, 64)
	if n := testing.AllocsPerRun(100, func() { buf = Samples(buf[:0], "/demo", &someStats) }); n != 0 {
		t.Errorf("Samples: %v allocations per call", n)
	}
}

// TestEveryStatsField: each numeric field of kv.Stats, given a value of its
// own, shows up in some sample, so a field added to Stats without a metric
// fails here. Gets is the one exception: the sum of the reads by result.
func TestEveryStatsField(t *testing.T) {
	var st kv.Stats
	v := reflect.ValueOf(&st).Elem()
	want := map[float64]string{}
	for i := range v.NumField() {
		f := v.Field(i)
		n := 1000 + i
		switch f.Kind() {
		case reflect.Uint64:
			f.SetUint(uint64(n))
		case reflect.Int:
			f.SetInt(int64(n))
		case reflect.Uint32: // the eviction policy: a label
			f.SetUint(uint64(kv.EvictS3FIFO))
			continue
		default:
			t.Fatalf("kv.Stats.%s has kind %v: teach this test and Samples about it", v.Type().Field(i).Name, f.Kind())
		}
		if name := v.Type().Field(i).Name; name != "Gets" {
			want[float64(n)] = name
		}
	}
	samples := Samples(nil, "x", &st)
	for _, s := range samples {
		delete(want, s.Value)
		if s.Family == Info && s.LabelValues[1] != "s3fifo" {
			t.Errorf("eviction label %q", s.LabelValues[1])
		}
	}
	for _, name := range want {
		t.Errorf("kv.Stats.%s is in no sample", name)
	}
}
