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
	enabled   map[string]bool // units enabled for boot
	reloads   int
	breakLive bool // ifreload leaves lan without its address
}

func newNetNode() *netNode {
	n := &netNode{Fake: exectest.NewFake(), live: oldInterfaces, timers: map[string]string{}, enabled: map[string]bool{}}
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
	n.On(`^if \[ -d (\S+) \]; then ls (\S+); fi$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		for _, f := range n.Files() {
			if path.Dir(f) == inv.Match[1] {
				fmt.Fprintln(inv.Stdout, path.Base(f))
			}
		}
		return 0, nil
	})
	n.On(`^mkdir -p (\S+)$`, func(context.Context, *exectest.Invocation) (int, error) { return 0, nil })
	n.On(`^systemctl (enable|disable) (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		n.mu.Lock()
		defer n.mu.Unlock()
		if inv.Match[1] == "disable" {
			delete(n.enabled, inv.Match[2])
			return 0, nil
		}
		if _, _, ok := n.File(path.Join(UnitDir, inv.Match[2])); !ok {
			return 5, nil // systemctl: "Unit file … does not exist."
		}
		n.enabled[inv.Match[2]] = true
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
	n.On(`^rm -f (.+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		for _, f := range strings.Fields(inv.Match[1]) {
			n.RemoveFile(f)
		}
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

// A change whose marker is gone (confirmed, or rolled back) is not
// pending, and the next commit removes the clean-up it left behind.
func TestPendingIsTheMarkersAndLeftoversAreCleaned(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newNetNode()
	n.SetFile(scriptPath("aaaa1111"), []byte("#!/bin/sh\n"), 0o700)
	n.SetFile(path.Join(UnitDir, bootUnit("aaaa1111")), []byte("[Unit]\n"), 0o644)
	n.SetFile(scriptPath("bbbb2222"), []byte("#!/bin/sh\n"), 0o700)
	n.SetFile(markerPath("bbbb2222"), nil, 0o600)
	p, err := Pending(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 1 || p[0] != "bbbb2222" {
		t.Fatalf("pending = %v, want only the unconfirmed bbbb2222", p)
	}
	cfg, rt := cfgAndRT(t)
	if err := (&Bridges{Node: n, Cfg: cfg}).Apply(ctx, rt); err != nil {
		t.Fatal(err)
	}
	for _, f := range n.Files() {
		if strings.Contains(f, "aaaa1111") || strings.Contains(f, "bbbb2222") {
			t.Errorf("%s left behind", f)
		}
	}
}

// Confirming removes everything the rollback armed: the live timer, the
// boot unit (file and enablement), the marker, the script and the saved
// copy — and all of them existed, armed before ifreload.
func TestConfirmRemovesTimerUnitAndMarker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newNetNode()
	cfg, rt := cfgAndRT(t)
	var armed map[string]bool
	node := &onScript{netNode: n, prefix: "ifreload", fn: func() {
		armed = map[string]bool{}
		for _, f := range n.Files() {
			armed[path.Dir(f)] = true
		}
		n.mu.Lock()
		armed["timer"] = len(n.timers) == 1
		armed["enabled"] = len(n.enabled) == 1
		n.mu.Unlock()
	}}
	if err := (&Bridges{Node: node, Cfg: cfg}).Apply(ctx, rt); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{MarkerDir, UnitDir, RollbackDir, "timer", "enabled"} {
		if !armed[k] {
			t.Errorf("before ifreload: %s not armed (%v)", k, armed)
		}
	}
	if len(n.timers) != 0 || len(n.enabled) != 0 {
		t.Fatalf("after confirm: timers %v, enabled units %v", n.timers, n.enabled)
	}
	for _, f := range n.Files() {
		if d := path.Dir(f); d == MarkerDir || d == UnitDir || d == RollbackDir || strings.HasSuffix(f, backupSuffix) {
			t.Errorf("after confirm: %s left", f)
		}
	}
}

// onScript calls fn before running a command starting with prefix.
type onScript struct {
	*netNode
	prefix string
	fn     func()
}

func (o *onScript) Run(ctx context.Context, cmd exec.Cmd) (exec.Result, error) {
	if strings.HasPrefix(cmd.Script, o.prefix) {
		o.fn()
	}
	return o.netNode.Run(ctx, cmd)
}

// conn is one connection to the fake node: it records what ran over it.
type conn struct {
	*netNode
	mu      sync.Mutex
	scripts []string
	closed  bool
}

func (c *conn) Run(ctx context.Context, cmd exec.Cmd) (exec.Result, error) {
	c.mu.Lock()
	c.scripts = append(c.scripts, cmd.Script)
	c.mu.Unlock()
	return c.netNode.Run(ctx, cmd)
}

func (c *conn) ran(prefix string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.scripts {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// The change is verified and confirmed over a new connection, not over the
// session that applied it (commit confirmed: the old session may live on a
// route the change removed).
func TestBridgesConfirmOverNewConnection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newNetNode()
	cfg, rt := cfgAndRT(t)
	old := &conn{netNode: n}
	var fresh []*conn
	var dialled []string
	reach := func(_ context.Context, addr string) (exec.Executor, func() error, error) {
		c := &conn{netNode: n}
		fresh, dialled = append(fresh, c), append(dialled, addr)
		return c, func() error { c.closed = true; return nil }, nil
	}
	if err := (&Bridges{Node: old, Cfg: cfg, NodeAddr: "192.168.1.10", Reach: reach}).Apply(ctx, rt); err != nil {
		t.Fatal(err)
	}
	if len(fresh) != 1 || dialled[0] != "192.168.1.10" {
		t.Fatalf("new connections: %v, want one to 192.168.1.10", dialled)
	}
	marker := "rm -f " + MarkerDir + "/"
	if old.ran(marker) || !fresh[0].ran(marker) {
		t.Fatalf("the confirmation must come over the new connection: old %q, new %q", old.scripts, fresh[0].scripts)
	}
	if !fresh[0].ran("ip -j addr show") || !fresh[0].closed {
		t.Fatalf("the new connection must verify and be closed: %q closed=%v", fresh[0].scripts, fresh[0].closed)
	}
}

// A new node.wan_address is confirmed over a new connection to it; the run
// then stops, naming the address to continue with.
func TestBridgesNewAddressConfirmedThere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newNetNode()
	cfg, rt := cfgAndRT(t)
	cfg.Node.WANAddress = "192.168.1.20/24"
	var dialled []string
	reach := func(_ context.Context, addr string) (exec.Executor, func() error, error) {
		dialled = append(dialled, addr)
		return &conn{netNode: n}, func() error { return nil }, nil
	}
	err := (&Bridges{Node: n, Cfg: cfg, NodeAddr: "192.168.1.10", Reach: reach}).Apply(ctx, rt)
	if err == nil || !strings.Contains(err.Error(), "--host root@192.168.1.20") {
		t.Fatalf("want the address to continue with, got %v", err)
	}
	if len(dialled) != 1 || dialled[0] != "192.168.1.20" {
		t.Fatalf("new connections: %v, want one to 192.168.1.20", dialled)
	}
	if p, _ := Pending(ctx, n); len(p) != 0 {
		t.Fatalf("the change must be confirmed: pending %v", p)
	}
}

// When no new connection can be made the change is never confirmed, even
// though the old session still answers: the node rolls back by itself.
func TestNoNewConnectionNoConfirmation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n := newNetNode()
	cfg, rt := cfgAndRT(t)
	reach := func(context.Context, string) (exec.Executor, func() error, error) {
		return nil, nil, errors.New("dial tcp 192.168.1.10:22: connect: no route to host")
	}
	err := (&Bridges{Node: n, Cfg: cfg, NodeAddr: "192.168.1.10", Reach: reach, RollbackAfter: 1}).Apply(ctx, rt)
	if err == nil || !strings.Contains(err.Error(), "not confirmed") || !strings.Contains(err.Error(), "no route to host") {
		t.Fatalf("want an unconfirmed change, got %v", err)
	}
	if p, _ := Pending(ctx, n); len(p) != 1 || len(n.timers) != 1 || len(n.enabled) != 1 {
		t.Fatalf("the rollback must stay armed: pending %v, timers %v, boot units %v", p, n.timers, n.enabled)
	}
}
