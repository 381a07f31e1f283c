package steps

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// chain is a b c in a line, expected 10s, 30s, 60s.
func chain() []StepInfo {
	return []StepInfo{
		{ID: "a", Expected: 10 * time.Second},
		{ID: "b", Needs: []string{"a"}, Expected: 30 * time.Second},
		{ID: "c", Needs: []string{"b"}, Expected: 60 * time.Second},
	}
}

func near(got, want, tol time.Duration) bool {
	d := got - want
	return d >= -tol && d <= tol
}

func TestEstimateBeforeAnythingIsTheExpectedPlan(t *testing.T) {
	t.Parallel()
	e := NewEstimator(chain(), 1)
	e.Observe(PlanStarted{Steps: chain(), At: t0})
	est := e.Estimate(t0)
	if est.Left != 100*time.Second || est.Fraction != 0 {
		t.Fatalf("%+v, want 100s left, 0%%", est)
	}
}

// A node twice as fast as expected: after the first steps the rest is
// predicted at that speed.
func TestEstimateCalibratesWithTheObservedSpeed(t *testing.T) {
	t.Parallel()
	e := NewEstimator(chain(), 1)
	e.Observe(PlanStarted{Steps: chain(), At: t0})
	e.Observe(StepStarted{StepID: "a", At: t0})
	e.Observe(StepDone{StepID: "a", Duration: 5 * time.Second, At: at(5 * time.Second)})
	e.Observe(StepStarted{StepID: "b", At: at(5 * time.Second)})
	e.Observe(StepDone{StepID: "b", Duration: 15 * time.Second, At: at(20 * time.Second)})
	if s := e.Speed(); s < 0.5 || s > 0.6 {
		t.Fatalf("speed %.2f, want about 0.5", s)
	}
	est := e.Estimate(at(20 * time.Second))
	// c: 60s at ~0.55 → ~33s (the prior keeps it a little above 30s).
	if !near(est.Left, 32*time.Second, 3*time.Second) {
		t.Fatalf("left %s, want about 32s", est.Left)
	}
	if est.Fraction < 0.35 || est.Fraction > 0.42 {
		t.Fatalf("fraction %.2f", est.Fraction)
	}
}

// A running step that reports a fraction is predicted by its own rate.
func TestEstimateUsesAStepsReportedRate(t *testing.T) {
	t.Parallel()
	infos := []StepInfo{{ID: "dl", Expected: 30 * time.Second}}
	e := NewEstimator(infos, 1)
	e.Observe(PlanStarted{Steps: infos, At: t0})
	e.Observe(StepStarted{StepID: "dl", At: t0})
	e.Observe(Progress{StepID: "dl", Fraction: 0.25, Done: 25, Total: 100, At: at(20 * time.Second)})
	if est := e.Estimate(at(20 * time.Second)); est.Left != 60*time.Second {
		t.Fatalf("left %s, want 60s (25%% in 20s)", est.Left)
	}
}

// Concurrent branches: the critical path, not the sum; steps an earlier
// run finished count nothing.
func TestEstimateFollowsTheCriticalPath(t *testing.T) {
	t.Parallel()
	infos := []StepInfo{
		{ID: "pre", Expected: 10 * time.Second, Checkpoint: "done"},
		{ID: "x", Needs: []string{"pre"}, Expected: 40 * time.Second},
		{ID: "y", Needs: []string{"pre"}, Expected: 20 * time.Second},
		{ID: "z", Needs: []string{"x", "y"}, Expected: 10 * time.Second},
	}
	e := NewEstimator(infos, 4)
	e.Observe(PlanStarted{Steps: infos, At: t0})
	if est := e.Estimate(t0); est.Left != 50*time.Second {
		t.Fatalf("left %s, want 50s (x then z)", est.Left)
	}
	e.Concurrency = 1
	if est := e.Estimate(t0); est.Left != 70*time.Second {
		t.Fatalf("one at a time: left %s, want 70s", est.Left)
	}
}

func TestEstimateIsZeroWhenThePlanEnded(t *testing.T) {
	t.Parallel()
	e := NewEstimator(chain(), 1)
	e.Observe(PlanStarted{Steps: chain(), At: t0})
	e.Observe(PlanDone{At: at(time.Second)})
	if est := e.Estimate(at(time.Second)); est.Left != 0 || est.Fraction != 1 {
		t.Fatalf("%+v", est)
	}
}

// A wait repeating itself is not progress: after longer than expected the
// step is flagged with what it waits for and when it gives up; output
// clears the flag.
func TestStalledNamesTheWait(t *testing.T) {
	t.Parallel()
	infos := []StepInfo{{ID: "fw", Expected: 55 * time.Second}}
	e := NewEstimator(infos, 1)
	e.Observe(PlanStarted{Steps: infos, At: t0})
	e.Observe(StepStarted{StepID: "fw", At: t0})
	dl := at(10 * time.Minute)
	for s := time.Duration(0); s <= 3*time.Minute; s += 5 * time.Second {
		e.Observe(Progress{StepID: "fw", Fraction: -1, What: "the firewall API at https://10.0.0.1 to accept our key", Deadline: dl, At: at(s)})
	}
	if st := e.Stalled(at(100 * time.Second)); len(st) != 0 {
		t.Fatalf("flagged before twice the expected time: %+v", st)
	}
	st := e.Stalled(at(3 * time.Minute))
	if len(st) != 1 {
		t.Fatalf("not flagged after 3m of waiting: %+v", st)
	}
	want := "no output for 3m, gives up in 7m — still waiting for the firewall API at https://10.0.0.1 to accept our key"
	if got := st[0].Text(at(3 * time.Minute)); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	e.Observe(Output{StepID: "fw", Lines: []string{"x"}, At: at(3 * time.Minute)})
	if st := e.Stalled(at(3*time.Minute + time.Second)); len(st) != 0 {
		t.Fatalf("still flagged after output: %+v", st)
	}
}

func TestStalledWithoutAWaitSaysTheUsualDuration(t *testing.T) {
	t.Parallel()
	infos := []StepInfo{{ID: "s", Expected: 10 * time.Second}}
	e := NewEstimator(infos, 1)
	e.Observe(PlanStarted{Steps: infos, At: t0})
	e.Observe(StepStarted{StepID: "s", At: t0})
	st := e.Stalled(at(2 * time.Minute))
	if len(st) != 1 || !strings.HasSuffix(st[0].Text(at(2*time.Minute)), "this step usually takes 10s") || !strings.HasPrefix(st[0].String(), "no output for 2m") {
		t.Fatalf("%+v", st)
	}
}

func TestShortDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{45 * time.Second: "45s", 3 * time.Minute: "3m", 200 * time.Second: "3m20s", 65 * time.Minute: "1h05m"} {
		if got := ShortDuration(d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}

func TestBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{999: "999 B", 131072: "131 kB", 276e6: "276 MB", 1500e6: "1.5 GB", 7200: "7.2 kB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
