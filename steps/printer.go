package steps

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Printer renders runner events for a terminal or a log: one line per
// event, or one JSON object per line (the headless commands' --output
// json), with the whole plan's progress and ETA after each step and a line
// for a step that has gone quiet for longer than expected (as the run view
// shows them; call Stalls now and then). An Ask is answered with abort
// (nobody is there to answer).
type Printer struct {
	W    io.Writer
	JSON bool
	// Concurrency is the runner's, for the ETA (0: 1).
	Concurrency int
	mu          sync.Mutex

	est *Estimator
	// planned: a PlanStarted was seen, so the plan's progress is known.
	planned bool
	// last wait or transfer bucket printed per step (waits repeat every
	// poll; downloads report every few seconds).
	shown map[string]string
	// flagged: steps reported quiet, with the silence they had then.
	flagged map[string]time.Duration
}

// progressKey is what makes a Progress worth a line: a new wait, a new
// tenth of a transfer, or new text.
func progressKey(e Progress) string {
	switch {
	case e.Total > 0:
		return fmt.Sprintf("xfer %s %d", e.What, e.Done*10/e.Total)
	case e.Done > 0:
		return fmt.Sprintf("xfer %s %d", e.What, e.Done>>27) // every 128 MiB
	case !e.Deadline.IsZero():
		what, _, _ := strings.Cut(e.What, " (last answer:")
		return "wait " + what + " " + e.Deadline.Format(time.RFC3339)
	}
	return "what " + e.What
}

// Stalls reports, once per quiet spell, the steps quiet for longer than
// expected.
func (p *Printer) Stalls(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.est == nil {
		return
	}
	stalled := p.est.Stalled(now)
	for _, st := range stalled {
		if q, ok := p.flagged[st.StepID]; ok && st.Quiet >= q {
			continue
		}
		p.flagged[st.StepID] = st.Quiet
		if p.JSON {
			p.line(map[string]any{"event": "stalled", "step": st.StepID, "quiet_ms": st.Quiet.Milliseconds(), "what": st.What,
				"deadline": nilTime(st.Deadline), "message": st.Text(now), "at": now})
			continue
		}
		fmt.Fprintf(p.W, "%s ? %s: %s\n", now.Format("15:04:05"), st.StepID, st.Text(now))
	}
	// A step that spoke again may be flagged again later.
	for id := range p.flagged {
		found := false
		for _, st := range stalled {
			found = found || st.StepID == id
		}
		if !found {
			delete(p.flagged, id)
		}
	}
}

func nilTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func (p *Printer) line(m map[string]any) {
	if b, err := json.Marshal(m); err == nil {
		fmt.Fprintln(p.W, string(b))
	}
}

// Print writes ev.
func (p *Printer) Print(ev Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ps, ok := ev.(PlanStarted); ok || p.est == nil {
		p.est, p.planned = NewEstimator(ps.Steps, max(1, p.Concurrency)), ok
		p.shown, p.flagged = map[string]string{}, map[string]time.Duration{}
	}
	p.est.Observe(ev)
	if pr, ok := ev.(Progress); ok {
		k := progressKey(pr)
		if p.shown[pr.StepID] == k {
			return
		}
		p.shown[pr.StepID] = k
	}
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
		switch {
		case e.Done > 0 || e.Total > 0:
			l := e.What + ": " + Bytes(e.Done)
			if e.Total > 0 {
				l += " of " + Bytes(e.Total)
			}
			fmt.Fprintf(p.W, "%s   %s: %s\n", ts(e.At), e.StepID, l)
		case !e.Deadline.IsZero():
			fmt.Fprintf(p.W, "%s   %s: waiting for %s (gives up at %s, in %s)\n", ts(e.At), e.StepID, e.What, ts(e.Deadline), ShortDuration(e.Deadline.Sub(e.At)))
		default:
			fmt.Fprintf(p.W, "%s   %s: %s\n", ts(e.At), e.StepID, e.What)
		}
	case StepDone:
		plan := ""
		if p.planned {
			est := p.est.Estimate(e.At)
			plan = fmt.Sprintf(" · plan %d%%, about %s left", int(est.Fraction*100), ShortDuration(est.Left))
		}
		if e.Skipped {
			fmt.Fprintf(p.W, "%s = %s skipped: %s%s\n", ts(e.At), e.StepID, e.Reason, plan)
		} else {
			fmt.Fprintf(p.W, "%s + %s done (%s)%s\n", ts(e.At), e.StepID, e.Duration.Round(time.Millisecond), plan)
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
		if e.Done > 0 || e.Total > 0 {
			m["done_bytes"], m["total_bytes"] = e.Done, e.Total
		}
		if !e.Deadline.IsZero() {
			m["deadline"] = e.Deadline
		}
	case StepDone:
		m = map[string]any{"event": "step_done", "step": e.StepID, "skipped": e.Skipped, "reason": e.Reason, "duration_ms": e.Duration.Milliseconds(), "at": e.At}
		if p.planned {
			est := p.est.Estimate(e.At)
			m["plan_fraction"], m["plan_left_ms"] = est.Fraction, est.Left.Milliseconds()
		}
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
	p.line(m)
}
