package network

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
	"github.com/tappaas/tappaas/steps/preflight"
)

// FirewallProbe answers whether the firewall's API works with our key.
type FirewallProbe interface {
	Ping(ctx context.Context) error
}

// Sanity checks the node after the cutover (upstream's sanity-check.sh) and
// reports a table: management address, gateway, firewall API, DNS names,
// internet. Read-only.
type Sanity struct {
	Node     exec.Executor
	Cfg      config.Install
	Firewall FirewallProbe // may be nil: reported as could not check
	// Names are mgmt.internal names the firewall must resolve, with their
	// address (default: firewall.mgmt.internal → 10.0.0.1). Names the
	// node's /etc/hosts lists are skipped: their answer proves nothing.
	Names map[string]string
}

func (s *Sanity) ID() string { return "network.sanity" }

func (s *Sanity) Title() string { return "Sanity checks after the cutover" }

func (s *Sanity) Needs() []string { return []string{"network.cutover"} }

func (s *Sanity) Optional() bool { return true }

func (s *Sanity) Describe(*steps.Runtime) []string {
	return []string{"read-only: mgmt address, gateway, firewall API, DNS, internet"}
}

// Results runs the checks.
func (s *Sanity) Results(ctx context.Context) ([]preflight.Result, error) {
	var res []preflight.Result
	add := func(name string, o preflight.Outcome, fix, f string, a ...any) {
		res = append(res, preflight.Result{Name: name, Outcome: o, Detail: fmt.Sprintf(f, a...), Fix: fix})
	}
	links, err := Links(ctx, s.Node)
	if err != nil {
		return nil, err
	}
	mgmt := s.Cfg.Node.ManagementCIDR
	if has(links["lan"].Addrs, mgmt) {
		add("mgmt address", preflight.Pass, "", "lan has %s", mgmt)
	} else {
		add("mgmt address", preflight.Fail, "run the install again (network.bridges)", "lan lacks %s", mgmt)
	}
	gw, err := DefaultGateway(ctx, s.Node)
	if err != nil {
		return nil, err
	}
	if gw == config.FirewallLANIP {
		add("gateway", preflight.Pass, "", "default gateway %s", gw)
	} else {
		add("gateway", preflight.Fail, "run the install again (network.cutover)", "default gateway is %q", gw)
	}
	if s.Firewall == nil {
		add("firewall api", preflight.Unknown, "", "no firewall client")
	} else if err := s.Firewall.Ping(ctx); err != nil {
		add("firewall api", preflight.Fail, "check the firewall VM console (qm terminal 110)", "%v", err)
	} else {
		add("firewall api", preflight.Pass, "", "https://%s answers with our key", config.FirewallLANIP)
	}
	s.dns(ctx, add)
	return res, nil
}

func (s *Sanity) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	res, err := s.Results(ctx)
	if err != nil {
		return steps.Status{}, err
	}
	var failed, unknown []string
	for _, r := range res {
		switch r.Outcome {
		case preflight.Fail:
			failed = append(failed, r.Name)
		case preflight.Unknown:
			unknown = append(unknown, r.Name+" ("+r.Detail+")")
		}
	}
	if len(failed) > 0 {
		return steps.NotDone("failing: %s", strings.Join(failed, ", ")), nil
	}
	if len(unknown) > 0 {
		return steps.Done("%d of %d sanity checks pass; could not check: %s", len(res)-len(unknown), len(res), strings.Join(unknown, ", ")), nil
	}
	return steps.Done("all %d sanity checks pass", len(res)), nil
}

