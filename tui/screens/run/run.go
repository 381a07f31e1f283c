// Package run is the run view: the step list with status, timings and a log
// pane; pause, retry, skip and quit safely. It runs a common.Job in a Cmd
// goroutine and subscribes to its events through a queue, one message per
// batch of pending events, re-subscribing after each.
package run

import (
	"context"
	"errors"
	"fmt"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/components/dialog"
	"github.com/tappaas/tappaas/tui/components/logview"
)

// Status of a step row.
type Status int

// Row states.
const (
	Pending Status = iota
	Running
	Done
	Skipped
	Failed
	Interrupted
)

// State of the whole run.
type State int

// Run states.
const (
	StateStarting State = iota
	StateRunning
	StatePausing  // pause requested: finishing the running step
	StateStopping // cancel requested
	StateDone
	StateFailed
	StatePaused // ended by pause or cancel; checkpoint kept
)

// FinishedMsg tells the root the run ended successfully (show the done
// screen). Took is how long the run took.
type FinishedMsg struct {
	Req  common.Request
	Took time.Duration
}

// RetryMsg asks the root to plan and run the request again (after a failure
// or a pause).
type RetryMsg struct{ Req common.Request }

// QuitRequestMsg asks the screen to open the quit dialog (ctrl+c).
type QuitRequestMsg struct{}

// StopAfterStepMsg asks the screen to stop the run once the running step has
// finished (the safe stop); with Exit the program quits then (a second
// ctrl+c while the quit dialog is open: it never interrupts a step).
type StopAfterStepMsg struct{ Exit bool }

// ExitMsg tells the root the run has stopped and the program should exit.
type ExitMsg struct{}

type (
	eventsMsg struct {
		events  []steps.Event
		dropped int // output lines dropped so far
		closed  bool
	}
	runEndedMsg struct{ err error }
	tickMsg     struct{}
	askMsg      struct{ value string }
	quitMsg     struct{ value string }
)

type row struct {
	info     steps.StepInfo
	status   Status
	started  time.Time
	dur      time.Duration
	attempt  int
	reason   string
	err      error
	progress float64
	what     string
	// A transfer: bytes done of total, and where it started (for the
	// rate). A wait: when it gives up.
	done, total int64
	xferAt      time.Time
	xferFrom    int64
	rate        float64 // bytes per second since the transfer started
	deadline    time.Time
	ring        *logview.Ring
}

// Model is the run screen.
type Model struct {
	com *common.Common
	job common.Job
	req common.Request

	rows []row
	idx  map[string]int
	// est predicts the whole plan's time left from the steps' expected
	// durations and what the run shows.
	est *steps.Estimator
	sel int
	// autoSel keeps the selection on the running step until the operator
	// moves it.
	autoSel  bool
	logFocus bool
	log      logview.Model

	q       *steps.Queue
	steplog *stepLog
	stopped chan struct{} // closed when Job.Run has returned
	ctx     context.Context
	cancel  context.CancelFunc

	state    State
	started  time.Time
	ended    time.Time
	ask      *steps.Ask
	askQueue []*steps.Ask
	done     *steps.PlanDone
	warnings []string // PlanStarted's (a stale lock taken over)
	runErr   error
	quitting bool
	exit     bool
	// runEnded and drained: Job.Run returned / the event queue is drained;
	// the run is over when both are true.
	runEnded bool
	drained  bool
	endErr   error
	dropped  int
	frame    int

	width, height int
}

// New returns a run screen for job; Init starts it.
func New(com *common.Common, job common.Job, req common.Request) *Model {
	ctx, cancel := context.WithCancel(context.Background())
	m := &Model{com: com, job: job, req: req, idx: map[string]int{}, autoSel: true,
		log: logview.New(com.Styles), q: steps.NewQueue(20000), steplog: newStepLog(com.StepLog), ctx: ctx, cancel: cancel,
		stopped: make(chan struct{})}
	m.setSteps(job.Steps())
	return m
}

// concurrencer is a Job that tells how many steps it runs at once.
type concurrencer interface{ Concurrency() int }

func (m *Model) setSteps(infos []steps.StepInfo) {
	conc := 1
	if c, ok := m.job.(concurrencer); ok {
		conc = c.Concurrency()
	}
	m.est = steps.NewEstimator(infos, conc)
	m.rows = m.rows[:0]
	m.idx = map[string]int{}
	for i, in := range infos {
		r := row{info: in, ring: logview.NewRing(logview.DefaultCap), progress: -1}
		m.rows = append(m.rows, r)
		m.idx[in.ID] = i
	}
	m.syncLog()
}

