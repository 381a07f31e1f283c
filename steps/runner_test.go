package steps_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/stepstest"
)

func mustPlan(t *testing.T, ss ...steps.Step) *steps.Plan {
	t.Helper()
	p, err := steps.NewPlan("test", ss...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ids(ss []steps.Step) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID())
	}
	return out
}

func fn(id string, needs ...string) *stepstest.Func { return &stepstest.Func{IDv: id, NeedsV: needs} }

func TestNewPlanRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		steps []steps.Step
		want  []string
	}{
		{"empty ID", []steps.Step{fn("a"), fn(" ")}, []string{"empty ID"}},
		{"duplicate", []steps.Step{fn("a"), fn("b"), fn("a")}, []string{`"a"`, "#1 and #3"}},
		{"unknown need", []steps.Step{fn("a"), fn("b", "nope")}, []string{`step "b" needs "nope"`}},
		{"self", []steps.Step{fn("a", "a")}, []string{"cycle: a → a"}},
		{"cycle", []steps.Step{fn("x"), fn("a", "c"), fn("b", "a"), fn("c", "b")}, []string{"cycle", "a → b → c → a"}},
		{"nil", []steps.Step{fn("a"), nil}, []string{"#2 is nil"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := steps.NewPlan("p", c.steps...)
			if !errors.Is(err, steps.ErrInvalidPlan) {
				t.Fatalf("NewPlan = %v, want ErrInvalidPlan", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestPlanOrderStable(t *testing.T) {
	t.Parallel()
	p := mustPlan(t, fn("d", "c"), fn("a"), fn("c", "b"), fn("b"), fn("e", "a"))
	got := ids(p.Steps())
	// Ready first: a and b (a declared first); then e (declared after a)
	// competes with c: the heap picks by declaration index, so c (#3)
	// before e (#5), then d (#1) once c is done.
	want := []string{"a", "b", "c", "d", "e"}
	if !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	p2 := mustPlan(t, fn("z"), fn("y"), fn("x", "z"))
	if got := ids(p2.Steps()); !slices.Equal(got, []string{"z", "y", "x"}) {
		t.Fatalf("order %v, want declaration order among ready steps", got)
	}
	info := p2.Review(nil, nil)
	if len(info) != 3 || info[2].ID != "x" || !slices.Equal(info[2].Needs, []string{"z"}) {
		t.Fatalf("Info = %+v", info)
	}
}

func TestRunOrderingAndEvents(t *testing.T) {
	t.Parallel()
	tg := stepstest.NewTarget()
	rec := &stepstest.Recorder{}
	r, _ := stepstest.Runner(t, rec)
	p := mustPlan(t, tg.Step("c", []string{"b"}, "c1"), tg.Step("a", nil, "a1"), tg.Step("b", []string{"a"}, "b1"))
	if err := r.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	want := []string{"plan", "start:a#1", "out:a:created a1", "done:a", "start:b#1", "out:b:created b1", "done:b", "start:c#1", "out:c:created c1", "done:c", "plandone"}
	if got := rec.Trace(); !slices.Equal(got, want) {
		t.Fatalf("trace\n got %v\nwant %v", got, want)
	}
	evs := rec.Events()
	ps := evs[0].(steps.PlanStarted)
	if len(ps.Steps) != 3 || ps.Steps[0].ID != "a" {
		t.Errorf("PlanStarted steps %+v", ps.Steps)
	}
	pd := evs[len(evs)-1].(steps.PlanDone)
	if pd.Applied != 3 || pd.Skipped != 0 || pd.Failed != 0 || pd.Err != nil || pd.Interrupted {
		t.Errorf("PlanDone %+v", pd)
	}
	for _, id := range []string{"a", "b", "c"} {
		if rec, ok := r.Store.Step(id); !ok || rec.Status != state.StatusDone || rec.Attempts != 1 {
			t.Errorf("checkpoint %s = %+v", id, rec)
		}
	}
}

func TestNeedsRespectedConcurrently(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	finished := map[string]bool{}
	var violations []string
	var ss []steps.Step
	for i := range 30 {
		id := fmt.Sprintf("s%02d", i)
		var needs []string
		if i >= 3 {
			needs = []string{fmt.Sprintf("s%02d", i/3), fmt.Sprintf("s%02d", i-1-i%2)}
		}
		done := false
		ss = append(ss, &stepstest.Func{IDv: id, NeedsV: needs,
			CheckFn: func(context.Context, *steps.Runtime) (steps.Status, error) {
				mu.Lock()
				defer mu.Unlock()
				return steps.Status{Done: done}, nil
			},
			ApplyFn: func(context.Context, *steps.Runtime) error {
				mu.Lock()
				for _, n := range needs {
					if !finished[n] {
						violations = append(violations, id+" before "+n)
					}
				}
				mu.Unlock()
				time.Sleep(time.Duration(i%4) * 200 * time.Microsecond)
				mu.Lock()
				done = true
				finished[id] = true
				mu.Unlock()
				return nil
			}})
	}
	r, _ := stepstest.Runner(t, nil)
	r.Concurrency = 4
	if err := r.Run(context.Background(), mustPlan(t, ss...)); err != nil {
		t.Fatal(err)
	}
	if len(violations) > 0 || len(finished) != 30 {
		t.Fatalf("violations %v, finished %d", violations, len(finished))
	}
}

func TestSkipWhenDoneAndCheckIsTruth(t *testing.T) {
	t.Parallel()
	tg := stepstest.NewTarget()
	tg.Create("pre") // already there before the first run
	rec := &stepstest.Recorder{}
	r, _ := stepstest.Runner(t, rec)
	var ss []steps.Step
	ss = append(ss, tg.Step("pre", nil, "pre"))
	for i := range 20 {
		ss = append(ss, tg.Step(fmt.Sprintf("s%02d", i), []string{"pre"}, fmt.Sprintf("e%02d", i), fmt.Sprintf("f%02d", i)))
	}
	p := mustPlan(t, ss...)
	if err := r.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if tg.Applies("pre") != 0 {
		t.Fatalf("pre applied although done")
	}
	if got := rec.Filter("skip:"); !slices.Equal(got, []string{"skip:pre"}) {
		t.Fatalf("skips %v", got)
	}
	first := tg.TotalApplies()
	if first != 20 {
		t.Fatalf("first run applied %d steps, want 20", first)
	}

	// Second run of the finished plan: every step skipped, zero Apply.
	rec2 := &stepstest.Recorder{}
	r.Events = rec2
	if err := r.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if tg.TotalApplies() != first {
		t.Fatalf("second run called Apply %d times", tg.TotalApplies()-first)
	}
	if n := len(rec2.Filter("skip:")); n != 21 {
		t.Fatalf("second run skipped %d steps, want 21", n)
	}
	for _, e := range rec2.Events() {
		if d, ok := e.(steps.StepDone); ok && d.Reason == "" {
			t.Errorf("skip of %s carries no reason", d.StepID)
		}
	}
	pd := rec2.Events()[len(rec2.Events())-1].(steps.PlanDone)
	if pd.Applied != 0 || pd.Skipped != 21 {
		t.Errorf("PlanDone %+v", pd)
	}

	// A manual change between runs is honoured: the checkpoint says done,
	// Check says not, so the step runs again.
	tg.Delete("e07")
	if err := r.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if tg.TotalApplies() != first+1 || tg.Applies("s07") != 2 || tg.Count("e07") != 1 || tg.Count("f07") != 1 {
		t.Fatalf("after deleting e07: applies %d, s07 %d, e07 %d, f07 %d", tg.TotalApplies(), tg.Applies("s07"), tg.Count("e07"), tg.Count("f07"))
	}
}

func TestLyingStepIsABug(t *testing.T) {
	t.Parallel()
	rec := &stepstest.Recorder{}
	r, _ := stepstest.Runner(t, rec)
	liar := &stepstest.Func{IDv: "liar", CheckFn: func(context.Context, *steps.Runtime) (steps.Status, error) {
		return steps.NotDone("vm 101 missing"), nil
	}}
	after := fn("after", "liar")
	err := r.Run(context.Background(), mustPlan(t, liar, after))
	if !errors.Is(err, steps.ErrBug) || !strings.Contains(err.Error(), "bug in step liar") || !strings.Contains(err.Error(), "vm 101 missing") {
		t.Fatalf("Run = %v, want a bug error naming the step and what Check found", err)
	}
	var se *steps.StepError
	if !errors.As(err, &se) || se.StepID != "liar" {
		t.Fatalf("no StepError naming liar: %v", err)
	}
	var failed []steps.StepFailed
	for _, e := range rec.Events() {
		if f, ok := e.(steps.StepFailed); ok {
			failed = append(failed, f)
		}
	}
	if len(failed) != 1 || !failed[0].Bug || failed[0].Retryable {
		t.Fatalf("StepFailed events %+v, want one with Bug", failed)
	}
	if rec.Filter("start:after") != nil {
		t.Fatal("dependent of the lying step ran")
	}
	if c, _ := r.Store.Step("liar"); c.Status != state.StatusFailed || !strings.Contains(c.Error, "bug in step") {
		t.Fatalf("checkpoint %+v", c)
	}
}

func TestRetryWithBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		failures  int
		retryable bool
		wantErr   bool
		attempts  int
		backoffs  []int
	}{
		{"recovers", 2, true, false, 3, []int{1, 2}},
		{"exhausted", 5, true, true, 3, []int{1, 2}},
		{"not retryable", 1, false, true, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &stepstest.Recorder{}
			r, _ := stepstest.Runner(t, rec)
			var mu sync.Mutex
			var backoffs []int
			r.Backoff = func(a int) time.Duration {
				mu.Lock()
				backoffs = append(backoffs, a)
				mu.Unlock()
				return time.Microsecond
			}
			calls, done := 0, false
			s := &stepstest.Func{IDv: "flaky",
				CheckFn: func(context.Context, *steps.Runtime) (steps.Status, error) { return steps.Status{Done: done}, nil },
				ApplyFn: func(context.Context, *steps.Runtime) error {
					calls++
					if calls <= tc.failures {
						err := fmt.Errorf("api 503 (call %d)", calls)
						if tc.retryable {
							return steps.MarkRetryable(fmt.Errorf("wrapped: %w", err))
						}
						return err
					}
					done = true
					return nil
				}}
			err := r.Run(context.Background(), mustPlan(t, s))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Run = %v", err)
			}
			if calls != tc.attempts {
				t.Errorf("Apply called %d times, want %d", calls, tc.attempts)
			}
			if !slices.Equal(backoffs, tc.backoffs) {
				t.Errorf("backoff attempts %v, want %v", backoffs, tc.backoffs)
			}
			if n := len(rec.Filter("start:flaky")); n != tc.attempts {
				t.Errorf("%d StepStarted, want %d", n, tc.attempts)
			}
			c, _ := r.Store.Step("flaky")
			if c.Attempts != tc.attempts {
				t.Errorf("checkpoint attempts %d, want %d", c.Attempts, tc.attempts)
			}
			for _, e := range rec.Events() {
				if f, ok := e.(steps.StepFailed); ok && f.Retryable != tc.retryable {
					t.Errorf("StepFailed.Retryable = %v", f.Retryable)
				}
			}
		})
	}
}

func TestDefaultBackoff(t *testing.T) {
	t.Parallel()
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}
	for i, w := range want {
		if got := steps.DefaultBackoff(i + 1); got != w {
			t.Errorf("DefaultBackoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := steps.DefaultBackoff(40); got != 30*time.Second {
		t.Errorf("DefaultBackoff(40) = %v, want the 30s cap", got)
	}
}

func TestRetryableChain(t *testing.T) {
	t.Parallel()
	base := errors.New("x")
	if steps.Retryable(base) || steps.Retryable(nil) {
		t.Fatal("plain error retryable")
	}
	if !steps.Retryable(fmt.Errorf("a: %w", steps.MarkRetryable(base))) {
		t.Fatal("wrapped mark lost")
	}
	if !steps.Retryable(errors.Join(base, steps.MarkRetryable(base))) {
		t.Fatal("joined mark lost")
	}
	if steps.MarkRetryable(nil) != nil {
		t.Fatal("MarkRetryable(nil) != nil")
	}
	if !errors.Is(steps.MarkRetryable(base), base) {
		t.Fatal("mark hides the cause")
	}
}

type fatalErr struct{}

func (fatalErr) Error() string { return "host key changed" }
func (fatalErr) Fatal() bool   { return true }

// A fatal error (a changed host key) is never retried, even when a caller
// marked the failure around it retryable.
func TestFatalIsNeverRetryable(t *testing.T) {
	t.Parallel()
	err := steps.MarkRetryable(fmt.Errorf("ssh tappaas@10.0.0.20: %w", fatalErr{}))
	if !steps.Fatal(err) || steps.Retryable(err) {
		t.Fatalf("Fatal %v Retryable %v", steps.Fatal(err), steps.Retryable(err))
	}
	if !steps.Fatal(errors.Join(errors.New("x"), fatalErr{})) || steps.Fatal(steps.MarkRetryable(errors.New("x"))) {
		t.Fatal("Fatal misreads the chain")
	}
	var calls atomic.Int32
	s := &stepstest.Func{IDv: "vm.ssh",
		CheckFn: func(context.Context, *steps.Runtime) (steps.Status, error) { return steps.NotDone("no"), nil },
		ApplyFn: func(context.Context, *steps.Runtime) error { calls.Add(1); return err }}
	r, _ := stepstest.Runner(t, &stepstest.Recorder{})
	r.Backoff = func(int) time.Duration { return time.Microsecond }
	if rerr := r.Run(context.Background(), mustPlan(t, s)); rerr == nil || calls.Load() != 1 {
		t.Fatalf("run: %v after %d attempts, want one", rerr, calls.Load())
	}
}

func failing(id string, opt bool, needs ...string) (*stepstest.Func, *atomic.Int32) {
	var calls atomic.Int32
	var done atomic.Bool
	return &stepstest.Func{IDv: id, Opt: opt, NeedsV: needs,
		CheckFn: func(context.Context, *steps.Runtime) (steps.Status, error) {
			return steps.Status{Done: done.Load()}, nil
		},
		ApplyFn: func(context.Context, *steps.Runtime) error {
			if calls.Add(1) == 1 {
				return errors.New("disk in use")
			}
			done.Store(true)
			return nil
		}}, &calls
}

func TestPolicyAbort(t *testing.T) {
	t.Parallel()
	rec := &stepstest.Recorder{}
	r, _ := stepstest.Runner(t, rec)
	bad, _ := failing("bad", false)
	p := mustPlan(t, fn("first"), bad, fn("independent"))
	err := r.Run(context.Background(), p)
	if !errors.Is(err, steps.ErrAborted) || !strings.Contains(err.Error(), "step bad: disk in use") {
		t.Fatalf("Run = %v", err)
	}
	if rec.Filter("start:independent") != nil {
		t.Fatal("a step started after the abort")
	}
	if rec.Filter("ask:") != nil {
		t.Fatal("abort policy asked")
	}
}

func TestPolicyAsk(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		optional bool
		answer   steps.Choice
		choices  string
		wantErr  error
		depRuns  bool
		applies  int32
	}{
		{"retry", false, steps.ChoiceRetry, "ask:bad[retry abort]", nil, true, 2},
		{"skip optional", true, steps.ChoiceSkip, "ask:bad[retry skip abort]", nil, true, 1},
		{"skip not offered", false, steps.ChoiceSkip, "ask:bad[retry abort]", steps.ErrAborted, false, 1},
		{"abort", true, steps.ChoiceAbort, "ask:bad[retry skip abort]", steps.ErrAborted, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &stepstest.Recorder{OnAsk: func(a steps.Ask) steps.Choice { return tc.answer }}
			r, _ := stepstest.Runner(t, rec)
			r.Policy = steps.PolicyAsk
			bad, calls := failing("bad", tc.optional)
			err := r.Run(context.Background(), mustPlan(t, bad, fn("dep", "bad")))
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Run = %v, want %v", err, tc.wantErr)
			}
			if got := rec.Filter("ask:"); !slices.Equal(got, []string{tc.choices}) {
				t.Fatalf("asks %v, want %v", got, tc.choices)
			}
			tr := rec.Trace()
			if i, j := slices.Index(tr, "fail:bad#1"), slices.Index(tr, tc.choices); i < 0 || j != i+1 {
				t.Fatalf("Ask does not follow StepFailed: %v", tr)
			}
			if ran := rec.Filter("start:dep") != nil; ran != tc.depRuns {
				t.Fatalf("dependent ran = %v, want %v", ran, tc.depRuns)
			}
			if calls.Load() != tc.applies {
				t.Fatalf("Apply calls %d, want %d", calls.Load(), tc.applies)
			}
			if tc.answer == steps.ChoiceSkip && tc.optional {
				if c, _ := r.Store.Step("bad"); c.Status != state.StatusSkipped || !strings.Contains(c.Detail, "operator") {
					t.Fatalf("checkpoint %+v", c)
				}
			}
		})
	}
}

