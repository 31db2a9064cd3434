package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if job := os.Getenv(workerEnv); job != "" {
		runWorkerProcess(job)
		os.Exit(0)
	}
	if job := os.Getenv(stampedeEnv); job != "" {
		if err := runStampedeWorker(job); err != nil {
			fmt.Fprintln(os.Stderr, "stampede worker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestHitRatio is a short replay of every stream through every cache.
func TestHitRatio(t *testing.T) {
	rs, err := runHitRatio(20_000, 7, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 11 {
		t.Fatalf("%d streams, want 11", len(rs))
	}
	for _, r := range rs {
		if r.entries <= 0 {
			t.Errorf("%s: shmkv held %d entries", r.stream, r.entries)
		}
		for _, name := range hitCacheNames {
			if x, ok := r.ratios[name]; !ok || x < 0 || x > 1 {
				t.Errorf("%s: %s hit ratio %v", r.stream, name, x)
			}
		}
		if strings.HasPrefix(r.stream, "zipf") && !strings.Contains(r.stream, "scan") && (r.optimum <= 0 || r.optimum >= 1) {
			t.Errorf("%s: best possible hit ratio %v", r.stream, r.optimum)
		}
		// A loop over twice the cache defeats LRU entirely.
		if r.stream == "loop over 2x the cache" && r.ratios["golang-lru"] != 0 {
			t.Errorf("LRU hit %v of a loop twice its size", r.ratios["golang-lru"])
		}
	}
	var b strings.Builder
	writeHitRatio(&b, rs, 20_000)
	if !strings.Contains(b.String(), "| zipf 1.0 | 1.0%, ") {
		t.Errorf("report:\n%s", b.String())
	}
	var svg strings.Builder
	writeHitRatioSVG(&svg, rs, 20_000)
	if !strings.HasPrefix(svg.String(), "<svg") || strings.Count(svg.String(), "<rect") != 1+len(rs)*len(hitCacheNames) { // a bar each and the background
		t.Errorf("hit-ratio chart:\n%s", svg.String())
	}
}

// TestZipfOptimum pins the best possible hit ratio on small cases worked
// by hand.
func TestZipfOptimum(t *testing.T) {
	for _, c := range []struct {
		s              float64
		space, entries int
		want           float64
	}{
		{1, 4, 2, (1 + 1.0/2) / (1 + 1.0/2 + 1.0/3 + 1.0/4)},
		{2, 3, 1, 1 / (1 + 1.0/4 + 1.0/9)},
		{1, 5, 5, 1},
	} {
		if got := zipfOptimum(c.s, c.space, c.entries); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("zipfOptimum(%v, %d, %d) = %v, want %v", c.s, c.space, c.entries, got, c.want)
		}
	}
}

// TestStampede: shmkv loads each key once for all the processes; a cache
// per process behind singleflight once per process.
func TestStampede(t *testing.T) {
	const procs, keys = 3, 5
	rs, err := runStampede(procs, 2, keys, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"shmkv": keys, "singleflight": procs * keys}
	for _, r := range rs {
		if r.Loads != want[r.Mode] {
			t.Errorf("%s: %d loads, want %d", r.Mode, r.Loads, want[r.Mode])
		}
	}
	var b strings.Builder
	writeStampede(&b, rs, 2, 5*time.Millisecond)
	if !strings.Contains(b.String(), "| shmkv GetOrLoad (one per host) | 5 | 1.00 |") {
		t.Errorf("report:\n%s", b.String())
	}
}

// TestHarness is a tiny run of every workload on shmkv (in worker
// processes) and on the maps (in goroutines), two runs a cell, through to
// the reports.
func TestHarness(t *testing.T) {
	m := matrix{valueSizes: []int{64}, keyCounts: []int{1000}, dists: []string{"uniform", "zipf"},
		workers: []int{1, 2}, duration: 30 * time.Millisecond, count: 2}
	stores := []store{&shmkvStore{}, &mapStore{}, &shardedMapStore{}}
	rs := run(stores, m, os.Stderr)
	if want := len(stores) * len(ops) * 2 * 2; len(rs) != want {
		t.Fatalf("%d results, want %d", len(rs), want)
	}
	for _, r := range rs {
		if r.Skipped != "" || r.OpsPerSec <= 0 || r.P50 <= 0 || r.P99 < r.P50 || r.BytesPerEntry <= 0 {
			t.Errorf("%+v", r)
		}
		if !(r.OpsMin <= r.OpsPerSec && r.OpsPerSec <= r.OpsMax) || r.OpsMin == r.OpsMax {
			t.Errorf("%s %s: median %v of two runs is not within their range [%v, %v], or they were equal", r.Store, r.Op, r.OpsPerSec, r.OpsMin, r.OpsMax)
		}
	}
	dir := t.TempDir()
	if err := save(dir, rs, "## test"); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "results.md"))
	for _, want := range []string{"| get-hit | zipf | 2 | shmkv | yes |", "| mix-50-50 | uniform | 1 | map+RWMutex | no (goroutines) |",
		"| set | zipf | 2 | sharded map | no (goroutines) |", "×) | ±"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q", want)
		}
	}
	f, _ := os.Open(filepath.Join(dir, "results.csv"))
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(rows) != len(rs)+1 {
		t.Fatalf("results.csv: %d rows, %v", len(rows), err)
	}
	for _, row := range rows[1:] {
		if row[0] == "shmkv" && row[12] != "1" {
			t.Errorf("shmkv's ratio to itself is %q", row[12])
		}
	}
	back, err := readCSV(filepath.Join(dir, "results.csv"))
	if err != nil || len(back) != len(rs) || back[3].OpsPerSec != rs[3].OpsPerSec || back[3].Cell != rs[3].Cell ||
		back[3].OpsMin != rs[3].OpsMin || back[3].OpsMax != rs[3].OpsMax {
		t.Errorf("readCSV gave %d results (%v), first %+v; wrote %+v", len(back), err, back[3], rs[3])
	}
	svg, _ := os.ReadFile(filepath.Join(dir, "throughput.svg"))
	if !strings.HasPrefix(string(svg), "<svg") || !strings.Contains(string(svg), "map+RWMutex") {
		t.Error("throughput.svg is not a chart of the run")
	}
}

func TestSkippedPeer(t *testing.T) {
	if got := installHint("no-such-server-binary", "no-such-package"); got != "not installed: apt-get install no-such-package" {
		t.Errorf("installHint = %q", got)
	}
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 1000; i++ {
		h.add(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}} {
		got := h.quantile(c.q)
		if d := float64(got-c.want) / float64(c.want); d < -0.07 || d > 0.01 {
			t.Errorf("quantile(%v) = %v, want about %v", c.q, got, c.want)
		}
	}
}
