package steps

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tappaas/tappaas/backends/state"
)

// Policy says what the runner does when a step fails for good (after the
// automatic retries of retryable errors).
type Policy int

// Error policies.
const (
	// PolicyAbort stops the run: no new step starts, running steps finish,
	// Run returns an error matching ErrAborted.
	PolicyAbort Policy = iota
	// PolicyAsk sends an Ask event (retry / skip if optional / abort) and
	// waits for its Reply or the run's context. Without an event sink it
	// behaves like PolicyAbort.
	PolicyAsk
	// PolicyContinue records the failure and goes on with every step that
	// does not depend on the failed one; the dependents do not run.
	PolicyContinue
)

// String names the policy ("abort", "ask", "continue").
func (p Policy) String() string {
	switch p {
	case PolicyAbort:
		return "abort"
	case PolicyAsk:
		return "ask"
	case PolicyContinue:
		return "continue"
	}
	return fmt.Sprintf("policy(%d)", int(p))
}

// Runner executes plans against one state store. See doc.go for the
// ordering, idempotence, concurrency and failure rules. A Runner runs one
// plan at a time; its fields must not change during Run.
type Runner struct {
	// Store holds checkpoints, facts, secrets and the lock (required).
	Store *state.Store
	// Events receives the run's events; may be nil.
	Events Sink
	// Policy is what happens when a step fails for good.
	Policy Policy
	// Concurrency bounds the steps running at once; <= 0 means 1.
	Concurrency int
	// MaxAttempts bounds the automatic attempts of a step failing with a
	// retryable error; <= 0 means 3.
	MaxAttempts int
	// Backoff is the wait before automatic attempt attempt+1; nil means
	// exponential from 500ms, capped at 30s.
	Backoff func(attempt int) time.Duration
	// Log is the structured logger; nil discards.
	Log *slog.Logger
	// Holder is who takes the lock; zero means state.CurrentHolder().
	Holder state.Holder
	// Now is the clock (a seam for tests); nil means time.Now.
	Now func() time.Time

	paused atomic.Bool
	wake   chan struct{}
	mu     sync.Mutex
}