// Apply implements steps.Step: prints the table; fails when a check fails.
func (s *Sanity) Apply(ctx context.Context, rt *steps.Runtime) error {
	res, err := s.Results(ctx)
	if err != nil {
		return err
	}
	var failed []preflight.Result
	for _, l := range preflight.Table(res) {
		rt.Printf("%s", l)
	}
	for _, r := range res {
		if r.Outcome == preflight.Fail {
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		return &preflight.Error{Failed: failed}
	}
	return nil
}

// dns proves the firewall's resolver: the node asks only 10.0.0.1
// (/etc/resolv.conf, written by the cutover), so a name absent from
// /etc/hosts that getent resolves was answered on 10.0.0.1:53 — Unbound,
// forwarding internal to dnsmasq. getent is in libc-bin, which Debian
// marks Essential, so every PVE node has it; dig and host come from
// bind9-dnsutils and bind9-host (priority standard), which a minimal
// install may lack.
func (s *Sanity) dns(ctx context.Context, add func(string, preflight.Outcome, string, string, ...any)) {
	const fixResolver = "run the install again (network.cutover writes /etc/resolv.conf)"
	const fixUnbound = "check Unbound on the firewall (Services: Unbound DNS: enabled, query forwarding of internal to 127.0.0.1:53053) and dnsmasq (port 53053)"
	rc, _, err := node.ReadFile(ctx, s.Node, ResolvConf)
	if err != nil {
		add("dns resolver", preflight.Unknown, "", "%v", err)
		return
	}
	var servers []string
	for _, l := range strings.Split(string(rc), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "nameserver" {
			servers = append(servers, f[1])
		}
	}
	if len(servers) == 0 || servers[0] != config.FirewallLANIP {
		add("dns resolver", preflight.Fail, fixResolver, "%s names %v, want only %s", ResolvConf, servers, config.FirewallLANIP)
		return
	}
	only := len(servers) == 1
	if only {
		add("dns resolver", preflight.Pass, "", "only %s", config.FirewallLANIP)
	} else {
		add("dns resolver", preflight.Unknown, "", "%s also names %v: an answer may not come from the firewall", ResolvConf, servers[1:])
	}
	hosts, _, err := node.ReadFile(ctx, s.Node, HostsFile)
	if err != nil {
		add("dns", preflight.Unknown, "", "%v", err)
		return
	}
	inHosts := map[string]bool{}
	for _, l := range strings.Split(string(hosts), "\n") {
		f := strings.Fields(strings.SplitN(l, "#", 2)[0])
		for _, n := range f[min(1, len(f)):] {
			inHosts[strings.ToLower(n)] = true
		}
	}
	names := s.Names
	if len(names) == 0 {
		names = map[string]string{"firewall.mgmt.internal": config.FirewallLANIP}
	}
	keys := make([]string, 0, len(names))
	for n := range names {
		keys = append(keys, n)
	}
	sort.Strings(keys)
	lookup := func(name, want, fix string) {
		if inHosts[strings.ToLower(name)] {
			add("dns "+name, preflight.Unknown, "", "%s lists it: not asked from the firewall", HostsFile)
			return
		}
		out, err := node.Query(ctx, s.Node, "getent ahostsv4 "+exec.Quote(name))
		var ee *exec.ExitError
		var got string
		if f := strings.Fields(out); len(f) > 0 {
			got = f[0]
		}
		switch {
		case err != nil && errors.As(err, &ee) && ee.Code == 127:
			add("dns "+name, preflight.Unknown, "", "getent is not available")
		case err != nil && errors.As(err, &ee):
			add("dns "+name, preflight.Fail, fix, "%s does not resolve through %s:53", name, config.FirewallLANIP)
		case err != nil:
			add("dns "+name, preflight.Unknown, "", "%v", err)
		case want != "" && got != want:
			add("dns "+name, preflight.Fail, fix, "%s resolves to %q, want %s", name, got, want)
		default:
			add("dns "+name, preflight.Pass, "", "%s → %s (via %s:53)", name, got, config.FirewallLANIP)
		}
	}
	for _, n := range keys {
		lookup(n, names[n], fixUnbound)
	}
	lookup("download.proxmox.com", "", "check the firewall's WAN (DHCP from the upstream router) and Unbound")
}
