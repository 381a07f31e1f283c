package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/lab"
	"github.com/tappaas/tappaas/lab/pve"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/install"
	"github.com/tappaas/tappaas/steps/network"
	"github.com/tappaas/tappaas/steps/preflight"
)

// lockoutLab starts a fresh lab and connects to it as `install --lab`
// does, over SSH to the node's install address.
func lockoutLab(t *testing.T) (*lab.Lab, *install.Targets, config.Install) {
	t.Helper()
	dir := t.TempDir()
	l, err := lab.Start(context.Background(), lab.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	info := l.Info()
	signer, err := gossh.ParsePrivateKey(info.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	tg, err := install.Connect(context.Background(), install.ConnectOptions{Host: "root@" + info.NodeAddr, Dial: l.Dial,
		KnownHosts: filepath.Join(dir, "known_hosts"), AcceptHostKey: info.SSHFingerprint, Signers: []gossh.Signer{signer}, VMsDirect: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	f, err := os.Open(exampleAnswers)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := config.LoadAnswers(f)
	if err != nil {
		t.Fatal(err)
	}
	return l, tg, cfg
}

// preflightFacts runs preflight (read-only) so the bridges step knows the
// node's ports and install address.
func preflightFacts(t *testing.T, tg *install.Targets, cfg config.Install) *steps.Runtime {
	t.Helper()
	rt := steps.NewRuntime("network.bridges", nil, nil, nil, nil)
	if _, err := (&preflight.Checks{Node: tg.Node, Cfg: cfg, Role: preflight.RoleFirst}).Check(context.Background(), rt); err != nil {
		t.Fatal(err)
	}
	return rt
}

func nodeFile(t *testing.T, l *lab.Lab, p string) string {
	t.Helper()
	b, err := l.Node().FS().ReadFile(p)
	if err != nil {
		return ""
	}
	return string(b)
}

// Issue 11.3: over --host, a node.wan_address other than the address the
// installer is connected through is refused by preflight, before anything
// changes — the connection's node address is known to the plan.
func TestInstallRefusesWANAddressThatCutsTheSession(t *testing.T) {
	t.Parallel()
	l, tg, cfg := lockoutLab(t)
	if tg.NodeAddr != l.Info().NodeAddr {
		t.Fatalf("Targets.NodeAddr = %q, want the address connected to (%s)", tg.NodeAddr, l.Info().NodeAddr)
	}
	cfg.Node.WANAddress = "192.168.1.20/24"
	plan, err := install.FirstNodePlan(cfg, tg)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(plan.Steps(), func(s steps.Step) bool { return s.ID() == "preflight.checks" })
	if i < 0 {
		t.Fatal("no preflight in the plan")
	}
	pf := plan.Steps()[i]
	err = pf.Apply(context.Background(), steps.NewRuntime("preflight.checks", nil, nil, nil, nil))
	if err == nil || !strings.Contains(err.Error(), "node.wan_address") || !strings.Contains(err.Error(), "192.168.1.10") {
		t.Fatalf("want preflight to refuse node.wan_address, got %v", err)
	}
}

// Commit-confirmed: the bridge change is verified and confirmed over a new
// SSH connection, and confirming leaves no timer, unit or marker.
func TestLabBridgesConfirmedOverNewConnection(t *testing.T) {
	t.Parallel()
	l, tg, cfg := lockoutLab(t)
	rt := preflightFacts(t, tg, cfg)
	before := l.SSHConnections()
	s := &network.Bridges{Node: tg.Node, Cfg: cfg, NodeAddr: tg.NodeAddr, Reach: tg.Reconnect}
	if err := s.Apply(context.Background(), rt); err != nil {
		t.Fatal(err)
	}
	if n := l.SSHConnections() - before; n < 1 {
		t.Fatalf("the change was confirmed without a new connection (%d new)", n)
	}
	if st, err := s.Check(context.Background(), rt); err != nil || !st.Done {
		t.Fatalf("after: %+v %v", st, err)
	}
	if ts := l.Node().PendingTimers(); len(ts) != 0 {
		t.Fatalf("timers left: %+v", ts)
	}
	var out, markers bytes.Buffer
	l.Run(context.Background(), "ls /etc/systemd/system /etc/systemd/system/multi-user.target.wants "+network.RollbackDir+" 2>&1", nil, &out, &out)
	if strings.Contains(out.String(), "tappaas-rollback") {
		t.Fatalf("confirm left the rollback's unit or script:\n%s", out.String())
	}
	if rc := l.Run(context.Background(), "ls "+network.MarkerDir, nil, &markers, &markers); rc != 0 || strings.TrimSpace(markers.String()) != "" {
		t.Fatalf("confirm left markers (rc %d): %s", rc, markers.String())
	}
}

// A reboot inside the confirmation window restores the previous network:
// the transient timer is gone with the reboot, the unit file enabled for
// boot is not.
func TestLabRebootInsideWindowRestoresNetwork(t *testing.T) {
	t.Parallel()
	l, tg, cfg := lockoutLab(t)
	rt := preflightFacts(t, tg, cfg)
	orig := nodeFile(t, l, network.InterfacesFile)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The installer loses the node before it can confirm.
	reach := func(context.Context, string) (exec.Executor, func() error, error) {
		cancel()
		return nil, nil, errors.New("no route to host")
	}
	s := &network.Bridges{Node: tg.Node, Cfg: cfg, NodeAddr: tg.NodeAddr, Reach: reach, RollbackAfter: 600}
	if err := s.Apply(ctx, rt); !errors.Is(err, context.Canceled) {
		t.Fatalf("want the run cut short, got %v", err)
	}
	if nodeFile(t, l, network.InterfacesFile) == orig {
		t.Fatal("the change was not applied")
	}
	l.RebootNode()
	if got := nodeFile(t, l, network.InterfacesFile); got != orig {
		t.Fatalf("after a reboot inside the window the network is not restored:\n%s", got)
	}
	up, addr := false, l.Info().NodeAddr
	l.Node().Read(func(m *pve.Model) { up = m.AddrUp(addr) })
	if !up {
		t.Fatal("the install address is not live again after the reboot")
	}
	var out bytes.Buffer
	l.Run(context.Background(), "ls "+network.MarkerDir+" /etc/systemd/system/multi-user.target.wants", nil, &out, &out)
	if strings.Contains(out.String(), "tappaas-rollback") {
		t.Fatalf("the rollback left its unit enabled:\n%s", out.String())
	}
	// The reboot cut the installer's link: the first command may find it
	// lost (the runner retries such a step); the client dials again.
	p, err := network.Pending(context.Background(), tg.Node)
	if errors.Is(err, exec.ErrConnectionLost) {
		p, err = network.Pending(context.Background(), tg.Node)
	}
	if err != nil || len(p) != 0 {
		t.Fatalf("pending after the rollback: %v %v", p, err)
	}
}
