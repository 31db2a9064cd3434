package promshmkv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/metrics"
)

var nameSeq atomic.Int64

// newTable opens a fresh table that goes when the test ends, after a few
// operations so that the counters are not all zero.
func newTable(t *testing.T) *kv.Table {
	t.Helper()
	return newTableNamed(t, "")
}

// newTableNamed is newTable with suffix at the end of the table's name.
func newTableNamed(t *testing.T, suffix string) *kv.Table {
	t.Helper()
	name := fmt.Sprintf("shmkv-test-prom-%d-%d", os.Getpid(), nameSeq.Add(1)) + suffix
	t.Cleanup(func() {
		if err := kv.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("cleanup: %v", err)
		}
	})
	tb, err := kv.Open(name, &kv.Options{Keys: 100, Memory: 64 << 10, Eviction: kv.EvictLRU})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tb.Close() })
	tb.Set([]byte("a"), []byte("1"))
	tb.Set([]byte("b"), []byte("2"))
	tb.Delete([]byte("b"))
	tb.Get(nil, []byte("a"))
	tb.Get(nil, []byte("b"))
	tb.Add([]byte("n"), 5)
	return tb
}

// text is what 'shmkv stats --prometheus' writes for tb now.
func text(t *testing.T, tb *kv.Table) string {
	var st kv.Stats
	if err := tb.Stats(&st); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	metrics.WriteText(&b, metrics.Samples(nil, tb.Name(), &st))
	return b.String()
}

// TestCollectorMatchesText: the collector exports exactly what the
// command's text says, family by family and value by value.
func TestCollectorMatchesText(t *testing.T) {
	tb := newTable(t)
	c := NewCollector(tb)
	if err := testutil.CollectAndCompare(c, strings.NewReader(text(t, tb))); err != nil {
		t.Fatal(err)
	}
	if n, want := testutil.CollectAndCount(c), len(metrics.Samples(nil, "x", &kv.Stats{})); n != want {
		t.Errorf("%d samples, want %d", n, want)
	}
}

// TestTextParses checks the command's exposition with Prometheus's own
// text parser, as node_exporter's textfile collector reads it.
func TestTextParses(t *testing.T) {
	tb := newTable(t)
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text(t, tb)))
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != len(metrics.Families) {
		t.Errorf("%d families parsed, %d written", len(fams), len(metrics.Families))
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f := fams[name]
		if f == nil {
			t.Fatalf("no family %s", name)
		}
	next:
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue next
				}
			}
			if f.GetType() == dto.MetricType_COUNTER {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	table := strings.TrimPrefix(tb.Name(), "/")
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
		typ    dto.MetricType
	}{
		{"shmkv_reads_total", map[string]string{"table": table, "result": "hit"}, 1, dto.MetricType_COUNTER},
		{"shmkv_reads_total", map[string]string{"table": table, "result": "miss"}, 1, dto.MetricType_COUNTER},
		{"shmkv_sets_total", map[string]string{"table": table}, 3, dto.MetricType_COUNTER},
		{"shmkv_deletes_total", map[string]string{"table": table}, 1, dto.MetricType_COUNTER},
		{"shmkv_entries", map[string]string{"table": table}, 2, dto.MetricType_GAUGE},
		{"shmkv_table_info", map[string]string{"table": table, "eviction": "s3fifo"}, 1, dto.MetricType_GAUGE},
	} {
		if got := value(c.name, c.labels); got != c.want || fams[c.name].GetType() != c.typ {
			t.Errorf("%s%v = %v (%v), want %v (%v)", c.name, c.labels, got, fams[c.name].GetType(), c.want, c.typ)
		}
	}
}

// TestNamingConventions runs Prometheus's linter over the exported metrics.
func TestNamingConventions(t *testing.T) {
	problems, err := testutil.CollectAndLint(NewCollector(newTable(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestClosedTable: a table that cannot be read is reported as an error of
// the scrape, and the other tables are still exported.
func TestClosedTable(t *testing.T) {
	good, closed := newTable(t), newTable(t)
	closed.Close()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(closed, good))
	fams, err := reg.Gather()
	if err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Gather error %v, want one naming the closed table", err)
	}
	found := false
	for _, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				found = found || l.GetValue() == strings.TrimPrefix(good.Name(), "/")
			}
		}
	}
	if !found {
		t.Error("the good table's metrics are missing")
	}
}

// TestPedanticRegistry: a registry that checks every metric against its
// description accepts the collector's, for two tables at once.
func TestPedanticRegistry(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(newTable(t), newTable(t)))
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
}

// TestNamesThatAreNotText: a table name may hold any byte but '/' and NUL,
// and Prometheus takes only UTF-8 label values. A name that is not UTF-8
// (the collector panicked on it) or holds a control character is labelled
// Go-quoted, by the collector and in the text alike, which Prometheus's
// parser reads back; the labels unquote to the names. A quote inside a
// name is text: labelled as it is. No two labels are the same.
func TestNamesThatAreNotText(t *testing.T) {
	tables := []*kv.Table{newTableNamed(t, "-\xff\xfe"), newTableNamed(t, "-\x01\n"), newTableNamed(t, `-"`)}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(NewCollector(tables...))
	if _, err := reg.Gather(); err != nil {
		t.Fatal(err)
	}
	labels := map[string]bool{}
	for _, tb := range tables {
		if err := testutil.CollectAndCompare(NewCollector(tb), strings.NewReader(text(t, tb))); err != nil {
			t.Errorf("%q: %v", tb.Name(), err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(strings.NewReader(text(t, tb)))
		if err != nil {
			t.Fatalf("%q: %v", tb.Name(), err)
		}
		label := fams["shmkv_entries"].Metric[0].Label[0].GetValue()
		if !strings.HasSuffix(tb.Name(), `"`) {
			if name, err := strconv.Unquote(label); err != nil || "/"+name != tb.Name() {
				t.Errorf("table %q labelled %q, which unquotes to %q, %v", tb.Name(), label, name, err)
			}
		} else if "/"+label != tb.Name() {
			t.Errorf("table %q labelled %q, not its name", tb.Name(), label)
		}
		labels[label] = true
	}
	if len(labels) != len(tables) {
		t.Errorf("%d tables, %d labels: %v", len(tables), len(labels), labels)
	}
}
