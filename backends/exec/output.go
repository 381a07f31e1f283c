package exec

import (
	"bytes"
	"sync"
)

// DefaultMaxOutput is the default cap on the captured output of one stream.
const DefaultMaxOutput = 1 << 20

// maxLine bounds one delivered line; longer lines are split.
const maxLine = 64 << 10

// LineWriter is an io.Writer that splits what is written into lines, hands
// each to a callback and keeps the last max bytes for Result. It is used by
// the executors; other backends may use it too. Safe for concurrent use.
type LineWriter struct {
	mu      sync.Mutex
	fn      func(string)
	max     int
	partial []byte
	tail    []byte
}

// NewLineWriter returns a LineWriter calling fn (may be nil) per line and
// keeping the last max bytes (<= 0: DefaultMaxOutput).
func NewLineWriter(max int, fn func(string)) *LineWriter {
	if max <= 0 {
		max = DefaultMaxOutput
	}
	return &LineWriter{fn: fn, max: max}
}

// Write implements io.Writer; it never fails.
func (w *LineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.keep(p)
	if w.fn == nil {
		return len(p), nil
	}
	data := p
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			w.partial = append(w.partial, data...)
			for len(w.partial) >= maxLine {
				w.emit(w.partial[:maxLine])
				w.partial = append(w.partial[:0], w.partial[maxLine:]...)
			}
			break
		}
		if len(w.partial) > 0 {
			w.partial = append(w.partial, data[:i]...)
			w.emit(w.partial)
			w.partial = w.partial[:0]
		} else {
			w.emit(data[:i])
		}
		data = data[i+1:]
	}
	return len(p), nil
}

func (w *LineWriter) emit(line []byte) {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	w.fn(string(line))
}

func (w *LineWriter) keep(p []byte) {
	if len(p) >= w.max {
		w.tail = append(w.tail[:0], p[len(p)-w.max:]...)
		return
	}
	if over := len(w.tail) + len(p) - w.max; over > 0 {
		w.tail = append(w.tail[:0], w.tail[over:]...)
	}
	w.tail = append(w.tail, p...)
}

// Flush delivers a final unterminated line, if any.
func (w *LineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fn != nil && len(w.partial) > 0 {
		w.emit(w.partial)
		w.partial = w.partial[:0]
	}
}

// String returns the captured tail.
func (w *LineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return string(w.tail)
}
