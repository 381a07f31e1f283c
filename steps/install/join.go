package install

import (
	"context"
	"errors"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/join"
	"github.com/tappaas/tappaas/steps/network"
	"github.com/tappaas/tappaas/steps/node"
	"github.com/tappaas/tappaas/steps/preflight"
	"github.com/tappaas/tappaas/steps/storage"
)

// JoinPlanName names the join plan.
const JoinPlanName = "join"

// Peer is the existing member a node joins through.
type Peer struct {
	// Exec runs commands on the peer (to learn its fingerprint, and to
	// register HA resources cluster-wide). Optional when the answers give
	// join.peer_fingerprint; HA then runs on the joined node.
	Exec exec.Executor
	// Password returns the peer's root@pam password; asked, never stored.
	Password func(ctx context.Context) (string, error)
	// RePin re-pins API clients after the node's certificate changes.
	RePin func(fp string) error
}

// JoinPlan builds the join-node plan (docs/upstream.md#join):
// preflight as a secondary node, node preparation, the secondary network
// layout (lan with the management address and gateway 10.0.0.1, wan without
// address), the join, re-pinning, storage, and HA + replication of the
// foundation VMs.
func JoinPlan(cfg config.Install, t *Targets, peer Peer) (*steps.Plan, error) {
	if t == nil || t.Node == nil {
		return nil, errors.New("join plan: no node target")
	}
	e := t.Node
	ss := []steps.Step{
		&preflight.Checks{Node: e, Cfg: cfg, Role: preflight.RoleJoin, OperatorAddr: t.OperatorAddr, PriorRun: t.PriorRun},
		&node.Repos{Node: e}, &node.Packages{Node: e}, &node.SubscriptionNotice{Node: e}, &node.HAServices{Node: e}, &node.Snippets{Node: e}, &node.Upgrade{Node: e},
		&network.Bridges{Node: e, Cfg: cfg, Secondary: true, After: []string{"node.upgrade"}, NodeAddr: t.NodeAddr, Reach: t.Reconnect},
		&join.Cluster{Node: e, Cfg: cfg, Peer: peer.Exec, Password: peer.Password},
		&join.RePin{Node: e, OnChange: peer.RePin},
	}
	var after []string
	for _, p := range cfg.Storage.Pools {
		pool := &storage.Pool{Node: e, Cfg: cfg, Pool: p}
		reg := &storage.Register{Node: e, Pool: p.Name, Hostname: cfg.Node.Hostname}
		ss = append(ss, &needs{Step: pool, needs: []string{"join.repin"}}, reg)
		after = append(after, reg.ID())
	}
	haNode := e
	if peer.Exec != nil {
		haNode = peer.Exec
	}
	ss = append(ss, &join.HA{Node: haNode, Hostname: cfg.Node.Hostname, VMIDs: []int{cfg.Firewall.VMID, config.CICDVMID}, After: after})
	return withExpected(steps.NewPlan(JoinPlanName, ss...))
}

// needs replaces a step's Needs (the storage pools of a joining node wait
// for the join instead of cluster.create).
type needs struct {
	steps.Step
	needs []string
}

func (n *needs) Needs() []string { return n.needs }

func (n *needs) Touches() []string { return steps.TouchesOf(n.Step) }

func (n *needs) Describe(rt *steps.Runtime) []string {
	if d, ok := n.Step.(steps.Describer); ok {
		return d.Describe(rt)
	}
	return nil
}
