package steps

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// Printer renders runner events for a terminal or a log: one line per
// event, or one JSON object per line (the headless commands' --output
// json). An Ask is answered with abort (nobody is there to answer).
type Printer struct {
	W    io.Writer
	JSON bool
	mu   sync.Mutex
}

// Print writes ev.
func (p *Printer) Print(ev Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.JSON {
		p.printJSON(ev)
		return
	}
	ts := func(t time.Time) string { return t.Format("15:04:05") }
	switch e := ev.(type) {
	case PlanStarted:
		for _, w := range e.Warnings {
			fmt.Fprintf(p.W, "%s warning: %s\n", ts(e.At), w)
		}
		fmt.Fprintf(p.W, "%s plan %s: %d steps\n", ts(e.At), e.Plan, len(e.Steps))
	case StepStarted:
		if e.Attempt > 1 {
			fmt.Fprintf(p.W, "%s > %s (attempt %d)\n", ts(e.At), e.StepID, e.Attempt)
		} else {
			fmt.Fprintf(p.W, "%s > %s\n", ts(e.At), e.StepID)
		}
	case Output:
		for _, l := range e.Lines {
			fmt.Fprintf(p.W, "           %s | %s\n", e.StepID, l)
		}
	case Progress:
		fmt.Fprintf(p.W, "%s   %s: %s\n", ts(e.At), e.StepID, e.What)
	case StepDone:
		if e.Skipped {
			fmt.Fprintf(p.W, "%s = %s skipped: %s\n", ts(e.At), e.StepID, e.Reason)
		} else {
			fmt.Fprintf(p.W, "%s + %s done (%s)\n", ts(e.At), e.StepID, e.Duration.Round(time.Millisecond))
		}
	case StepFailed:
		tag := ""
		if e.Retryable {
			tag = " (retryable)"
		}
		fmt.Fprintf(p.W, "%s ! %s failed%s: %v\n", ts(e.At), e.StepID, tag, e.Err)
	case Ask:
		e.Reply(ChoiceAbort)
	case PlanDone:
		status := "done"
		switch {
		case e.Interrupted:
			status = "interrupted"
		case e.Err != nil:
			status = "failed"
		}
		fmt.Fprintf(p.W, "%s plan %s %s: %d applied, %d skipped, %d failed in %s\n", ts(e.At), e.Plan, status, e.Applied, e.Skipped, e.Failed, e.Duration.Round(time.Millisecond))
	}
}

func (p *Printer) printJSON(ev Event) {
	var m map[string]any
	errText := func(err error) any {
		if err == nil {
			return nil
		}
		return err.Error()
	}
	switch e := ev.(type) {
	case PlanStarted:
		ids := make([]string, len(e.Steps))
		for i, s := range e.Steps {
			ids[i] = s.ID
		}
		m = map[string]any{"event": "plan_started", "plan": e.Plan, "steps": ids, "warnings": e.Warnings, "at": e.At}
	case StepStarted:
		m = map[string]any{"event": "step_started", "step": e.StepID, "attempt": e.Attempt, "at": e.At}
	case Output:
		m = map[string]any{"event": "output", "step": e.StepID, "stream": e.Stream, "lines": e.Lines, "at": e.At}
	case Progress:
		m = map[string]any{"event": "progress", "step": e.StepID, "fraction": e.Fraction, "what": e.What, "at": e.At}
	case StepDone:
		m = map[string]any{"event": "step_done", "step": e.StepID, "skipped": e.Skipped, "reason": e.Reason, "duration_ms": e.Duration.Milliseconds(), "at": e.At}
	case StepFailed:
		m = map[string]any{"event": "step_failed", "step": e.StepID, "error": errText(e.Err), "attempt": e.Attempt, "retryable": e.Retryable, "bug": e.Bug, "at": e.At}
	case Ask:
		e.Reply(ChoiceAbort)
		return
	case PlanDone:
		m = map[string]any{"event": "plan_done", "plan": e.Plan, "applied": e.Applied, "skipped": e.Skipped, "failed": e.Failed, "interrupted": e.Interrupted, "error": errText(e.Err), "duration_ms": e.Duration.Milliseconds(), "at": e.At}
	default:
		return
	}
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	fmt.Fprintln(p.W, string(b))
}
