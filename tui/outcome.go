package tui

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tappaas/tappaas/backends/ssh"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/screens/run"
)

// Exit codes: the headless install's (`tappaas install --help`).
const (
	ExitDone        = 0
	ExitFailed      = 1
	ExitInputNeeded = 2
	ExitInterrupted = 130
)

// Outcome is how a session ended: the exit code and the one line printed
// to the terminal after the UI has left the alternate screen (the state,
// the log file, how to resume).
type Outcome struct {
	Code int
	Line string
}

// Outcome says how the session ends now. again is the command that starts
// the installer on the same node (for "how to resume").
func (a *App) Outcome(again string) Outcome {
	logPart := "log: " + a.com.LogPath
	resume := "to resume, run " + again + " and choose Resume"
	line := func(code int, parts ...string) Outcome {
		return Outcome{Code: code, Line: "tappaas: " + strings.Join(parts, "; ")}
	}
	if r := a.lastRun; r != nil {
		goal := r.Req().Goal
		if goal == common.GoalResume {
			goal = common.GoalInstall
		}
		done, total := r.Counts()
		switch r.State() {
		case run.StateDone:
			return line(ExitDone, fmt.Sprintf("%s done, %d of %d steps", goal, done, total), logPart)
		case run.StateFailed:
			what := "failed"
			if step := r.FailedStep(); step != "" {
				what = "failed at " + step
			}
			if err := r.Err(); err != nil {
				what += ": " + firstLine(err.Error())
			}
			return line(ExitFailed, fmt.Sprintf("%s %s", goal, what), logPart, "fix the cause, then "+resume)
		default: // stopped by the operator, or still stopping at exit
			state := fmt.Sprintf("%s stopped with %d of %d steps done, checkpoint saved", goal, done, total)
			if step := r.RunningStep(); step != "" {
				// Ended by a signal mid-step: say which one resumes.
				state += " (" + step + " was running; it is re-checked on resume)"
			}
			return line(ExitInterrupted, state, logPart, resume)
		}
	}
	switch {
	case a.info == nil && a.infoErr != nil:
		// As the headless commands: an unknown host key needs the
		// operator (2), a node that cannot be reached is a failure (1).
		code := ExitFailed
		if errors.Is(a.infoErr, ssh.ErrHostKeyUnknown) || errors.Is(a.infoErr, ssh.ErrHostKeyRejected) {
			code = ExitInputNeeded
		}
		return line(code, "nothing run; could not read the node: "+firstLine(a.infoErr.Error()), logPart)
	case a.info != nil && a.info.Installed:
		return line(ExitDone, "TAPPaaS is installed on "+a.info.Hostname, logPart)
	case a.info != nil && a.info.Checkpoint != nil:
		c := a.info.Checkpoint
		return line(ExitInputNeeded, fmt.Sprintf("nothing run; an unfinished %s waits at step %d of %d", c.Goal, c.Step, c.Total), logPart, resume)
	}
	return line(ExitInputNeeded, "nothing run; the node is not installed", logPart, "to install, run "+again)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
