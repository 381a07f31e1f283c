package run

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/steps"
)

func TestQueueCoalescesOutputAndKeepsOrder(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	q := newQueue(100, &log)
	q.Send(steps.StepStarted{StepID: "a"})
	q.Send(steps.Output{StepID: "a", Stream: steps.StreamStdout, Lines: []string{"1"}})
	q.Send(steps.Output{StepID: "a", Stream: steps.StreamStdout, Lines: []string{"2", "3"}})
	q.Send(steps.Output{StepID: "a", Stream: steps.StreamStderr, Lines: []string{"e"}})
	q.Send(steps.StepDone{StepID: "a"})
	evs, dropped, closed := q.wait()
	if dropped != 0 || closed {
		t.Fatalf("dropped=%d closed=%v", dropped, closed)
	}
	if len(evs) != 4 {
		t.Fatalf("want 4 events (started, out x2 coalesced into 1, stderr, done), got %d: %#v", len(evs), evs)
	}
	if o := evs[1].(steps.Output); strings.Join(o.Lines, ",") != "1,2,3" {
		t.Errorf("coalesced lines = %v", o.Lines)
	}
	if _, ok := evs[3].(steps.StepDone); !ok {
		t.Errorf("last event = %T", evs[3])
	}
	if got := strings.Count(log.String(), "\n"); got != 4 {
		t.Errorf("log file got %d lines, want 4:\n%s", got, log.String())
	}
}

func TestQueueDropsOldestOutputNeverTerminalEvents(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	q := newQueue(10, &log)
	q.Send(steps.StepStarted{StepID: "a"})
	for i := 0; i < 50; i++ {
		q.Send(steps.Output{StepID: "a", Stream: steps.StreamStdout, Lines: []string{fmt.Sprint(i)}})
		if i == 25 {
			q.Send(steps.StepFailed{StepID: "a"})
		}
	}
	q.Send(steps.PlanDone{})
	q.Close()
	evs, dropped, _ := q.wait()
	if dropped != 40 {
		t.Errorf("dropped = %d, want 40", dropped)
	}
	var lines []string
	var terminal int
	for _, e := range evs {
		switch e := e.(type) {
		case steps.Output:
			lines = append(lines, e.Lines...)
		case steps.StepFailed, steps.PlanDone, steps.StepStarted:
			terminal++
		}
	}
	if terminal != 3 {
		t.Errorf("terminal events kept = %d, want 3", terminal)
	}
	if len(lines) != 10 || lines[9] != "49" {
		t.Errorf("kept lines = %v, want the newest 10", lines)
	}
	// the full log still has every line
	if got := strings.Count(log.String(), "\n"); got != 50 {
		t.Errorf("log file has %d lines, want all 50", got)
	}
	if _, _, closed := q.wait(); !closed {
		t.Error("closed queue should report closed once drained")
	}
}
