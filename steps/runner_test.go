package steps_test

import (
	"context"
	"testing"

	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/stepstest"
)

func TestRunnerSmoke(t *testing.T) {
	t.Parallel()
	tg := stepstest.NewTarget()
	rec := &stepstest.Recorder{}
	r, _ := stepstest.Runner(t, rec)
	p, err := steps.NewPlan("smoke", tg.Step("a", nil, "x"), tg.Step("b", []string{"a"}, "y", "z"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Log(rec.Trace())
	if err := r.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Log(rec.Trace())
}
