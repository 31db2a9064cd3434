package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// The charts name no font but sans-serif, so a viewer draws them in
// whatever its system has: DejaVu Sans on most Linux, Helvetica or Arial
// elsewhere. The layout sizes text by the widest of these, DejaVu Sans, in
// its bold face (wider than the book face in every glyph), so that a label
// fits in any of them.

// dejaVuBoldWidth holds the advance widths of DejaVu Sans Bold, in ems, of
// the printable ASCII characters from ' ' (0x20) to '~' (0x7e), read from
// the font's hmtx table.
var dejaVuBoldWidth = [95]float64{
	0.348, 0.456, 0.521, 0.838, 0.696, 1.002, 0.872, 0.306, 0.457, 0.457, 0.523, 0.838, 0.380, 0.415, 0.380, 0.365,
	0.696, 0.696, 0.696, 0.696, 0.696, 0.696, 0.696, 0.696, 0.696, 0.696, 0.400, 0.400, 0.838, 0.838, 0.838, 0.580,
	1.000, 0.774, 0.762, 0.734, 0.830, 0.683, 0.683, 0.821, 0.837, 0.372, 0.372, 0.775, 0.637, 0.995, 0.837, 0.850,
	0.733, 0.850, 0.770, 0.720, 0.682, 0.812, 0.774, 1.103, 0.771, 0.724, 0.725, 0.457, 0.365, 0.457, 0.838, 0.500,
	0.500, 0.675, 0.716, 0.593, 0.716, 0.678, 0.435, 0.716, 0.712, 0.343, 0.343, 0.665, 0.343, 1.042, 0.712, 0.687,
	0.716, 0.716, 0.493, 0.595, 0.478, 0.712, 0.652, 0.924, 0.645, 0.652, 0.582, 0.712, 0.365, 0.712, 0.838,
}

// Vertical extent of a line of text around its baseline, in ems: DejaVu
// Sans rises 0.93 em and descends 0.24, more than Helvetica or Arial.
const (
	textAscent  = 0.95
	textDescent = 0.25
)

// textWidth is how wide s is at size px, at most: every character outside
// printable ASCII (µ, ×, —) counts a full em, as wide as any of them is.
func textWidth(s string, size float64) float64 {
	w := 0.0
	for _, c := range s {
		if c >= ' ' && c <= '~' {
			w += dejaVuBoldWidth[c-' ']
		} else {
			w += 1
		}
	}
	return w * size
}

// box is a rectangle in the chart's coordinates.
type box struct{ x0, y0, x1, y1 float64 }

func (a box) overlaps(b box) bool {
	return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1
}

// textBox is the box that text s takes when drawn at (x, y) with the given
// size and text-anchor ("start", "middle" or "end").
func textBox(s string, x, y, size float64, anchor string) box {
	w := textWidth(s, size)
	switch anchor {
	case "middle":
		x -= w / 2
	case "end":
		x -= w
	}
	return box{x, y - textAscent*size, x + w, y + textDescent*size}
}

// svgChart gathers a chart's elements and the extent of what they draw,
// so that the canvas is made as large as its content, with a margin on
// every side, and nothing is cut off at an edge.
type svgChart struct {
	body    strings.Builder
	extent  box
	started bool
}

// chartFontSize is the size of the text of a chart, unless told otherwise.
const chartFontSize = 11

// chartMargin is the blank space around a chart's content.
const chartMargin = 10

func (c *svgChart) grow(b box) {
	if !c.started {
		c.extent, c.started = b, true
		return
	}
	c.extent = box{min(c.extent.x0, b.x0), min(c.extent.y0, b.y0), max(c.extent.x1, b.x1), max(c.extent.y1, b.y1)}
}

// text draws s with its baseline at y; attrs are further attributes
// (fill, font-weight), and a bold face needs no extra room as textWidth
// measures the bold face.
func (c *svgChart) text(x, y, size float64, anchor, s, attrs string) {
	c.grow(textBox(s, x, y, size, anchor))
	fmt.Fprintf(&c.body, `<text x="%.1f" y="%.1f"`, x, y)
	if size != chartFontSize {
		fmt.Fprintf(&c.body, ` font-size="%g"`, size)
	}
	if anchor != "start" {
		fmt.Fprintf(&c.body, ` text-anchor="%s"`, anchor)
	}
	if attrs != "" {
		c.body.WriteString(" " + attrs)
	}
	fmt.Fprintf(&c.body, ">%s</text>\n", escape(s))
}

func (c *svgChart) rect(x, y, w, h float64, fill string) {
	c.grow(box{x, y, x + w, y + h})
	fmt.Fprintf(&c.body, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", x, y, w, h, fill)
}

// line draws a segment; attrs give its stroke.
func (c *svgChart) line(x1, y1, x2, y2 float64, attrs string) {
	c.grow(box{min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)})
	fmt.Fprintf(&c.body, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" %s/>`+"\n", x1, y1, x2, y2, attrs)
}

// writeTo writes the chart as an SVG document whose viewBox holds its
// content and a margin around it.
func (c *svgChart) writeTo(w io.Writer) {
	e := c.extent
	x0, y0 := math.Floor(e.x0-chartMargin), math.Floor(e.y0-chartMargin)
	width, height := math.Ceil(e.x1+chartMargin)-x0, math.Ceil(e.y1+chartMargin)-y0
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="%.0f %.0f %.0f %.0f" font-family="sans-serif" font-size="%d">`+"\n",
		width, height, x0, y0, width, height, chartFontSize)
	fmt.Fprintf(w, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="#fff"/>`+"\n", x0, y0, width, height)
	io.WriteString(w, c.body.String())
	fmt.Fprintln(w, "</svg>")
}

// thousands writes n with a comma between each three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
