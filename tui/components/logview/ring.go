// Package logview is the run screen's log pane: a bounded ring of lines per
// step, a scrollable view with follow mode, and search.
package logview

import (
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/tappaas/tappaas/steps"
)

// DefaultCap is the number of lines kept in memory per step; the full log is
// in the log file.
const DefaultCap = 5000

// Line is one stored output line.
type Line struct {
	Text   string
	Stream steps.Stream
}

// Ring keeps the last Cap lines appended. Not safe for concurrent use (it
// lives in the model and is touched only from Update).
type Ring struct {
	buf   []Line
	max   int
	start int
	total int64
}

// NewRing returns a ring holding at most capacity lines (<=0: DefaultCap).
func NewRing(capacity int) *Ring {
	if capacity <= 0 {
		capacity = DefaultCap
	}
	return &Ring{buf: make([]Line, 0, min(capacity, 256)), max: capacity}
}

// Append adds lines. Terminal escape sequences are stripped (remote output
// must not drive the operator's terminal) and tabs expanded.
func (r *Ring) Append(stream steps.Stream, lines ...string) {
	for _, l := range lines {
		r.total++
		ln := Line{Text: Clean(l), Stream: stream}
		if len(r.buf) < r.max {
			r.buf = append(r.buf, ln)
			continue
		}
		r.buf[r.start] = ln
		r.start = (r.start + 1) % r.max
	}
}

// Len is the number of lines held.
func (r *Ring) Len() int { return len(r.buf) }

// Total is the number of lines ever appended.
func (r *Ring) Total() int64 { return r.total }

// First is the absolute number (0-based) of the oldest line held.
func (r *Ring) First() int64 { return r.total - int64(len(r.buf)) }

// At returns the i-th held line (0 = oldest).
func (r *Ring) At(i int) Line {
	return r.buf[(r.start+i)%len(r.buf)]
}

// Clean strips escape sequences and control characters from a line.
func Clean(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return s
	}
	s = ansi.Strip(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\t':
			b.WriteString("    ")
		case r < 0x20 || r == 0x7f:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
