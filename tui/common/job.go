package common

import (
	"context"

	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/steps"
)

// RunnerJob adapts a steps.Plan and its steps.Runner to Job: what a Backend
// returns once it has built a plan.
type RunnerJob struct {
	plan   *steps.Plan
	runner *steps.Runner
	infos  []steps.StepInfo
}

// NewRunnerJob returns a Job running p with r. rt feeds the steps' Describe
// (nil: an empty Runtime); the checkpoint column comes from r.Store.
func NewRunnerJob(p *steps.Plan, r *steps.Runner, rt *steps.Runtime) *RunnerJob {
	return &RunnerJob{plan: p, runner: r, infos: p.Review(rt, r.Store)}
}

// Name implements Job.
func (j *RunnerJob) Name() string { return j.plan.Name() }

// Steps implements Job.
func (j *RunnerJob) Steps() []steps.StepInfo { return j.infos }

// Run implements Job.
func (j *RunnerJob) Run(ctx context.Context, emit func(steps.Event)) error {
	j.runner.Events = steps.SinkFunc(emit)
	return j.runner.Run(ctx, j.plan)
}

// Concurrency is how many steps the runner runs at once.
func (j *RunnerJob) Concurrency() int { return max(j.runner.Concurrency, 1) }

// Pause implements Job.
func (j *RunnerJob) Pause() { j.runner.Pause() }

// CheckpointOf describes an unfinished run of p recorded in st, or nil when
// st holds no run of p or every step of p is done or skipped.
func CheckpointOf(p *steps.Plan, st *state.Store, goal Goal) *Checkpoint {
	if st == nil {
		return nil
	}
	name, by, updated := st.Plan()
	if name != p.Name() {
		return nil
	}
	ss := p.Steps()
	any := false
	next := -1
	failed := false
	for i, s := range ss {
		r, ok := st.Step(s.ID())
		if ok {
			any = true
		}
		if ok && (r.Status == state.StatusDone || r.Status == state.StatusSkipped) {
			continue
		}
		if next < 0 {
			next = i
			failed = ok && r.Status == state.StatusFailed
		}
	}
	if !any || next < 0 {
		return nil
	}
	c := &Checkpoint{Goal: goal, Step: next + 1, Total: len(ss), StepTitle: ss[next].Title(),
		At: updated, Failed: failed}
	if by.User != "" || by.Host != "" {
		c.By = by.User
		if by.Host != "" {
			c.By += "@" + by.Host
		}
	}
	return c
}

// Installed reports whether every step of p is recorded done or skipped in st.
func Installed(p *steps.Plan, st *state.Store) bool {
	if st == nil {
		return false
	}
	for _, s := range p.Steps() {
		r, ok := st.Step(s.ID())
		if !ok || (r.Status != state.StatusDone && r.Status != state.StatusSkipped) {
			return false
		}
	}
	return true
}

// StepStates lists p's steps with what st recorded for each.
func StepStates(p *steps.Plan, st *state.Store) []StepState {
	var out []StepState
	for _, s := range p.Steps() {
		ss := StepState{ID: s.ID(), Title: s.Title()}
		if st != nil {
			if r, ok := st.Step(s.ID()); ok {
				ss.Status, ss.Finished = r.Status, r.Finished
				ss.Detail = r.Detail
				if r.Error != "" {
					ss.Detail = r.Error
				}
			}
		}
		out = append(out, ss)
	}
	return out
}
