package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/preflight"
)

const oldInterfaces = "auto lo\niface lo inet loopback\n\nauto vmbr0\niface vmbr0 inet static\n\taddress 192.168.1.10/24\n\tgateway 192.168.1.1\n\tbridge-ports enp1s0\n"

// netNode is a fake node whose live network follows /etc/network/interfaces
// on ifreload, with systemd-run timers that can be fired.
type netNode struct {
	*exectest.Fake
	mu        sync.Mutex
	live      string // interfaces content made live
	timers    map[string]string
	reloads   int
	breakLive bool // ifreload leaves lan without its address
}

func newNetNode() *netNode {
	n := &netNode{Fake: exectest.NewFake(), live: oldInterfaces, timers: map[string]string{}}
	n.SetFile(InterfacesFile, []byte(oldInterfaces), 0o644)
	n.SetFile(HostsFile, []byte("127.0.0.1 localhost\n192.168.1.10 tappaas1.mgmt.internal tappaas1\n"), 0o644)
	n.SetFile(ResolvConf, []byte("nameserver 192.168.1.1\n"), 0o644)
	n.On(`^ls /usr/local/sbin$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		for _, f := range n.Files() {
			if path.Dir(f) == RollbackDir {
				fmt.Fprintln(inv.Stdout, path.Base(f))
			}
		}
		return 0, nil
	})
	n.On(`^test -e (\S+) && echo confirmed \|\| true$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		if _, _, ok := n.File(inv.Match[1]); ok {
			fmt.Fprintln(inv.Stdout, "confirmed")
		}
		return 0, nil
	})
	n.On(`^systemd-run --unit=(\S+) --on-active=\d+ /bin/sh (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		n.mu.Lock()
		n.timers[inv.Match[1]] = inv.Match[2]
		n.mu.Unlock()
		return 0, nil
	})
	n.On(`^ifreload -a$`, func(context.Context, *exectest.Invocation) (int, error) {
		b, _, _ := n.File(InterfacesFile)
		n.mu.Lock()
		n.live = string(b)
		n.reloads++
		n.mu.Unlock()
		return 0, nil
	})
	n.On(`^touch (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		n.SetFile(inv.Match[1], nil, 0o644)
		return 0, nil
	})
	n.On(`^rm -f (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		n.RemoveFile(inv.Match[1])
		return 0, nil
	})
	n.On(`^systemctl stop (\S+)\.timer$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		n.mu.Lock()
		delete(n.timers, inv.Match[1])
		n.mu.Unlock()
		return 0, nil
	})
	n.On(`^ip -j addr show$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		n.mu.Lock()
		live, broken := n.live, n.breakLive
		n.mu.Unlock()
		type ai struct {
			Family    string `json:"family"`
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		}
		type link struct {
			IfName    string `json:"ifname"`
			OperState string `json:"operstate"`
			Master    string `json:"master,omitempty"`
			AddrInfo  []ai   `json:"addr_info"`
		}
		var out []link
		cur := ""
		for _, l := range strings.Split(live, "\n") {
			f := strings.Fields(l)
			switch {
			case len(f) >= 2 && f[0] == "iface" && f[1] != "lo":
				cur = f[1]
				out = append(out, link{IfName: cur, OperState: "UP"})
			case len(f) == 2 && f[0] == "address" && cur != "":
				if broken && cur == "lan" {
					continue
				}
				var a ai
				fmt.Sscanf(strings.Replace(f[1], "/", " ", 1), "%s %d", &a.Local, &a.PrefixLen)
				a.Family = "inet"
				out[len(out)-1].AddrInfo = append(out[len(out)-1].AddrInfo, a)
			case len(f) == 2 && f[0] == "bridge-ports" && cur != "":
				for i := range out {
					if out[i].IfName == f[1] {
						out[i].Master = cur
					}
				}
			}
		}
		b, _ := json.Marshal(out)
		inv.Stdout.Write(b)
		return 0, nil
	})
	n.On(`^ip -j route show default$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		n.mu.Lock()
		live := n.live
		n.mu.Unlock()
		gw, dev, cur := "", "", ""
		for _, l := range strings.Split(live, "\n") {
			f := strings.Fields(l)
			if len(f) >= 2 && f[0] == "iface" {
				cur = f[1]
			}
			if len(f) == 2 && f[0] == "gateway" {
				gw, dev = f[1], cur
			}
		}
		fmt.Fprintf(inv.Stdout, `[{"dst":"default","gateway":%q,"dev":%q}]`, gw, dev)
		return 0, nil
	})
	return n
}

