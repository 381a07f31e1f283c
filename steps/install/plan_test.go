package install

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
)

func exampleCfg(t *testing.T) config.Install {
	t.Helper()
	b, err := os.ReadFile("../../examples/answers.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadAnswers(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestFirstNodePlanIsValid(t *testing.T) {
	t.Parallel()
	cfg := exampleCfg(t)
	tg := &Targets{Node: exectest.NewFake(), Firewall: &FirewallAPI{}, Pusher: &SSHPusher{}, VMs: &VMDialer{}}
	p, err := FirstNodePlan(cfg, tg)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	var ids []string
	for _, s := range p.Steps() {
		ids = append(ids, s.ID())
	}
	for _, want := range []string{"preflight.checks", "node.repos", "node.ha-services", "node.upgrade", "network.bridges", "cluster.create", "storage.pool.tanka1",
		"storage.register.tanka1", "pbs.install", "pbs.datastore", "pbs.retention", "pbs.user", "pbs.storage", "pbs.backup-job", "firewall.image",
		"firewall.vm", "firewall.config", "firewall.reboot", "firewall.verify", "network.cutover", "network.sanity", "platform.template",
		"platform.cicd", "platform.install1", "platform.install2", "platform.configuration", "zones.apply", "summary.report"} {
		if !slices.Contains(ids, want) {
			t.Errorf("plan lacks %s", want)
		}
	}
	if ids[0] != "preflight.checks" || ids[len(ids)-1] != "summary.report" {
		t.Errorf("order: first %s, last %s", ids[0], ids[len(ids)-1])
	}
	// Every step describes itself (the plan review screen shows it).
	for _, si := range p.Review(steps.NewRuntime("", nil, nil, nil, nil), nil) {
		if len(si.Changes) == 0 {
			t.Errorf("step %s has no Describe", si.ID)
		}
	}
}

// The downloads must not wait for the package installs or the network:
// they need preflight only, so they overlap the slow early steps.
func TestDownloadsOverlapEarlySteps(t *testing.T) {
	t.Parallel()
	cfg := exampleCfg(t)
	tg := &Targets{Node: exectest.NewFake(), Firewall: &FirewallAPI{}, Pusher: &SSHPusher{}, VMs: &VMDialer{}}
	p, err := FirstNodePlan(cfg, tg)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"firewall.image", "platform.template-image"} {
		s, ok := stepByID(p, id)
		if !ok {
			t.Fatalf("no %s", id)
		}
		if got := steps.NeedsOf(s); !slices.Equal(got, []string{"preflight.checks"}) {
			t.Errorf("%s needs %v, want only preflight.checks", id, got)
		}
		for _, r := range steps.TouchesOf(s) {
			if strings.HasPrefix(r, "node:") {
				t.Errorf("%s touches %s and would serialise with node steps", id, r)
			}
		}
	}
}

func stepByID(p *steps.Plan, id string) (steps.Step, bool) {
	for _, s := range p.Steps() {
		if s.ID() == id {
			return s, true
		}
	}
	return nil, false
}

func TestPlanWithoutBackup(t *testing.T) {
	t.Parallel()
	cfg := exampleCfg(t)
	off := false
	cfg.Backup.Enabled = &off
	tg := &Targets{Node: exectest.NewFake(), Firewall: &FirewallAPI{}, Pusher: &SSHPusher{}, VMs: &VMDialer{}}
	p, err := FirstNodePlan(cfg, tg)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := stepByID(p, "pbs.install"); ok {
		t.Fatal("pbs steps present with backup disabled")
	}
}

// Every step of the plans has an expected duration (the run view's ETA
// starts from them), and every entry of the table names a real step.
func TestExpectedDurationsCoverThePlans(t *testing.T) {
	t.Parallel()
	cfg := exampleCfg(t)
	tg := &Targets{Node: exectest.NewFake(), Firewall: &FirewallAPI{}, Pusher: &SSHPusher{}, VMs: &VMDialer{}}
	p, err := FirstNodePlan(cfg, tg)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, si := range p.Review(nil, nil) {
		k := si.ID
		if _, ok := expected[k]; !ok {
			k = si.ID[:strings.LastIndex(si.ID, ".")+1]
		}
		switch {
		case si.Expected > 0:
			used[k] = true
		case si.ID == "platform.configuration" || si.ID == "summary.report" || strings.HasPrefix(si.ID, "pbs.") && si.ID != "pbs.install":
			// quick steps: the default
		default:
			t.Errorf("%s has no expected duration", si.ID)
		}
	}
	for k := range expected {
		if !used[k] && !strings.HasPrefix(k, "join.") {
			t.Errorf("expected[%q] names no step of the first-node plan", k)
		}
	}
}

// The operator's address is the first field of $SSH_CLIENT as the node
// sees it; loopback (a tunnel on the node) says nothing.
func TestOperatorAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"203.0.113.7 50022 22": "203.0.113.7", "::ffff:192.0.2.1 1 22": "192.0.2.1", "": "", "garbage 1 2": "", "127.0.0.1 40000 22": "", "::1 40000 22": ""} {
		if got := OperatorAddr(in); got != want {
			t.Errorf("OperatorAddr(%q) = %q, want %q", in, got, want)
		}
	}
	f := exectest.NewFake()
	f.Reply(`^printf '%s' "\$SSH_CLIENT"$`, "198.51.100.4 61000 22", 0)
	if got := RemoteOperatorAddr(context.Background(), f); got != "198.51.100.4" {
		t.Errorf("RemoteOperatorAddr = %q", got)
	}
}
