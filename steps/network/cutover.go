package network

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
)

// Files the cutover rewrites besides the interfaces file.
const (
	ResolvConf = "/etc/resolv.conf"
	HostsFile  = "/etc/hosts"
)

func secs(n int) time.Duration { return time.Duration(n) * time.Second }

// ResolvAfterCutover is the node's resolver once the firewall serves DNS.
const ResolvAfterCutover = "search mgmt.internal internal\nnameserver " + config.FirewallLANIP + "\n"

// HostsAfterCutover rewrites /etc/hosts so the node's name maps to its
// management address (every other line is kept).
func HostsAfterCutover(cur, hostname, mgmtIP string) string {
	want := fmt.Sprintf("%s %s.mgmt.internal %s", mgmtIP, hostname, hostname)
	var out []string
	placed := false
	for _, l := range strings.Split(strings.TrimRight(cur, "\n"), "\n") {
		f := strings.Fields(l)
		isHost := false
		for _, x := range f[min(1, len(f)):] {
			if x == hostname || x == hostname+".mgmt.internal" {
				isHost = true
			}
		}
		if isHost && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			if !placed {
				out = append(out, want)
				placed = true
			}
			continue
		}
		out = append(out, l)
	}
	if !placed {
		out = append(out, want)
	}
	return strings.Join(out, "\n") + "\n"
}

// Cutover makes the firewall the node's gateway and resolver, commit/confirm
// (upstream's --swap-gateway had neither a check nor a rollback,
// docs/upstream.md#cutover-without-rollback). The upstream address
// stays on wan; AdminNetwork stays routed via the old gateway so the
// operator's session survives (docs/upstream.md#lockout).
type Cutover struct {
	Node          exec.Executor
	Cfg           config.Install
	RollbackAfter int // seconds; 0 = default
	// NodeAddr and Reach: see Bridges. The cutover keeps the node's
	// addresses; the new connection proves the operator's way back to the
	// node still works with the firewall as the gateway.
	NodeAddr string
	Reach    Reach
}

func (s *Cutover) ID() string { return "network.cutover" }

func (s *Cutover) Title() string { return "Gateway cutover to the firewall (commit/confirm)" }

func (s *Cutover) Needs() []string { return []string{"network.bridges", "firewall.verify"} }

func (s *Cutover) Touches() []string { return []string{"node:network"} }

func (s *Cutover) Describe(*steps.Runtime) []string {
	d := []string{"default gateway and DNS: " + config.FirewallLANIP + " on lan", "/etc/hosts: " + s.Cfg.Node.Hostname + " → " + s.Cfg.MgmtPrefix().Addr().String()}
	if s.Cfg.Node.AdminNetwork != "" {
		d = append(d, "keep "+s.Cfg.Node.AdminNetwork+" routed via the upstream gateway")
	}
	return d
}

func (s *Cutover) want(ctx context.Context, rt *steps.Runtime) (map[string]string, Layout, error) {
	l, err := LayoutFor(s.Cfg, rt)
	if err != nil {
		return nil, l, err
	}
	hosts, _, err := node.ReadFile(ctx, s.Node, HostsFile)
	if err != nil {
		return nil, l, err
	}
	return map[string]string{
		InterfacesFile: Render(l, StageCutover),
		ResolvConf:     ResolvAfterCutover,
		HostsFile:      HostsAfterCutover(string(hosts), s.Cfg.Node.Hostname, s.Cfg.MgmtPrefix().Addr().String()),
	}, l, nil
}

func (s *Cutover) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	files, _, err := s.want(ctx, rt)
	if err != nil {
		return steps.NotDone("%v", err), nil
	}
	for _, p := range []string{InterfacesFile, ResolvConf, HostsFile} {
		ok, err := node.FileIs(ctx, s.Node, p, []byte(files[p]))
		if err != nil {
			return steps.Status{}, err
		}
		if !ok {
			return steps.NotDone("%s is not cut over", p), nil
		}
	}
	if p, err := Pending(ctx, s.Node); err != nil {
		return steps.Status{}, err
	} else if len(p) > 0 {
		return steps.NotDone("an unconfirmed network change is pending rollback (%s)", strings.Join(p, ", ")), nil
	}
	gw, err := DefaultGateway(ctx, s.Node)
	if err != nil {
		return steps.Status{}, err
	}
	if gw != config.FirewallLANIP {
		return steps.NotDone("the live default gateway is %q", gw), nil
	}
	return steps.Done("default gateway and DNS are the firewall (%s)", config.FirewallLANIP), nil
}

func (s *Cutover) Apply(ctx context.Context, rt *steps.Runtime) error {
	files, l, err := s.want(ctx, rt)
	if err != nil {
		return err
	}
	c := &Change{
		Node:      s.Node,
		Files:     files,
		Apply:     "ifreload -a",
		Reconnect: reconnect(s.Reach, s.NodeAddr),
		Verify: func(ctx context.Context, e exec.Executor) (bool, string, error) {
			gw, err := DefaultGateway(ctx, e)
			if err != nil {
				return false, "cannot read routes", err
			}
			if gw != config.FirewallLANIP {
				return false, fmt.Sprintf("default gateway is %q", gw), nil
			}
			links, err := Links(ctx, e)
			if err != nil {
				return false, "cannot read interfaces", err
			}
			ok, d := liveOK(links, l, StageCutover)
			return ok, "gateway " + gw + "; " + d, nil
		},
	}
	if s.RollbackAfter > 0 {
		c.RollbackAfter = secs(s.RollbackAfter)
	}
	return c.Commit(ctx, rt)
}