func TestAskWaitsUntilCancelled(t *testing.T) {
	t.Parallel()
	asked := make(chan steps.Ask, 1)
	sink := steps.SinkFunc(func(e steps.Event) {
		if a, ok := e.(steps.Ask); ok {
			asked <- a
		}
	})
	r, _ := stepstest.Runner(t, nil)
	r.Events = sink
	r.Policy = steps.PolicyAsk
	bad, _ := failing("bad", false)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, mustPlan(t, bad)) }()
	a := <-asked
	select {
	case err := <-errc:
		t.Fatalf("Run returned before the Ask was answered: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	a.Reply(steps.ChoiceRetry) // a late reply must not block or panic
	if c, _ := r.Store.Step("bad"); c.Status != state.StatusInterrupted {
		t.Fatalf("checkpoint %+v, want interrupted", c)
	}
}

func TestCancelMidStep(t *testing.T) {
	t.Parallel()
	rec := &stepstest.Recorder{}
	r, fsys := stepstest.Runner(t, rec)
	inApply := make(chan struct{})
	var cleaned atomic.Bool
	slow := &stepstest.Func{IDv: "slow",
		ApplyFn: func(ctx context.Context, rt *steps.Runtime) error {
			close(inApply)
			<-ctx.Done()
			return fmt.Errorf("download: %w", ctx.Err())
		},
		CleanupFn: func(ctx context.Context, rt *steps.Runtime) error {
			if ctx.Err() != nil {
				return errors.New("cleanup got a dead context")
			}
			cleaned.Store(true)
			return nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, mustPlan(t, fn("before"), slow, fn("after", "slow"))) }()
	<-inApply
	cancel()
	err := <-errc
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("Run = %v, want interrupted wrapping context.Canceled", err)
	}
	if c, _ := r.Store.Step("slow"); c.Status != state.StatusInterrupted {
		t.Fatalf("checkpoint %+v, want interrupted", c)
	}
	var sf []steps.StepFailed
	for _, e := range rec.Events() {
		if f, ok := e.(steps.StepFailed); ok {
			sf = append(sf, f)
		}
	}
	if len(sf) != 1 || !sf[0].Interrupted || sf[0].StepID != "slow" || !errors.Is(sf[0].Err, context.Canceled) {
		t.Fatalf("StepFailed events %+v, want one Interrupted for slow", sf)
	}
	if c, _ := r.Store.Step("before"); c.Status != state.StatusDone {
		t.Fatalf("before = %+v", c)
	}
	if rec.Filter("start:after") != nil {
		t.Fatal("a step started after cancel")
	}
	if !cleaned.Load() {
		t.Fatal("cleanup did not run (with a live context) after the interrupted Apply")
	}
	evs := rec.Events()
	if pd := evs[len(evs)-1].(steps.PlanDone); !pd.Interrupted {
		t.Fatalf("PlanDone %+v", pd)
	}
	// Nothing corrupted, lock released: the store loads and a new run finishes.
	if _, err := state.Open(fsys); err != nil {
		t.Fatal(err)
	}
	slow.ApplyFn = nil
	slow.CheckFn = nil
	if err := r.Run(context.Background(), mustPlan(t, fn("before"), fn("slow"), fn("after", "slow"))); err != nil {
		t.Fatalf("resume: %v", err)
	}
}

