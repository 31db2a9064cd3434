package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// workloadKey names a workload without its store, to pair a peer's figure
// with shmkv's.
func workloadKey(c Cell) string {
	return fmt.Sprintf("%s/%dB/%dk/%s/%d", c.Op, c.ValueSize, c.Keys/1000, c.Dist, c.Workers)
}

// baseline maps each workload to shmkv's result in it.
func baseline(rs []Result) map[string]Result {
	b := map[string]Result{}
	for _, r := range rs {
		if r.Store == "shmkv" && r.Skipped == "" {
			b[workloadKey(r.Cell)] = r
		}
	}
	return b
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func dur(ns int64) string {
	switch d := time.Duration(ns); {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", ns)
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(ns)/1e3)
	default:
		return fmt.Sprintf("%.2fms", float64(ns)/1e6)
	}
}

// writeMarkdown writes one table per key count and value size. Every
// figure of a peer is followed by its ratio to shmkv's in the same workload
// and run: above 1× the peer has more throughput, or more latency, or uses
// more memory.
func writeMarkdown(w io.Writer, rs []Result, header string) {
	fmt.Fprintln(w, header)
	base := baseline(rs)
	type group struct{ keys, value int }
	var groups []group
	seen := map[group]bool{}
	for _, r := range rs {
		g := group{r.Keys, r.ValueSize}
		if !seen[g] {
			seen[g] = true
			groups = append(groups, g)
		}
	}
	for _, g := range groups {
		fmt.Fprintf(w, "\n### %d keys, %d-byte values\n\n", g.keys, g.value)
		fmt.Fprintln(w, "| workload | dist | procs | store | shared | ops/s | spread | p50 | p99 | p99.9 | bytes/entry |")
		fmt.Fprintln(w, "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|")
		for _, r := range rs {
			if r.Keys != g.keys || r.ValueSize != g.value {
				continue
			}
			if r.Skipped != "" {
				fmt.Fprintf(w, "| %s | %s | %d | %s | | skipped: %s | | | | | |\n", r.Op, r.Dist, r.Workers, r.Store, r.Skipped)
				continue
			}
			b := base[workloadKey(r.Cell)]
			shared := "yes"
			if !r.Shareable {
				shared = "no (goroutines)"
			}
			// vs appends a peer's ratio to shmkv's figure.
			vs := func(text string, mine, shmkv float64) string {
				if r.Store == "shmkv" {
					return text
				}
				return text + " (" + ratio(mine, shmkv) + ")"
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n",
				r.Op, r.Dist, r.Workers, r.Store, shared,
				vs(humanRate(r.OpsPerSec), r.OpsPerSec, b.OpsPerSec), spread(r),
				vs(dur(r.P50), float64(r.P50), float64(b.P50)),
				vs(dur(r.P99), float64(r.P99), float64(b.P99)),
				vs(dur(r.P999), float64(r.P999), float64(b.P999)),
				vs(fmt.Sprintf("%.0f", r.BytesPerEntry), r.BytesPerEntry, b.BytesPerEntry))
		}
	}
}

// spread is half the range of a result's runs, in percent of its median:
// how far apart the runs were.
func spread(r Result) string {
	if r.OpsPerSec <= 0 || r.OpsMax < r.OpsMin {
		return "—"
	}
	return fmt.Sprintf("±%.0f%%", (r.OpsMax-r.OpsMin)/2/r.OpsPerSec*100)
}

func humanRate(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

// writeCSV writes every result, one a row, with shmkv's figures beside.
func writeCSV(w io.Writer, rs []Result) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"store", "shareable", "op", "value_size", "keys", "dist", "workers", "ops_per_sec",
		"p50_ns", "p99_ns", "p999_ns", "bytes_per_entry", "ops_ratio_to_shmkv", "p99_ratio_to_shmkv", "skipped",
		"ops_min_per_sec", "ops_max_per_sec"})
	base := baseline(rs)
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }
	for _, r := range rs {
		b := base[workloadKey(r.Cell)]
		opsRatio, p99Ratio := "", ""
		if b.OpsPerSec > 0 && r.OpsPerSec > 0 {
			opsRatio = f(r.OpsPerSec / b.OpsPerSec)
			p99Ratio = f(float64(r.P99) / float64(max(b.P99, 1)))
		}
		cw.Write([]string{r.Store, strconv.FormatBool(r.Shareable), r.Op, strconv.Itoa(r.ValueSize),
			strconv.Itoa(r.Keys), r.Dist, strconv.Itoa(r.Workers), f(r.OpsPerSec),
			strconv.FormatInt(r.P50, 10), strconv.FormatInt(r.P99, 10), strconv.FormatInt(r.P999, 10),
			f(r.BytesPerEntry), opsRatio, p99Ratio, r.Skipped, f(r.OpsMin), f(r.OpsMax)})
	}
	cw.Flush()
	return cw.Error()
}

// writeSVG draws throughput by store for each workload of one slice of the
// matrix (the first key count and value size, uniform keys, one worker), on
// a log scale so that servers and in-memory stores fit one chart.
func writeSVG(w io.Writer, rs []Result, title string) {
	var sel []Result
	for _, r := range rs {
		if r.Skipped == "" && r.Keys == rs[0].Keys && r.ValueSize == rs[0].ValueSize && r.Dist == "uniform" && r.Workers == 1 {
			sel = append(sel, r)
		}
	}
	var storeNames []string
	seen := map[string]bool{}
	nameW := 0.0
	maxRate := 1.0
	for _, r := range sel {
		if !seen[r.Store] {
			seen[r.Store] = true
			storeNames = append(storeNames, r.Store)
		}
		nameW = max(nameW, textWidth(r.Store, chartFontSize))
		maxRate = max(maxRate, r.OpsPerSec)
	}
	const rowH, barH, plotW, barGap = 16.0, 13.0, 640.0, 4.0
	// The axis starts at 1k ops/s and ends at the decade above the
	// fastest store, at least one decade on.
	decades := max(math.Ceil(math.Log10(maxRate)), 4)
	left := chartMargin + nameW + 8 // the store names end 6 px before the bars
	x := func(rate float64) float64 {
		if rate <= 1e3 {
			return 0
		}
		return (math.Log10(rate) - 3) / (decades - 3) * plotW
	}
	var c svgChart
	c.text(chartMargin, 24, 14, "start", title, "")
	const axisY = 44.0
	top := axisY + 8
	bottom := top + float64(len(ops))*(rowH+float64(len(storeNames))*rowH+8)
	for d := 3.0; d <= decades; d++ {
		gx := left + x(math.Pow(10, d))
		c.line(gx, top-4, gx, bottom, `stroke="#ddd"`)
		c.text(gx, axisY, chartFontSize, "middle", decadeLabel(d), `fill="#555"`)
	}
	// The unit once, after the last decade's label.
	c.text(left+plotW+textWidth(decadeLabel(decades), chartFontSize)/2+6, axisY, chartFontSize, "start", "ops/s", `fill="#555"`)
	y := top
	for _, op := range ops {
		c.text(chartMargin, y+11, chartFontSize, "start", op, `font-weight="bold"`)
		y += rowH
		for i, name := range storeNames {
			for _, r := range sel {
				if r.Op == op && r.Store == name {
					c.text(left-6, y+10, chartFontSize, "end", name, "")
					c.rect(left, y, x(r.OpsPerSec), barH, storeColors[i%len(storeColors)])
					c.text(left+x(r.OpsPerSec)+barGap, y+10, chartFontSize, "start", humanRate(r.OpsPerSec), `fill="#333"`)
				}
			}
			y += rowH
		}
		y += 8
	}
	c.writeTo(w)
}

// storeColors holds a color for each store of the throughput chart, none
// twice for up to 13 stores: with fewer colors than stores, the old chart
// drew Redis pipelined in shmkv's red.
var storeColors = []string{"#d62728", "#ff9896", "#1f77b4", "#aec7e8", "#2ca02c", "#98df8a",
	"#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#ff7f0e"}

// decadeLabel names 10^d ops/s for the axis: 1k, 10k, 100k, 1M, 10M.
func decadeLabel(d float64) string {
	units := []string{"", "k", "M", "G", "T"}
	i := min(int(d)/3, len(units)-1)
	return fmt.Sprintf("%.0f%s", math.Pow(10, d-3*float64(i)), units[i])
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// sortResults orders results by key count, value size, workload, workers,
// then the order stores were run in.
func sortResults(rs []Result, order map[string]int) {
	opIndex := map[string]int{}
	for i, o := range ops {
		opIndex[o] = i
	}
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := rs[i], rs[j]
		switch {
		case a.Keys != b.Keys:
			return a.Keys < b.Keys
		case a.ValueSize != b.ValueSize:
			return a.ValueSize < b.ValueSize
		case a.Op != b.Op:
			return opIndex[a.Op] < opIndex[b.Op]
		case a.Dist != b.Dist:
			return a.Dist < b.Dist
		case a.Workers != b.Workers:
			return a.Workers < b.Workers
		}
		return order[a.Store] < order[b.Store]
	})
}
