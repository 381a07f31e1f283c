// Package tuitest provides a fake Backend for the TUI's tests and for the
// binary's test hook: real steps (steps.Plan, steps.Runner, a state store on
// disk) whose effects are marker files, with configurable delays, output and
// failures. Nothing here touches a real node.
package tuitest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/install"

	"github.com/tappaas/tappaas/tui/common"
)

// Options shape the fake.
type Options struct {
	// Dir holds the fake node's effects and the state store (required).
	Dir string
	// StepDelay is how long each step's Apply takes (spread over its lines).
	StepDelay time.Duration
	// Lines is the number of output lines each step prints (default 5).
	Lines int
	// FailStep makes that step's Apply fail FailTimes times (not retryable,
	// so the runner asks).
	FailStep  string
	FailTimes int
	// DetectDelay is how long Detect takes (a real node takes a second).
	DetectDelay time.Duration
	// Pool, when set, already exists on the fake node (an installed node):
	// Detect reports it and does not offer its disks.
	Pool *config.Pool
	// OperatorAddr, when set, is where the operator connects from (over
	// --host): the wizards then ask for node.admin_network.
	OperatorAddr string
	// Log receives the runner's log.
	Log *slog.Logger
}

// Backend is the fake.
type Backend struct {
	opts  Options
	mu    sync.Mutex
	store *state.Store
	fails map[string]int
	// Calls counts backend calls by method (tests).
	calls map[string]int
}

// New returns a fake backend persisting under opts.Dir.
func New(opts Options) (*Backend, error) {
	if opts.Dir == "" {
		return nil, errors.New("tuitest: Options.Dir is required")
	}
	if opts.Lines <= 0 {
		opts.Lines = 5
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(opts.Dir, "world"), 0o700); err != nil {
		return nil, fmt.Errorf("tuitest: %w", err)
	}
	st, err := state.Open(state.DirFS(filepath.Join(opts.Dir, "state")))
	if err != nil {
		return nil, fmt.Errorf("tuitest: open state: %w", err)
	}
	b := &Backend{opts: opts, store: st, fails: map[string]int{}, calls: map[string]int{}}
	if opts.FailStep != "" {
		b.fails[opts.FailStep] = opts.FailTimes
	}
	return b, nil
}

// Calls returns how often method was called.
func (b *Backend) Calls(method string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls[method]
}

func (b *Backend) count(m string) {
	b.mu.Lock()
	b.calls[m]++
	b.mu.Unlock()
}

// NodeInfo implements common.Backend.
func (b *Backend) NodeInfo(ctx context.Context) (common.NodeInfo, error) {
	b.count("NodeInfo")
	info := common.NodeInfo{Hostname: "tappaas1", PVEVersion: "9.0.10", Address: "192.168.1.10",
		Target: "fake node (test hook)"}
	for _, goal := range []common.Goal{common.GoalInstall, common.GoalJoin} {
		p, err := b.plan(goal)
		if err != nil {
			return info, err
		}
		if cp := common.CheckpointOf(p, b.store, goal); cp != nil {
			info.Checkpoint = cp
		}
		if goal == common.GoalInstall {
			info.Installed = common.Installed(p, b.store)
			info.Steps = common.StepStates(p, b.store)
		}
	}
	return info, nil
}