func concurrencyProbe(n int, touches func(i int) []string, sleep time.Duration) ([]steps.Step, *atomic.Int32, func() map[string]int) {
	var cur, peak atomic.Int32
	var mu sync.Mutex
	holders := map[string]int{}
	maxPerRes := map[string]int{}
	var ss []steps.Step
	for i := range n {
		res := touches(i)
		var done atomic.Bool
		ss = append(ss, &stepstest.Func{IDv: fmt.Sprintf("s%02d", i), TouchesV: res,
			CheckFn: func(context.Context, *steps.Runtime) (steps.Status, error) {
				return steps.Status{Done: done.Load()}, nil
			},
			ApplyFn: func(context.Context, *steps.Runtime) error {
				c := cur.Add(1)
				for {
					p := peak.Load()
					if c <= p || peak.CompareAndSwap(p, c) {
						break
					}
				}
				mu.Lock()
				for _, r := range res {
					holders[r]++
					maxPerRes[r] = max(maxPerRes[r], holders[r])
				}
				mu.Unlock()
				time.Sleep(sleep)
				mu.Lock()
				for _, r := range res {
					holders[r]--
				}
				mu.Unlock()
				cur.Add(-1)
				done.Store(true)
				return nil
			}})
	}
	return ss, &peak, func() map[string]int { mu.Lock(); defer mu.Unlock(); return cloneCounts(maxPerRes) }
}

