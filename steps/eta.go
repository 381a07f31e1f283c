package steps

import (
	"fmt"
	"time"
)

// DefaultExpected is the duration assumed for a step whose plan declares
// none.
const DefaultExpected = 2 * time.Second

// stallFloor is the shortest silence flagged as a stall: waits poll for
// tens of seconds without saying anything new.
const stallFloor = time.Minute

// priorWeight is how much expected time the speed estimate gives the
// "as expected" prior: early in a run one quick step does not yet say
// that the whole node is fast.
const priorWeight = 5 * time.Second

// Estimator turns a run's events into what an operator plans by: overall
// progress, the time left for the whole plan, and steps that have gone
// quiet for longer than expected. It starts from each step's expected
// duration (StepInfo.Expected) and calibrates with what it observes: the
// ratio of actual to expected time of the steps applied so far, and the
// rate a running step reports (Progress.Fraction). Not safe for concurrent
// use; feed it the events in order.
type Estimator struct {
	// Concurrency is the runner's bound on steps at once (<= 0 means 1).
	Concurrency int

	steps   []estStep
	idx     map[string]int
	started time.Time
	ended   bool
}

type estStatus int

const (
	estPending estStatus = iota
	estRunning
	estApplied
	estSkipped
	estFailed
)

type estStep struct {
	id       string
	needs    []int
	exp      time.Duration
	skip     bool // an earlier run finished it: Check will skip it
	status   estStatus
	start    time.Time
	dur      time.Duration
	frac     float64
	last     time.Time // last sign of life: start, output, progress made
	what     string
	deadline time.Time
	done     int64
}

// NewEstimator returns an estimator for a plan's steps (PlanStarted.Steps).
func NewEstimator(infos []StepInfo, concurrency int) *Estimator {
	e := &Estimator{Concurrency: concurrency}
	e.reset(infos)
	return e
}

func (e *Estimator) reset(infos []StepInfo) {
	e.steps = make([]estStep, len(infos))
	e.idx = make(map[string]int, len(infos))
	for i, in := range infos {
		e.idx[in.ID] = i
	}
	for i, in := range infos {
		s := estStep{id: in.ID, exp: in.Expected, skip: in.Checkpoint == "done", frac: -1}
		if s.exp <= 0 {
			s.exp = DefaultExpected
		}
		for _, n := range in.Needs {
			if j, ok := e.idx[n]; ok {
				s.needs = append(s.needs, j)
			}
		}
		e.steps[i] = s
	}
}

// Observe feeds one event.
func (e *Estimator) Observe(ev Event) {
	switch ev := ev.(type) {
	case PlanStarted:
		if len(ev.Steps) > 0 {
			e.reset(ev.Steps)
		}
		e.started, e.ended = ev.At, false
	case StepStarted:
		if s := e.step(ev.StepID); s != nil {
			s.status, s.start, s.last, s.frac, s.what, s.deadline, s.done = estRunning, ev.At, ev.At, -1, "", time.Time{}, 0
			if e.started.IsZero() {
				e.started = ev.At
			}
		}
	case Output:
		if s := e.step(ev.StepID); s != nil {
			s.last = ev.At
		}
	case Progress:
		if s := e.step(ev.StepID); s != nil {
			// A wait repeating itself is not progress; a new fraction,
			// more bytes or a new thing awaited is.
			if ev.Fraction != s.frac || ev.Done != s.done || ev.What != s.what && ev.Deadline.IsZero() || !ev.Deadline.Equal(s.deadline) {
				s.last = ev.At
			}
			s.frac, s.done, s.what, s.deadline = ev.Fraction, ev.Done, ev.What, ev.Deadline
		}
	case StepDone:
		if s := e.step(ev.StepID); s != nil {
			s.status, s.dur = estApplied, ev.Duration
			if ev.Skipped {
				s.status = estSkipped
			}
		}
	case StepFailed:
		if s := e.step(ev.StepID); s != nil {
			s.status = estFailed
		}
	case PlanDone:
		e.ended = true
	}
}

func (e *Estimator) step(id string) *estStep {
	i, ok := e.idx[id]
	if !ok {
		return nil
	}
	return &e.steps[i]
}

// Speed is the observed ratio of actual to expected time of the steps
// applied so far (1 before there is evidence; 0.5 means twice as fast as
// expected).
func (e *Estimator) Speed() float64 {
	var actual, expected time.Duration
	for _, s := range e.steps {
		if s.status == estApplied {
			actual += s.dur
			expected += s.exp
		}
	}
	return float64(actual+priorWeight) / float64(expected+priorWeight)
}