// Detect implements common.Backend.
func (b *Backend) Detect(ctx context.Context) (common.Detected, error) {
	b.count("Detect")
	select {
	case <-time.After(b.opts.DetectDelay):
	case <-ctx.Done():
		return common.Detected{}, ctx.Err()
	}
	in := config.Defaults()
	in.Node.WANNIC, in.Node.LANNIC = "enp1s0", "enp2s0"
	in.Storage.Pools = []config.Pool{{Name: "tanka1", Layout: "single", Disks: []string{"sdb"}}}
	in.Backup.Pool = "tanka1"
	in.Firewall.ImageSHA256 = "0f343b0931126a20f133d67c2b018a3b5e3c3a7d1b1f7e2c6a8d2f0a9e4b5c6d"
	in.Platform.TemplateImageSHA256 = "1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f00f"
	det := common.Detected{
		Install: in,
		NICs: []common.NIC{
			{Name: "enp1s0", MAC: "bc:24:11:00:00:01", Link: true, SpeedMbps: 1000, Internet: true, Address: "192.168.1.10/24"},
			{Name: "enp2s0", MAC: "bc:24:11:00:00:02", Link: true, SpeedMbps: 10000},
			{Name: "enp3s0", MAC: "bc:24:11:00:00:03"},
		},
		Disks: []common.Disk{
			{Name: "sda", Model: "QEMU HARDDISK", SizeBytes: 256e9, NotOffered: "system disk"},
			{Name: "sdb", Model: "Samsung SSD 870", SizeBytes: 1e12},
			{Name: "sdc", Model: "Samsung SSD 870", SizeBytes: 1e12},
			{Name: "sdd", Model: "WDC WD40EFRX", SizeBytes: 4e12, InUse: "has partitions or data"},
		},
	}
	if p := b.opts.Pool; p != nil {
		det.Pool = p
		for i, d := range det.Disks {
			if slices.Contains(p.Disks, d.Name) {
				det.Disks[i].NotOffered = "in pool " + p.Name + ", kept as it is"
			}
		}
	}
	if a := b.opts.OperatorAddr; a != "" {
		det.OperatorAddr, det.Install.Node.AdminNetwork = a, a+"/32"
	}
	return det, nil
}

// Preflight implements common.Backend.
func (b *Backend) Preflight(ctx context.Context, req common.Request) ([]common.Check, error) {
	b.count("Preflight")
	return []common.Check{
		{Name: "Running as root", Status: common.CheckPass},
		{Name: "Proxmox VE version", Status: common.CheckPass, Detail: "9.0.10 (supported: 9.x)"},
		{Name: "Internet", Status: common.CheckPass, Detail: "enp1s0 reaches the internet"},
		{Name: "DNS", Status: common.CheckPass, Detail: "resolves github.com"},
		{Name: "Time sync", Status: common.CheckUnknown, Detail: "chrony not answering", Fix: "systemctl status chrony"},
		{Name: "Free space on /", Status: common.CheckPass, Detail: "48 GB free"},
	}, nil
}

// Plan implements common.Backend.
func (b *Backend) Plan(ctx context.Context, req common.Request) (common.Job, error) {
	b.count("Plan")
	goal := req.Goal
	if goal == common.GoalResume {
		goal = common.GoalInstall
	}
	p, err := b.plan(goal)
	if err != nil {
		return nil, err
	}
	r := &steps.Runner{Store: b.store, Policy: steps.PolicyAsk, Log: b.opts.Log,
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }}
	return common.NewRunnerJob(p, r, nil), nil
}

// Summary implements common.Backend.
func (b *Backend) Summary(ctx context.Context, req common.Request) (common.Summary, error) {
	b.count("Summary")
	if req.Goal == common.GoalJoin {
		return common.Summary{Built: []string{"tappaas2 joined cluster TAPPaaS"},
			Next: []string{"Check the cluster in the PVE web UI"}}, nil
	}
	return common.Summary{
		Built: []string{"Node tappaas1 (lan/wan bridges, cluster TAPPaaS, pool tanka1)",
			"Proxmox Backup Server with datastore tappaas_backup",
			"Firewall VM 110 (OPNsense) at 10.0.0.1", "tappaas-cicd VM 130"},
		URLs: []common.Link{{Name: "Proxmox VE", URL: "https://10.0.0.10:8006", User: common.UserPVE},
			{Name: "Firewall", URL: "https://10.0.0.1", User: common.UserFirewall}, {Name: "Backup server", URL: "https://10.0.0.10:8007", User: common.UserPVE}},
		Reach: common.ManagementReach("enp2s0", "192.168.1.10", "10.0.0.10"),
		Credentials: []common.Credential{{Name: "Firewall root password", Where: install.SecretsPath + " (0600)",
			Read: install.ReadSecretCommand("firewall.root_password")},
			{Name: "Firewall API key", Where: "/var/lib/tappaas/secrets.json (0600)"}},
		Next: []string{"Log in to the firewall and change nothing by hand: tappaas owns its config",
			"Edit network zones with tappaas zones edit"},
	}, nil
}

