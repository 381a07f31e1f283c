package run

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

var update = flag.Bool("update", false, "rewrite golden files")

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// scriptJob emits a fixed script, then waits for Pause or ctx.
type scriptJob struct {
	infos  []steps.StepInfo
	script []steps.Event
	paused chan struct{}
	once   sync.Once
	emit   func(steps.Event)
	ready  chan struct{}
}

func newScriptJob(script ...steps.Event) *scriptJob {
	return &scriptJob{infos: infos(), script: script, paused: make(chan struct{}), ready: make(chan struct{})}
}

func infos() []steps.StepInfo {
	return []steps.StepInfo{
		{ID: "node.repos", Title: "Configure package repositories", Checkpoint: "done", Expected: time.Second},
		{ID: "node.packages", Title: "Install packages", Expected: 40 * time.Second},
		{ID: "network.bridges", Title: "Create lan and wan bridges", Expected: 20 * time.Second},
		{ID: "pbs.install", Title: "Install Proxmox Backup Server", Optional: true, Expected: 45 * time.Second},
	}
}

func (j *scriptJob) Name() string            { return "install" }
func (j *scriptJob) Steps() []steps.StepInfo { return j.infos }
func (j *scriptJob) Pause()                  { j.once.Do(func() { close(j.paused) }) }
func (j *scriptJob) Run(ctx context.Context, emit func(steps.Event)) error {
	j.emit = emit
	for _, e := range j.script {
		emit(e)
	}
	close(j.ready)
	select {
	case <-j.paused:
		emit(steps.PlanDone{Plan: "install", Interrupted: true, Err: steps.ErrPaused})
		return steps.ErrPaused
	case <-ctx.Done():
		emit(steps.PlanDone{Plan: "install", Interrupted: true, Err: ctx.Err()})
		return ctx.Err()
	}
}

func testCommon() *common.Common {
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	com.Now = func() time.Time { return t0.Add(75 * time.Second) }
	com.LogPath = "/tmp/tappaas-test.log"
	return com
}

// host wraps the screen as a tea.Model so the driver can run it, and keeps
// dialogs and "root" messages for assertions.
type host struct {
	s       *Model
	dialogs []common.Dialog
	got     []tea.Msg
}

func (h *host) Init() tea.Cmd { return h.s.Init() }
func (h *host) View() tea.View {
	return tea.NewView(h.s.View())
}
func (h *host) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		h.s.SetSize(msg.Width, msg.Height)
		return h, nil
	case common.OpenDialogMsg:
		h.dialogs = append(h.dialogs, msg.Dialog)
		return h, nil
	case common.CloseDialogMsg:
		for i, d := range h.dialogs {
			if d.ID() == msg.ID {
				h.dialogs = append(h.dialogs[:i], h.dialogs[i+1:]...)
				break
			}
		}
		return h, nil
	case FinishedMsg, RetryMsg, common.GoHomeMsg, ExitMsg:
		h.got = append(h.got, msg)
		return h, nil
	case tea.KeyPressMsg:
		if n := len(h.dialogs); n > 0 {
			d, cmd := h.dialogs[n-1].Update(msg)
			h.dialogs[n-1] = d
			return h, cmd
		}
	}
	s, cmd := h.s.Update(msg)
	h.s = s.(*Model)
	return h, cmd
}

func (h *host) has(f func(tea.Msg) bool) bool {
	for _, m := range h.got {
		if f(m) {
			return true
		}
	}
	return false
}

func started(id string, sec int) steps.StepStarted {
	return steps.StepStarted{StepID: id, Attempt: 1, At: t0.Add(time.Duration(sec) * time.Second)}
}

