package node

import (
	"context"
	"fmt"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/steps"
)

// Upgrade brings the node's packages up to date with `apt-get
// dist-upgrade`, as upstream's post-install does last, before the network,
// cluster and storage phases (TAPPaaS@f54e4fc:src/foundation/cluster/
// install.sh:555-557). Configuration files the operator changed are kept
// (--force-confold). A kernel update takes effect at the next reboot.
type Upgrade struct{ Node exec.Executor }

func (s *Upgrade) ID() string { return "node.upgrade" }

func (s *Upgrade) Title() string { return "Update Proxmox VE (apt dist-upgrade)" }

// Needs implements steps.Needer: after the repositories, the packages, the
// subscription-notice hook (it patches the upgraded web UI) and the HA
// services, as upstream orders its post-install.
func (s *Upgrade) Needs() []string {
	return []string{"node.repos", "node.packages", "node.subscription-notice", "node.ha-services", "node.snippets"}
}

func (s *Upgrade) Touches() []string { return []string{"node:apt"} }

func (s *Upgrade) Describe(*steps.Runtime) []string {
	return []string{"apt-get update; apt-get dist-upgrade (keeps changed configuration files)"}
}

// pending lists what a dist-upgrade would install now, from apt's current
// package lists, without changing anything (apt-get -s).
func pending(ctx context.Context, e exec.Executor) ([]string, error) {
	out, err := Query(ctx, e, "apt-get -s -q dist-upgrade")
	if err != nil {
		return nil, fmt.Errorf("apt-get -s dist-upgrade: %w", err)
	}
	var pkgs []string
	for _, l := range Lines(out) {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Inst" {
			pkgs = append(pkgs, f[1])
		}
	}
	return pkgs, nil
}

// Check implements steps.Step: nothing left to upgrade by the package
// lists of the last apt-get update.
func (s *Upgrade) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	pkgs, err := pending(ctx, s.Node)
	if err != nil {
		return steps.Status{}, err
	}
	if len(pkgs) > 0 {
		return steps.NotDone("%d packages to upgrade: %s", len(pkgs), strings.Join(pkgs, ", ")), nil
	}
	return steps.Done("packages up to date"), nil
}

func (s *Upgrade) Apply(ctx context.Context, rt *steps.Runtime) error {
	if _, err := Run(ctx, rt, s.Node, "DEBIAN_FRONTEND=noninteractive apt-get update -q"); err != nil {
		return fmt.Errorf("apt-get update failed (check the node's DNS and internet access, then run again): %w", err)
	}
	_, err := Run(ctx, rt, s.Node, "DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold dist-upgrade")
	return err
}