func cloneCounts(m map[string]int) map[string]int {
	c := map[string]int{}
	for k, v := range m {
		c[k] = v
	}
	return c
}

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	ss, peak, _ := concurrencyProbe(12, func(int) []string { return nil }, 5*time.Millisecond)
	r, _ := stepstest.Runner(t, nil)
	r.Concurrency = 3
	if err := r.Run(context.Background(), mustPlan(t, ss...)); err != nil {
		t.Fatal(err)
	}
	if peak.Load() != 3 {
		t.Fatalf("peak concurrency %d, want 3", peak.Load())
	}
}

func TestResourceExclusion(t *testing.T) {
	t.Parallel()
	ss, peak, perRes := concurrencyProbe(12, func(i int) []string {
		if i%2 == 0 {
			return []string{"vm:101"}
		}
		return []string{fmt.Sprintf("own:%d", i)}
	}, 3*time.Millisecond)
	r, _ := stepstest.Runner(t, nil)
	r.Concurrency = 6
	if err := r.Run(context.Background(), mustPlan(t, ss...)); err != nil {
		t.Fatal(err)
	}
	if m := perRes(); m["vm:101"] != 1 {
		t.Fatalf("steps touching vm:101 overlapped: %d at once", m["vm:101"])
	}
	if peak.Load() < 2 {
		t.Fatalf("no concurrency at all (peak %d): exclusion test is vacuous", peak.Load())
	}
}

