package install

import (
	"errors"
	"fmt"

	"github.com/tappaas/tappaas/assets"
	"github.com/tappaas/tappaas/config"
	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/cluster"
	"github.com/tappaas/tappaas/steps/firewall"
	"github.com/tappaas/tappaas/steps/network"
	"github.com/tappaas/tappaas/steps/node"
	"github.com/tappaas/tappaas/steps/pbs"
	"github.com/tappaas/tappaas/steps/platform"
	"github.com/tappaas/tappaas/steps/preflight"
	"github.com/tappaas/tappaas/steps/storage"
	"github.com/tappaas/tappaas/steps/summary"
	stepzones "github.com/tappaas/tappaas/steps/zones"
)

// FirstNodePlanName names the first-node plan (the checkpoint's plan).
const FirstNodePlanName = "install"

// LoadZones reads the zones file named in the answers (empty: the built-in
// default set) and refuses one with validation errors.
func LoadZones(cfg config.Install) (*cz.File, error) {
	var zf *cz.File
	var err error
	if cfg.Zones.File == "" {
		zf, err = cz.Default()
	} else {
		zf, err = cz.LoadFile(cfg.Zones.File)
	}
	if err != nil {
		return nil, fmt.Errorf("zones.file: %w", err)
	}
	if err := zf.Validate().Err(); err != nil {
		return nil, fmt.Errorf("zones.file %s: %w", cfg.Zones.File, err)
	}
	return zf, nil
}

// StaticNodes are the node names the firewall resolves in mgmt.internal.
func StaticNodes() []assets.FirewallNode {
	var out []assets.FirewallNode
	for n := 1; n <= 9; n++ {
		out = append(out, assets.FirewallNode{Name: fmt.Sprintf("tappaas%d", n), IP: fmt.Sprintf("10.0.0.%d", 9+n)})
	}
	return out
}

// SanityNames are the mgmt.internal names the sanity step asks the
// firewall for: its own, and a static node entry other than this node (the
// node's own name is in its /etc/hosts and would prove nothing).
func SanityNames(hostname string) map[string]string {
	names := map[string]string{"firewall.mgmt.internal": config.FirewallLANIP}
	for _, n := range StaticNodes() {
		if n.Name != hostname {
			names[n.Name+".mgmt.internal"] = n.IP
			break
		}
	}
	return names
}

// FirstNodePlan builds the first-node plan (issue 5): preflight → node →
// network → cluster → storage → PBS → firewall → cutover + sanity →
// platform → zones → summary. Downloads need only preflight, so they
// overlap the package installs and the network/cluster/storage steps.
func FirstNodePlan(cfg config.Install, t *Targets) (*steps.Plan, error) {
	if t == nil || t.Node == nil {
		return nil, errors.New("install plan: no node target")
	}
	if t.Zones == nil {
		zf, err := LoadZones(cfg)
		if err != nil {
			return nil, err
		}
		t.Zones = zf
	}
	e := t.Node
	var ss []steps.Step
	add := func(s ...steps.Step) { ss = append(ss, s...) }

	add(&preflight.Checks{Node: e, Cfg: cfg, Role: preflight.RoleFirst, OperatorAddr: t.OperatorAddr, NodeAddr: t.NodeAddr, PriorRun: t.PriorRun})
	add(&node.Repos{Node: e}, &node.Packages{Node: e}, &node.SubscriptionNotice{Node: e}, &node.HAServices{Node: e}, &node.Snippets{Node: e}, &node.Upgrade{Node: e})
	add(&network.Bridges{Node: e, Cfg: cfg, After: []string{"node.upgrade"}, NodeAddr: t.NodeAddr, Reach: t.Reconnect})
	add(&cluster.Create{Node: e, Cfg: cfg, API: t.ClusterAPI})
	for _, p := range cfg.Storage.Pools {
		add(&storage.Pool{Node: e, Cfg: cfg, Pool: p}, &storage.Register{Node: e, Pool: p.Name, Hostname: cfg.Node.Hostname})
	}

	fwImg := &firewall.Image{Node: e, StepID: "firewall.image", URL: cfg.Firewall.ImageURL, SHA256: cfg.Firewall.ImageSHA256, NeedsIDs: []string{"preflight.checks"}}
	tplImg := &firewall.Image{Node: e, StepID: "platform.template-image", URL: cfg.Platform.TemplateImageURL, SHA256: cfg.Platform.TemplateImageSHA256, NeedsIDs: []string{"preflight.checks"}}
	add(fwImg, tplImg)
	add(&firewall.VM{Node: e, Cfg: cfg, Image: fwImg, Zones: t.Zones})
	add(&firewall.Start{Node: e, StepID: "firewall.start", VMID: cfg.Firewall.VMID, Needed: []string{"firewall.vm"}})
	add(&firewall.Config{Node: e, Cfg: cfg, API: t.Firewall, Pusher: t.Pusher, Nodes: StaticNodes()})
	add(&firewall.Reboot{Node: e, Cfg: cfg, API: t.Firewall, SSH: t.FirewallSSH})
	add(&firewall.Verify{Cfg: cfg, API: t.Firewall})
	add(&network.Cutover{Node: e, Cfg: cfg, NodeAddr: t.NodeAddr, Reach: t.Reconnect})
	add(&network.Sanity{Node: e, Cfg: cfg, Firewall: t, Names: SanityNames(cfg.Node.Hostname)})

	add(&platform.Template{Node: e, Cfg: cfg, Image: tplImg})
	add(&platform.CICD{Node: e, Cfg: cfg})
	add(&firewall.Start{Node: e, StepID: "platform.cicd-start", VMID: config.CICDVMID, Needed: []string{"platform.cicd", "firewall.verify"}})
	add(&platform.Address{Node: e, VMID: config.CICDVMID})
	add(&platform.Install1{Cfg: cfg, Dialer: t.VMs, Node: e, VMID: config.CICDVMID})
	// The image lacks the interface_assign API the zones need; upstream
	// installs it only in install2, after the zones: put it there first.
	add(&platform.AssignPatch{Dialer: t.VMs, Probe: t})
	add(&platform.Install2{Node: e, Cfg: cfg, Dialer: t.VMs, VMID: config.CICDVMID, Zones: t.Zones.Bytes()})
	add(&platform.WriteConfiguration{Cfg: cfg, Dialer: t.VMs})

	leaves := []string{"network.sanity", "platform.configuration", stepzones.StepID}
	if cfg.BackupEnabled() {
		add(&pbs.Install{Node: e}, &pbs.Datastore{Node: e, Cfg: cfg}, &pbs.Retention{Node: e, Cfg: cfg}, &pbs.UserToken{Node: e, Cfg: cfg}, &pbs.Storage{Node: e, Cfg: cfg})
		add(&pbs.BackupJob{Node: e, Cfg: cfg, VMIDs: []int{cfg.Firewall.VMID, config.CICDVMID}, After: []string{"firewall.vm", "platform.cicd"}})
		leaves = append(leaves, "pbs.backup-job", "pbs.retention")
	}
	add(&stepzones.Step{File: t.Zones, Firewall: t.ZonesFirewall, Node: e, After: []string{"firewall.verify", "network.cutover", platform.AssignPatchID}})
	add(&summary.Report{Node: e, Cfg: cfg, SecretsPath: StateDir + "/secrets.json", After: leaves})
	return withExpected(steps.NewPlan(FirstNodePlanName, ss...))
}