// Estimate is the whole plan's progress at one moment.
type Estimate struct {
	// Fraction of the plan done, 0..1, by time: elapsed / (elapsed + Left).
	Fraction float64
	// Left is the predicted time until the plan is done.
	Left time.Duration
	// Elapsed is the time since the plan started.
	Elapsed time.Duration
}

// left is the predicted time left of one step.
func (e *Estimator) left(s *estStep, now time.Time, speed float64) time.Duration {
	switch s.status {
	case estApplied, estSkipped:
		return 0
	case estRunning:
		el := now.Sub(s.start)
		if s.frac > 0 && s.frac < 1 && el >= time.Second {
			return time.Duration(float64(el) * (1 - s.frac) / s.frac)
		}
		pred := time.Duration(float64(s.exp) * speed)
		if el < pred {
			return pred - el
		}
		// Running over its prediction: as long again as half of what it
		// took so far, but not past the time its wait gives up.
		left := el / 2
		if !s.deadline.IsZero() {
			left = max(min(left, s.deadline.Sub(now)), 0)
		}
		return left
	}
	if s.skip {
		return 0
	}
	return time.Duration(float64(s.exp) * speed)
}

// Estimate predicts the time left at now: the longer of the plan's
// critical path (steps wait for those they need) and the remaining work
// spread over the runner's concurrency.
func (e *Estimator) Estimate(now time.Time) Estimate {
	speed := e.Speed()
	finish := make([]time.Duration, len(e.steps))
	var path, work time.Duration
	for i := range e.steps { // topological order (PlanStarted lists it so)
		s := &e.steps[i]
		l := e.left(s, now, speed)
		var start time.Duration
		for _, j := range s.needs {
			if j < i {
				start = max(start, finish[j])
			}
		}
		finish[i] = start + l
		path = max(path, finish[i])
		work += l
	}
	left := max(path, work/time.Duration(max(e.Concurrency, 1)))
	if e.ended {
		left = 0
	}
	est := Estimate{Left: left}
	if !e.started.IsZero() {
		est.Elapsed = now.Sub(e.started)
	}
	if total := est.Elapsed + left; total > 0 {
		est.Fraction = float64(est.Elapsed) / float64(total)
	}
	return est
}

// Stall is a running step that has said nothing and made no progress for
// longer than expected.
type Stall struct {
	StepID string
	Quiet  time.Duration // since the last output or progress
	// What the step waits for and when it gives up (from its last wait
	// report; empty/zero when it reported none).
	What     string
	Deadline time.Time
	// Expected is how long the step was predicted to take in all.
	Expected time.Duration
}

// String is the line shown to the operator: "no output for 3m — still
// waiting for the firewall API at https://10.0.0.1".
func (s Stall) String() string {
	return s.Text(time.Time{})
}

// Text is String with the time until the wait gives up, counted from now,
// before what it waits for (so a cut line keeps it): "no output for 3m,
// gives up in 7m — still waiting for …". now zero omits it.
func (s Stall) Text(now time.Time) string {
	t := "no output for " + ShortDuration(s.Quiet)
	if s.What != "" {
		if !s.Deadline.IsZero() && !now.IsZero() {
			t += ", gives up in " + ShortDuration(max(s.Deadline.Sub(now), 0))
		}
		return t + " — still waiting for " + s.What
	}
	return t + " — this step usually takes " + ShortDuration(s.Expected)
}

// Stalled lists the running steps quiet for longer than expected: twice
// their predicted duration, and at least a minute.
func (e *Estimator) Stalled(now time.Time) []Stall {
	speed := e.Speed()
	var out []Stall
	for _, s := range e.steps {
		if s.status != estRunning || s.last.IsZero() {
			continue
		}
		pred := time.Duration(float64(s.exp) * speed)
		quiet := now.Sub(s.last)
		if quiet < max(2*pred, stallFloor) {
			continue
		}
		st := Stall{StepID: s.id, Quiet: quiet, Expected: pred}
		if !s.deadline.IsZero() {
			st.What, st.Deadline = s.what, s.deadline
		}
		out = append(out, st)
	}
	return out
}

// ShortDuration formats d for a status line: "45s", "3m", "3m20s", "1h05m".
func ShortDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		m, s := int(d.Minutes()), int(d.Seconds())%60
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

// Bytes formats a byte count in SI units for a status line ("690 MB").
func Bytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for x := n / unit; x >= unit; x /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v < 10 {
		return fmt.Sprintf("%.1f %cB", v, "kMGTPE"[exp])
	}
	return fmt.Sprintf("%.0f %cB", v, "kMGTPE"[exp])
}
