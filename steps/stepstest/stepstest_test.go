package stepstest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/stepstest"
)

func TestTargetStepIsIdempotent(t *testing.T) {
	t.Parallel()
	tg := stepstest.NewTarget()
	s := tg.Step("vm", nil, "vm:101", "disk:101")
	rec := &stepstest.Recorder{}
	stepstest.Idempotent(t, s, stepstest.NewRuntime("vm", rec), func() string {
		return fmt.Sprint(tg.Count("vm:101"), tg.Count("disk:101"))
	})
	if tg.Count("vm:101") != 1 || tg.Applies("vm") != 2 {
		t.Fatalf("count %d, applies %d", tg.Count("vm:101"), tg.Applies("vm"))
	}
	if got := rec.Filter("out:vm:created"); len(got) != 2 {
		t.Fatalf("output %v", rec.Trace())
	}
}

// idempotentFails runs Idempotent in a throwaway TB and reports whether it
// failed.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Fatalf(string, ...any) { f.failed = true; panic(f) }

func idempotentFails(s steps.Step, snapshot func() string) (failed bool) {
	tb := &fakeTB{}
	defer func() {
		if r := recover(); r != nil && r != any(tb) {
			panic(r)
		}
		failed = tb.failed
	}()
	stepstest.Idempotent(tb, s, nil, snapshot)
	return false
}

func TestIdempotentCatchesBadSteps(t *testing.T) {
	t.Parallel()
	n := 0
	another := &stepstest.Func{IDv: "another", // creates another VM every time
		CheckFn: func(context.Context, *steps.Runtime) (steps.Status, error) { return steps.Status{Done: n > 0}, nil },
		ApplyFn: func(context.Context, *steps.Runtime) error { n++; return nil }}
	if !idempotentFails(another, func() string { return fmt.Sprint(n) }) {
		t.Fatal("a step that creates another VM on every Apply passed")
	}
	liar := &stepstest.Func{IDv: "liar", CheckFn: func(context.Context, *steps.Runtime) (steps.Status, error) { return steps.NotDone("no"), nil }}
	if !idempotentFails(liar, nil) {
		t.Fatal("a step whose Check never says done passed")
	}
	tg := stepstest.NewTarget()
	if idempotentFails(tg.Step("ok", nil, "x"), func() string { return fmt.Sprint(tg.Count("x")) }) {
		t.Fatal("a correct step failed")
	}
}