func cfgAndRT(t *testing.T) (config.Install, *steps.Runtime) {
	t.Helper()
	cfg := config.Defaults()
	cfg.Node.LANNIC, cfg.Node.WANNIC = "enp2s0", "enp1s0"
	rt := steps.NewRuntime("network.bridges", nil, nil, nil, nil)
	_ = steps.Set(rt.Facts, preflight.FactInventory, preflight.Inventory{NICs: []preflight.NIC{{Name: "enp1s0"}, {Name: "enp2s0"}}})
	_ = steps.Set(rt.Facts, preflight.FactInstallCIDR, "192.168.1.10/24")
	_ = steps.Set(rt.Facts, preflight.FactGateway, "192.168.1.1")
	return cfg, rt
}

func TestBridgesCommitConfirm(t *testing.T) {
	t.Parallel()
	n := newNetNode()
	cfg, rt := cfgAndRT(t)
	s := &Bridges{Node: n, Cfg: cfg}
	ctx := context.Background()
	if st, err := s.Check(ctx, rt); err != nil || st.Done {
		t.Fatalf("before: %+v %v", st, err)
	}
	if err := s.Apply(ctx, rt); err != nil {
		t.Fatal(err)
	}
	// The rollback was scheduled before ifreload, and cancelled after.
	sc := n.Scripts()
	iRun, iReload := -1, -1
	for i, x := range sc {
		if strings.HasPrefix(x, "systemd-run") && iRun < 0 {
			iRun = i
		}
		if x == "ifreload -a" && iReload < 0 {
			iReload = i
		}
	}
	if iRun < 0 || iReload < 0 || iRun > iReload {
		t.Fatalf("rollback not armed before ifreload: %v", sc)
	}
	if len(n.timers) != 0 {
		t.Fatalf("rollback timers left: %v", n.timers)
	}
	if p, _ := Pending(ctx, n); len(p) != 0 {
		t.Fatalf("pending rollbacks left: %v", p)
	}
	st, err := s.Check(ctx, rt)
	if err != nil || !st.Done {
		t.Fatalf("after: %+v %v", st, err)
	}
	b, _, _ := n.File(InterfacesFile)
	for _, want := range []string{"iface lan inet static", "address 10.0.0.10/24", "bridge-vlan-aware yes", "bridge-ports enp2s0", "gateway 192.168.1.1", "bridge-ports enp1s0"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("interfaces lacks %q", want)
		}
	}
	// Second run: Check says done, so the runner never applies again.
}

func TestBridgesVerifyFailureLeavesRollbackArmed(t *testing.T) {
	t.Parallel()
	n := newNetNode()
	n.breakLive = true
	cfg, rt := cfgAndRT(t)
	s := &Bridges{Node: n, Cfg: cfg, RollbackAfter: 2}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := s.Apply(ctx, rt)
	if err == nil || !strings.Contains(err.Error(), "restores the previous configuration") {
		t.Fatalf("want a rollback message, got %v", err)
	}
	if len(n.timers) != 1 {
		t.Fatalf("the rollback must stay armed: %v", n.timers)
	}
	// The next run sees the pending change and is not done.
	if st, err := s.Check(ctx, rt); err != nil || st.Done || !strings.Contains(st.Detail, "pending") {
		t.Fatalf("check: %+v %v", st, err)
	}
	// The rollback script restores the good copy.
	var script string
	for _, v := range n.timers {
		script = v
	}
	b, _, _ := n.File(script)
	if !strings.Contains(string(b), "cp /etc/network/interfaces.tappaas-good /etc/network/interfaces") {
		t.Fatalf("rollback script: %s", b)
	}
	good, _, _ := n.File(InterfacesFile + backupSuffix)
	if string(good) != oldInterfaces {
		t.Fatalf("good copy is not the original: %q", good)
	}
	// A retry after a fix keeps the original as the good copy.
	n.breakLive = false
	if err := s.Apply(ctx, rt); err != nil {
		t.Fatal(err)
	}
	if p, _ := Pending(ctx, n); len(p) != 0 {
		t.Fatalf("stale rollback not cancelled: %v", p)
	}
}