// DefaultBackoff is 500ms doubled per attempt, capped at 30s.
func DefaultBackoff(attempt int) time.Duration {
	d := 500 * time.Millisecond
	for i := 1; i < attempt && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

// Pause asks a running Run to start no new step; it returns (ErrPaused,
// PlanDone{Interrupted: true}) once the running steps finish. A later Run
// starts afresh (resumes). Pause acts only on a Run in progress: each Run
// clears it when it starts.
func (r *Runner) Pause() {
	r.paused.Store(true)
	r.mu.Lock()
	w := r.wake
	r.mu.Unlock()
	if w != nil {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) emit(e Event) {
	if r.Events != nil {
		r.Events.Send(e)
	}
}

// step states in a run
const (
	stPending = iota
	stRunning
	stOK
	stFailed
	stBlocked
)

type outcome int

const (
	outApplied outcome = iota
	outSkipped
	outFailed
	outAborted // failed, and the run must stop
	outInterrupted
)

type result struct {
	k   int
	out outcome
	err error
}

type run struct {
	r       *Runner
	p       *Plan
	rt      *Runtime
	log     *slog.Logger
	maxAtt  int
	backoff func(int) time.Duration

	factMu  sync.Mutex
	factErr error
}

// Run executes p: takes the store's lock (a *state.LockError when another
// run holds it) unless the caller holds it already (then it stays held),
// emits PlanStarted (with the lock's warnings, such as a stale lock taken
// over), walks the DAG and emits PlanDone. It
// returns nil when every step is done or skipped; a *StepError (joined when
// several) naming each failed step; an error matching ErrAborted when the
// run stopped on a failure; ErrPaused after Pause; and an error wrapping the
// context's error when ctx ended (the running steps are then recorded
// "interrupted").
func (r *Runner) Run(ctx context.Context, p *Plan) (err error) {
	start := r.now()
	r.paused.Store(false)
	wake := make(chan struct{}, 1)
	r.mu.Lock()
	r.wake = wake
	r.mu.Unlock()
	if p == nil {
		return errors.New("run: no plan")
	}
	if r.Store == nil {
		return fmt.Errorf("run %s: the runner has no state store", p.name)
	}
	log := r.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lease, held := r.Store.Held()
	if !held {
		h := r.Holder
		if h.PID == 0 {
			h = state.CurrentHolder()
		}
		unlock, err := r.Store.Lock(ctx, h)
		if err != nil {
			err = fmt.Errorf("run %s: %w", p.name, err)
			r.emit(PlanDone{Plan: p.name, Err: err, Duration: r.now().Sub(start), At: r.now()})
			return err
		}
		defer func() {
			if uerr := unlock(); uerr != nil {
				log.Error("release state lock", "err", uerr)
				err = errors.Join(err, uerr)
			}
		}()
		lease, _ = r.Store.Held()
	}
	warnings := lease.Warnings()
	for _, w := range warnings {
		log.Warn(w)
	}
	if err := r.Store.SetPlan(p.name, lease.Holder); err != nil {
		err = fmt.Errorf("run %s: %w", p.name, err)
		r.emit(PlanDone{Plan: p.name, Err: err, Duration: r.now().Sub(start), At: r.now()})
		return err
	}

	x := &run{r: r, p: p, log: log, maxAtt: r.MaxAttempts, backoff: r.Backoff}
	if x.maxAtt <= 0 {
		x.maxAtt = 3
	}
	if x.backoff == nil {
		x.backoff = DefaultBackoff
	}
	facts := NewFacts(r.Store.Facts())
	facts.OnChange(func(key string, raw json.RawMessage) {
		if err := r.Store.SetFact(key, raw); err != nil {
			log.Error("persist fact", "key", key, "err", err)
			x.factMu.Lock()
			x.factErr = errors.Join(x.factErr, fmt.Errorf("persist fact %q: %w", key, err))
			x.factMu.Unlock()
		}
	})
	x.rt = NewRuntime("", facts, r.Store.Secrets(), log, r.emit)
	x.rt.now = r.now
	r.emit(PlanStarted{Plan: p.name, Steps: p.Review(x.rt, r.Store), Warnings: warnings, At: start})
	log.Info("plan started", "plan", p.name, "steps", len(p.steps))

	applied, skipped, failed, stepErrs, aborted := x.schedule(ctx, wake)

	interrupted := false
	switch {
	case ctx.Err() != nil:
		interrupted = true
		err = fmt.Errorf("run %s interrupted: %w", p.name, ctx.Err())
	case len(stepErrs) > 0 && aborted:
		err = fmt.Errorf("run %s: %w: %w", p.name, ErrAborted, errors.Join(stepErrs...))
	case len(stepErrs) > 0:
		err = fmt.Errorf("run %s: %w", p.name, errors.Join(stepErrs...))
	case applied+skipped < len(p.steps) && r.paused.Load():
		interrupted = true
		err = fmt.Errorf("run %s: %w after %d of %d steps", p.name, ErrPaused, applied+skipped, len(p.steps))
	}
	if ferr := r.Store.Flush(); ferr != nil {
		err = errors.Join(err, ferr)
	}
	r.emit(PlanDone{Plan: p.name, Applied: applied, Skipped: skipped, Failed: failed, Interrupted: interrupted, Err: err, Duration: r.now().Sub(start), At: r.now()})
	log.Info("plan done", "plan", p.name, "applied", applied, "skipped", skipped, "failed", failed, "err", err)
	return err
}

// schedule walks the DAG until nothing more can start and nothing runs.
func (x *run) schedule(ctx context.Context, wake chan struct{}) (applied, skipped, failed int, stepErrs []error, aborted bool) {
	p := x.p
	n := len(p.steps)
	conc := max(x.r.Concurrency, 1)
	status := make([]int, n)
	missing := make([]int, n)
	users := make([][]int, n)
	for k := range n {
		missing[k] = len(p.needs[k])
		for _, j := range p.needs[k] {
			users[j] = append(users[j], k)
		}
	}
	touches := make([][]string, n)
	for k, s := range p.steps {
		touches[k] = TouchesOf(s)
	}
	var ready []int // sorted positions
	for k := range n {
		if missing[k] == 0 {
			ready = append(ready, k)
		}
	}
	busy := map[string]bool{}
	running := 0
	stopping := false
	results := make(chan result)

	var block func(k int)
	block = func(k int) {
		for _, u := range users[k] {
			if status[u] == stPending {
				status[u] = stBlocked
				block(u)
			}
		}
	}

	for {
		if ctx.Err() != nil || x.r.paused.Load() {
			stopping = true
		}
		if !stopping {
			for i := 0; i < len(ready) && running < conc; {
				k := ready[i]
				if slices.ContainsFunc(touches[k], func(res string) bool { return busy[res] }) {
					i++
					continue
				}
				ready = slices.Delete(ready, i, i+1)
				for _, res := range touches[k] {
					busy[res] = true
				}
				status[k] = stRunning
				running++
				go func() { results <- x.step(ctx, k) }()
			}
		}
		if running == 0 {
			return
		}
		var res result
		select {
		case res = <-results:
		case <-wake:
			continue
		case <-ctx.Done():
			stopping = true
			res = <-results
		}
		running--
		for _, t := range touches[res.k] {
			delete(busy, t)
		}
		switch res.out {
		case outApplied, outSkipped:
			if res.out == outApplied {
				applied++
			} else {
				skipped++
			}
			status[res.k] = stOK
			for _, u := range users[res.k] {
				missing[u]--
				if missing[u] == 0 && status[u] == stPending {
					i, _ := slices.BinarySearch(ready, u)
					ready = slices.Insert(ready, i, u)
				}
			}
		case outFailed, outAborted:
			failed++
			status[res.k] = stFailed
			stepErrs = append(stepErrs, &StepError{StepID: p.steps[res.k].ID(), Err: res.err})
			block(res.k)
			if res.out == outAborted || x.r.Policy != PolicyContinue {
				stopping = true
				aborted = true
			}
		case outInterrupted:
			status[res.k] = stFailed
			stopping = true
		}
	}
}

// call runs f, turning a panic into an error (a step must never crash the
// installer).
func call(id, what string, f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w %s: %s panicked: %v", ErrBug, id, what, v)
		}
	}()
	return f()
}