// Init implements common.Screen: starts the job and subscribes to events.
func (m *Model) Init() tea.Cmd {
	m.state = StateRunning
	m.started = m.com.Now()
	return tea.Batch(m.startCmd(), m.waitCmd(), m.tickCmd())
}

func (m *Model) startCmd() tea.Cmd {
	job, ctx, q, stopped, sl := m.job, m.ctx, m.q, m.stopped, m.steplog
	return func() tea.Msg {
		err := job.Run(ctx, sl.tee(q))
		sl.flush()
		q.Close()
		close(stopped)
		return runEndedMsg{err: err}
	}
}

func (m *Model) waitCmd() tea.Cmd {
	q, sl := m.q, m.steplog
	return func() tea.Msg {
		evs, closed := q.Wait()
		sl.flush()
		return eventsMsg{events: evs, dropped: q.Dropped(), closed: closed}
	}
}

func (m *Model) tickCmd() tea.Cmd {
	return tea.Tick(100*time.Millisecond, func(time.Time) tea.Msg { return tickMsg{} })
}

func (m *Model) pauseCmd() tea.Cmd {
	job := m.job
	return func() tea.Msg { job.Pause(); return nil }
}

func replyCmd(a *steps.Ask, c steps.Choice) tea.Cmd {
	return func() tea.Msg { a.Reply(c); return nil }
}

// Shutdown cancels the run (if still running) and waits up to timeout for
// it to stop at a safe point. Called by the program owner after the UI has
// exited, so a checkpoint is always written.
func (m *Model) Shutdown(timeout time.Duration) bool {
	m.cancel()
	if m.state == StateStarting {
		return true // never started
	}
	select {
	case <-m.stopped:
		return true
	case <-time.After(timeout):
		return false
	}
}

// Title implements common.Screen.
func (m *Model) Title() string { return "Run: " + m.job.Name() }

// SetSize implements common.Screen.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.layoutLog()
}

// Running reports whether the job is still running.
func (m *Model) Running() bool {
	return m.state == StateRunning || m.state == StatePausing || m.state == StateStopping || m.state == StateStarting
}

// State returns the run state.
func (m *Model) State() State { return m.state }

// Capturing implements common.Capturer (the search prompt takes keys).
func (m *Model) Capturing() bool { return m.log.Searching() }

// Update implements common.Screen.
func (m *Model) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case eventsMsg:
		m.dropped = msg.dropped
		var cmds []tea.Cmd
		for _, e := range msg.events {
			if cmd := m.apply(e); cmd != nil {
				cmds = append(cmds, cmd)
			}
		}
		if !msg.closed {
			cmds = append(cmds, m.waitCmd())
		} else {
			// Every event is applied before the run is declared over.
			m.drained = true
			if m.runEnded {
				cmds = append(cmds, m.finish(m.endErr))
			}
		}
		return m, tea.Batch(cmds...)
	case runEndedMsg:
		m.runEnded, m.endErr = true, msg.err
		if m.drained {
			return m, m.finish(msg.err)
		}
		return m, nil
	case tickMsg:
		m.frame++
		if m.Running() {
			return m, m.tickCmd()
		}
		return m, nil
	case askMsg:
		return m, m.answer(msg.value)
	case quitMsg:
		return m, m.quitChoice(msg.value)
	case QuitRequestMsg:
		return m, m.quitDialog()
	case StopAfterStepMsg:
		m.exit = m.exit || msg.Exit
		if !m.Running() {
			if m.exit {
				return m, common.MsgCmd(ExitMsg{})
			}
			return m, nil
		}
		m.quitting = true
		if m.state == StateStopping || m.state == StatePausing {
			return m, nil
		}
		m.state = StatePausing
		return m, tea.Batch(m.pauseCmd(), m.replyAbortCmd())
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	if m.log.Searching() {
		_, cmd := m.log.Update(msg)
		return m, cmd
	}
	return m, nil
}

// replyAbortCmd answers every pending Ask with abort (the run is being
// stopped).
func (m *Model) replyAbortCmd() tea.Cmd {
	if m.ask == nil {
		return nil
	}
	cmds := []tea.Cmd{replyCmd(m.ask, steps.ChoiceAbort), common.CloseDialogCmd("ask")}
	for _, a := range m.askQueue {
		cmds = append(cmds, replyCmd(a, steps.ChoiceAbort))
	}
	m.ask, m.askQueue = nil, nil
	return tea.Batch(cmds...)
}

