//go:build tuifake

package main

import (
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/tappaas/tappaas/tui"
	"github.com/tappaas/tappaas/tui/tuitest"
)

// The fake backend for the TUI's tmux tests (go build -tags tuifake):
// TAPPAAS_TUI_FAKE=1 with TAPPAAS_TUI_FAKE_DIR, _DELAY, _LINES, _FAIL.
func init() {
	const env = "TAPPAAS_TUI_FAKE"
	fakeBackend = func(log *slog.Logger) (tui.Backend, bool, error) {
		if os.Getenv(env) != "1" {
			return nil, false, nil
		}
		dir := os.Getenv(env + "_DIR")
		if dir == "" {
			return nil, true, fmt.Errorf("%s=1 needs %s_DIR", env, env)
		}
		delay, _ := time.ParseDuration(os.Getenv(env + "_DELAY"))
		lines, _ := strconv.Atoi(os.Getenv(env + "_LINES"))
		be, err := tuitest.New(tuitest.Options{Dir: dir, StepDelay: delay, Lines: lines, Log: log,
			FailStep: os.Getenv(env + "_FAIL")})
		return be, true, err
	}
}