func TestDependentsOfFailureDoNotRun(t *testing.T) {
	t.Parallel()
	rec := &stepstest.Recorder{}
	r, _ := stepstest.Runner(t, rec)
	r.Policy = steps.PolicyContinue
	r.Concurrency = 2
	bad, _ := failing("a", false)
	p := mustPlan(t, bad, fn("b", "a"), fn("c", "b"), fn("d"), fn("e", "d"))
	err := r.Run(context.Background(), p)
	var se *steps.StepError
	if !errors.As(err, &se) || se.StepID != "a" || errors.Is(err, steps.ErrAborted) {
		t.Fatalf("Run = %v", err)
	}
	for _, id := range []string{"b", "c"} {
		if rec.Filter("start:"+id) != nil {
			t.Errorf("%s ran although it depends on the failed step", id)
		}
	}
	for _, id := range []string{"d", "e"} {
		if rec.Filter("done:"+id) == nil {
			t.Errorf("independent %s did not run", id)
		}
	}
	evs := rec.Events()
	if pd := evs[len(evs)-1].(steps.PlanDone); pd.Failed != 1 || pd.Applied != 2 {
		t.Errorf("PlanDone %+v", pd)
	}
}

func TestPause(t *testing.T) {
	t.Parallel()
	rec := &stepstest.Recorder{}
	r, _ := stepstest.Runner(t, rec)
	tg := stepstest.NewTarget()
	var ss []steps.Step
	for i := range 5 {
		ss = append(ss, tg.Step(fmt.Sprintf("s%d", i), nil, fmt.Sprintf("e%d", i)))
	}
	ss[1].(*stepstest.Func).ApplyFn = func(ctx context.Context, rt *steps.Runtime) error {
		r.Pause()
		tg.Create("e1")
		return nil
	}
	p := mustPlan(t, ss...)
	err := r.Run(context.Background(), p)
	if !errors.Is(err, steps.ErrPaused) {
		t.Fatalf("Run = %v, want ErrPaused", err)
	}
	if got := rec.Filter("done:"); !slices.Equal(got, []string{"done:s0", "done:s1"}) {
		t.Fatalf("done %v: the running step must finish and no new one start", got)
	}
	evs := rec.Events()
	if pd := evs[len(evs)-1].(steps.PlanDone); !pd.Interrupted {
		t.Fatalf("PlanDone %+v", pd)
	}
	if err := r.Run(context.Background(), p); err != nil {
		t.Fatalf("resume: %v", err)
	}
	for i := range 5 {
		if tg.Count(fmt.Sprintf("e%d", i)) != 1 {
			t.Fatalf("effect e%d created %d times", i, tg.Count(fmt.Sprintf("e%d", i)))
		}
	}
}

