// Package metrics names a shmkv table's statistics (kv.Stats) as
// Prometheus metrics, and writes them in Prometheus's text exposition
// format. It is the one list of metric names, types and help texts: the
// command's 'stats --prometheus' writes it, and the collector in the
// separate module github.com/shmkv/shmkv/promshmkv exports it, so the two
// always agree. It depends on nothing but kv and the standard library.
//
// Counters are totals over every process that has used the table (see
// kv.Stats for how reads are counted); gauges are the table's state when
// read. Every sample carries the table's name in the label "table" (as
// TableLabel writes it). Every
// field of kv.Stats is exported, but Gets, which is the sum of
// shmkv_reads_total over its results.
package metrics

import (
	"bufio"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shmkv/shmkv/kv"
)

// Type is a metric family's type.
type Type int

const (
	Counter Type = iota
	Gauge
)

func (t Type) String() string {
	if t == Counter {
		return "counter"
	}
	return "gauge"
}

// Family is one metric name, with its type and help text.
type Family struct {
	Name string
	Help string
	Type Type
	// Labels are the names of the labels its samples carry besides
	// "table", in order.
	Labels []string
}

// Sample is one value of a family.
type Sample struct {
	Family *Family
	// LabelValues are the values of "table" and then of Family.Labels.
	LabelValues [3]string
	Value       float64
}

// The families, in the order they are written.
var (
	Reads       = &Family{"shmkv_reads_total", "Reads of a key (Get, TTL), by whether they found it.", Counter, []string{"result"}}
	ReadRetries = &Family{"shmkv_read_retries_total", "Lock-free reads that raced a writer and ran again.", Counter, nil}
	Sets        = &Family{"shmkv_sets_total", "Writes that stored an entry (Set, Add, CompareAndSwap, SetIfAbsent).", Counter, nil}
	Deletes     = &Family{"shmkv_deletes_total", "Deletes that removed a key.", Counter, nil}
	LockWaits   = &Family{"shmkv_lock_waits_total", "Shard lock acquisitions that had to wait.", Counter, nil}
	Recoveries  = &Family{"shmkv_recoveries_total", "Shards recovered after a writer died or their index disagreed with their log.", Counter, nil}
	Rebuilds    = &Family{"shmkv_index_rebuilds_total", "Index rebuilds that dropped tombstones.", Counter, nil}
	Evictions   = &Family{"shmkv_evictions_total", "Entries evicted to make room.", Counter, nil}
	Promotions  = &Family{"shmkv_promotions_total", "Entries moved from the small log to the main log, read since they were written (eviction policy s3fifo).", Counter, nil}
	Expirations = &Family{"shmkv_expirations_total", "Expired entries whose space was taken back.", Counter, nil}
	Grows       = &Family{"shmkv_grows_total", "Shards moved into larger extents.", Counter, nil}
	Splits      = &Family{"shmkv_splits_total", "Shards split in two as the table grew.", Counter, nil}
	Damaged     = &Family{"shmkv_damaged_entries_total", "Damaged entries or stretches of log dropped by cleaning or repair.", Counter, nil}
	Entries     = &Family{"shmkv_entries", "Live entries in the table.", Gauge, nil}
	Bytes       = &Family{"shmkv_bytes", "Bytes of the table: used by live entries, free for new ones before shards grow, total memory taken, max memory it may take.", Gauge, []string{"kind"}}
	KeyCapacity = &Family{"shmkv_key_capacity", "Most keys the table holds before shards grow.", Gauge, nil}
	Shards      = &Family{"shmkv_shards", "Shards in use in the table; they split as it grows.", Gauge, nil}
	MaxShards   = &Family{"shmkv_max_shards", "The most shards the table may come to have.", Gauge, nil}
	IndexSlots  = &Family{"shmkv_index_slots", "Index slots in all shards, as they stand before they grow.", Gauge, nil}
	MaxKeyBytes = &Family{"shmkv_max_key_bytes", "Largest key the table accepts.", Gauge, nil}
	MaxValBytes = &Family{"shmkv_max_value_bytes", "Largest value the table accepts.", Gauge, nil}
	Info        = &Family{"shmkv_table_info", "Always 1; the table's eviction policy in a label.", Gauge, []string{"eviction"}}
)

// Families is every family, in the order Samples returns them.
var Families = []*Family{
	Reads, ReadRetries, Sets, Deletes, LockWaits, Recoveries, Rebuilds, Evictions, Promotions, Expirations, Grows, Splits,
	Damaged, Entries, Bytes, KeyCapacity, Shards, MaxShards, IndexSlots, MaxKeyBytes, MaxValBytes, Info,
}

