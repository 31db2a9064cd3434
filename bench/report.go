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
	for _, r := range sel {
		if !seen[r.Store] {
			seen[r.Store] = true
			storeNames = append(storeNames, r.Store)
		}
	}
	const rowH, barH, left, width = 16, 13, 170, 900
	maxRate := 1.0
	for _, r := range sel {
		maxRate = max(maxRate, r.OpsPerSec)
	}
	decades := math.Ceil(math.Log10(maxRate))
	x := func(rate float64) float64 {
		if rate < 1e3 {
			return 0
		}
		return (math.Log10(rate) - 3) / (decades - 3) * (width - left - 20)
	}
	height := 60 + len(ops)*(len(storeNames)*rowH+24)
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`+"\n", width, height)
	fmt.Fprintf(w, `<text x="10" y="20" font-size="14">%s</text>`+"\n", escape(title))
	for d := 3.0; d <= decades; d++ {
		gx := left + x(math.Pow(10, d))
		fmt.Fprintf(w, `<line x1="%.0f" y1="30" x2="%.0f" y2="%d" stroke="#ddd"/><text x="%.0f" y="42" fill="#666">%s ops/s</text>`+"\n",
			gx, gx, height-10, gx+2, humanRate(math.Pow(10, d)))
	}
	colors := []string{"#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}
	y := 55
	for _, op := range ops {
		fmt.Fprintf(w, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y+10, op)
		y += 16
		for i, name := range storeNames {
			for _, r := range sel {
				if r.Op == op && r.Store == name {
					fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-5, y+10, escape(name))
					fmt.Fprintf(w, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`, left, y, x(r.OpsPerSec), barH, colors[i%len(colors)])
					fmt.Fprintf(w, `<text x="%.1f" y="%d" fill="#333">%s</text>`+"\n", float64(left)+x(r.OpsPerSec)+4, y+10, humanRate(r.OpsPerSec))
				}
			}
			y += rowH
		}
		y += 8
	}
	fmt.Fprintln(w, "</svg>")
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