func TestBridgesConnectionDropDuringReload(t *testing.T) {
	t.Parallel()
	n := newNetNode()
	dropped := false
	// The first ifreload drops the session after taking effect.
	cfg, rt := cfgAndRT(t)
	wrapped := &dropOnce{netNode: n, pattern: "ifreload -a", dropped: &dropped}
	s := &Bridges{Node: wrapped, Cfg: cfg}
	if err := s.Apply(context.Background(), rt); err != nil {
		t.Fatalf("a dropped session during ifreload must reconnect and verify: %v", err)
	}
	if !dropped {
		t.Fatal("the drop was not exercised")
	}
}

// dropOnce runs the command, then reports the connection lost once.
type dropOnce struct {
	*netNode
	pattern string
	dropped *bool
}

func (d *dropOnce) Run(ctx context.Context, c exec.Cmd) (exec.Result, error) {
	r, err := d.netNode.Run(ctx, c)
	if c.Script == d.pattern && !*d.dropped {
		*d.dropped = true
		return r, fmt.Errorf("ssh: %w", exec.ErrConnectionLost)
	}
	return r, err
}

func TestCutoverCommitConfirm(t *testing.T) {
	t.Parallel()
	n := newNetNode()
	cfg, rt := cfgAndRT(t)
	cfg.Node.AdminNetwork = "192.168.50.0/24"
	if err := (&Bridges{Node: n, Cfg: cfg}).Apply(context.Background(), rt); err != nil {
		t.Fatal(err)
	}
	s := &Cutover{Node: n, Cfg: cfg}
	if st, _ := s.Check(context.Background(), rt); st.Done {
		t.Fatal("cut over before Apply")
	}
	if err := s.Apply(context.Background(), rt); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Check(context.Background(), rt); err != nil || !st.Done {
		t.Fatalf("after: %+v %v", st, err)
	}
	hosts, _, _ := n.File(HostsFile)
	if !strings.Contains(string(hosts), "10.0.0.10 tappaas1.mgmt.internal tappaas1") || strings.Contains(string(hosts), "192.168.1.10 tappaas1") {
		t.Fatalf("hosts: %s", hosts)
	}
	ifs, _, _ := n.File(InterfacesFile)
	if !strings.Contains(string(ifs), "post-up ip route replace 192.168.50.0/24 via 192.168.1.1") {
		t.Fatalf("admin route missing: %s", ifs)
	}
	// The bridges step accepts the cut-over file and never undoes it.
	if st, err := (&Bridges{Node: n, Cfg: cfg}).Check(context.Background(), rt); err != nil || !st.Done {
		t.Fatalf("bridges after cutover: %+v %v", st, err)
	}
}

func TestHostsAfterCutoverIdempotent(t *testing.T) {
	t.Parallel()
	in := "127.0.0.1 localhost\n192.168.1.10 tappaas1.mgmt.internal tappaas1\n# tappaas1 comment\n"
	a := HostsAfterCutover(in, "tappaas1", "10.0.0.10")
	if b := HostsAfterCutover(a, "tappaas1", "10.0.0.10"); a != b {
		t.Fatalf("not idempotent:\n%s\n%s", a, b)
	}
}

func TestCommitCancelled(t *testing.T) {
	t.Parallel()
	n := newNetNode()
	n.breakLive = true
	cfg, rt := cfgAndRT(t)
	ctx, cancel := context.WithCancel(context.Background())
	err := (&Bridges{Node: &cancelAt{netNode: n, prefix: "ifreload", cancel: cancel}, Cfg: cfg}).Apply(ctx, rt)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

// cancelAt cancels the run's context when a command starts with prefix.
type cancelAt struct {
	*netNode
	prefix string
	cancel func()
}

func (c *cancelAt) Run(ctx context.Context, cmd exec.Cmd) (exec.Result, error) {
	r, err := c.netNode.Run(ctx, cmd)
	if strings.HasPrefix(cmd.Script, c.prefix) {
		c.cancel()
	}
	return r, err
}

// A confirmed change whose clean-up was cut short (the link dropped after
// the confirmation) is not pending: its script exits at once.
func TestPendingIgnoresConfirmedLeftovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newNetNode()
	n.SetFile(path.Join(RollbackDir, rollbackPrefix+"aaaa1111.sh"), []byte("#!/bin/sh\n"), 0o700)
	n.SetFile(path.Join(RollbackDir, rollbackPrefix+"bbbb2222.sh"), []byte("#!/bin/sh\n"), 0o700)
	n.SetFile(path.Join(confirmDir, "tappaas-confirmed-aaaa1111"), nil, 0o644)
	p, err := Pending(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 1 || p[0] != "bbbb2222" {
		t.Fatalf("pending = %v, want only the unconfirmed bbbb2222", p)
	}
}