// stamped returns e with its time set to now when it carries none.
func stamped(e steps.Event, now time.Time) steps.Event {
	switch x := e.(type) {
	case steps.PlanStarted:
		if x.At.IsZero() {
			x.At = now
		}
		return x
	case steps.StepStarted:
		if x.At.IsZero() {
			x.At = now
		}
		return x
	case steps.Output:
		if x.At.IsZero() {
			x.At = now
		}
		return x
	case steps.Progress:
		if x.At.IsZero() {
			x.At = now
		}
		return x
	case steps.StepDone:
		if x.At.IsZero() {
			x.At = now
		}
		return x
	}
	return e
}

func (m *Model) apply(e steps.Event) tea.Cmd {
	now := m.com.Now()
	if _, ok := e.(steps.PlanStarted); !ok {
		m.est.Observe(stamped(e, now))
	}
	switch e := e.(type) {
	case steps.PlanStarted:
		if len(e.Steps) > 0 && len(m.rows) == 0 {
			m.setSteps(e.Steps)
		}
		if !e.At.IsZero() {
			m.started = e.At
		}
		m.est.Observe(stamped(e, now))
		m.warnings = e.Warnings
	case steps.StepStarted:
		r := m.row(e.StepID)
		if r == nil {
			return nil
		}
		r.status, r.attempt, r.err, r.progress, r.what = Running, e.Attempt, nil, -1, ""
		r.done, r.total, r.rate, r.xferAt, r.deadline = 0, 0, 0, time.Time{}, time.Time{}
		r.started = e.At
		if r.started.IsZero() {
			r.started = now
		}
		if e.Attempt > 1 {
			r.ring.Append(steps.StreamInfo, fmt.Sprintf("— attempt %d —", e.Attempt))
		}
		if m.autoSel {
			m.sel = m.idx[e.StepID]
			m.syncLog()
		}
	case steps.Output:
		if r := m.row(e.StepID); r != nil {
			r.ring.Append(e.Stream, e.Lines...)
		}
	case steps.Progress:
		if r := m.row(e.StepID); r != nil {
			r.progress, r.what, r.deadline = e.Fraction, e.What, e.Deadline
			at := e.At
			if at.IsZero() {
				at = now
			}
			switch {
			case e.Done == 0 && e.Total == 0:
				r.done, r.total, r.xferAt = 0, 0, time.Time{}
			case r.xferAt.IsZero() || e.Done < r.done:
				r.xferAt, r.xferFrom, r.rate = at, e.Done, 0
			case at.After(r.xferAt):
				r.rate = float64(e.Done-r.xferFrom) / at.Sub(r.xferAt).Seconds()
			}
			r.done, r.total = e.Done, e.Total
		}
	case steps.StepDone:
		if r := m.row(e.StepID); r != nil {
			r.status = Done
			if e.Skipped {
				r.status = Skipped
				r.reason = e.Reason
				if e.Reason != "" {
					r.ring.Append(steps.StreamInfo, "already done: "+e.Reason)
				}
			}
			r.dur = e.Duration
			r.progress = -1
			m.followRunning()
		}
	case steps.StepFailed:
		if r := m.row(e.StepID); r != nil {
			r.status = Failed
			r.err = e.Err
			if !r.started.IsZero() {
				r.dur = now.Sub(r.started)
			}
			msg := "failed"
			if e.Err != nil {
				msg += ": " + e.Err.Error()
			}
			if e.Bug {
				msg += " (Apply reported success but Check says not done: a bug in this step)"
			}
			r.ring.Append(steps.StreamStderr, msg)
			if m.autoSel {
				m.sel = m.idx[e.StepID]
				m.syncLog()
			}
		}
	case steps.Ask:
		a := e
		if m.state == StateStopping {
			return replyCmd(&a, steps.ChoiceAbort)
		}
		if m.ask != nil {
			// Several steps can fail at once (concurrent steps): one
			// question at a time, in order.
			m.askQueue = append(m.askQueue, &a)
			return nil
		}
		return m.showAsk(&a)
	case steps.PlanDone:
		d := e
		m.done = &d
		for i := range m.rows {
			if m.rows[i].status == Running {
				m.rows[i].status = Interrupted
				m.rows[i].dur = now.Sub(m.rows[i].started)
			}
		}
	}
	return nil
}

