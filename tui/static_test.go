package tui

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"

	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/screens/run"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// stubBackend returns fixed answers and a scripted job, for deterministic
// goldens of screens whose content depends on time.
type stubBackend struct {
	info common.NodeInfo
	job  *stubJob
}

func (b *stubBackend) NodeInfo(context.Context) (common.NodeInfo, error) { return b.info, nil }
func (b *stubBackend) Detect(context.Context) (common.Detected, error) {
	return common.Detected{}, errors.New("not in this test")
}
func (b *stubBackend) Preflight(context.Context, common.Request) ([]common.Check, error) {
	return []common.Check{
		{Name: "Proxmox VE version", Status: common.CheckFail, Detail: "8.2.4 is not supported",
			Fix: "upgrade to Proxmox VE 9 (pve8to9, then apt dist-upgrade), then run tappaas again"},
		{Name: "Time sync", Status: common.CheckUnknown, Detail: "chrony not answering", Fix: "systemctl status chrony"},
		{Name: "Internet", Status: common.CheckPass, Detail: "enp1s0 reaches the internet"},
	}, nil
}
func (b *stubBackend) Plan(context.Context, common.Request) (common.Job, error) { return b.job, nil }
func (b *stubBackend) Summary(context.Context, common.Request) (common.Summary, error) {
	return common.Summary{}, nil
}

type stubJob struct {
	script []steps.Event
	hold   chan struct{}
}

func (j *stubJob) Name() string { return "install" }
func (j *stubJob) Steps() []steps.StepInfo {
	return []steps.StepInfo{
		{ID: "node.repos", Title: "Configure package repositories", Checkpoint: "done"},
		{ID: "node.packages", Title: "Install packages"},
		{ID: "pbs.install", Title: "Install Proxmox Backup Server", Optional: true},
		{ID: "firewall.vm", Title: "Create the firewall VM"},
	}
}
func (j *stubJob) Pause() {}
func (j *stubJob) Run(ctx context.Context, emit func(steps.Event)) error {
	for _, e := range j.script {
		emit(e)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-j.hold:
		return nil
	}
}

func stubFixture(t *testing.T, be *stubBackend) *fixture {
	t.Helper()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	com.LogPath = "/var/log/tappaas/tappaas.log"
	com.Now = func() time.Time { return t0.Add(3*time.Minute + 7*time.Second) }
	app := New(Options{Backend: be, Common: com})
	f := &fixture{t: t, app: app}
	f.d = tuitest.NewDriver(t, app, 80, 24)
	f.until("home info", func() bool { return app.home.Info() != nil })
	return f
}

func TestGoldenResumeHomeAndFailedPreflight(t *testing.T) {
	t.Parallel()
	be := &stubBackend{info: common.NodeInfo{Hostname: "tappaas1", PVEVersion: "9.0.10", Address: "192.168.1.10",
		Target: "root@192.168.1.10 over SSH",
		Checkpoint: &common.Checkpoint{Goal: common.GoalInstall, Step: 5, Total: 14, StepTitle: "Create ZFS pool tanka1",
			By: "root@laptop", At: t0, Failed: true}}}
	f := stubFixture(t, be)
	f.onScreen("Resume the unfinished install")
	f.snap("home_resume")
	f.keys("enter")
	f.onScreen("done in an earlier run")
}

func TestGoldenRunDialogs(t *testing.T) {
	t.Parallel()
	job := &stubJob{hold: make(chan struct{}), script: []steps.Event{
		steps.PlanStarted{Plan: "install", At: t0},
		steps.StepStarted{StepID: "node.repos", Attempt: 1, At: t0},
		steps.StepDone{StepID: "node.repos", Skipped: true, Reason: "no-subscription repository present"},
		steps.StepStarted{StepID: "node.packages", Attempt: 1, At: t0.Add(time.Second)},
		steps.Output{StepID: "node.packages", Stream: steps.StreamStdout, Lines: []string{"Setting up proxmox-backup-server (4.0.14-1) ..."}},
		steps.StepDone{StepID: "node.packages", Duration: 95 * time.Second},
		steps.StepStarted{StepID: "pbs.install", Attempt: 1, At: t0.Add(100 * time.Second)},
		steps.Output{StepID: "pbs.install", Stream: steps.StreamStderr, Lines: []string{"E: Unable to locate package proxmox-backup-server"}},
		steps.StepFailed{StepID: "pbs.install", Err: errors.New("apt-get install: exit status 100"), Optional: true},
		steps.Ask{StepID: "pbs.install", Err: errors.New("apt-get install: exit status 100"),
			Choices: []steps.Choice{steps.ChoiceRetry, steps.ChoiceSkip, steps.ChoiceAbort}, Reply: func(steps.Choice) {}},
	}}
	defer close(job.hold)
	f := stubFixture(t, &stubBackend{info: common.NodeInfo{Hostname: "tappaas1"}, job: job})
	f.d.Send(run.RetryMsg{Req: common.Request{Goal: common.GoalResume}}) // straight to the run view
	f.onScreen("A step failed")
	f.snap("run_ask_dialog")
	f.keys("l") // show log; the question stays open
	f.onScreen("waiting for you")
	f.snap("run_failed_step_log")
	f.keys("q")
	f.onScreen("Stop the run?")
	f.snap("run_quit_dialog")
}

func TestGoldenFailedPreflight(t *testing.T) {
	t.Parallel()
	f := stubFixture(t, &stubBackend{info: common.NodeInfo{Hostname: "tappaas1"}})
	f.d.Send(joinSubmit())
	f.onScreen("1 check(s) failed")
	f.snap("preflight_failed")
	f.keys("enter")
	if !isPreflight(f) {
		t.Error("enter must not continue past a failed check")
	}
}

type failingPlanBackend struct{ stubBackend }

func (failingPlanBackend) Plan(context.Context, common.Request) (common.Job, error) {
	return nil, errors.New("there is no saved install to resume")
}

func TestPlanErrorShowsDialogAtHome(t *testing.T) {
	t.Parallel()
	be := &failingPlanBackend{stubBackend{info: common.NodeInfo{Hostname: "tappaas1",
		Checkpoint: &common.Checkpoint{Goal: common.GoalInstall, Step: 2, Total: 3}}}}
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	com.LogPath = "/var/log/tappaas/tappaas.log"
	app := New(Options{Backend: be, Common: com})
	f := &fixture{t: t, app: app}
	f.d = tuitest.NewDriver(t, app, 80, 24)
	f.until("home info", func() bool { return app.home.Info() != nil })
	f.keys("enter") // resume
	f.onScreen("Could not build the plan")
	f.onScreen("there is no saved install to resume")
	f.onScreen("/var/log/tappaas/tappaas.log")
	f.keys("enter")
	f.until("dialog closed", func() bool { return len(app.Dialogs()) == 0 })
	f.onScreen("Resume the unfinished install")
}