func TestRunShowsProgressAndFinishes(t *testing.T) {
	t.Parallel()
	job := newScriptJob(
		steps.PlanStarted{Plan: "install", Steps: infos(), At: t0},
		steps.StepStarted{StepID: "node.repos", Attempt: 1, At: t0},
		steps.StepDone{StepID: "node.repos", Skipped: true, Reason: "no-subscription repository present"},
		started("node.packages", 1),
		steps.Output{StepID: "node.packages", Stream: steps.StreamStdout, Lines: []string{"Reading package lists...", "Setting up zfsutils-linux"}},
		steps.StepDone{StepID: "node.packages", Duration: 42 * time.Second},
		started("network.bridges", 60),
		steps.Progress{StepID: "network.bridges", Fraction: 0.75, What: "waiting for the node on 10.0.0.10:22"},
	)
	h := &host{s: New(testCommon(), job, common.Request{Goal: common.GoalInstall})}
	d := tuitest.NewDriver(t, h, 80, 21)
	if !d.WaitFor(func() bool { return h.s.rows[2].status == Running && h.s.rows[2].progress == 0.75 }, 2*time.Second) {
		t.Fatalf("events not applied: %+v", h.s.rows)
	}
	if got := h.s.rows[0].status; got != Skipped {
		t.Errorf("node.repos status = %v, want Skipped", got)
	}
	if got := h.s.rows[1].dur; got != 42*time.Second {
		t.Errorf("node.packages duration = %v", got)
	}
	if h.s.sel != 2 {
		t.Errorf("selection should follow the running step, sel = %d", h.s.sel)
	}
	// Whole plan: bridges 5s more (75% in 15s), then pbs.install 45s at
	// the observed speed (42s for 40s expected, with the prior: 47/45).
	est := h.s.est.Estimate(testCommon().Now())
	if est.Left != 52*time.Second {
		t.Errorf("plan ETA = %v, want 52s", est.Left)
	}
	v := h.s.View()
	for _, want := range []string{"running · 2/4 steps · 59% · elapsed 1m15s · ETA 52s", "Install packages", "42s", "75% 15s", "waiting for the node"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	// the operator moves up: selection stops following, log shows that step
	d.Key("up")
	d.Key("up")
	if h.s.sel != 0 || h.s.autoSel {
		t.Errorf("sel=%d autoSel=%v after up up", h.s.sel, h.s.autoSel)
	}
	if !strings.Contains(h.s.View(), "already done: no-subscription") {
		t.Errorf("log pane should show the skipped step's reason:\n%s", h.s.View())
	}
	tuitest.Golden(t, "run_80x24", h.s.View(), *update)
	h.s.SetSize(120, 37)
	tuitest.Golden(t, "run_120x40", h.s.View(), *update)

	// finish: the job ends without error -> FinishedMsg
	job.emit(steps.StepDone{StepID: "network.bridges", Duration: time.Second})
	job.emit(steps.StepDone{StepID: "pbs.install", Duration: time.Second})
	job.Pause() // ends Run; our script job reports the pause as interrupted
	if !d.WaitFor(func() bool { return !h.s.Running() }, 2*time.Second) {
		t.Fatal("run did not end")
	}
	if h.s.State() != StatePaused {
		t.Errorf("state = %v, want paused", h.s.State())
	}
}

func TestPauseKeyPausesJob(t *testing.T) {
	t.Parallel()
	job := newScriptJob(started("node.packages", 0))
	h := &host{s: New(testCommon(), job, common.Request{Goal: common.GoalInstall})}
	d := tuitest.NewDriver(t, h, 80, 21)
	d.WaitFor(func() bool { return h.s.rows[1].status == Running }, 2*time.Second)
	d.Key("p")
	if st := h.s.State(); st != StatePausing && st != StatePaused {
		t.Fatalf("state after p = %v", st)
	}
	if !d.WaitFor(func() bool { return h.s.State() == StatePaused }, 2*time.Second) {
		t.Fatal("not paused")
	}
	if h.s.rows[1].status != Interrupted {
		t.Errorf("running row should be interrupted, got %v", h.s.rows[1].status)
	}
	if !strings.Contains(h.s.View(), "checkpoint saved") {
		t.Errorf("view should say the checkpoint is saved:\n%s", h.s.View())
	}
	// r resumes: the root is asked to plan again as a resume
	d.Key("r")
	d.Pump(50 * time.Millisecond)
	if !h.has(func(m tea.Msg) bool { r, ok := m.(RetryMsg); return ok && r.Req.Goal == common.GoalResume }) {
		t.Errorf("r after pause should send RetryMsg{resume}, got %v", h.got)
	}
}

func TestQuitSafelyAsksThenStopsAfterStep(t *testing.T) {
	t.Parallel()
	job := newScriptJob(started("node.packages", 0))
	h := &host{s: New(testCommon(), job, common.Request{Goal: common.GoalInstall})}
	d := tuitest.NewDriver(t, h, 80, 21)
	d.WaitFor(func() bool { return h.s.rows[1].status == Running }, 2*time.Second)
	d.Key("q")
	d.Pump(50 * time.Millisecond)
	if len(h.dialogs) != 1 || h.dialogs[0].ID() != "quit" {
		t.Fatalf("q should open the quit dialog, dialogs=%v", h.dialogs)
	}
	d.Key("esc") // keep running
	d.Pump(50 * time.Millisecond)
	if len(h.dialogs) != 0 || !h.s.Running() {
		t.Fatalf("esc should close the dialog and keep running")
	}
	d.Key("q")
	d.Pump(50 * time.Millisecond)
	d.Key("s") // stop after step
	if !d.WaitFor(func() bool { return h.has(func(m tea.Msg) bool { _, ok := m.(common.GoHomeMsg); return ok }) }, 2*time.Second) {
		t.Fatalf("stop after step should end at home, got %v (state %v)", h.got, h.s.State())
	}
	select {
	case <-job.paused:
	default:
		t.Error("job.Pause was not called")
	}
}

func TestAskOnFailRetrySkipAbortAndShowLog(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		key  string
		want steps.Choice
	}{{"r", steps.ChoiceRetry}, {"s", steps.ChoiceSkip}, {"a", steps.ChoiceAbort}} {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			got := make(chan steps.Choice, 1)
			job := newScriptJob(
				started("pbs.install", 0),
				steps.StepFailed{StepID: "pbs.install", Err: errors.New("apt-get: exit status 100"), Optional: true},
				steps.Ask{StepID: "pbs.install", Err: errors.New("apt-get: exit status 100"),
					Choices: []steps.Choice{steps.ChoiceRetry, steps.ChoiceSkip, steps.ChoiceAbort},
					Reply:   func(c steps.Choice) { got <- c }},
			)
			h := &host{s: New(testCommon(), job, common.Request{})}
			d := tuitest.NewDriver(t, h, 80, 21)
			if !d.WaitFor(func() bool { return len(h.dialogs) == 1 }, 2*time.Second) {
				t.Fatal("ask dialog not shown")
			}
			if v := h.dialogs[0].View(80, 20); !strings.Contains(v, "Skip") || !strings.Contains(v, "exit status 100") {
				t.Errorf("dialog:\n%s", v)
			}
			// show log first: the dialog closes, the question stays open
			d.Key("l")
			d.Pump(50 * time.Millisecond)
			if len(h.dialogs) != 0 || h.s.ask == nil || !h.s.logFocus {
				t.Fatalf("show log: dialogs=%d ask=%v focus=%v", len(h.dialogs), h.s.ask, h.s.logFocus)
			}
			if !strings.Contains(h.s.View(), "waiting for you") {
				t.Errorf("view should say it waits for an answer:\n%s", h.s.View())
			}
			d.Key(tc.key)
			d.Pump(50 * time.Millisecond)
			select {
			case c := <-got:
				if c != tc.want {
					t.Errorf("reply = %v, want %v", c, tc.want)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("no reply")
			}
			if h.s.ask != nil {
				t.Error("ask should be cleared after the answer")
			}
		})
	}
}

