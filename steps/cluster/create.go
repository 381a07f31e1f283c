// Package cluster holds the step that forms the TAPPaaS PVE cluster on the
// first node, bound to the management address
// (docs/upstream.md#cluster).
package cluster

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
)

// FactName is the cluster's name once formed.
var FactName = steps.Key[string]("cluster.name")

// Member is one entry of /cluster/status.
type Member struct {
	Type    string `json:"type"`
	Name    string `json:"name"`
	NodeID  int    `json:"nodeid"`
	IP      string `json:"ip"`
	Local   int    `json:"local"`
	Online  int    `json:"online"`
	Quorate int    `json:"quorate"`
	Nodes   int    `json:"nodes"`
}

// Status reads /cluster/status; a standalone node has no "cluster" entry.
func Status(ctx context.Context, e exec.Executor) (name string, members []Member, err error) {
	out, err := node.Query(ctx, e, "pvesh get /cluster/status --output-format json")
	if err != nil {
		return "", nil, err
	}
	var all []Member
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		return "", nil, fmt.Errorf("cluster status: unexpected output: %w", err)
	}
	for _, m := range all {
		switch m.Type {
		case "cluster":
			name = m.Name
		case "node":
			members = append(members, m)
		}
	}
	return name, members, nil
}

// TicketAPI creates a cluster through the PVE API. PVE accepts this only
// with a root@pam ticket (API tokens are refused,
// docs/pve-api.md#auth).
type TicketAPI interface {
	CreateCluster(ctx context.Context, name, link0 string, out func(line string)) error
}

// Create forms the TAPPaaS cluster with corosync link0 on the management
// address, so the later cutover needs no ring renumbering.
type Create struct {
	Node exec.Executor
	Cfg  config.Install
	// API, when set, creates the cluster with a root@pam ticket; otherwise
	// `pvecm create` runs as root on the node (equivalent authority).
	API TicketAPI
}

func (s *Create) ID() string { return "cluster.create" }

func (s *Create) Title() string { return "Cluster " + config.ClusterName }

func (s *Create) Needs() []string { return []string{"network.bridges"} }

func (s *Create) Touches() []string { return []string{"pve:cluster"} }

func (s *Create) Describe(*steps.Runtime) []string {
	return []string{fmt.Sprintf("create cluster %s, link0 %s", config.ClusterName, s.Cfg.MgmtPrefix().Addr())}
}

func (s *Create) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	name, members, err := Status(ctx, s.Node)
	if err != nil {
		return steps.Status{}, err
	}
	switch name {
	case "":
		return steps.NotDone("the node is not in a cluster"), nil
	case config.ClusterName:
		if rt != nil {
			_ = steps.Set(rt.Facts, FactName, name)
		}
		return steps.Done("member of cluster %s (%d node(s))", name, len(members)), nil
	default:
		return steps.Status{}, fmt.Errorf("the node already belongs to cluster %q, not %s: tappaas will not change that; leave that cluster first", name, config.ClusterName)
	}
}

func (s *Create) Apply(ctx context.Context, rt *steps.Runtime) error {
	link0 := s.Cfg.MgmtPrefix().Addr().String()
	if s.API != nil {
		if err := s.API.CreateCluster(ctx, config.ClusterName, link0, func(l string) { rt.Output(steps.StreamStdout, l) }); err != nil {
			return fmt.Errorf("create cluster through the API: %w", err)
		}
	} else if _, err := node.Run(ctx, rt, s.Node, exec.Join("pvecm", "create", config.ClusterName, "--link0", link0)); err != nil {
		return err
	}
	return node.Poll(ctx, rt, "the cluster to be quorate", 60e9, 2e9, func(ctx context.Context) (bool, error) {
		name, members, err := Status(ctx, s.Node)
		if err != nil {
			return false, err
		}
		return name == config.ClusterName && len(members) > 0, nil
	})
}
