package run

import (
	"bufio"
	"io"
	"sync"
	"time"

	"github.com/tappaas/tappaas/steps"
)

// queue carries events from the runner's goroutine to the model. Send never
// blocks. Consecutive Output events of the same step and stream are merged;
// when more than maxLines output lines are pending (the UI is behind) the
// oldest pending output lines are dropped and counted — they are already in
// the log file. Other events are never dropped.
type queue struct {
	mu       sync.Mutex
	pending  []steps.Event
	lines    int
	maxLines int
	dropped  int
	closed   bool
	notify   chan struct{}
	log      *bufio.Writer // the full log (nil: none)
}

func newQueue(maxLines int, log io.Writer) *queue {
	if maxLines <= 0 {
		maxLines = 20000
	}
	q := &queue{maxLines: maxLines, notify: make(chan struct{}, 1)}
	if log != nil {
		q.log = bufio.NewWriterSize(log, 64<<10)
	}
	return q
}

// writeLog appends output lines to the full log. Called with mu held.
func (q *queue) writeLog(o steps.Output) {
	if q.log == nil {
		return
	}
	ts := o.At
	if ts.IsZero() {
		ts = time.Now()
	}
	stamp := ts.Format("15:04:05.000")
	for _, l := range o.Lines {
		q.log.WriteString(stamp)
		q.log.WriteByte(' ')
		q.log.WriteString(o.StepID)
		q.log.WriteByte(' ')
		q.log.WriteString(string(o.Stream))
		q.log.WriteString("| ")
		q.log.WriteString(l)
		q.log.WriteByte('\n')
	}
}

// Send implements the emit side.
func (q *queue) Send(e steps.Event) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	if o, ok := e.(steps.Output); ok {
		o.Lines = append([]string(nil), o.Lines...)
		q.writeLog(o)
		q.lines += len(o.Lines)
		if n := len(q.pending); n > 0 {
			if last, ok := q.pending[n-1].(steps.Output); ok && last.StepID == o.StepID && last.Stream == o.Stream {
				last.Lines = append(last.Lines, o.Lines...)
				last.At = o.At
				q.pending[n-1] = last
				e = nil
			}
		}
		if e != nil {
			q.pending = append(q.pending, o)
		}
		q.trim()
	} else {
		q.pending = append(q.pending, e)
	}
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// trim drops the oldest pending output lines beyond maxLines.
func (q *queue) trim() {
	for i := 0; q.lines > q.maxLines && i < len(q.pending); i++ {
		o, ok := q.pending[i].(steps.Output)
		if !ok || len(o.Lines) == 0 {
			continue
		}
		n := min(q.lines-q.maxLines, len(o.Lines))
		o.Lines = o.Lines[n:]
		q.pending[i] = o
		q.lines -= n
		q.dropped += n
	}
}

// Close ends the stream; pending events are still delivered.
func (q *queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// wait blocks until events are pending or the queue is closed, then takes
// everything pending. closed is true once the queue is closed and drained.
func (q *queue) wait() (evs []steps.Event, dropped int, closed bool) {
	for {
		q.mu.Lock()
		if len(q.pending) > 0 || q.closed {
			evs, q.pending = q.pending, nil
			dropped, q.dropped = q.dropped, 0
			q.lines = 0
			closed = q.closed && len(evs) == 0
			if q.log != nil {
				_ = q.log.Flush()
			}
			q.mu.Unlock()
			if len(evs) > 0 || closed {
				return evs, dropped, closed
			}
			continue
		}
		q.mu.Unlock()
		<-q.notify
	}
}
