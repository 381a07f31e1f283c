// Package join holds the steps that grow the cluster: join a prepared node to
// TAPPaaS with the peer's root password (asked, never stored), re-pin the
// node's certificate (the join regenerates it), and make the foundation VMs
// highly available with replication to the new node
// (docs/upstream.md#join).
package join

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/cluster"
	"github.com/tappaas/tappaas/steps/node"
)

// FactPVEFingerprint is the node's PVE certificate fingerprint after the
// join (the join replaces the certificate).
var FactPVEFingerprint = steps.Key[string]("node.pve_fingerprint")

// ErrNoPassword is returned when the peer's root password was not given.
var ErrNoPassword = errors.New("the peer's root password is needed to join (it is asked, never stored)")

// PeerFingerprint reads an existing member's PVE certificate fingerprint
// from its join information.
func PeerFingerprint(ctx context.Context, peer exec.Executor, name string) (string, error) {
	out, err := node.Query(ctx, peer, "pvesh get /cluster/config/join --output-format json")
	if err != nil {
		return "", fmt.Errorf("read join information from the peer: %w", err)
	}
	var info struct {
		Nodelist []struct {
			Name      string `json:"name"`
			PVEFP     string `json:"pve_fp"`
			Ring0Addr string `json:"ring0_addr"`
		} `json:"nodelist"`
		PreferredNode string `json:"preferred_node"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		return "", fmt.Errorf("join information: unexpected output: %w", err)
	}
	for _, n := range info.Nodelist {
		if n.Name == name || n.Ring0Addr == name || n.Name == info.PreferredNode {
			return n.PVEFP, nil
		}
	}
	if len(info.Nodelist) > 0 {
		return info.Nodelist[0].PVEFP, nil
	}
	return "", errors.New("the peer reports no cluster members")
}

// Cluster joins the node to the cluster through the peer.
type Cluster struct {
	Node exec.Executor
	Cfg  config.Install
	// Peer, when set, is used to learn the peer's fingerprint when the
	// answers do not give it (join.peer_fingerprint).
	Peer exec.Executor
	// Password returns the peer's root@pam password (asked; never stored).
	Password func(ctx context.Context) (string, error)
	// Wait bounds the wait for membership (default 5 min).
	Wait time.Duration
}

func (s *Cluster) ID() string { return "join.cluster" }

func (s *Cluster) Title() string { return "Join cluster " + config.ClusterName }

func (s *Cluster) Needs() []string { return []string{"network.bridges"} }

func (s *Cluster) Touches() []string { return []string{"pve:cluster"} }

func (s *Cluster) Describe(*steps.Runtime) []string {
	return []string{fmt.Sprintf("join through %s with link0 %s (the peer's root password is asked, never stored)", s.Cfg.Join.Peer, s.Cfg.MgmtPrefix().Addr())}
}

func (s *Cluster) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	name, members, err := cluster.Status(ctx, s.Node)
	if err != nil {
		return steps.Status{}, err
	}
	switch name {
	case "":
		return steps.NotDone("the node is not in a cluster"), nil
	case config.ClusterName:
		return steps.Done("member of %s (%d nodes)", name, len(members)), nil
	}
	return steps.Status{}, fmt.Errorf("the node belongs to cluster %q, not %s: tappaas will not change that", name, config.ClusterName)
}

func (s *Cluster) Apply(ctx context.Context, rt *steps.Runtime) error {
	if s.Cfg.Join.Peer == "" {
		return errors.New("join.peer is not set: name an existing member, e.g. 10.0.0.10")
	}
	fp := s.Cfg.Join.PeerFingerprint
	if fp == "" {
		if s.Peer == nil {
			return errors.New("join.peer_fingerprint is not set and the peer cannot be asked: give it (pvenode cert info on the peer)")
		}
		var err error
		if fp, err = PeerFingerprint(ctx, s.Peer, s.Cfg.Join.Peer); err != nil {
			return err
		}
	}
	if s.Password == nil {
		return ErrNoPassword
	}
	pw, err := s.Password(ctx)
	if err != nil {
		return err
	}
	if pw == "" {
		return ErrNoPassword
	}
	// The password goes on stdin, never in argv (readable in ps on the
	// node): pvecm add reads it with PVE::PTY::read_password, one line from
	// stdin when that is not a terminal; --fingerprint skips the yes/no
	// prompt (proxmox/pve-cluster src/PVE/CLI/pvecm.pm "add";
	// proxmox/pve-common src/PVE/PTY.pm read_password). pvesh has no such
	// mapping: its --password takes the value from the command line.
	args := exec.Join("pvecm", "add", s.Cfg.Join.Peer, "--fingerprint", fp, "--link0", s.Cfg.MgmtPrefix().Addr().String())
	if _, err := node.RunCmd(ctx, rt, s.Node, exec.Cmd{Script: args, Stdin: strings.NewReader(pw + "\n")}); err != nil {
		return fmt.Errorf("join through %s: %w", s.Cfg.Join.Peer, err)
	}
	wait := s.Wait
	if wait <= 0 {
		wait = 5 * time.Minute
	}
	return node.Poll(ctx, rt, "the node to become a cluster member", wait, 2*time.Second, func(ctx context.Context) (bool, error) {
		name, _, err := cluster.Status(ctx, s.Node)
		return name == config.ClusterName, err
	})
}

var fpLine = regexp.MustCompile(`(?i)fingerprint=([0-9a-f:]+)`)

// NodeFingerprint reads the node's current PVE certificate fingerprint.
func NodeFingerprint(ctx context.Context, e exec.Executor) (string, error) {
	out, err := node.Query(ctx, e, "openssl x509 -in /etc/pve/local/pve-ssl.pem -noout -fingerprint -sha256")
	if err != nil {
		return "", err
	}
	m := fpLine.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("openssl printed no fingerprint")
	}
	return strings.ToUpper(m[1]), nil
}

// RePin records the node's new certificate fingerprint after the join and
// hands it to the API clients (which must re-pin and re-authenticate).
type RePin struct {
	Node exec.Executor
	// OnChange re-pins API clients (may be nil).
	OnChange func(fp string) error
}

func (s *RePin) ID() string { return "join.repin" }

func (s *RePin) Title() string { return "Re-pin the node certificate after the join" }

func (s *RePin) Needs() []string { return []string{"join.cluster"} }

func (s *RePin) Describe(*steps.Runtime) []string {
	return []string{"read the regenerated PVE certificate fingerprint and re-pin it"}
}

func (s *RePin) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	fp, err := NodeFingerprint(ctx, s.Node)
	if err != nil {
		return steps.Status{}, err
	}
	if old, ok := steps.Get(rt.Facts, FactPVEFingerprint); ok && old == fp {
		return steps.Done("certificate %s… pinned", fp[:min(11, len(fp))]), nil
	}
	return steps.NotDone("the node certificate is not pinned yet"), nil
}

func (s *RePin) Apply(ctx context.Context, rt *steps.Runtime) error {
	fp, err := NodeFingerprint(ctx, s.Node)
	if err != nil {
		return err
	}
	if s.OnChange != nil {
		if err := s.OnChange(fp); err != nil {
			return err
		}
	}
	rt.Printf("node certificate after the join: %s", fp)
	return steps.Set(rt.Facts, FactPVEFingerprint, fp)
}

// HA makes the foundation VMs highly available and replicates them to the
// joined node.
type HA struct {
	Node     exec.Executor
	Hostname string // the joined node (replication target)
	VMIDs    []int
	Schedule string // replication schedule, default "*/15"
	After    []string
}

func (s *HA) ID() string { return "join.ha" }

func (s *HA) Title() string { return "HA and replication for the foundation VMs" }

func (s *HA) Needs() []string { return append([]string{"join.repin"}, s.After...) }

func (s *HA) Touches() []string { return []string{"pve:ha"} }

func (s *HA) schedule() string {
	if s.Schedule == "" {
		return "*/15"
	}
	return s.Schedule
}

func (s *HA) Describe(*steps.Runtime) []string {
	var d []string
	for _, id := range s.VMIDs {
		d = append(d, fmt.Sprintf("ha-manager add vm:%d --state started; replicate to %s every %s", id, s.Hostname, s.schedule()))
	}
	return d
}

func (s *HA) resources(ctx context.Context) (map[string]bool, error) {
	out, err := node.Query(ctx, s.Node, "pvesh get /cluster/ha/resources --output-format json")
	if err != nil {
		return nil, err
	}
	var rs []struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		return nil, fmt.Errorf("HA resources: unexpected output: %w", err)
	}
	m := map[string]bool{}
	for _, r := range rs {
		m[r.SID] = true
	}
	return m, nil
}

func (s *HA) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	have, err := s.resources(ctx)
	if err != nil {
		return steps.Status{}, err
	}
	var missing []string
	for _, id := range s.VMIDs {
		if !have[fmt.Sprintf("vm:%d", id)] {
			missing = append(missing, fmt.Sprintf("vm:%d", id))
		}
	}
	if len(missing) > 0 {
		return steps.NotDone("not HA-managed: %s", strings.Join(missing, ", ")), nil
	}
	return steps.Done("%d foundation VMs HA-managed", len(s.VMIDs)), nil
}

func (s *HA) Apply(ctx context.Context, rt *steps.Runtime) error {
	have, err := s.resources(ctx)
	if err != nil {
		return err
	}
	for _, id := range s.VMIDs {
		sid := fmt.Sprintf("vm:%d", id)
		if !have[sid] {
			if _, err := node.Run(ctx, rt, s.Node, exec.Join("ha-manager", "add", sid, "--state", "started")); err != nil {
				return err
			}
		}
		job := fmt.Sprintf("%d-0", id)
		if _, err := node.Run(ctx, rt, s.Node, exec.Join("pvesr", "create-local-job", job, s.Hostname, "--schedule", s.schedule())); err != nil {
			// An existing job is fine; anything else is reported.
			if !strings.Contains(err.Error(), "already exists") {
				return fmt.Errorf("replication of VM %d to %s: %w", id, s.Hostname, err)
			}
		}
	}
	return nil
}
