package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/tui/common"
)

// The TUI's backend drives the same plan as the headless install.
func TestInstallBackendForTUI(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	be, closeBE := newInstallBackend(installOptions{lab: true, labDir: dir, labReset: true, concurrency: 4, logFile: dir + "/tui.log"}, slog.New(slog.DiscardHandler))
	defer closeBE()
	info, err := be.NodeInfo(ctx)
	if err != nil || info.Hostname != "tappaas1" || info.Installed || info.Checkpoint != nil {
		t.Fatalf("node info: %+v %v", info, err)
	}
	det, err := be.Detect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if det.Install.Node.WANNIC != "enp1s0" || det.Install.Node.LANNIC != "enp2s0" || len(det.Install.Storage.Pools) != 1 || len(det.NICs) != 2 {
		t.Fatalf("detected: %+v", det)
	}
	cfg := det.Install
	cfg.Storage.ConfirmWipe = nil
	req := common.Request{Goal: common.GoalInstall, Install: &cfg}
	checks, err := be.Preflight(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.Status == common.CheckFail {
			t.Fatalf("preflight fails on the lab: %+v", c)
		}
	}
	job, err := be.Plan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(job.Steps()) < 25 {
		t.Fatalf("plan has %d steps", len(job.Steps()))
	}
	var done int
	if err := job.Run(ctx, func(e steps.Event) {
		if _, ok := e.(steps.StepDone); ok {
			done++
		}
	}); err != nil {
		t.Fatal(err)
	}
	sum, err := be.Summary(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Generated) != 1 || sum.Generated[0].Value == "" || len(sum.URLs) == 0 {
		t.Fatalf("summary: %+v", sum)
	}
	info, err = be.NodeInfo(ctx)
	if err != nil || !info.Installed {
		t.Fatalf("after the run: %+v %v", info, err)
	}
}