func TestSkipNotOfferedForRequiredStep(t *testing.T) {
	t.Parallel()
	got := make(chan steps.Choice, 1)
	job := newScriptJob(
		started("node.packages", 0),
		steps.Ask{StepID: "node.packages", Err: errors.New("boom"),
			Choices: []steps.Choice{steps.ChoiceRetry, steps.ChoiceAbort}, Reply: func(c steps.Choice) { got <- c }},
	)
	h := &host{s: New(testCommon(), job, common.Request{})}
	d := tuitest.NewDriver(t, h, 80, 21)
	d.WaitFor(func() bool { return len(h.dialogs) == 1 }, 2*time.Second)
	if strings.Contains(h.dialogs[0].View(80, 20), "Skip") {
		t.Error("skip offered for a required step")
	}
	d.Key("esc") // = show log
	d.Pump(50 * time.Millisecond)
	d.Key("s")
	select {
	case c := <-got:
		t.Fatalf("s answered %v for a required step", c)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestStopAfterStepThenExit: a second ctrl+c (StopAfterStepMsg with Exit)
// asks the job to pause (the safe stop: the running step finishes), never
// cancels it, and exits once the run has stopped.
// TestSkippedRowsSayWhy: a step done by an earlier run reads "done before";
// one this run's check found already in place reads "already set".
func TestSkippedRowsSayWhy(t *testing.T) {
	t.Parallel()
	job := newScriptJob(
		steps.StepDone{StepID: "preflight", Skipped: true, Reason: "all 12 checks pass"},
		steps.StepDone{StepID: "node.repos", Skipped: true, Reason: "no-subscription repository present"},
		steps.StepDone{StepID: "node.packages", Skipped: true, Reason: "packages installed"},
	)
	// A read-only check step (preflight) done in an earlier run too: it
	// ran fresh now, so it reads "checked", never "done before".
	job.infos = append([]steps.StepInfo{{ID: "preflight", Title: "Preflight checks", Checkpoint: "done",
		Changes: []string{"read-only: PVE version, NICs, disks"}}}, job.infos...)
	h := &host{s: New(testCommon(), job, common.Request{})}
	d := tuitest.NewDriver(t, h, 80, 21)
	d.WaitFor(func() bool { return h.s.rows[2].status == Skipped }, 2*time.Second)
	v := tuitest.Plain(h.s.View())
	for _, want := range []string{"Configure package repositories", "done before", "Install packages"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	has := func(row, label string) bool {
		for _, l := range strings.Split(v, "\n") {
			if strings.Contains(l, row) && strings.HasSuffix(strings.TrimSpace(l), label) {
				return true
			}
		}
		return false
	}
	if !has("Install packages", "already set") {
		t.Errorf("a step found in place should read already set:\n%s", v)
	}
	if !has("Preflight checks", "checked") {
		t.Errorf("a fresh check should read checked, never done before:\n%s", v)
	}
	if !has("Configure package repositories", "done before") {
		t.Errorf("a step done in an earlier run should read done before:\n%s", v)
	}
}

func TestStopAfterStepThenExit(t *testing.T) {
	t.Parallel()
	job := newScriptJob(started("node.packages", 0))
	h := &host{s: New(testCommon(), job, common.Request{})}
	d := tuitest.NewDriver(t, h, 80, 21)
	d.WaitFor(func() bool { return h.s.rows[1].status == Running }, 2*time.Second)
	d.Send(StopAfterStepMsg{Exit: true})
	if !d.WaitFor(func() bool { return h.has(func(m tea.Msg) bool { _, ok := m.(ExitMsg); return ok }) }, 2*time.Second) {
		t.Fatal("no ExitMsg after the safe stop")
	}
	if h.s.ctx.Err() != nil {
		t.Error("the safe stop cancelled the running step")
	}
	if h.s.State() != StatePaused {
		t.Errorf("state %v, want paused", h.s.State())
	}
	if !h.s.Shutdown(time.Second) {
		t.Error("job still running after stop")
	}
}

// TestQuitDialogKeysCannotBeMisread: "n" reads as "no" everywhere else; it
// must not stop the run. The dialog offers s / x / k.
func TestQuitDialogKeysCannotBeMisread(t *testing.T) {
	t.Parallel()
	job := newScriptJob(started("node.packages", 0))
	h := &host{s: New(testCommon(), job, common.Request{})}
	d := tuitest.NewDriver(t, h, 80, 21)
	d.WaitFor(func() bool { return h.s.rows[1].status == Running }, 2*time.Second)
	d.Key("q")
	d.Pump(50 * time.Millisecond)
	if len(h.dialogs) != 1 {
		t.Fatalf("q should open the quit dialog")
	}
	v := h.dialogs[0].View(80, 20)
	for _, want := range []string{"[s] Stop after step", "[x] Interrupt now", "[k] Keep running"} {
		if !strings.Contains(v, want) {
			t.Errorf("quit dialog lacks %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "[n]") {
		t.Errorf("quit dialog offers n:\n%s", v)
	}
	d.Key("n")
	d.Pump(50 * time.Millisecond)
	if !h.s.Running() || h.s.ctx.Err() != nil || len(h.dialogs) != 1 {
		t.Error("n stopped the run or closed the dialog")
	}
	d.Key("x")
	if !d.WaitFor(func() bool { return h.s.State() == StatePaused }, 2*time.Second) || h.s.ctx.Err() == nil {
		t.Error("x (interrupt now) did not cancel the run")
	}
}

func TestFailureShowsLogPathAndRetry(t *testing.T) {
	t.Parallel()
	job := &failJob{}
	h := &host{s: New(testCommon(), job, common.Request{Goal: common.GoalInstall})}
	d := tuitest.NewDriver(t, h, 80, 21)
	if !d.WaitFor(func() bool { return h.s.State() == StateFailed }, 2*time.Second) {
		t.Fatal("not failed")
	}
	v := h.s.View()
	if !strings.Contains(v, "/tmp/tappaas-test.log") || !strings.Contains(v, "disk sdb is busy") {
		t.Errorf("failure view lacks log path or error:\n%s", v)
	}
	d.Key("r")
	d.Pump(50 * time.Millisecond)
	if !h.has(func(m tea.Msg) bool { _, ok := m.(RetryMsg); return ok }) {
		t.Error("r after failure should ask for a retry")
	}
}

type failJob struct{}

func (failJob) Name() string            { return "install" }
func (failJob) Steps() []steps.StepInfo { return infos() }
func (failJob) Pause()                  {}
func (failJob) Run(ctx context.Context, emit func(steps.Event)) error {
	err := fmt.Errorf("step storage.pools: %w", errors.New("disk sdb is busy"))
	emit(steps.StepFailed{StepID: "node.packages", Err: err})
	emit(steps.PlanDone{Plan: "install", Failed: 1, Err: err})
	return err
}

func TestConcurrentFailuresAreAskedOneAtATime(t *testing.T) {
	t.Parallel()
	got := make(chan string, 2)
	ask := func(id string) steps.Ask {
		return steps.Ask{StepID: id, Err: errors.New(id + " failed"),
			Choices: []steps.Choice{steps.ChoiceRetry, steps.ChoiceAbort},
			Reply:   func(c steps.Choice) { got <- id + "=" + c.String() }}
	}
	job := newScriptJob(started("node.packages", 0), started("network.bridges", 0),
		ask("node.packages"), ask("network.bridges"))
	h := &host{s: New(testCommon(), job, common.Request{})}
	d := tuitest.NewDriver(t, h, 80, 21)
	if !d.WaitFor(func() bool { return len(h.dialogs) == 1 && len(h.s.askQueue) == 1 }, 2*time.Second) {
		t.Fatalf("dialogs=%d queue=%d", len(h.dialogs), len(h.s.askQueue))
	}
	d.Key("a") // first question: abort
	if !d.WaitFor(func() bool { return len(h.dialogs) == 1 && h.s.ask != nil && h.s.ask.StepID == "network.bridges" }, 2*time.Second) {
		t.Fatalf("second question not shown: dialogs=%d ask=%v", len(h.dialogs), h.s.ask)
	}
	if !strings.Contains(h.dialogs[0].View(80, 20), "network.bridges failed") {
		t.Errorf("dialog shows the wrong step:\n%s", h.dialogs[0].View(80, 20))
	}
	d.Key("r")
	d.Pump(50 * time.Millisecond)
	if a, b := <-got, <-got; a != "node.packages=abort" || b != "network.bridges=retry" {
		t.Errorf("replies %s, %s", a, b)
	}
}

func TestSelectionFollowsARunningStep(t *testing.T) {
	t.Parallel()
	job := newScriptJob(started("node.packages", 0), started("network.bridges", 0),
		steps.StepDone{StepID: "network.bridges", Duration: time.Second})
	h := &host{s: New(testCommon(), job, common.Request{})}
	d := tuitest.NewDriver(t, h, 120, 30)
	if !d.WaitFor(func() bool { return h.s.rows[2].status == Done }, 2*time.Second) {
		t.Fatal("events not applied")
	}
	if h.s.sel != 1 {
		t.Errorf("selection = %d, want the still-running node.packages (1)", h.s.sel)
	}
	for _, l := range strings.Split(tuitest.Plain(h.s.View()), "\n") {
		if w := len([]rune(l)); w > 120 {
			t.Errorf("line wider than the screen (%d): %q", w, l)
		}
	}
}

// runScript shows a run of the given steps and script at 80x24 until the
// view shows until.
func runScript(t *testing.T, until string, infos []steps.StepInfo, script ...steps.Event) (*host, *scriptJob, *tuitest.Driver) {
	t.Helper()
	job := newScriptJob(script...)
	job.infos = infos
	h := &host{s: New(testCommon(), job, common.Request{Goal: common.GoalInstall})}
	d := tuitest.NewDriver(t, h, 80, 24)
	if !d.WaitFor(func() bool { return strings.Contains(h.s.View(), until) }, 2*time.Second) {
		t.Fatalf("events not applied:\n%s", h.s.View())
	}
	return h, job, d
}

// A download shows its bytes, total and rate; the header the whole plan's
// progress and ETA.
func TestRunShowsDownloadBytesAndRate(t *testing.T) {
	t.Parallel()
	infos := []steps.StepInfo{
		{ID: "firewall.image", Title: "Download tappaas-firewall.qcow2.zst", Expected: 30 * time.Second},
		{ID: "firewall.vm", Title: "Create the firewall VM", Needs: []string{"firewall.image"}, Expected: 3 * time.Second},
	}
	h, job, d := runScript(t, "of 690 MB", infos,
		steps.PlanStarted{Plan: "install", Steps: infos, At: t0.Add(55 * time.Second)},
		steps.StepStarted{StepID: "firewall.image", Attempt: 1, At: t0.Add(55 * time.Second)},
		steps.Progress{StepID: "firewall.image", Fraction: 0, What: "tappaas-firewall.qcow2.zst", Total: 690e6, At: t0.Add(55 * time.Second)},
	)
	// The next report after the first was shown (steps.Queue keeps only
	// the newest waiting Progress of a step).
	<-job.ready
	job.emit(steps.Progress{StepID: "firewall.image", Fraction: 0.4, What: "tappaas-firewall.qcow2.zst", Done: 276e6, Total: 690e6, At: t0.Add(67 * time.Second)})
	if !d.WaitFor(func() bool { return strings.Contains(h.s.View(), "MB/s") }, 2*time.Second) {
		t.Fatalf("no rate:\n%s", h.s.View())
	}
	v := h.s.View()
	// 40% in 20s → 30s more for the image, then 3s for the VM.
	for _, want := range []string{"running · 0/2 steps · 37% · elapsed 20s · ETA 33s", "tappaas-firewall.qcow2.zst · 276 MB of 690 MB · 23 MB/s"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	tuitest.Golden(t, "run_download_80x24", v, *update)
}

// A wait says what it waits for and when it gives up; a step quiet for
// longer than expected is flagged with it.
func TestRunShowsWaitLimitAndFlagsAQuietStep(t *testing.T) {
	t.Parallel()
	infos := []steps.StepInfo{{ID: "firewall.config", Title: "Configure the firewall", Expected: 55 * time.Second}}
	what := "the firewall API at https://10.0.0.1 to accept our key"
	h, _, _ := runScript(t, "gives up", infos,
		steps.PlanStarted{Plan: "install", Steps: infos, At: t0.Add(45 * time.Second)},
		steps.StepStarted{StepID: "firewall.config", Attempt: 1, At: t0.Add(45 * time.Second)},
		steps.Progress{StepID: "firewall.config", Fraction: -1, What: what, Deadline: t0.Add(45*time.Second + 10*time.Minute), At: t0.Add(50 * time.Second)},
	)
	if v := h.s.View(); !strings.Contains(v, "gives up in 9m30s · waiting for the firewall API at https://10.0.0.1 to accept") {
		t.Errorf("wait limit not shown:\n%s", v)
	}

	h, _, _ = runScript(t, "no output for", infos,
		steps.PlanStarted{Plan: "install", Steps: infos, At: t0.Add(-3 * time.Minute)},
		steps.StepStarted{StepID: "firewall.config", Attempt: 1, At: t0.Add(-3 * time.Minute)},
		// The same wait repeated later is not progress either
		// (steps.TestStalledNamesTheWait); steps.Queue may merge it.
		steps.Progress{StepID: "firewall.config", Fraction: -1, What: what, Deadline: t0.Add(7 * time.Minute), At: t0.Add(-3 * time.Minute)},
	)
	v := h.s.View()
	if !strings.Contains(v, "no output for 4m15s, gives up in 5m45s — still waiting for the firewall") {
		t.Errorf("quiet step not flagged:\n%s", v)
	}
	tuitest.Golden(t, "run_stalled_80x24", v, *update)
}

// The runner's warnings (a dead run's lock taken over) are shown while the
// run goes on.
func TestRunShowsPlanWarnings(t *testing.T) {
	t.Parallel()
	w := "took over the state lock root@10.0.0.10:22:/var/lib/tappaas/lock of root@tappaas1 pid 77: that process is gone"
	job := newScriptJob(steps.PlanStarted{Plan: "install", Steps: infos(), Warnings: []string{w}, At: t0}, started("node.packages", 0))
	h := &host{s: New(testCommon(), job, common.Request{Goal: common.GoalInstall})}
	d := tuitest.NewDriver(t, h, 200, 21)
	if !d.WaitFor(func() bool { return h.s.rows[1].status == Running }, 10*time.Second) {
		t.Fatal("events not applied")
	}
	if v := h.s.View(); !strings.Contains(v, "warning: "+w) {
		t.Fatalf("the warning is not shown:\n%s", v)
	}
}
