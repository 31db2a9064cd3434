package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The charts in this folder are drawn from the figures RESULTS.md records,
// so that they can be drawn again, when the drawing changes, without a
// run of the benchmarks: `go run . -charts RESULTS.md -out .`. Both
// readers take the first table of their kind in the file, the newest run.

// mdCells splits a Markdown table row into its trimmed cells, or returns
// nil if line is not a row.
func mdCells(line string) []string {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "|") || !strings.HasSuffix(line, "|") || len(line) < 2 {
		return nil
	}
	cells := strings.Split(line[1:len(line)-1], "|")
	for i := range cells {
		cells[i] = strings.TrimSpace(cells[i])
	}
	return cells
}

// parseRate reads a rate as humanRate writes it: 950, 348.1k, 6.71M.
func parseRate(s string) (float64, error) {
	mul := 1.0
	switch {
	case strings.HasSuffix(s, "k"):
		mul, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mul, s = 1e6, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	return v * mul, err
}

// readThroughputMarkdown reads the throughput tables of the first run in a
// RESULTS.md: the tables under "### N keys, V-byte values" headings up to
// the next "## " section. Only what the chart draws is read: the workload,
// the store and its ops/s, as rounded in the table.
func readThroughputMarkdown(r io.Reader) ([]Result, error) {
	var rs []Result
	keys, value := 0, 0
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") && len(rs) > 0 {
			break
		}
		if h, ok := strings.CutPrefix(line, "### "); ok {
			keys, value = 0, 0
			fmt.Sscanf(h, "%d keys, %d-byte values", &keys, &value)
			continue
		}
		cells := mdCells(line)
		if keys == 0 || len(cells) != 11 || cells[0] == "workload" || strings.HasPrefix(cells[0], "---") {
			continue
		}
		workers, err := strconv.Atoi(cells[2])
		if err != nil {
			return nil, fmt.Errorf("row %q: procs: %v", line, err)
		}
		res := Result{Cell: Cell{Store: cells[3], Op: cells[0], ValueSize: value, Keys: keys, Dist: cells[1], Workers: workers},
			Shareable: cells[4] == "yes"}
		if why, ok := strings.CutPrefix(cells[5], "skipped: "); ok {
			res.Skipped = why
		} else if res.OpsPerSec, err = parseRate(strings.Fields(cells[5] + " ")[0]); err != nil {
			return nil, fmt.Errorf("row %q: ops/s: %v", line, err)
		}
		rs = append(rs, res)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("no throughput table")
	}
	return rs, nil
}

// readHitRatioMarkdown reads the first hit-ratio table of a RESULTS.md, as
// writeHitRatio wrote it, and the number of requests a stream from the
// line above it.
func readHitRatioMarkdown(r io.Reader) (rs []hitResult, n int, err error) {
	var names []string // the caches, by column; "" for a column that is none
	optCol := -1
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if names == nil {
			if rest, ok := strings.CutPrefix(line, "Cache-aside over "); ok {
				fmt.Sscanf(rest, "%d requests", &n)
			}
		}
		cells := mdCells(line)
		switch {
		case len(cells) == 0:
			if len(rs) > 0 {
				return rs, n, nil
			}
			continue
		case len(cells) > 2 && cells[0] == "stream" && strings.HasPrefix(cells[1], "cache (target share"):
			names = make([]string, len(cells))
			for i, h := range cells[2:] {
				name, _, _ := strings.Cut(h, " (")
				if name == "best possible" {
					optCol = i + 2
				} else {
					names[i+2] = name
				}
			}
			continue
		case names == nil || strings.HasPrefix(cells[0], "---"):
			continue
		}
		if len(cells) != len(names) {
			return nil, 0, fmt.Errorf("row %q: %d cells, want %d", line, len(cells), len(names))
		}
		h := hitResult{stream: cells[0], ratios: map[string]float64{}}
		if _, err := fmt.Sscanf(cells[1], "%g%%, %d", &h.share, &h.entries); err != nil {
			return nil, 0, fmt.Errorf("row %q: cache: %v", line, err)
		}
		h.share /= 100
		pct := func(s string) (float64, error) {
			v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
			return v / 100, err
		}
		for i, name := range names {
			if name == "" {
				continue
			}
			if h.ratios[name], err = pct(cells[i]); err != nil {
				return nil, 0, fmt.Errorf("row %q: %s: %v", line, name, err)
			}
		}
		if optCol >= 0 && cells[optCol] != "" {
			if h.optimum, err = pct(cells[optCol]); err != nil {
				return nil, 0, fmt.Errorf("row %q: best possible: %v", line, err)
			}
		}
		rs = append(rs, h)
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	if len(rs) == 0 || n == 0 {
		return nil, 0, fmt.Errorf("no hit-ratio table")
	}
	return rs, n, nil
}

// throughputTitle is the title of the throughput chart of rs.
func throughputTitle(rs []Result) string {
	return fmt.Sprintf("Throughput, %d keys, %d-byte values, uniform, one worker (log scale)", rs[0].Keys, rs[0].ValueSize)
}

// drawCharts draws throughput.svg and hitratio.svg into dir from the
// figures recorded in the RESULTS.md at path.
func drawCharts(path, dir string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	rs, err := readThroughputMarkdown(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	hs, n, err := readHitRatioMarkdown(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	var tp, hr bytes.Buffer
	writeSVG(&tp, rs, throughputTitle(rs))
	writeHitRatioSVG(&hr, hs, n)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "throughput.svg"), tp.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "hitratio.svg"), hr.Bytes(), 0o644)
}