func (m *Model) finish(err error) tea.Cmd {
	m.ended = m.com.Now()
	m.runErr = err
	m.ask, m.askQueue = nil, nil
	interrupted := errors.Is(err, context.Canceled) || errors.Is(err, steps.ErrPaused) ||
		(m.done != nil && m.done.Interrupted)
	if m.done != nil && m.done.Err != nil && err == nil {
		err = m.done.Err
		m.runErr = err
	}
	for i := range m.rows {
		if m.rows[i].status == Running {
			m.rows[i].status = Interrupted
		}
	}
	switch {
	case interrupted:
		m.state = StatePaused
	case err != nil:
		m.state = StateFailed
	default:
		m.state = StateDone
	}
	m.com.Log.Info("run ended", "plan", m.job.Name(), "state", m.stateText(), "err", err)
	if m.exit {
		return common.MsgCmd(ExitMsg{})
	}
	if m.quitting {
		return common.GoHomeCmd
	}
	if m.state == StateDone {
		return common.MsgCmd(FinishedMsg{Req: m.req, Took: m.elapsed()})
	}
	return nil
}

// followRunning moves an automatic selection off a finished step to the
// first step still running (steps can run concurrently).
func (m *Model) followRunning() {
	if !m.autoSel || len(m.rows) == 0 || m.rows[m.sel].status == Running {
		return
	}
	for i := range m.rows {
		if m.rows[i].status == Running {
			m.sel = i
			m.syncLog()
			return
		}
	}
}

func (m *Model) row(id string) *row {
	i, ok := m.idx[id]
	if !ok {
		return nil
	}
	return &m.rows[i]
}

func (m *Model) syncLog() {
	if len(m.rows) == 0 {
		m.log.SetRing(nil, "")
		return
	}
	m.sel = min(max(m.sel, 0), len(m.rows)-1)
	r := &m.rows[m.sel]
	m.log.SetRing(r.ring, r.info.Title)
}

func (m *Model) showAsk(a *steps.Ask) tea.Cmd {
	m.ask = a
	if i, ok := m.idx[a.StepID]; ok && m.autoSel {
		m.sel = i
		m.syncLog()
	}
	return common.OpenDialogCmd(m.askDialog())
}

// nextAsk shows the next queued question, if any.
func (m *Model) nextAsk() tea.Cmd {
	if len(m.askQueue) == 0 {
		return nil
	}
	a := m.askQueue[0]
	m.askQueue = m.askQueue[1:]
	return m.showAsk(a)
}

func (m *Model) askDialog() common.Dialog {
	a := m.ask
	title := a.StepID
	if r := m.row(a.StepID); r != nil {
		title = r.info.Title
	}
	body := []string{fmt.Sprintf("Step %q failed:", title)}
	if a.Err != nil {
		body = append(body, m.com.Styles.Error.Render(a.Err.Error()))
	}
	var opts []dialog.Option
	for _, c := range a.Choices {
		switch c {
		case steps.ChoiceRetry:
			opts = append(opts, dialog.Option{Key: "r", Label: "Retry", Value: "retry"})
		case steps.ChoiceSkip:
			opts = append(opts, dialog.Option{Key: "s", Label: "Skip (optional step)", Value: "skip"})
		case steps.ChoiceAbort:
			opts = append(opts, dialog.Option{Key: "a", Label: "Abort", Value: "abort"})
		}
	}
	opts = append(opts, dialog.Option{Key: "l", Label: "Show log", Value: "log"})
	body = append(body, "", "Abort keeps the checkpoint: the home screen offers resume.")
	return dialog.New(m.com, "ask", "A step failed", body, opts, func(v string) tea.Msg { return askMsg{value: v} }).WithCancel("log")
}

func (m *Model) answer(v string) tea.Cmd {
	if m.ask == nil {
		return nil
	}
	a := m.ask
	var c steps.Choice
	switch v {
	case "retry":
		c = steps.ChoiceRetry
	case "skip":
		c = steps.ChoiceSkip
		if !offers(a, steps.ChoiceSkip) {
			return nil
		}
	case "abort":
		c = steps.ChoiceAbort
	default: // show log: keep the question open, show the failed step
		if i, ok := m.idx[a.StepID]; ok {
			m.sel = i
			m.autoSel = false
			m.syncLog()
		}
		m.logFocus = true
		return nil
	}
	m.ask = nil
	return tea.Batch(replyCmd(a, c), m.nextAsk())
}

func offers(a *steps.Ask, c steps.Choice) bool {
	for _, x := range a.Choices {
		if x == c {
			return true
		}
	}
	return false
}

