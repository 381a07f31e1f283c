package network

import (
	"context"
	"errors"
	"fmt"
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
}

// ID implements steps.Step.
func (s *Sanity) ID() string { return "network.sanity" }

// Title implements steps.Step.
func (s *Sanity) Title() string { return "Sanity checks after the cutover" }

// Needs implements steps.Needer.
func (s *Sanity) Needs() []string { return []string{"network.cutover"} }

// Optional implements steps.Optionaler.
func (s *Sanity) Optional() bool { return true }

// Describe implements steps.Describer.
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
	lookup := func(name, want, fix string) {
		out, err := node.Query(ctx, s.Node, "getent hosts "+exec.Quote(name))
		var ee *exec.ExitError
		switch {
		case err != nil && errors.As(err, &ee) && ee.Code == 127:
			add("dns "+name, preflight.Unknown, "", "getent is not available")
		case err != nil && errors.As(err, &ee):
			add("dns "+name, preflight.Fail, fix, "%s does not resolve", name)
		case err != nil:
			add("dns "+name, preflight.Unknown, "", "%v", err)
		case want != "" && !strings.HasPrefix(strings.TrimSpace(out), want+" "):
			add("dns "+name, preflight.Fail, fix, "%s resolves to %q, want %s", name, strings.TrimSpace(out), want)
		default:
			add("dns "+name, preflight.Pass, "", "%s", strings.Join(strings.Fields(out), " "))
		}
	}
	lookup("firewall.mgmt.internal", config.FirewallLANIP, "check dnsmasq host entries on the firewall")
	lookup("download.proxmox.com", "", "check the firewall's WAN (DHCP from the upstream router) and Unbound")
	return res, nil
}

// Check implements steps.Step.
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
