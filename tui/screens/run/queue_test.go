package run

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/steps"
)

// TestStepLogKeepsWhatTheQueueDrops: the queue (steps.Queue) drops the
// oldest output lines when the UI is behind; the log file written by the
// tee still has every line.
func TestStepLogKeepsWhatTheQueueDrops(t *testing.T) {
	t.Parallel()
	var log bytes.Buffer
	q := steps.NewQueue(10)
	sl := newStepLog(&log)
	emit := sl.tee(q)
	emit(steps.StepStarted{StepID: "a"})
	for i := 0; i < 50; i++ {
		emit(steps.Output{StepID: "a", Stream: steps.StreamStdout, Lines: []string{fmt.Sprint(i)}})
	}
	emit(steps.StepDone{StepID: "a"})
	q.Close()
	sl.flush()
	evs, closed := q.Wait()
	if closed || q.Dropped() != 40 {
		t.Fatalf("closed %v, dropped %d; want 40 dropped", closed, q.Dropped())
	}
	var lines []string
	for _, e := range evs {
		if o, ok := e.(steps.Output); ok {
			lines = append(lines, o.Lines...)
		}
	}
	if len(lines) != 11 || lines[0] != "[40 lines dropped]" || lines[10] != "49" {
		t.Errorf("delivered lines = %v, want the marker and the newest 10", lines)
	}
	if got := strings.Count(log.String(), "\n"); got != 50 {
		t.Errorf("log file has %d lines, want all 50", got)
	}
	if _, closed := q.Wait(); !closed {
		t.Error("closed queue should report closed once drained")
	}
}
