package node

import (
	"context"
	"fmt"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/steps"
)

// HAUnits are the services upstream enables for high availability
// (TAPPaaS@f54e4fc:src/foundation/cluster/install.sh:464-467): PVE's local
// and cluster resource managers, and corosync.
var HAUnits = []string{"pve-ha-lrm", "pve-ha-crm", "corosync"}

// haRunning are the HA units that must also run. corosync starts only once
// the node is in a cluster (its unit needs /etc/corosync/corosync.conf), so
// it is enabled here and started by cluster create or join.
var haRunning = []string{"pve-ha-lrm", "pve-ha-crm"}

// HAServices enables the high-availability services, as upstream's
// post-install does: a node where they were disabled (a single-node
// tuning script does that) cannot take part in HA failover.
type HAServices struct{ Node exec.Executor }

func (s *HAServices) ID() string { return "node.ha-services" }

func (s *HAServices) Title() string { return "High-availability services" }

func (s *HAServices) Needs() []string { return []string{"preflight.checks"} }

func (s *HAServices) Touches() []string { return []string{"node:services"} }

func (s *HAServices) Describe(*steps.Runtime) []string {
	return []string{"systemctl enable --now " + strings.Join(HAUnits, " ")}
}

// unitStates asks systemctl verb (is-enabled, is-active) for each unit and
// returns its one-word answer per unit, in order. systemctl exits non-zero
// when any unit is not enabled/active, which is an answer, not a failure.
func unitStates(ctx context.Context, e exec.Executor, verb string, units []string) ([]string, error) {
	out, err := Query(ctx, e, "systemctl "+verb+" "+exec.Join(units...)+" || true")
	if err != nil {
		return nil, err
	}
	got := Lines(out)
	if len(got) != len(units) {
		return nil, fmt.Errorf("systemctl %s %s: want one answer per unit, got %q", verb, strings.Join(units, " "), strings.TrimSpace(out))
	}
	return got, nil
}

// Check implements steps.Step: every HA unit enabled, the resource
// managers running.
func (s *HAServices) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	enabled, err := unitStates(ctx, s.Node, "is-enabled", HAUnits)
	if err != nil {
		return steps.Status{}, err
	}
	for i, st := range enabled {
		if st != "enabled" {
			return steps.NotDone("%s is %s", HAUnits[i], st), nil
		}
	}
	active, err := unitStates(ctx, s.Node, "is-active", haRunning)
	if err != nil {
		return steps.Status{}, err
	}
	for i, st := range active {
		if st != "active" {
			return steps.NotDone("%s is %s", haRunning[i], st), nil
		}
	}
	return steps.Done("%s enabled, %s running", strings.Join(HAUnits, ", "), strings.Join(haRunning, ", ")), nil
}

func (s *HAServices) Apply(ctx context.Context, rt *steps.Runtime) error {
	_, err := Run(ctx, rt, s.Node, "systemctl enable -q --now "+exec.Join(HAUnits...))
	return err
}