func (m *Model) quitDialog() tea.Cmd {
	if !m.Running() {
		return common.GoHomeCmd
	}
	body := []string{
		"Stopping keeps the checkpoint; the home screen then offers to resume.",
		"Stop after step: lets the running step finish (safe; ctrl+c again chooses it and exits).",
		"Interrupt now: cuts the running step short; it is re-checked on resume.",
	}
	opts := []dialog.Option{
		{Key: "s", Label: "Stop after step", Value: "pause"},
		{Key: "x", Label: "Interrupt now", Value: "now"},
		{Key: "k", Label: "Keep running", Value: "cancel"},
	}
	return common.OpenDialogCmd(dialog.New(m.com, "quit", "Stop the run?", body, opts,
		func(v string) tea.Msg { return quitMsg{value: v} }).WithCancel("cancel"))
}

func (m *Model) quitChoice(v string) tea.Cmd {
	if !m.Running() {
		if v == "pause" || v == "now" {
			return common.GoHomeCmd
		}
		return nil
	}
	switch v {
	case "pause":
		m.quitting = true
		m.state = StatePausing
		return m.pauseCmd()
	case "now":
		m.quitting = true
		m.state = StateStopping
		m.cancel()
		return m.replyAbortCmd()
	}
	return nil
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	if m.log.Searching() {
		_, cmd := m.log.Update(k)
		return cmd
	}
	km := m.com.Keys
	switch {
	case key.Matches(k, km.Run.Quit):
		return m.quitDialog()
	case key.Matches(k, km.Run.Pause):
		if m.state == StateRunning {
			m.state = StatePausing
			return m.pauseCmd()
		}
	case key.Matches(k, km.Run.Retry):
		if m.ask != nil && offers(m.ask, steps.ChoiceRetry) {
			return tea.Sequence(common.CloseDialogCmd("ask"), m.answer("retry"))
		}
		if m.state == StateFailed || m.state == StatePaused {
			return common.MsgCmd(RetryMsg{Req: m.resumeReq()})
		}
	case key.Matches(k, km.Run.Skip):
		if m.ask != nil && offers(m.ask, steps.ChoiceSkip) {
			return tea.Sequence(common.CloseDialogCmd("ask"), m.answer("skip"))
		}
	case k.String() == "a" && m.ask != nil:
		return tea.Sequence(common.CloseDialogCmd("ask"), m.answer("abort"))
	case key.Matches(k, km.Run.Continue) && m.state == StateDone:
		return common.MsgCmd(FinishedMsg{Req: m.req, Took: m.elapsed()})
	case key.Matches(k, km.Run.Focus):
		m.logFocus = !m.logFocus
	case key.Matches(k, km.Run.Follow):
		m.log.SetFollow(!m.log.Following())
	case key.Matches(k, km.Run.Search):
		m.logFocus = true
		return m.log.StartSearch()
	case key.Matches(k, km.Run.Next):
		m.log.Next(true)
	case key.Matches(k, km.Run.Prev):
		m.log.Next(false)
	case key.Matches(k, km.Run.PageUp):
		m.log.PageUp()
	case key.Matches(k, km.Run.PageDown):
		m.log.PageDown()
	case key.Matches(k, km.Run.Top):
		m.log.GotoTop()
	case key.Matches(k, km.Run.Bottom):
		m.log.GotoBottom()
	case key.Matches(k, km.List.Up):
		if m.logFocus {
			m.log.Scroll(-1)
		} else if m.sel > 0 {
			m.sel--
			m.autoSel = false
			m.syncLog()
		}
	case key.Matches(k, km.List.Down):
		if m.logFocus {
			m.log.Scroll(1)
		} else if m.sel < len(m.rows)-1 {
			m.sel++
			m.autoSel = false
			m.syncLog()
		}
	}
	return nil
}

// Counts are the steps done or skipped and the plan's total.
func (m *Model) Counts() (done, total int) { return m.counts() }

// RunningStep is the title of a step running now ("" none).
func (m *Model) RunningStep() string {
	for _, r := range m.rows {
		if r.status == Running {
			return r.info.Title
		}
	}
	return ""
}

// Err is why the run failed (nil unless it did).
func (m *Model) Err() error { return m.runErr }

// FailedStep names the step that failed last ("" none).
func (m *Model) FailedStep() string {
	for i := len(m.rows) - 1; i >= 0; i-- {
		if m.rows[i].status == Failed {
			return m.rows[i].info.Title
		}
	}
	return ""
}

// Req is the request the run serves.
func (m *Model) Req() common.Request { return m.req }

func (m *Model) resumeReq() common.Request {
	r := m.req
	if r.Goal == common.GoalInstall {
		r.Goal = common.GoalResume
	}
	return r
}
