package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// svgShapes is what checkChartLayout reads of an SVG chart: the area its
// viewBox shows, and the boxes of its text, bars and foreground lines.
type svgShapes struct {
	view         box
	texts        []svgTextBox
	rects, lines []box
}

type svgTextBox struct {
	s string
	b box
}

// readSVGShapes parses a chart as the generators write it. A text's box
// comes from textBox, the estimate the generators lay out by; an SVG with
// no viewBox shows 0 0 width height. Grid lines (stroke #ddd) and the white
// background are left out: text may lie over them.
func readSVGShapes(t *testing.T, svg []byte) svgShapes {
	t.Helper()
	var sh svgShapes
	dec := xml.NewDecoder(bytes.NewReader(svg))
	fontSize := 0.0
	var open *xml.StartElement
	var content strings.Builder
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch el := tok.(type) {
		case xml.StartElement:
			a := map[string]string{}
			for _, at := range el.Attr {
				a[at.Name.Local] = at.Value
			}
			num := func(name string) float64 {
				v, err := strconv.ParseFloat(a[name], 64)
				if err != nil && a[name] != "" {
					t.Fatalf("<%s %s=%q>: %v", el.Name.Local, name, a[name], err)
				}
				return v
			}
			switch el.Name.Local {
			case "svg":
				fontSize = num("font-size")
				if vb := strings.Fields(a["viewBox"]); len(vb) == 4 {
					var v [4]float64
					for i := range vb {
						v[i], _ = strconv.ParseFloat(vb[i], 64)
					}
					sh.view = box{v[0], v[1], v[0] + v[2], v[1] + v[3]}
				} else {
					sh.view = box{0, 0, num("width"), num("height")}
				}
			case "text":
				e := el.Copy()
				open = &e
				content.Reset()
			case "rect":
				if a["fill"] != "#fff" {
					sh.rects = append(sh.rects, box{num("x"), num("y"), num("x") + num("width"), num("y") + num("height")})
				}
			case "line":
				if a["stroke"] != "#ddd" {
					half := max(num("stroke-width"), 1) / 2
					x1, y1, x2, y2 := num("x1"), num("y1"), num("x2"), num("y2")
					sh.lines = append(sh.lines, box{min(x1, x2) - half, min(y1, y2), max(x1, x2) + half, max(y1, y2)})
				}
			}
		case xml.CharData:
			if open != nil {
				content.Write(el)
			}
		case xml.EndElement:
			if el.Name.Local != "text" || open == nil {
				continue
			}
			a := map[string]string{"font-size": strconv.FormatFloat(fontSize, 'g', -1, 64), "text-anchor": "start"}
			for _, at := range open.Attr {
				a[at.Name.Local] = at.Value
			}
			x, _ := strconv.ParseFloat(a["x"], 64)
			y, _ := strconv.ParseFloat(a["y"], 64)
			size, _ := strconv.ParseFloat(a["font-size"], 64)
			s := content.String()
			sh.texts = append(sh.texts, svgTextBox{s, textBox(s, x, y, size, a["text-anchor"])})
			open = nil
		}
	}
	if sh.view == (box{}) || len(sh.texts) == 0 {
		t.Fatalf("not a chart:\n%s", svg)
	}
	return sh
}

// checkChartLayout fails t for each text of the chart that would be cut
// off at an edge, or would cover another text, a bar or the dashed line of
// a best possible hit ratio, by the generators' own estimate of text
// extents.
func checkChartLayout(t *testing.T, name string, svg []byte) {
	t.Helper()
	sh := readSVGShapes(t, svg)
	bad := 0
	report := func(format string, args ...any) {
		t.Helper()
		if bad++; bad <= 20 {
			t.Errorf("%s: "+format, append([]any{name}, args...)...)
		}
	}
	v := sh.view
	for i, a := range sh.texts {
		if a.b.x0 < v.x0 || a.b.x1 > v.x1 || a.b.y0 < v.y0 || a.b.y1 > v.y1 {
			report("%q spans x %.1f–%.1f, y %.1f–%.1f, outside the view x %.0f–%.0f, y %.0f–%.0f",
				a.s, a.b.x0, a.b.x1, a.b.y0, a.b.y1, v.x0, v.x1, v.y0, v.y1)
		}
		for _, b := range sh.texts[i+1:] {
			if a.b.overlaps(b.b) {
				report("%q %v overlaps %q %v", a.s, a.b, b.s, b.b)
			}
		}
		for _, r := range sh.rects {
			if a.b.overlaps(r) {
				report("%q %v overlaps a bar %v", a.s, a.b, r)
			}
		}
		for _, l := range sh.lines {
			if a.b.overlaps(l) {
				report("%q %v is crossed by a line %v", a.s, a.b, l)
			}
		}
	}
	if bad > 20 {
		t.Errorf("%s: %d faults in all", name, bad)
	}
}