var vmid = steps.Key[int]("firewall.vmid")

func TestFactsAndSecretsPersisted(t *testing.T) {
	t.Parallel()
	r, fsys := stepstest.Runner(t, nil)
	var seen string
	learn := &stepstest.Func{IDv: "learn", ApplyFn: func(ctx context.Context, rt *steps.Runtime) error {
		if err := steps.Set(rt.Facts, vmid, 101); err != nil {
			return err
		}
		seen = string(r.Store.Facts()["firewall.vmid"]) // persisted as soon as set
		return rt.Secrets.SetSecret("firewall.root", "pw-123")
	}}
	done := false
	learn.CheckFn = func(context.Context, *steps.Runtime) (steps.Status, error) {
		return steps.Status{Done: done}, nil
	}
	learn.ApplyFn = func(orig func(context.Context, *steps.Runtime) error) func(context.Context, *steps.Runtime) error {
		return func(ctx context.Context, rt *steps.Runtime) error {
			err := orig(ctx, rt)
			done = err == nil
			return err
		}
	}(learn.ApplyFn)
	var got int
	use := &stepstest.Func{IDv: "use", NeedsV: []string{"learn"}, ApplyFn: func(ctx context.Context, rt *steps.Runtime) error {
		var err error
		got, err = steps.MustGet(rt.Facts, vmid)
		return err
	}, CheckFn: func(context.Context, *steps.Runtime) (steps.Status, error) { return steps.Status{Done: got != 0}, nil }}
	if err := r.Run(context.Background(), mustPlan(t, learn, use)); err != nil {
		t.Fatal(err)
	}
	if seen != "101" || got != 101 {
		t.Fatalf("fact persisted during Apply = %q, read by next step = %d", seen, got)
	}
	st, err := state.Open(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := st.Secrets().Secret("firewall.root"); v != "pw-123" {
		t.Fatalf("secret not persisted: %q", v)
	}
	var n int
	_ = json.Unmarshal(st.Facts()["firewall.vmid"], &n)
	if n != 101 {
		t.Fatalf("fact not persisted: %d", n)
	}
	if b, _ := fsys.ReadFile(state.StateFile); strings.Contains(string(b), "pw-123") {
		t.Fatal("secret leaked into state.json")
	}
}

func TestCleanupAfterApply(t *testing.T) {
	t.Parallel()
	rec := &stepstest.Recorder{}
	r, _ := stepstest.Runner(t, rec)
	var cleanups atomic.Int32
	done := false
	s := &stepstest.Func{IDv: "tmp",
		CheckFn:   func(context.Context, *steps.Runtime) (steps.Status, error) { return steps.Status{Done: done}, nil },
		ApplyFn:   func(context.Context, *steps.Runtime) error { done = true; return nil },
		CleanupFn: func(context.Context, *steps.Runtime) error { cleanups.Add(1); return errors.New("rm failed") }}
	if err := r.Run(context.Background(), mustPlan(t, s)); err != nil {
		t.Fatalf("cleanup error was fatal: %v", err)
	}
	if cleanups.Load() != 1 {
		t.Fatalf("cleanup ran %d times", cleanups.Load())
	}
	if rec.Filter("out:tmp:cleanup failed") == nil {
		t.Fatalf("cleanup failure not reported: %v", rec.Trace())
	}
	// Skipped steps are not cleaned up (nothing was applied).
	if err := r.Run(context.Background(), mustPlan(t, s)); err != nil {
		t.Fatal(err)
	}
	if cleanups.Load() != 1 {
		t.Fatal("cleanup ran for a skipped step")
	}
}

func TestRunRefusedWhileLocked(t *testing.T) {
	t.Parallel()
	rec := &stepstest.Recorder{}
	r, fsys := stepstest.Runner(t, rec)
	r.Store.PIDAlive = func(int) bool { return true }
	otherStore, err := state.Open(fsys)
	if err != nil {
		t.Fatal(err)
	}
	other := state.Holder{User: "root", Host: "tappaas1", PID: 1234, Since: time.Now()}
	unlock, err := otherStore.Lock(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	tg := stepstest.NewTarget()
	err = r.Run(context.Background(), mustPlan(t, tg.Step("a", nil, "x")))
	var le *state.LockError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "held by root@tappaas1 pid 1234") {
		t.Fatalf("Run = %v, want a LockError naming the holder", err)
	}
	if tg.TotalApplies() != 0 {
		t.Fatal("a step ran without the lock")
	}
	if got := rec.Trace(); !slices.Equal(got, []string{"plandone"}) {
		t.Fatalf("events %v, want only PlanDone", got)
	}
}

func TestPanicInStepIsABug(t *testing.T) {
	t.Parallel()
	r, _ := stepstest.Runner(t, nil)
	s := &stepstest.Func{IDv: "boom", ApplyFn: func(context.Context, *steps.Runtime) error { panic("nil map") }}
	err := r.Run(context.Background(), mustPlan(t, s))
	if !errors.Is(err, steps.ErrBug) || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("Run = %v", err)
	}
}

