package tui

import (
	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/tui/common"
)

// RunnerJob adapts a steps.Plan and its steps.Runner to Job.
type RunnerJob = common.RunnerJob

// NewRunnerJob returns a Job running p with r (see common.NewRunnerJob).
func NewRunnerJob(p *steps.Plan, r *steps.Runner, rt *steps.Runtime) *RunnerJob {
	return common.NewRunnerJob(p, r, rt)
}

// CheckpointOf describes an unfinished run of p recorded in st (see
// common.CheckpointOf).
func CheckpointOf(p *steps.Plan, st *state.Store, goal common.Goal) *Checkpoint {
	return common.CheckpointOf(p, st, goal)
}

// Installed reports whether every step of p is recorded done in st.
func Installed(p *steps.Plan, st *state.Store) bool { return common.Installed(p, st) }
