package run

import (
	"bufio"
	"io"
	"sync"
	"time"

	"github.com/tappaas/tappaas/steps"
)

// stepLog writes every output line to the full log (the log file) as the
// runner emits it, before the event queue may drop lines the UI is too
// slow for. Safe for concurrent steps.
type stepLog struct {
	mu sync.Mutex
	w  *bufio.Writer // nil: no log
}

func newStepLog(w io.Writer) *stepLog {
	if w == nil {
		return &stepLog{}
	}
	return &stepLog{w: bufio.NewWriterSize(w, 64<<10)}
}

// tee returns the emit function for the runner: log, then queue.
func (l *stepLog) tee(q *steps.Queue) func(steps.Event) {
	return func(e steps.Event) {
		if o, ok := e.(steps.Output); ok {
			l.write(o)
		}
		q.Send(e)
	}
}

func (l *stepLog) write(o steps.Output) {
	if l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := o.At
	if ts.IsZero() {
		ts = time.Now()
	}
	stamp := ts.Format("15:04:05.000")
	for _, s := range o.Lines {
		l.w.WriteString(stamp)
		l.w.WriteByte(' ')
		l.w.WriteString(o.StepID)
		l.w.WriteByte(' ')
		l.w.WriteString(string(o.Stream))
		l.w.WriteString("| ")
		l.w.WriteString(s)
		l.w.WriteByte('\n')
	}
}

// flush writes what is buffered to the log file.
func (l *stepLog) flush() {
	if l.w == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_ = l.w.Flush()
}
