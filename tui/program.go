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
func Run(ctx context.Context, opts Options, popts ...tea.ProgramOption) error {
	app := New(opts)
	popts = append([]tea.ProgramOption{tea.WithContext(ctx)}, popts...)
	p := tea.NewProgram(app, popts...)
	_, err := p.Run()
	if !app.Shutdown(20 * time.Second) {
		app.com.Log.Error("the run did not stop within 20s; its step is re-checked on resume")
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Shutdown stops a run still going (at a safe point) and waits up to timeout.
// It reports whether nothing is left running.
func (a *App) Shutdown(timeout time.Duration) bool {
	if r, ok := a.screen.(*run.Model); ok {
		return r.Shutdown(timeout)
	}
	return true
}