// Samples appends the samples of st, read from the table called table, to
// dst and returns the result, in the order of Families. It allocates
// nothing when dst has room for them.
func Samples(dst []Sample, table string, st *kv.Stats) []Sample {
	table = TableLabel(table)
	add := func(f *Family, v uint64, labels ...string) {
		s := Sample{Family: f, Value: float64(v)}
		s.LabelValues[0] = table
		copy(s.LabelValues[1:], labels)
		dst = append(dst, s)
	}
	add(Reads, st.Hits, "hit")
	add(Reads, st.Misses, "miss")
	add(ReadRetries, st.ReadRetries)
	add(Sets, st.Sets)
	add(Deletes, st.Deletes)
	add(LockWaits, st.LockWaits)
	add(Recoveries, st.Recoveries)
	add(Rebuilds, st.Rebuilds)
	add(Evictions, st.Evictions)
	add(Promotions, st.Promotions)
	add(Expirations, st.Expirations)
	add(Grows, st.Grows)
	add(Splits, st.Splits)
	add(Damaged, st.Damaged)
	add(Entries, st.Entries)
	add(Bytes, st.BytesUsed, "used")
	add(Bytes, st.BytesFree, "free")
	add(Bytes, st.TotalBytes, "total")
	add(Bytes, st.MaxBytes, "max")
	add(KeyCapacity, uint64(st.KeyCapacity))
	add(Shards, uint64(st.Shards))
	add(MaxShards, uint64(st.MaxShards))
	add(IndexSlots, uint64(st.Slots))
	add(MaxKeyBytes, uint64(st.MaxKeySize))
	add(MaxValBytes, uint64(st.MaxValueSize))
	add(Info, 1, st.Eviction.String())
	return dst
}

// WriteText writes samples in the Prometheus text exposition format
// (version 0.0.4), each family's HELP and TYPE once, before its first
// sample, and each sample's labels in the order of their names. Samples of one family must be adjacent, as Samples makes them.
func WriteText(w io.Writer, samples []Sample) error {
	bw := bufio.NewWriter(w)
	var last *Family
	for _, s := range samples {
		f := s.Family
		if f != last {
			bw.WriteString("# HELP " + f.Name + " " + escapeHelp(f.Help) + "\n")
			bw.WriteString("# TYPE " + f.Name + " " + f.Type.String() + "\n")
			last = f
		}
		// Labels in the order of their names, as Prometheus's own encoder
		// writes them.
		labels := make([][2]string, 0, 3)
		labels = append(labels, [2]string{"table", s.LabelValues[0]})
		for i, name := range f.Labels {
			labels = append(labels, [2]string{name, s.LabelValues[i+1]})
		}
		sort.Slice(labels, func(i, j int) bool { return labels[i][0] < labels[j][0] })
		bw.WriteString(f.Name)
		for i, l := range labels {
			sep := ","
			if i == 0 {
				sep = "{"
			}
			bw.WriteString(sep + l[0] + `="` + escapeLabel(l[1]) + `"`)
		}
		bw.WriteString("} ")
		bw.WriteString(strconv.FormatFloat(s.Value, 'g', -1, 64))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// TableLabel is the value of the label "table" for the table called name:
// the name without its leading '/', as it is when it is printable text
// (valid UTF-8 of printable characters, strconv.IsPrint, not starting with
// '"'), and otherwise Go-quoted by strconv.Quote ("bad\xff", with the
// quotes), which is how the shmkv command prints such a name too. A table
// name may hold any byte but '/' and NUL, and Prometheus takes only UTF-8
// label values (client_golang refuses others, and its text parser fails
// on them), so a name is never passed on as it is unless it is text; the
// quoted form is valid UTF-8 and starts with '"', which no name passed as
// it is does, so two tables never share a label value. It allocates only
// for a name it quotes.
func TableLabel(name string) string {
	return Printable(strings.TrimPrefix(name, "/"))
}

// Printable is s as it is when it is printable text: valid UTF-8 of
// printable characters (strconv.IsPrint) not starting with '"'; otherwise
// s Go-quoted by strconv.Quote, which keeps to one line, reads back with
// strconv.Unquote, and starts with '"' as no text passed as it is does.
// It allocates only for an s it quotes.
func Printable(s string) string {
	if isText(s) {
		return s
	}
	return strconv.Quote(s)
}

// isText reports whether s is valid UTF-8 of printable characters, not
// starting with a double quote, so that it is shown as it is.
func isText(s string) bool {
	if strings.HasPrefix(s, `"`) {
		return false
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < ' ' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || !strconv.IsPrint(r) {
			return false
		}
		i += n
	}
	return true
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }
