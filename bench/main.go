package main

import (
	"bytes"
	"cmp"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// matrix is the set of workloads one run measures.
type matrix struct {
	valueSizes []int
	keyCounts  []int
	dists      []string
	workers    []int
	duration   time.Duration
	count      int // runs of each cell; the median one is reported
}

var (
	quick = matrix{[]int{64}, []int{10_000}, []string{"uniform"}, []int{1, 2}, 300 * time.Millisecond, 5}
	full  = matrix{[]int{64, 1024}, []int{10_000, 1_000_000}, []string{"uniform", "zipf"}, []int{1, 2, 4}, 500 * time.Millisecond, 3}
)

func main() {
	if job := os.Getenv(workerEnv); job != "" {
		runWorkerProcess(job)
		return
	}
	if job := os.Getenv(nearEnv); job != "" {
		if err := runNearWorker(job); err != nil {
			fmt.Fprintln(os.Stderr, "bench: near worker:", err)
			os.Exit(1)
		}
		return
	}
	if job := os.Getenv(stampedeEnv); job != "" {
		if err := runStampedeWorker(job); err != nil {
			fmt.Fprintln(os.Stderr, "bench: stampede worker:", err)
			os.Exit(1)
		}
		return
	}
	fullRun := flag.Bool("full", false, "every workload (what RESULTS.md holds); without it, a quick run")
	only := flag.String("stores", "", "comma-separated store names to run (default: all)")
	dur := flag.Duration("duration", 0, "how long each measurement runs (default 300ms quick, 500ms full)")
	out := flag.String("out", "results", "folder for the Markdown, CSV and SVG files (with -hitratio, the SVG only)")
	fromCSV := flag.String("report", "", "write the reports again from this results.csv, running nothing")
	header := flag.String("header", "", "with -report, the header line of the Markdown")
	count := flag.Int("count", 0, "runs of each measurement, of which the median is reported (default 5 quick, 3 full)")
	stampede := flag.Int("stampede", 0, "instead of the throughput run: this many processes miss the same keys at once; count the loads")
	hitratio := flag.Int("hitratio", 0, "instead of the throughput run: replay key streams of this many requests through shmkv and the in-process caches, and report hit ratios")
	near := flag.Int("near", 0, "instead of the throughput run: this many processes read keys through redisnear and through rueidis's client-side cache, against a redis-server of the run's own")
	charts := flag.String("charts", "", "draw throughput.svg and hitratio.svg again from the figures recorded in this RESULTS.md, running nothing")
	flag.Parse()
	if *charts != "" {
		if err := drawCharts(*charts, *out); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *near > 0 {
		r, err := runNear(*near)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		writeNear(os.Stdout, r)
		return
	}
	if *hitratio > 0 {
		rs, err := runHitRatio(*hitratio, 1, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		writeHitRatio(os.Stdout, rs, *hitratio)
		var svg bytes.Buffer
		writeHitRatioSVG(&svg, rs, *hitratio)
		err = os.MkdirAll(*out, 0o755)
		if err == nil {
			err = os.WriteFile(filepath.Join(*out, "hitratio.svg"), svg.Bytes(), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *stampede > 0 {
		const goroutines, keys, loadTime = 4, 100, 5 * time.Millisecond
		rs, err := runStampede(*stampede, goroutines, keys, loadTime)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		writeStampede(os.Stdout, rs, goroutines, loadTime)
		return
	}
	if *fromCSV != "" {
		rs, err := readCSV(*fromCSV)
		if err == nil {
			writeMarkdown(os.Stdout, rs, *header)
			err = save(*out, rs, *header)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	m := quick
	if *fullRun {
		m = full
	}
	if *dur > 0 {
		m.duration = *dur
	}
	if *count > 0 {
		m.count = *count
	}
	// More workers than processors measure the scheduler, not the store.
	m.workers = slices.DeleteFunc(m.workers, func(w int) bool { return w > max(runtime.NumCPU(), 1) })
	var stores []store
	for _, s := range allStores() {
		if *only == "" || strings.Contains(","+*only+",", ","+s.name()+",") {
			stores = append(stores, s)
		}
	}
	tearDownOnSignal()
	rs := run(stores, m, os.Stderr)
	head := fmt.Sprintf("## shmkv benchmark, %s\n\n%s, %d CPUs, %s, %s; %v per measurement, the median of %d.",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), cpuModel(), runtime.NumCPU(), runtime.Version(),
		runtime.GOOS+"/"+runtime.GOARCH, m.duration, m.count)
	writeMarkdown(os.Stdout, rs, head)
	if err := save(*out, rs, head); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// measuring is the store whose setup has run and whose teardown has not.
var measuring struct {
	sync.Mutex
	st store
}

// tearDownOnSignal makes an interrupted or terminated harness tear down
// the store it is measuring before it exits, so that no table, directory
// in /dev/shm or server process outlives it.
func tearDownOnSignal() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		measuring.Lock() // held until exit: run sets nothing up after this
		if measuring.st != nil {
			measuring.st.teardown()
		}
		os.Exit(130)
	}()
}

func setMeasuring(st store) {
	measuring.Lock()
	measuring.st = st
	measuring.Unlock()
}

// run measures every store over the matrix, setting each store up once per
// key count and value size.
func run(stores []store, m matrix, log *os.File) []Result {
	var rs []Result
	order := map[string]int{}
	for i, s := range stores {
		order[s.name()] = i
	}
	for _, st := range stores {
		for _, keys := range m.keyCounts {
			for _, vs := range m.valueSizes {
				cells := cellsFor(st.name(), keys, vs, m)
				if why := st.available(); why != "" {
					for _, c := range cells {
						rs = append(rs, Result{Cell: c, Shareable: st.shareable(), Skipped: why})
					}
					fmt.Fprintf(log, "%s: skipped, %s\n", st.name(), why)
					continue
				}
				fmt.Fprintf(log, "%s: loading %d keys of %d bytes\n", st.name(), keys, vs)
				setMeasuring(st)
				target, err := st.setup(keys, vs)
				if err != nil {
					fmt.Fprintf(log, "%s: setup: %v\n", st.name(), err)
					for _, c := range cells {
						rs = append(rs, Result{Cell: c, Shareable: st.shareable(), Skipped: "setup failed: " + err.Error()})
					}
					st.teardown()
					setMeasuring(nil)
					continue
				}
				perEntry := st.bytesPerEntry(keys)
				for _, c := range cells {
					r, err := measureMedian(st, target, c, m)
					if err != nil {
						r = Result{Cell: c, Shareable: st.shareable(), Skipped: "failed: " + err.Error()}
					}
					r.BytesPerEntry = perEntry
					fmt.Fprintf(log, "  %-22s %-10s %-8s %d: %s ops/s\n", st.name(), c.Op, c.Dist, c.Workers, humanRate(r.OpsPerSec))
					rs = append(rs, r)
				}
				st.teardown()
				setMeasuring(nil)
			}
		}
	}
	sortResults(rs, order)
	return rs
}

// measureMedian measures c m.count times and returns the run of median
// throughput, with that run's latencies and the lowest and highest
// throughput of all: one 300 ms sample on a shared machine can be off by a
// third.
func measureMedian(st store, target string, c Cell, m matrix) (Result, error) {
	runs := make([]Result, 0, max(m.count, 1))
	for range cap(runs) {
		r, err := measure(st, target, c, m.duration)
		if err != nil {
			return r, err
		}
		runs = append(runs, r)
	}
	slices.SortFunc(runs, func(a, b Result) int { return cmp.Compare(a.OpsPerSec, b.OpsPerSec) })
	r := runs[len(runs)/2]
	r.OpsMin, r.OpsMax = runs[0].OpsPerSec, runs[len(runs)-1].OpsPerSec
	return r, nil
}

func cellsFor(store string, keys, valueSize int, m matrix) []Cell {
	var cs []Cell
	for _, op := range ops {
		for _, d := range m.dists {
			for _, w := range m.workers {
				cs = append(cs, Cell{Store: store, Op: op, ValueSize: valueSize, Keys: keys, Dist: d, Workers: w})
			}
		}
	}
	return cs
}

// save writes results.md, results.csv and throughput.svg into dir.
func save(dir string, rs []Result, header string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var md, csvb, svg bytes.Buffer
	writeMarkdown(&md, rs, header)
	if err := writeCSV(&csvb, rs); err != nil {
		return err
	}
	writeSVG(&svg, rs, throughputTitle(rs))
	for name, b := range map[string][]byte{"results.md": md.Bytes(), "results.csv": csvb.Bytes(), "throughput.svg": svg.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// cpuModel reads the processor's name, for the report's header.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if name, ok := strings.CutPrefix(line, "model name"); ok {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
		}
	}
	return "unknown CPU"
}
