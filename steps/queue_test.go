package steps_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tappaas/tappaas/steps"
)

func drain(q *steps.Queue) []steps.Event {
	var out []steps.Event
	for e := range q.C() {
		out = append(out, e)
	}
	return out
}

func TestQueueDropsOldestOutputWithMarker(t *testing.T) {
	t.Parallel()
	q := steps.NewQueue(10)
	q.Send(steps.StepStarted{StepID: "a", Attempt: 1})
	for i := range 100 {
		q.Send(steps.Output{StepID: "a", Stream: steps.StreamStdout, Lines: []string{strconv.Itoa(i)}})
	}
	q.Send(steps.StepDone{StepID: "a"})
	q.Close()
	evs := drain(q)
	if len(evs) != 3 {
		t.Fatalf("events %#v", evs)
	}
	o := evs[1].(steps.Output)
	want := append([]string{"[90 lines dropped]"}, "90", "91", "92", "93", "94", "95", "96", "97", "98", "99")
	if strings.Join(o.Lines, ",") != strings.Join(want, ",") || o.Dropped != 90 {
		t.Fatalf("output %v (dropped %d), want %v", o.Lines, o.Dropped, want)
	}
	if _, ok := evs[2].(steps.StepDone); !ok {
		t.Fatalf("last event %#v", evs[2])
	}
	if q.Dropped() != 90 {
		t.Fatalf("Dropped() = %d", q.Dropped())
	}
}

func TestQueueMarkerBeforeTerminalEvent(t *testing.T) {
	t.Parallel()
	// Every line of a step dropped: the marker still reaches the consumer, in
	// the place of the lines and before the step's StepDone.
	q := steps.NewQueue(2)
	q.Send(steps.StepStarted{StepID: "x"}) // held by the pump
	for i := range 5 {
		q.Send(steps.Output{StepID: "a", Lines: []string{strconv.Itoa(i)}})
	}
	q.Send(steps.Output{StepID: "b", Lines: []string{"b0", "b1"}}) // pushes out all of a
	q.Send(steps.StepDone{StepID: "a"})
	q.Close()
	var trace []string
	for _, e := range drain(q) {
		switch ev := e.(type) {
		case steps.Output:
			trace = append(trace, ev.StepID+":"+strings.Join(ev.Lines, "|"))
		case steps.StepDone:
			trace = append(trace, "done:"+ev.StepID)
		case steps.StepStarted:
			trace = append(trace, "start:"+ev.StepID)
		}
	}
	want := "start:x a:[5 lines dropped] b:b0|b1 done:a" // the marker keeps the dropped lines' place
	if got := strings.Join(trace, " "); got != want {
		t.Fatalf("trace %q, want %q", got, want)
	}
}

func TestQueueSendNeverBlocksAndKeepsTerminalEvents(t *testing.T) {
	t.Parallel()
	q := steps.NewQueue(100)
	const stepsN, lines = 20, 2000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s := range stepsN {
			id := fmt.Sprintf("s%02d", s)
			q.Send(steps.StepStarted{StepID: id, Attempt: 1})
			for i := range lines {
				q.Send(steps.Output{StepID: id, Stream: steps.StreamStdout, Lines: []string{strconv.Itoa(i)}})
				if i%500 == 0 {
					q.Send(steps.Progress{StepID: id, Fraction: float64(i) / lines})
				}
			}
			q.Send(steps.StepFailed{StepID: id, Attempt: 1})
			q.Send(steps.Ask{StepID: id})
			q.Send(steps.StepDone{StepID: id})
		}
		q.Send(steps.PlanDone{Plan: "p"})
	}()
	select {
	case <-done: // nobody read yet: Send must not have blocked
	case <-time.After(10 * time.Second):
		t.Fatal("Send blocked with no consumer")
	}
	q.Close()
	var mu sync.Mutex
	delivered, dropped := 0, 0
	last := map[string]int{}
	var terminal []string
	for e := range q.C() {
		switch ev := e.(type) {
		case steps.Output:
			mu.Lock()
			dropped += ev.Dropped
			for _, l := range ev.Lines {
				if strings.HasPrefix(l, "[") {
					continue
				}
				n, _ := strconv.Atoi(l)
				if prev, ok := last[ev.StepID]; ok && n <= prev {
					t.Fatalf("%s: line %d after %d (order broken)", ev.StepID, n, prev)
				}
				last[ev.StepID] = n
				delivered++
			}
			mu.Unlock()
		case steps.StepStarted:
			terminal = append(terminal, "start:"+ev.StepID)
		case steps.StepFailed:
			terminal = append(terminal, "fail:"+ev.StepID)
		case steps.Ask:
			terminal = append(terminal, "ask:"+ev.StepID)
		case steps.StepDone:
			terminal = append(terminal, "done:"+ev.StepID)
		case steps.PlanDone:
			terminal = append(terminal, "plandone")
		}
	}
	var want []string
	for s := range stepsN {
		id := fmt.Sprintf("s%02d", s)
		want = append(want, "start:"+id, "fail:"+id, "ask:"+id, "done:"+id)
	}
	want = append(want, "plandone")
	if strings.Join(terminal, ",") != strings.Join(want, ",") {
		t.Fatalf("terminal events lost or reordered:\n%v", terminal)
	}
	if delivered+dropped != stepsN*lines || dropped != q.Dropped() || dropped == 0 {
		t.Fatalf("delivered %d + dropped %d != %d (queue counted %d)", delivered, dropped, stepsN*lines, q.Dropped())
	}
}

func TestQueueCoalescesAndSupersedesProgress(t *testing.T) {
	t.Parallel()
	q := steps.NewQueue(1000)
	q.Send(steps.StepStarted{StepID: "hold"}) // held by the pump
	q.Send(steps.Output{StepID: "a", Stream: steps.StreamStdout, Lines: []string{"1"}})
	q.Send(steps.Output{StepID: "a", Stream: steps.StreamStdout, Lines: []string{"2", "3"}})
	q.Send(steps.Output{StepID: "a", Stream: steps.StreamStderr, Lines: []string{"e"}})
	q.Send(steps.Progress{StepID: "a", Fraction: 0.1})
	q.Send(steps.Progress{StepID: "a", Fraction: 0.5})
	q.Send(steps.StepDone{StepID: "a"})
	q.Send(steps.Progress{StepID: "a", Fraction: 0.9}) // after a terminal event: not merged back
	q.Close()
	q.Send(steps.PlanDone{}) // after Close: ignored
	evs := drain(q)
	var got []string
	for _, e := range evs {
		switch ev := e.(type) {
		case steps.Output:
			got = append(got, string(ev.Stream)+":"+strings.Join(ev.Lines, ""))
		case steps.Progress:
			got = append(got, fmt.Sprintf("p%.1f", ev.Fraction))
		case steps.StepDone:
			got = append(got, "done")
		case steps.StepStarted:
			got = append(got, "start")
		default:
			got = append(got, fmt.Sprintf("%T", e))
		}
	}
	want := "start stdout:123 stderr:e p0.5 done p0.9"
	if strings.Join(got, " ") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, " "), want)
	}
}
