// Package stepstest helps test steps and plans: a step built from funcs, a
// recording event sink, a fake target that counts effects, and a runner on
// an in-memory store.
package stepstest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/backends/state/statetest"
	"github.com/tappaas/tappaas/steps"
)

// Func is a Step built from funcs. Nil CheckFn reports done once Apply has
// succeeded (in this process); nil ApplyFn succeeds; nil CleanupFn does
// nothing. It implements every optional step
// interface (empty values are harmless).
type Func struct {
	IDv       string
	TitleV    string
	NeedsV    []string
	TouchesV  []string
	Opt       bool
	Changes   []string
	CheckFn   func(ctx context.Context, rt *steps.Runtime) (steps.Status, error)
	ApplyFn   func(ctx context.Context, rt *steps.Runtime) error
	CleanupFn func(ctx context.Context, rt *steps.Runtime) error

	applied atomic.Bool
}

func (f *Func) ID() string { return f.IDv }

// Title implements steps.Step (the ID when TitleV is empty).
func (f *Func) Title() string {
	if f.TitleV == "" {
		return f.IDv
	}
	return f.TitleV
}

func (f *Func) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	if f.CheckFn == nil {
		if f.applied.Load() {
			return steps.Done("applied"), nil
		}
		return steps.NotDone("not applied yet"), nil
	}
	return f.CheckFn(ctx, rt)
}

func (f *Func) Apply(ctx context.Context, rt *steps.Runtime) error {
	var err error
	if f.ApplyFn != nil {
		err = f.ApplyFn(ctx, rt)
	}
	if err == nil {
		f.applied.Store(true)
	}
	return err
}

func (f *Func) Cleanup(ctx context.Context, rt *steps.Runtime) error {
	if f.CleanupFn == nil {
		return nil
	}
	return f.CleanupFn(ctx, rt)
}

func (f *Func) Needs() []string { return f.NeedsV }

func (f *Func) Touches() []string { return f.TouchesV }

func (f *Func) Optional() bool { return f.Opt }

func (f *Func) Describe(*steps.Runtime) []string { return f.Changes }

// Recorder is a Sink that keeps every event. OnAsk, when set, answers Ask
// events (from the runner's goroutine); otherwise Asks wait for the test to
// call Reply.
type Recorder struct {
	mu     sync.Mutex
	events []steps.Event
	OnAsk  func(steps.Ask) steps.Choice
}

func (r *Recorder) Send(e steps.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	onAsk := r.OnAsk
	r.mu.Unlock()
	if a, ok := e.(steps.Ask); ok && onAsk != nil {
		a.Reply(onAsk(a))
	}
}

// Events returns a copy of the events so far.
func (r *Recorder) Events() []steps.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Trace renders the events as short strings: "plan", "start:a#1",
// "out:a:line", "progress:a", "done:a", "skip:a", "fail:a#1",
// "ask:a[retry skip abort]", "plandone".
func (r *Recorder) Trace() []string {
	var out []string
	for _, e := range r.Events() {
		out = append(out, Describe(e))
	}
	return out
}

// Filter returns the trace entries that start with prefix.
func (r *Recorder) Filter(prefix string) []string {
	var out []string
	for _, s := range r.Trace() {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// Describe renders one event as Trace does.
func Describe(e steps.Event) string {
	switch ev := e.(type) {
	case steps.PlanStarted:
		return "plan"
	case steps.StepStarted:
		return fmt.Sprintf("start:%s#%d", ev.StepID, ev.Attempt)
	case steps.Output:
		return fmt.Sprintf("out:%s:%s", ev.StepID, strings.Join(ev.Lines, "|"))
	case steps.Progress:
		return "progress:" + ev.StepID
	case steps.StepDone:
		if ev.Skipped {
			return "skip:" + ev.StepID
		}
		return "done:" + ev.StepID
	case steps.StepFailed:
		return fmt.Sprintf("fail:%s#%d", ev.StepID, ev.Attempt)
	case steps.Ask:
		cs := make([]string, len(ev.Choices))
		for i, c := range ev.Choices {
			cs[i] = c.String()
		}
		return fmt.Sprintf("ask:%s[%s]", ev.StepID, strings.Join(cs, " "))
	case steps.PlanDone:
		return "plandone"
	}
	return fmt.Sprintf("%T", e)
}

// Target is a fake target: a set of named effects, with counters. Safe for
// concurrent use.
type Target struct {
	mu      sync.Mutex
	effects map[string]int // name -> times created
	applies map[string]int // step ID -> Apply calls
}

// NewTarget returns an empty Target.
func NewTarget() *Target {
	return &Target{effects: map[string]int{}, applies: map[string]int{}}
}

// Has reports whether the effect exists.
func (t *Target) Has(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.effects[name] > 0
}

// Create makes an effect exist (counting every creation: a correct step
// never creates one twice).
func (t *Target) Create(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.effects[name]++
}

// Delete removes an effect (a manual change between runs).
func (t *Target) Delete(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.effects, name)
}

// Count returns how often the effect was created.
func (t *Target) Count(name string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.effects[name]
}

// Applies returns how often the step's Apply ran (steps made by Step).
func (t *Target) Applies(id string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.applies[id]
}

// TotalApplies returns the Apply calls of every step made by Step.
func (t *Target) TotalApplies() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, c := range t.applies {
		n += c
	}
	return n
}

