// Package promshmkv exports the statistics of shmkv tables to Prometheus.
//
// It is a module of its own, so that programs using shmkv's kv package
// alone never pull in prometheus/client_golang. The metric names, types
// and help texts are those of package github.com/shmkv/shmkv/metrics,
// which 'shmkv stats --prometheus' writes too:
//
//	shmkv_reads_total{table="sessions",result="hit"}  counter
//	shmkv_sets_total{table="sessions"}                counter
//	shmkv_bytes{table="sessions",kind="used"}         gauge
//	...
//
// Register a Collector for the tables a process has open:
//
//	prometheus.MustRegister(promshmkv.NewCollector(table))
package promshmkv

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shmkv/shmkv/kv"
	"github.com/shmkv/shmkv/metrics"
)

// Collector is a prometheus.Collector for shmkv tables. Each scrape reads
// every table's Stats, which allocates nothing and takes no shard lock. A table
// that fails (closed, say) is reported as an invalid metric, and the
// others still are.
//
// A table's counters are the table's, shared by every process that uses
// it (see kv.Stats): every process's Collector of the same table exports
// the same numbers. Register one in one process per table, or have
// queries take one instance's series (max by table), never the sum.
type Collector struct {
	tables []*kv.Table
	descs  map[*metrics.Family]*prometheus.Desc

	mu      sync.Mutex // guards the buffers below across concurrent scrapes
	stats   kv.Stats
	samples []metrics.Sample
}

// NewCollector returns a Collector for tables.
func NewCollector(tables ...*kv.Table) *Collector {
	c := &Collector{tables: tables, descs: make(map[*metrics.Family]*prometheus.Desc)}
	for _, f := range metrics.Families {
		c.descs[f] = prometheus.NewDesc(f.Name, f.Help, append([]string{"table"}, f.Labels...), nil)
	}
	return c
}

// Describe sends the description of every metric the Collector exports.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range metrics.Families {
		ch <- c.descs[f]
	}
}

// Collect sends the current value of every metric of every table.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.tables {
		if err := t.Stats(&c.stats); err != nil {
			ch <- prometheus.NewInvalidMetric(c.descs[metrics.Entries], err)
			continue
		}
		c.samples = metrics.Samples(c.samples[:0], t.Name(), &c.stats)
		for _, s := range c.samples {
			valueType := prometheus.GaugeValue
			if s.Family.Type == metrics.Counter {
				valueType = prometheus.CounterValue
			}
			ch <- prometheus.MustNewConstMetric(c.descs[s.Family], valueType, s.Value, s.LabelValues[:1+len(s.Family.Labels)]...)
		}
	}
}
