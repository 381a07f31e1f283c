package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/backends/state/statetest"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/install"
	"github.com/tappaas/tappaas/steps/stepstest"
)

// The final error names the step the run ended with, not the last failed
// attempt: here "flaky" fails once (retryable) after "broken" failed for
// good, then succeeds.
func TestFinalErrorNamesTheFailedStep(t *testing.T) {
	t.Parallel()
	st, err := state.Open(statetest.NewMemFS())
	if err != nil {
		t.Fatal(err)
	}
	brokenDone := make(chan struct{})
	flakyCalls := 0
	flaky := &stepstest.Func{IDv: "flaky",
		CheckFn: func(context.Context, *steps.Runtime) (steps.Status, error) {
			return steps.Status{Done: flakyCalls > 1}, nil
		},
		ApplyFn: func(ctx context.Context, _ *steps.Runtime) error {
			flakyCalls++
			if flakyCalls == 1 {
				<-brokenDone
				return steps.MarkRetryable(errors.New("api 503"))
			}
			return nil
		}}
	broken := &stepstest.Func{IDv: "broken",
		CheckFn: func(context.Context, *steps.Runtime) (steps.Status, error) { return steps.NotDone("no"), nil },
		ApplyFn: func(context.Context, *steps.Runtime) error {
			defer close(brokenDone)
			return errors.New("disk full")
		}}
	plan, err := steps.NewPlan("p", flaky, broken)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sess := &install.Session{Store: st, Log: slog.New(slog.DiscardHandler)}
	err = runPlan(context.Background(), sess, plan, installOptions{concurrency: 2}, &out)
	if err == nil || !strings.Contains(err.Error(), "step broken failed") || strings.Contains(err.Error(), "flaky") {
		t.Fatalf("final error: %v\n%s", err, out.String())
	}
	if flakyCalls != 2 {
		t.Fatalf("flaky applied %d times; the scenario needs its retry to succeed\n%s", flakyCalls, out.String())
	}
}