// Step returns an idempotent step that makes the named effects exist
// (checking each before creating it); done when all exist.
func (t *Target) Step(id string, needs []string, effects ...string) *Func {
	return &Func{
		IDv:    id,
		NeedsV: needs,
		CheckFn: func(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
			for _, e := range effects {
				if !t.Has(e) {
					return steps.NotDone("%s missing", e), nil
				}
			}
			return steps.Done("%d effect(s) present", len(effects)), nil
		},
		ApplyFn: func(ctx context.Context, rt *steps.Runtime) error {
			t.mu.Lock()
			t.applies[id]++
			t.mu.Unlock()
			for _, e := range effects {
				if err := ctx.Err(); err != nil {
					return err
				}
				if !t.Has(e) {
					t.Create(e)
					rt.Printf("created %s", e)
				}
			}
			return nil
		},
	}
}

// Runner returns a runner on a fresh in-memory store with a fixed holder,
// tiny backoff and the recorder as sink.
func Runner(tb testing.TB, rec *Recorder) (*steps.Runner, *statetest.MemFS) {
	tb.Helper()
	fsys := statetest.NewMemFS()
	st, err := state.Open(fsys)
	if err != nil {
		tb.Fatalf("open state: %v", err)
	}
	r := &steps.Runner{Store: st, Holder: state.Holder{User: "test", Host: "testhost", PID: 4242}, Backoff: func(int) time.Duration { return time.Millisecond }}
	if rec != nil {
		r.Events = rec
	}
	return r, fsys
}

// NewRuntime returns a Runtime for calling a step directly in a test, with
// fresh facts and in-memory secrets; rec (may be nil) receives its Output
// and Progress events.
func NewRuntime(stepID string, rec *Recorder) *steps.Runtime {
	var emit func(steps.Event)
	if rec != nil {
		emit = rec.Send
	}
	return steps.NewRuntime(stepID, nil, nil, nil, emit)
}

// Idempotent checks the step contract against a target the test prepared
// with the effect missing: Check says not done, Apply succeeds, Check says
// done, a second Apply succeeds and changes nothing, Check still says done.
// snapshot, when set, renders the target's state (e.g. the lab's model or
// its mutating-call counters); it must be equal before and after the second
// Apply.
func Idempotent(tb testing.TB, s steps.Step, rt *steps.Runtime, snapshot func() string) {
	tb.Helper()
	ctx := context.Background()
	if rt == nil {
		rt = NewRuntime(s.ID(), nil)
	}
	st, err := s.Check(ctx, rt)
	if err != nil {
		tb.Fatalf("%s: first Check: %v", s.ID(), err)
	}
	if st.Done {
		tb.Fatalf("%s: Check says done before Apply (%s): the test's target already has the effect", s.ID(), st.Detail)
	}
	if err := s.Apply(ctx, rt); err != nil {
		tb.Fatalf("%s: Apply: %v", s.ID(), err)
	}
	if st, err = s.Check(ctx, rt); err != nil || !st.Done {
		tb.Fatalf("%s: Check after Apply = %+v, %v: want done", s.ID(), st, err)
	}
	var before string
	if snapshot != nil {
		before = snapshot()
	}
	if err := s.Apply(ctx, rt); err != nil {
		tb.Fatalf("%s: second Apply: %v", s.ID(), err)
	}
	if snapshot != nil {
		if after := snapshot(); after != before {
			tb.Fatalf("%s: second Apply changed the target:\nbefore: %s\nafter:  %s", s.ID(), before, after)
		}
	}
	if st, err = s.Check(ctx, rt); err != nil || !st.Done {
		tb.Fatalf("%s: Check after the second Apply = %+v, %v: want done", s.ID(), st, err)
	}
}