// step runs one step to an outcome: check, apply, check again, with
// retries and the failure policy.
func (x *run) step(ctx context.Context, k int) result {
	r := x.r
	s := x.p.steps[k]
	id := s.ID()
	rt := x.rt.ForStep(id)
	optional := IsOptional(s)
	store := r.Store
	log := x.log.With("step", id)
	prev, _ := store.Step(id)
	attempt, auto := 0, 0
	for {
		attempt++
		auto++
		started := r.now()
		r.emit(StepStarted{StepID: id, Attempt: attempt, At: started})
		var st Status
		err := call(id, "Check", func() (e error) { st, e = s.Check(ctx, rt); return })
		if err == nil && st.Done {
			if !prev.Done() || prev.Detail != st.Detail {
				if werr := store.RecordStep(id, state.Record{Status: state.StatusSkipped, Attempts: attempt, Started: started, Finished: r.now(), Detail: st.Detail}); werr != nil {
					return x.fail(ctx, id, attempt, fmt.Errorf("checkpoint: %w", werr), optional, false, true)
				}
			}
			log.Info("step already done", "reason", st.Detail)
			r.emit(StepDone{StepID: id, Skipped: true, Reason: st.Detail, Duration: r.now().Sub(started), At: r.now()})
			return result{k: k, out: outSkipped}
		}
		bug := false
		if err != nil {
			err = fmt.Errorf("check: %w", err)
		} else {
			if werr := store.RecordStep(id, state.Record{Status: state.StatusRunning, Attempts: attempt, Started: started}); werr != nil {
				return x.fail(ctx, id, attempt, fmt.Errorf("checkpoint: %w", werr), optional, false, true)
			}
			log.Info("applying", "attempt", attempt, "missing", st.Detail)
			err = call(id, "Apply", func() error { return s.Apply(ctx, rt) })
			if c, ok := s.(Cleaner); ok {
				cctx := ctx
				if ctx.Err() != nil {
					var cancel context.CancelFunc
					cctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
					defer cancel()
				}
				if cerr := call(id, "Cleanup", func() error { return c.Cleanup(cctx, rt) }); cerr != nil {
					log.Warn("cleanup failed", "err", cerr)
					rt.Printf("cleanup failed (not fatal): %v", cerr)
				}
			}
			if err == nil {
				var st2 Status
				cerr := call(id, "Check", func() (e error) { st2, e = s.Check(ctx, rt); return })
				switch {
				case cerr != nil:
					err = fmt.Errorf("check after apply: %w", cerr)
				case !st2.Done:
					err = &BugError{StepID: id, Detail: st2.Detail}
					bug = true
				default:
					if ferr := x.takeFactErr(); ferr != nil {
						err = ferr
						break
					}
					if werr := store.RecordStep(id, state.Record{Status: state.StatusDone, Attempts: attempt, Started: started, Finished: r.now(), Detail: st2.Detail}); werr != nil {
						return x.fail(ctx, id, attempt, fmt.Errorf("checkpoint: %w", werr), optional, false, true)
					}
					log.Info("step done", "detail", st2.Detail)
					r.emit(StepDone{StepID: id, Reason: st2.Detail, Duration: r.now().Sub(started), At: r.now()})
					return result{k: k, out: outApplied}
				}
			}
		}
		if ctx.Err() != nil {
			return x.interrupted(ctx, id, attempt, started, err)
		}
		retryable := Retryable(err)
		_ = store.RecordStep(id, state.Record{Status: state.StatusFailed, Attempts: attempt, Started: started, Finished: r.now(), Error: err.Error()})
		log.Warn("step failed", "attempt", attempt, "retryable", retryable, "bug", bug, "err", err)
		r.emit(StepFailed{StepID: id, Err: err, Attempt: attempt, Retryable: retryable, Optional: optional, Bug: bug, At: r.now()})
		if retryable && auto < x.maxAtt {
			d := x.backoff(auto)
			rt.Printf("attempt %d failed with a temporary error; retrying in %s", attempt, d)
			t := time.NewTimer(d)
			select {
			case <-t.C:
				continue
			case <-ctx.Done():
				t.Stop()
				return x.interrupted(ctx, id, attempt, started, err)
			}
		}
		if r.Policy != PolicyAsk || r.Events == nil {
			out := outFailed
			if r.Policy != PolicyContinue {
				out = outAborted
			}
			return result{k: k, out: out, err: err}
		}
		choice, ok := x.ask(ctx, id, err, optional)
		if !ok {
			return x.interrupted(ctx, id, attempt, started, err)
		}
		switch choice {
		case ChoiceRetry:
			auto = 0
			continue
		case ChoiceSkip:
			reason := "skipped by the operator after a failure"
			_ = store.RecordStep(id, state.Record{Status: state.StatusSkipped, Attempts: attempt, Started: started, Finished: r.now(), Error: err.Error(), Detail: reason})
			r.emit(StepDone{StepID: id, Skipped: true, Reason: reason, Duration: r.now().Sub(started), At: r.now()})
			return result{k: k, out: outSkipped}
		default:
			return result{k: k, out: outAborted, err: err}
		}
	}
}

