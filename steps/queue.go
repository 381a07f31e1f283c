package steps

import (
	"fmt"
	"sync"
)

// Sink receives the runner's events. Send must not block for long: the
// runner calls it from the goroutine running a step.
type Sink interface{ Send(Event) }

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Send implements Sink.
func (f SinkFunc) Send(e Event) { f(e) }

// Queue is a Sink that decouples the runner from a slow consumer (the TUI).
// Send never blocks. Output lines are coalesced (consecutive lines of the
// same step and stream travel in one Output) and, when more than the
// buffer's worth of lines waits, the oldest lines are dropped and replaced
// by a "[N lines dropped]" marker at the head of that step's next delivered
// Output. Every other event (PlanStarted, StepStarted, StepDone, StepFailed,
// Ask, PlanDone, and Progress) is delivered, in order; only Progress may be
// superseded by a newer Progress of the same step still waiting. Read
// events one by one from C until it is closed (after Close and the queue
// drained), or in batches with Wait (the TUI); not both.
type Queue struct {
	max     int
	out     chan Event
	outOnce sync.Once

	mu      sync.Mutex
	pending []*qitem
	lines   int // Output lines waiting (markers excluded)
	total   int // lines dropped since the start
	closed  bool
	wake    chan struct{}
}

type qitem struct {
	ev  Event
	out *Output // when ev is an Output (the item is mutable while waiting)
}

// NewQueue returns a running Queue that holds at most maxBufferedOutput
// waiting Output lines (<= 0 means 10,000).
func NewQueue(maxBufferedOutput int) *Queue {
	if maxBufferedOutput <= 0 {
		maxBufferedOutput = 10000
	}
	return &Queue{max: maxBufferedOutput, wake: make(chan struct{}, 1)}
}

// C returns the channel of events; it is closed after Close once every
// waiting event has been delivered.
func (q *Queue) C() <-chan Event {
	q.outOnce.Do(func() {
		q.out = make(chan Event)
		go q.pump()
	})
	return q.out
}

// Dropped returns how many Output lines were dropped so far.
func (q *Queue) Dropped() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.total
}

// Close stops accepting events (later Sends are ignored); C is closed once
// the waiting ones are delivered.
func (q *Queue) Close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.signal()
}

func (q *Queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Send implements Sink; it never blocks.
func (q *Queue) Send(e Event) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	switch ev := e.(type) {
	case Output:
		q.addOutput(ev)
	case Progress:
		replaced := false
		for i := len(q.pending) - 1; i >= 0; i-- {
			if p, ok := q.pending[i].ev.(Progress); ok && p.StepID == ev.StepID {
				// Supersede only when nothing but Output/Progress
				// follows it, so order with terminal events holds.
				ok := true
				for _, later := range q.pending[i+1:] {
					switch later.ev.(type) {
					case Output, Progress:
					default:
						ok = false
					}
				}
				if ok {
					q.pending[i].ev = ev
					replaced = true
				}
				break
			}
		}
		if !replaced {
			q.pending = append(q.pending, &qitem{ev: ev})
		}
	default:
		q.pending = append(q.pending, &qitem{ev: e})
	}
	q.mu.Unlock()
	q.signal()
}

// addOutput (q.mu held) coalesces and enforces the line budget.
func (q *Queue) addOutput(o Output) {
	if n := len(q.pending); n > 0 {
		if last := q.pending[n-1].out; last != nil && last.StepID == o.StepID && last.Stream == o.Stream {
			last.Lines = append(last.Lines, o.Lines...)
			last.At = o.At
			q.lines += len(o.Lines)
			q.trim()
			return
		}
	}
	c := o
	c.Lines = append([]string(nil), o.Lines...)
	q.pending = append(q.pending, &qitem{ev: c, out: &c})
	q.lines += len(c.Lines)
	q.trim()
}

// trim (q.mu held) drops the oldest waiting Output lines over budget. The
// count of dropped lines travels with the item they were dropped from (its
// marker is shown before its remaining lines); an item left empty hands its
// count to the step's next waiting Output, or stays as a marker-only item
// when a terminal event of the step comes first.
func (q *Queue) trim() {
	for i := 0; q.lines > q.max && i < len(q.pending); {
		it := q.pending[i]
		if it.out == nil || len(it.out.Lines) == 0 {
			i++
			continue
		}
		n := min(len(it.out.Lines), q.lines-q.max)
		it.out.Lines = it.out.Lines[n:]
		it.out.Dropped += n
		q.lines -= n
		q.total += n
		if len(it.out.Lines) == 0 {
			if j := q.nextOutput(i); j >= 0 {
				q.pending[j].out.Dropped += it.out.Dropped
				q.pending = append(q.pending[:i], q.pending[i+1:]...)
				continue
			}
		}
		i++
	}
}

// nextOutput (q.mu held) returns the index of the next waiting Output of
// pending[i]'s step, or -1 when another event of that step comes first.
func (q *Queue) nextOutput(i int) int {
	id := q.pending[i].out.StepID
	for j := i + 1; j < len(q.pending); j++ {
		it := q.pending[j]
		if it.out != nil {
			if it.out.StepID == id {
				return j
			}
			continue
		}
		if _, ok := it.ev.(Progress); ok {
			continue
		}
		if eventStep(it.ev) == id {
			return -1
		}
	}
	return -1
}

func (q *Queue) pump() {
	for {
		evs, closed := q.Wait()
		for _, ev := range evs {
			q.out <- ev
		}
		if closed {
			close(q.out)
			return
		}
	}
}

// Wait blocks until events wait or the queue is closed, and takes every
// waiting event, in order. closed is true once the queue is closed and
// drained (evs is then empty).
func (q *Queue) Wait() (evs []Event, closed bool) {
	for {
		q.mu.Lock()
		if len(q.pending) > 0 {
			evs = make([]Event, len(q.pending))
			for i, it := range q.pending {
				evs[i] = it.ev
				if it.out != nil {
					o := *it.out
					if o.Dropped > 0 {
						o.Lines = append([]string{droppedMarker(o.Dropped)}, o.Lines...)
					}
					evs[i] = o
				}
			}
			q.pending, q.lines = nil, 0
			q.mu.Unlock()
			return evs, false
		}
		if q.closed {
			q.mu.Unlock()
			return nil, true
		}
		q.mu.Unlock()
		<-q.wake
	}
}

func droppedMarker(n int) string { return fmt.Sprintf("[%d lines dropped]", n) }

func eventStep(e Event) string {
	switch ev := e.(type) {
	case StepStarted:
		return ev.StepID
	case StepDone:
		return ev.StepID
	case StepFailed:
		return ev.StepID
	case Ask:
		return ev.StepID
	case Progress:
		return ev.StepID
	}
	return ""
}