func (b *Backend) plan(goal common.Goal) (*steps.Plan, error) {
	if goal == common.GoalJoin {
		return steps.NewPlan("join",
			b.step("join.network", "Create lan and wan bridges", ""),
			b.step("join.cluster", "Join cluster TAPPaaS", "join.network"),
			b.step("join.storage", "Create ZFS pool", "join.cluster"),
		)
	}
	return steps.NewPlan("install",
		b.step("node.repos", "Configure package repositories", ""),
		b.step("node.packages", "Install packages", "node.repos"),
		b.step("network.bridges", "Create lan and wan bridges", "node.packages"),
		b.step("cluster.create", "Create cluster TAPPaaS", "network.bridges"),
		b.step("storage.pools", "Create ZFS pool tanka1", "cluster.create"),
		b.step("pbs.install", "Install Proxmox Backup Server", "storage.pools"),
		b.step("firewall.vm", "Create the firewall VM", "storage.pools"),
		b.step("firewall.config", "Configure the firewall", "firewall.vm"),
		b.step("platform.cicd", "Create tappaas-cicd", "firewall.config"),
		b.step("zones.apply", "Push zones to the firewall", "platform.cicd"),
	)
}

func (b *Backend) step(id, title, need string) steps.Step {
	return &fakeStep{b: b, id: id, title: title, need: need}
}

type fakeStep struct {
	b               *Backend
	id, title, need string
}

func (s *fakeStep) ID() string    { return s.id }
func (s *fakeStep) Title() string { return s.title }
func (s *fakeStep) Needs() []string {
	if s.need == "" {
		return nil
	}
	return []string{s.need}
}
func (s *fakeStep) Optional() bool { return s.id == "pbs.install" }
func (s *fakeStep) Describe(*steps.Runtime) []string {
	return []string{"will " + lower(s.title)}
}

func lower(t string) string {
	if t == "" {
		return t
	}
	return string(t[0]|0x20) + t[1:]
}

func (s *fakeStep) marker() string { return filepath.Join(s.b.opts.Dir, "world", s.id) }

func (s *fakeStep) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	if _, err := os.Stat(s.marker()); err == nil {
		return steps.Done("%s exists", s.id), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return steps.Status{}, err
	}
	return steps.NotDone("%s missing", s.id), nil
}

func (s *fakeStep) Apply(ctx context.Context, rt *steps.Runtime) error {
	n := s.b.opts.Lines
	per := s.b.opts.StepDelay / time.Duration(n)
	for i := 1; i <= n; i++ {
		rt.Progress(float64(i-1)/float64(n), "working on "+s.id)
		if per > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(per):
			}
		}
		if i%4 == 0 {
			rt.Output(steps.StreamStderr, fmt.Sprintf("%s: warning %d of %d", s.id, i, n))
		} else {
			rt.Output(steps.StreamStdout, fmt.Sprintf("%s: line %d of %d", s.id, i, n))
		}
	}
	s.b.mu.Lock()
	left := s.b.fails[s.id]
	if left > 0 {
		s.b.fails[s.id] = left - 1
	}
	s.b.mu.Unlock()
	if left > 0 {
		return fmt.Errorf("%s: simulated failure (%d more)", s.id, left-1)
	}
	return os.WriteFile(s.marker(), []byte("ok\n"), 0o600)
}
