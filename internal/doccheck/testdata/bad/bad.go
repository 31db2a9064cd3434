// Package bad has documentation that says what it should not: bad.go
// holds it, and maxSize bounds it. A widget here is English, and so is
// every helper: words of prose that happen to name identifiers.
package bad

const maxSize = 10

// Limit is the largest gizmo, a word declared below and not said to be
// English. It is at most fallocate(2) bytes, which names a system call.
const Limit = 3

// Thing does things: see helper, and count() counts them. It has a
// field below, whose comment is checked too.
type Thing struct {
	// Size is at most maxSize.
	Size  int
	count int
}

// Do uses the widget: w.widget, as code, is reported even though widget
// is English here.
func (t *Thing) Do() { helper() }

func (t *Thing) widget() {}

func helper() {}

type gizmo struct{}

var _ gizmo