// TestChartLayoutRecorded draws both charts from the figures RESULTS.md
// records and checks their layout.
func TestChartLayoutRecorded(t *testing.T) {
	b, err := os.ReadFile("RESULTS.md")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := readThroughputMarkdown(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var svg bytes.Buffer
	writeSVG(&svg, rs, throughputTitle(rs))
	checkChartLayout(t, "throughput", svg.Bytes())
	hs, n, err := readHitRatioMarkdown(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	svg.Reset()
	writeHitRatioSVG(&svg, hs, n)
	checkChartLayout(t, "hit ratio", svg.Bytes())
}

// TestChartLayoutEdges checks the layout with figures at the edges of
// each chart: long names, the fastest rate at a decade and just under one,
// a rate below the axis, hit ratios of 0 and 100%, and a bar just short of,
// on and beyond its best possible hit ratio.
func TestChartLayoutEdges(t *testing.T) {
	for _, top := range []float64{1e7, 99.99e6, 1.01e7, 500, 2e3} {
		var rs []Result
		for _, op := range ops {
			for i, store := range []string{"shmkv", "a store with a rather long name, to be sure it fits (1)", "Redis pipelined 64", "tiny"} {
				rate := []float64{top, top / 3, 999, 1e3 + 1}[i]
				rs = append(rs, Result{Cell: Cell{Store: store, Op: op, Keys: 1000, ValueSize: 64, Dist: "uniform", Workers: 1}, OpsPerSec: rate})
			}
		}
		var svg bytes.Buffer
		writeSVG(&svg, rs, throughputTitle(rs))
		checkChartLayout(t, fmt.Sprintf("throughput, top %v", top), svg.Bytes())
	}
	var hs []hitResult
	for _, opt := range []float64{0.19, 0.5, 0.999, 1, 0.02, 0} {
		for _, d := range []float64{-0.012, -0.006, -0.002, 0, 0.003, 0.01, 0.05} {
			h := hitResult{stream: "zipf 1.0 over a key space with a long description", share: 0.1, entries: 70140, optimum: opt, ratios: map[string]float64{}}
			for i, name := range hitCacheNames {
				h.ratios[name] = min(max(opt+d*float64(i+1), 0), 1)
			}
			hs = append(hs, h)
		}
	}
	hs = append(hs, hitResult{stream: "all", share: 1, entries: 1, ratios: map[string]float64{"shmkv": 1, "otter": 0, "ristretto": 0.999, "golang-lru": 0.5}})
	var svg bytes.Buffer
	writeHitRatioSVG(&svg, hs, 123_456_789)
	checkChartLayout(t, "hit ratio", svg.Bytes())
}

// TestCommittedChartsSVG checks that the charts in this folder are what
// the generators draw from the figures in RESULTS.md, and so laid out as
// checked above.
func TestCommittedChartsSVG(t *testing.T) {
	dir := t.TempDir()
	if err := drawCharts("RESULTS.md", dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"throughput.svg", "hitratio.svg"} {
		committed, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		checkChartLayout(t, name, committed)
		drawn, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(committed, drawn) {
			t.Errorf("%s is not what `go run . -charts RESULTS.md -out .` draws; run that", name)
		}
	}
}

func TestReadChartFiguresMarkdown(t *testing.T) {
	b, err := os.ReadFile("RESULTS.md")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := readThroughputMarkdown(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// The first row of the full run and one further on, as RESULTS.md has them.
	want0 := Result{Cell: Cell{Store: "shmkv", Op: "get-hit", ValueSize: 64, Keys: 10000, Dist: "uniform", Workers: 1}, Shareable: true, OpsPerSec: 6.71e6}
	if len(rs) == 0 || rs[0] != want0 {
		t.Fatalf("first result %+v, want %+v", rs[0], want0)
	}
	var bbolt []Result
	for _, r := range rs {
		if r.Store == "bbolt" && r.Op == "get-hit" && r.Dist == "uniform" && r.Workers == 1 && r.Keys == 10000 && r.ValueSize == 64 {
			bbolt = append(bbolt, r)
		}
	}
	if len(bbolt) != 1 || bbolt[0].OpsPerSec != 348.1e3 || bbolt[0].Shareable {
		t.Errorf("bbolt get-hit: %+v", bbolt)
	}
	hs, n, err := readHitRatioMarkdown(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if n != 5_000_000 || len(hs) != 11 {
		t.Fatalf("%d requests, %d streams", n, len(hs))
	}
	h := hs[4]
	if h.stream != "zipf 1.0" || h.share != 0.01 || h.entries != 8700 || h.ratios["shmkv"] != 0.657 || h.ratios["golang-lru"] != 0.575 || h.optimum != 0.67 {
		t.Errorf("zipf 1.0 at 1%%: %+v", h)
	}
	if last := hs[10]; last.stream != "zipf 1.0, scan half way" || last.optimum != 0 || last.ratios["otter"] != 0.625 {
		t.Errorf("last stream: %+v", last)
	}
	if got := thousands(5000000); got != "5,000,000" {
		t.Errorf("thousands(5000000) = %q", got)
	}
	if got := thousands(999); got != "999" {
		t.Errorf("thousands(999) = %q", got)
	}
}