func TestCheckErrorIsNotNotDone(t *testing.T) {
	t.Parallel()
	r, _ := stepstest.Runner(t, nil)
	applied := false
	s := &stepstest.Func{IDv: "blind",
		CheckFn: func(context.Context, *steps.Runtime) (steps.Status, error) {
			return steps.Status{}, errors.New("api 401")
		},
		ApplyFn: func(context.Context, *steps.Runtime) error { applied = true; return nil }}
	err := r.Run(context.Background(), mustPlan(t, s))
	if err == nil || !strings.Contains(err.Error(), "check: api 401") || applied {
		t.Fatalf("Run = %v, applied = %v: a failed Check must not lead to Apply", err, applied)
	}
}

// A caller that took the lock itself (to save its answers first) keeps
// it: Run uses it and leaves it held.
func TestRunUsesTheCallersLock(t *testing.T) {
	t.Parallel()
	r, fsys := stepstest.Runner(t, nil)
	unlock, err := r.Store.Lock(context.Background(), state.Holder{User: "op", Host: "h", PID: 77})
	if err != nil {
		t.Fatal(err)
	}
	tg := stepstest.NewTarget()
	if err := r.Run(context.Background(), mustPlan(t, tg.Step("a", nil, "x"))); err != nil {
		t.Fatal(err)
	}
	if _, held := r.Store.Held(); !held {
		t.Fatal("Run released the caller's lock")
	}
	if _, by, _ := r.Store.Plan(); by.PID != 77 {
		t.Fatalf("plan recorded by %+v, want the lock's holder", by)
	}
	if err := r.Store.SetInput("after", true); err != nil {
		t.Fatalf("a change after the run, under the caller's lock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.ReadFile(state.LockFile); err == nil {
		t.Fatal("lock left behind")
	}
}

// Taking over a dead run's lock is told to the operator: PlanStarted
// carries the warning (the TUI and the headless printers show it).
func TestRunReportsLockTakeover(t *testing.T) {
	t.Parallel()
	rec := &stepstest.Recorder{}
	r, fsys := stepstest.Runner(t, rec)
	dead, _ := json.Marshal(state.Holder{ID: "dead-run", User: "root", Host: "testhost", PID: 999})
	if err := fsys.CreateExclusive(state.LockFile, dead, 0o600); err != nil {
		t.Fatal(err)
	}
	r.Store.PIDAlive = func(pid int) bool { return pid != 999 }
	tg := stepstest.NewTarget()
	if err := r.Run(context.Background(), mustPlan(t, tg.Step("a", nil, "x"))); err != nil {
		t.Fatal(err)
	}
	var started *steps.PlanStarted
	for _, e := range rec.Events() {
		if ps, ok := e.(steps.PlanStarted); ok {
			started = &ps
		}
	}
	if started == nil || len(started.Warnings) != 1 || !strings.Contains(started.Warnings[0], "root@testhost pid 999") || !strings.Contains(started.Warnings[0], "mem:lock") {
		t.Fatalf("PlanStarted = %+v, want the take-over warning naming the dead holder and the lock path", started)
	}
}
