package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/backends/ssh"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/install"
)

// criticalPath is the longest chain of step durations through the plan's
// Needs (what no amount of overlap can beat).
func criticalPath(t testing.TB, durs map[string]time.Duration) (time.Duration, []string) {
	b, err := os.ReadFile(exampleAnswers)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadAnswers(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	p, err := install.FirstNodePlan(cfg, &install.Targets{Node: exectest.NewFake(), Firewall: &install.FirewallAPI{}, Pusher: &install.SSHPusher{}, VMs: &install.VMDialer{}})
	if err != nil {
		t.Fatal(err)
	}
	finish := map[string]time.Duration{}
	via := map[string]string{}
	var best time.Duration
	var last string
	for _, s := range p.Steps() { // topological order
		var start time.Duration
		for _, n := range steps.NeedsOf(s) {
			if finish[n] > start {
				start, via[s.ID()] = finish[n], n
			}
		}
		finish[s.ID()] = start + durs[s.ID()]
		if finish[s.ID()] > best {
			best, last = finish[s.ID()], s.ID()
		}
	}
	var chain []string
	for id := last; id != ""; id = via[id] {
		chain = append([]string{id}, chain...)
	}
	return best, chain
}

// BenchmarkInstallLatencyModel runs the install against the lab's latency
// model (speed TAPPAAS_LAB_SPEED, default 0.02) and reports the simulated
// total time, the plan's critical path and their ratio (target ≤ 1.15).
func BenchmarkInstallLatencyModel(b *testing.B) {
	speed := 0.02
	for range b.N {
		dir := b.TempDir()
		var out bytes.Buffer
		o := installOptions{answers: exampleAnswers, yes: true, output: "json", lab: true, labDir: dir, labReset: true,
			labSpeed: speed, concurrency: 8, logFile: dir + "/install.log"}
		start := time.Now()
		code, err := runInstall(context.Background(), o, &out, &out)
		wall := time.Since(start)
		if code != 0 {
			b.Fatalf("exit %d: %v", code, err)
		}
		durs := map[string]time.Duration{}
		for _, l := range strings.Split(out.String(), "\n") {
			var e struct {
				Event string `json:"event"`
				Step  string `json:"step"`
				Ms    int64  `json:"duration_ms"`
			}
			if json.Unmarshal([]byte(l), &e) == nil && e.Event == "step_done" {
				durs[e.Step] = time.Duration(e.Ms) * time.Millisecond
			}
		}
		cp, chain := criticalPath(b, durs)
		sim := func(d time.Duration) float64 { return d.Seconds() / speed }
		b.ReportMetric(sim(wall), "sim-total-s")
		b.ReportMetric(sim(cp), "sim-critical-path-s")
		b.ReportMetric(wall.Seconds()/cp.Seconds(), "total/critical")
		b.Logf("speed %.3g: wall %s (simulated %.0fs), critical path %s (simulated %.0fs): %s", speed, wall.Round(time.Millisecond), sim(wall), cp.Round(time.Millisecond), sim(cp), strings.Join(chain, " → "))
	}
}

// BenchmarkConvergedRerun measures a rerun of a finished install: real
// time and SSH connections to the node (target < 2 s, one connection).
func BenchmarkConvergedRerun(b *testing.B) {
	dir := b.TempDir()
	var out bytes.Buffer
	o := installOptions{answers: exampleAnswers, yes: true, output: "json", lab: true, labDir: dir, labReset: true, concurrency: 4, logFile: dir + "/install.log"}
	if code, err := runInstall(context.Background(), o, &out, &out); code != 0 {
		b.Fatalf("first run: %d %v", code, err)
	}
	o.labReset = false
	b.ResetTimer()
	for range b.N {
		var node *ssh.Client
		o.sessionHook = func(s *install.Session) {
			if c, ok := s.Targets.Node.(*ssh.Client); ok {
				node = c
			}
		}
		out.Reset()
		start := time.Now()
		code, err := runInstall(context.Background(), o, &out, &out)
		el := time.Since(start)
		if code != 0 {
			b.Fatalf("rerun: %d %v", code, err)
		}
		b.ReportMetric(el.Seconds(), "rerun-s")
		if node != nil {
			b.ReportMetric(float64(node.Dials()), "node-ssh-dials")
		}
	}
}