func (x *run) takeFactErr() error {
	x.factMu.Lock()
	defer x.factMu.Unlock()
	err := x.factErr
	x.factErr = nil
	return err
}

// fail reports a failure that is not the step's (the checkpoint could not
// be written): the run stops.
func (x *run) fail(ctx context.Context, id string, attempt int, err error, optional, bug, stop bool) result {
	k := x.p.index[id]
	if ctx.Err() != nil {
		return x.interrupted(ctx, id, attempt, x.r.now(), err)
	}
	x.r.emit(StepFailed{StepID: id, Err: err, Attempt: attempt, Optional: optional, Bug: bug, At: x.r.now()})
	out := outFailed
	if stop {
		out = outAborted
	}
	return result{k: k, out: out, err: err}
}

// interrupted records the step as interrupted by the run's context.
func (x *run) interrupted(ctx context.Context, id string, attempt int, started time.Time, cause error) result {
	r := x.r
	err := fmt.Errorf("interrupted: %w", ctx.Err())
	rec := state.Record{Status: state.StatusInterrupted, Attempts: attempt, Started: started, Finished: r.now()}
	if cause != nil && !errors.Is(cause, context.Canceled) && !errors.Is(cause, context.DeadlineExceeded) {
		rec.Error = cause.Error()
	}
	if werr := r.Store.RecordStep(id, rec); werr != nil {
		x.log.Error("record interrupted step", "step", id, "err", werr)
	}
	r.emit(StepFailed{StepID: id, Err: err, Attempt: attempt, Optional: IsOptional(x.p.steps[x.p.index[id]]), Interrupted: true, At: r.now()})
	return result{k: x.p.index[id], out: outInterrupted, err: err}
}

// ask sends an Ask and waits for the reply; ok is false when ctx ended.
func (x *run) ask(ctx context.Context, id string, err error, optional bool) (Choice, bool) {
	choices := []Choice{ChoiceRetry}
	if optional {
		choices = append(choices, ChoiceSkip)
	}
	choices = append(choices, ChoiceAbort)
	reply := make(chan Choice, 1)
	var once sync.Once
	x.r.emit(Ask{StepID: id, Err: err, Choices: choices, Reply: func(c Choice) {
		once.Do(func() { reply <- c })
	}, At: x.r.now()})
	select {
	case c := <-reply:
		if !slices.Contains(choices, c) {
			x.log.Warn("answer not offered; aborting", "step", id, "choice", c)
			return ChoiceAbort, true
		}
		return c, true
	case <-ctx.Done():
		return ChoiceAbort, false
	}
}
