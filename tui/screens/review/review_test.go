package review

import (
	"context"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"

	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

type job struct{ n int }

func (j job) Name() string { return "install" }
func (j job) Steps() []steps.StepInfo {
	var out []steps.StepInfo
	for i := 0; i < j.n; i++ {
		in := steps.StepInfo{ID: "s" + string(rune('a'+i)), Title: "Step " + string(rune('A'+i)), Changes: []string{"change one", "change two"}}
		if i == 0 {
			in.Checkpoint = "done"
		}
		out = append(out, in)
	}
	return out
}
func (job) Run(context.Context, func(steps.Event)) error { return nil }
func (job) Pause()                                       {}

func TestReviewSingleConfirmation(t *testing.T) {
	t.Parallel()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	m := New(com, common.Request{Goal: common.GoalResume})
	m.SetSize(80, 10)
	if _, cmd := m.Update(tuitest.KeyMsg("enter")); cmd != nil {
		t.Error("enter before the plan exists must do nothing")
	}
	m.Update(PlanMsg{Job: job{n: 6}})
	// Step A was done in an earlier run: the view opens at step B.
	v := tuitest.Plain(m.View())
	if !strings.HasPrefix(v, "·  2. Step B") || !strings.Contains(v, "(↑ 3 ↓ ") {
		t.Errorf("should open at the first step to do, with A above:\n%s", v)
	}
	m.Update(tuitest.KeyMsg("pgup"))
	v = tuitest.Plain(m.View())
	for _, want := range []string{"1. Step A (done in an earlier run", "change one", "6 steps.", "more lines"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	for i := 0; i < 50; i++ {
		m.Update(tuitest.KeyMsg("down"))
	}
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "6. Step F") || strings.Contains(v, "↓") {
		t.Errorf("scrolled to the end:\n%s", v)
	}
	_, cmd := m.Update(tuitest.KeyMsg("enter"))
	got, ok := cmd().(ConfirmMsg)
	if !ok || got.Req.Goal != common.GoalResume || got.Job == nil {
		t.Errorf("confirm = %#v", got)
	}
	_, cmd = m.Update(tuitest.KeyMsg("esc"))
	if _, ok := cmd().(common.GoHomeMsg); !ok {
		t.Error("esc should go home")
	}
}
