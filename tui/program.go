package tui

import (
	"context"
	"errors"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/tappaas/tappaas/tui/screens/run"
)

// Run shows the full-screen installer until the operator quits. It never
// writes to stdout except through Bubble Tea's renderer; logs go to
// Options.Common.Log. A run still going when the UI exits (terminal closed,
// SIGTERM) is stopped at a safe point, so the checkpoint is kept.
//
// The Outcome (exit code and one line for the terminal) says how the session
// ended; again is the command that starts the installer on the same node.
func Run(ctx context.Context, opts Options, again string, popts ...tea.ProgramOption) (Outcome, error) {
	app := New(opts)
	popts = append([]tea.ProgramOption{tea.WithContext(ctx)}, popts...)
	p := tea.NewProgram(app, popts...)
	_, err := p.Run()
	if !app.Shutdown(20 * time.Second) {
		app.com.Log.Error("the run did not stop within 20s; its step is re-checked on resume")
	}
	out := app.Outcome(again)
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		// A signal (SIGTERM, SIGHUP): a run in progress was stopped.
		if out.Code != ExitDone {
			out.Code = ExitInterrupted
		}
		return out, nil
	}
	return out, err
}

// Shutdown stops a run still going (at a safe point) and waits up to timeout.
// It reports whether nothing is left running.
func (a *App) Shutdown(timeout time.Duration) bool {
	if r, ok := a.screen.(*run.Model); ok {
		return r.Shutdown(timeout)
	}
	return true
}
