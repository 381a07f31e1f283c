package tui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/tappaas/tappaas/config"
	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/firewall"
	"github.com/tappaas/tappaas/steps/install"
	"github.com/tappaas/tappaas/steps/platform"
	"github.com/tappaas/tappaas/steps/preflight"
	"github.com/tappaas/tappaas/steps/summary"
	"github.com/tappaas/tappaas/tui/common"
	zonesui "github.com/tappaas/tappaas/tui/screens/zones"
)

// NodeBackend is the TUI's Backend for the lab, a remote node (--host) or
// this machine: the same session, plans and checkpoint store as the
// headless install.
type NodeBackend struct {
	o NodeOptions

	mu   sync.Mutex
	sess *install.Session
}

// NodeOptions wire the TUI to a node.
type NodeOptions struct {
	// Target names the node on the home screen ("this machine", …).
	Target string
	// Open connects to the node and opens its checkpoint store.
	Open func(context.Context) (*install.Session, error)
	// Concurrency is the number of independent steps run at once.
	Concurrency int
	Log         *slog.Logger
}

// NewNodeBackend returns the Backend for the node o opens.
func NewNodeBackend(o NodeOptions) *NodeBackend {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return &NodeBackend{o: o}
}

// inputsKey is where the TUI keeps the wizard's (non-secret) answers in the
// node's state, so a resume in a later process knows them.
const (
	inputsKey     = "install"
	typedPWSecret = "firewall_root_password"
)

func (b *NodeBackend) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sess != nil {
		b.sess.Close()
		b.sess = nil
	}
}

func (b *NodeBackend) session(ctx context.Context) (*install.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sess != nil {
		return b.sess, nil
	}
	// Connections outlive the Cmd that opened them.
	sess, err := b.o.Open(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	b.sess = sess
	return sess, nil
}

// zonesFirewall is the node's firewall for the zone editor.
func (b *NodeBackend) zonesFirewall(ctx context.Context) (cz.Firewall, error) {
	sess, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	return sess.Targets.ZonesFirewall(ctx)
}

// ZoneDeps plans and applies the zone editor's changes against the node's
// firewall (the API key the install generated), through the same session.
func (b *NodeBackend) ZoneDeps(path string) zonesui.Deps {
	return zonesui.Deps{Path: path,
		Plan: func(ctx context.Context, f *cz.File) (*cz.Changes, error) {
			fw, err := b.zonesFirewall(ctx)
			if err != nil {
				return nil, err
			}
			cur, err := cz.Snapshot(ctx, fw)
			if err != nil {
				return nil, err
			}
			return cz.Plan(f, cur), nil
		},
		Apply: func(ctx context.Context, ch *cz.Changes, out func(string)) error {
			if err := ch.Guard(nil); err != nil {
				return err // mass deletion: confirm with tappaas zones apply --confirm-delete
			}
			fw, err := b.zonesFirewall(ctx)
			if err != nil {
				return err
			}
			return cz.Apply(ctx, fw, ch, out)
		}}
}

// savedInputs returns the answers saved by an earlier TUI run.
func (b *NodeBackend) savedInputs(sess *install.Session) (config.Install, bool) {
	raw, ok := sess.Store.Inputs()[inputsKey]
	if !ok {
		return config.Install{}, false
	}
	var cfg config.Install
	if err := json.Unmarshal(raw, &cfg); err != nil {
		b.o.Log.Warn("saved answers unreadable", "err", err)
		return config.Install{}, false
	}
	if pw, ok := sess.Store.Secrets().Secret(typedPWSecret); ok {
		cfg.Firewall.RootPassword = pw
	}
	return cfg, true
}

// NodeInfo implements Backend.
func (b *NodeBackend) NodeInfo(ctx context.Context) (NodeInfo, error) {
	info := NodeInfo{Target: b.o.Target}
	sess, err := b.session(ctx)
	if err != nil {
		return info, err
	}
	inv, err := preflight.Gather(ctx, sess.Targets.Node)
	if err != nil {
		return info, err
	}
	info.Hostname, info.PVEVersion, info.Address = inv.Hostname, inv.PVEVersion, inv.InstallCIDR
	cfg, ok := b.savedInputs(sess)
	if !ok {
		return info, nil
	}
	plan, err := install.FirstNodePlan(cfg, sess.Targets)
	if err != nil {
		b.o.Log.Warn("rebuild plan for the checkpoint", "err", err)
		return info, nil
	}
	info.Checkpoint = common.CheckpointOf(plan, sess.Store, common.GoalInstall)
	info.Installed = common.Installed(plan, sess.Store)
	info.Steps = common.StepStates(plan, sess.Store)
	return info, nil
}

// Detect implements Backend.
func (b *NodeBackend) Detect(ctx context.Context) (Detected, error) {
	sess, err := b.session(ctx)
	if err != nil {
		return Detected{}, err
	}
	inv, err := preflight.Gather(ctx, sess.Targets.Node)
	if err != nil {
		return Detected{}, err
	}
	det := Detected{Install: config.Defaults()}
	saved := false
	if cfg, ok := b.savedInputs(sess); ok {
		det.Install, saved = cfg, true
	}
	in := &det.Install
	det.OperatorAddr = sess.Targets.OperatorAddr
	if !saved {
		defaultAdminNetwork(in, det.OperatorAddr)
	}
	if config.ValidateHostname(inv.Hostname) == nil && in.Node.Hostname == "tappaas1" {
		in.Node.Hostname = inv.Hostname
		if ip, err := config.MgmtIPForHostname(inv.Hostname); err == nil {
			in.Node.ManagementCIDR = ip.String() + "/24"
		}
	}
	var free []string
	// After the gateway cutover the default route goes through the
	// firewall on the lan bridge: the port to the router is the one in
	// the wan bridge (steps/network bridges), not the default-route one.
	cutOver := inv.Gateway == config.FirewallLANIP
	for _, n := range inv.NICs {
		upstream := n.Upstream
		if cutOver {
			upstream = n.Master == "wan"
		}
		det.NICs = append(det.NICs, common.NIC{Name: n.Name, MAC: n.MAC, Link: n.Up, SpeedMbps: n.Speed, Internet: upstream,
			Address: strings.Join(inv.Addrs[n.Name], ", ")})
		switch {
		case upstream && in.Node.WANNIC == "":
			in.Node.WANNIC = n.Name
		case !upstream && n.Up && in.Node.LANNIC == "":
			in.Node.LANNIC = n.Name
		}
	}
	// The install's pool: the one the answers name (tanka1 by default).
	pool := "tanka1"
	if len(in.Storage.Pools) > 0 && in.Storage.Pools[0].Name != "" {
		pool = in.Storage.Pools[0].Name
	} else if in.Storage.VMPool != "" {
		pool = in.Storage.VMPool
	}
	for _, d := range inv.Disks {
		disk := common.Disk{Name: d.Name, Model: d.Model, SizeBytes: uint64(max(d.Size, 0))}
		switch {
		case d.System:
			disk.NotOffered = "system disk"
		case d.Pool == pool:
			disk.NotOffered = "in pool " + pool + ", kept as it is"
		case d.Pool != "":
			disk.NotOffered = "in pool " + d.Pool + ", not this install's"
		case d.HasData:
			disk.InUse = "has partitions or data"
		default:
			free = append(free, d.Name)
		}
		det.Disks = append(det.Disks, disk)
	}
	if slices.Contains(inv.Pools, pool) {
		det.Pool = &config.Pool{Name: pool, Layout: inv.Layouts[pool], Disks: inv.PoolDisks(pool)}
		if !saved {
			// No earlier answers to compare: start from what exists.
			in.Storage.Pools = []config.Pool{*det.Pool}
		}
	}
	if len(in.Storage.Pools) == 0 && len(free) > 0 {
		in.Storage.Pools = []config.Pool{{Name: pool, Layout: "single", Disks: free[:1]}}
	}
	in.ApplyDefaults()
	det.Images = []common.ImageSum{
		publishedSum(ctx, sess, "firewall image", in.Firewall.ImageURL, &in.Firewall.ImageSHA256),
		publishedSum(ctx, sess, "NixOS template image", in.Platform.TemplateImageURL, &in.Platform.TemplateImageSHA256),
	}
	return det, nil
}

// publishedSum fills *sum from where the image is published (the GitHub
// release's asset digest, read on the node, which downloads the image)
// unless earlier answers already hold one; it says where the value came
// from, or why there is none.
func publishedSum(ctx context.Context, sess *install.Session, what, url string, sum *string) common.ImageSum {
	is := common.ImageSum{What: what, URL: url}
	if *sum != "" {
		is.SHA256, is.Source = *sum, "the saved answers"
		return is
	}
	p, err := firewall.PublishedSum(ctx, sess.Targets.Node, url)
	if err != nil {
		is.Source = err.Error()
		return is
	}
	*sum = p.SHA256
	is.SHA256, is.Source = p.SHA256, p.Source
	return is
}

// Preflight implements Backend: the plan's own read-only checks.
func (b *NodeBackend) Preflight(ctx context.Context, req Request) ([]Check, error) {
	sess, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	cfg := config.Defaults()
	if req.Install != nil {
		cfg = *req.Install
	}
	role := preflight.RoleFirst
	if req.Goal == common.GoalJoin {
		role = preflight.RoleJoin
	}
	pc := &preflight.Checks{Node: sess.Targets.Node, Cfg: cfg, Role: role, OperatorAddr: sess.Targets.OperatorAddr, NodeAddr: sess.Targets.NodeAddr}
	res, _, err := pc.Run(ctx)
	if err != nil {
		return nil, err
	}
	var out []Check
	for _, r := range res {
		st := common.CheckPass
		switch r.Outcome {
		case preflight.Fail:
			st = common.CheckFail
		case preflight.Unknown:
			st = common.CheckUnknown
		}
		out = append(out, Check{Name: r.Name, Status: st, Detail: r.Detail, Fix: r.Fix})
	}
	return out, nil
}

// Plan implements Backend.
func (b *NodeBackend) Plan(ctx context.Context, req Request) (Job, error) {
	sess, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	// The node's run lock, held until the TUI exits, before the answers
	// are saved: nothing touches the state before the lock.
	if err := sess.Lock(ctx, nil); err != nil {
		return nil, err
	}
	if req.Goal == common.GoalJoin {
		if req.Install == nil {
			return nil, errors.New("a join needs the join wizard's answers: start it from the home screen")
		}
		pw := req.PeerPassword // used once by the join step, never stored
		plan, err := install.JoinPlan(*req.Install, sess.Targets, install.Peer{
			Password: func(context.Context) (string, error) { return pw, nil }})
		if err != nil {
			return nil, err
		}
		r := &steps.Runner{Store: sess.Store, Policy: steps.PolicyAsk, Concurrency: max(1, b.o.Concurrency), Log: sess.Log}
		return common.NewRunnerJob(plan, r, nil), nil
	}
	var cfg config.Install
	switch {
	case req.Install != nil:
		cfg = *req.Install
		saved := cfg
		saved.Firewall.RootPassword = ""
		if err := sess.Store.SetInput(inputsKey, saved); err != nil {
			return nil, fmt.Errorf("save the answers with the checkpoint: %w", err)
		}
		if cfg.Firewall.RootPassword != "" {
			if err := sess.Store.Secrets().SetSecret(typedPWSecret, cfg.Firewall.RootPassword); err != nil {
				return nil, err
			}
		}
	default:
		var ok bool
		if cfg, ok = b.savedInputs(sess); !ok {
			return nil, errors.New("there is no saved install to resume: start a new install from the home screen")
		}
	}
	t := sess.Targets
	t.PriorRun = sess.PriorRun()
	plan, err := install.FirstNodePlan(cfg, t)
	if err != nil {
		return nil, err
	}
	if err := install.NoteGeneratedPassword(sess.Store, cfg); err != nil {
		return nil, err
	}
	r := &steps.Runner{Store: sess.Store, Policy: steps.PolicyAsk, Concurrency: max(1, b.o.Concurrency), Log: sess.Log}
	return common.NewRunnerJob(plan, r, nil), nil
}

// Summary implements Backend.
func (b *NodeBackend) Summary(ctx context.Context, req Request) (Summary, error) {
	sess, err := b.session(ctx)
	if err != nil {
		return Summary{}, err
	}
	if req.Goal == common.GoalJoin && req.Install != nil {
		in := req.Install
		return Summary{
			Built: []string{fmt.Sprintf("%s joined cluster %s through %s", in.Node.Hostname, config.ClusterName, in.Join.Peer)},
			URLs:  []common.Link{{Name: "Proxmox VE", URL: "https://" + in.MgmtPrefix().Addr().String() + ":8006", User: common.UserPVE}},
			Next:  []string{"check the cluster in the PVE web UI (Datacenter → Cluster)", "tappaas status"},
		}, nil
	}
	cfg, ok := b.savedInputs(sess)
	if req.Install != nil {
		cfg, ok = *req.Install, true
	}
	if !ok {
		return Summary{}, errors.New("no answers saved for this install")
	}
	mgmt := cfg.MgmtPrefix().Addr().String()
	facts := steps.NewFacts(sess.Store.Facts())
	cicd, _ := steps.Get(facts, platform.FactCICDIP)
	s := Summary{
		Built: []string{
			fmt.Sprintf("Node %s: lan/wan bridges, cluster %s, pools %s", cfg.Node.Hostname, config.ClusterName, strings.Join(cfg.PoolNames(), ", ")),
			fmt.Sprintf("Firewall VM %d (OPNsense) at %s, zones pushed", cfg.Firewall.VMID, config.FirewallLANIP),
			fmt.Sprintf("tappaas-cicd VM %d", config.CICDVMID),
		},
		URLs: []common.Link{{Name: "Proxmox VE", URL: "https://" + mgmt + ":8006", User: common.UserPVE},
			{Name: "Firewall", URL: "https://" + config.FirewallLANIP, User: common.UserFirewall}},
		Credentials: []common.Credential{
			{Name: "Firewall root password", Where: install.SecretsPath + " on the node (0600)",
				Read: install.ReadSecretCommand(firewall.SecretRootPassword)},
			{Name: "Firewall API key", Where: install.SecretsPath + " on the node (0600)",
				Read: install.ReadSecretCommand(firewall.SecretAPIKey)},
		},
		Next: []string{"tappaas status: check every step", "tappaas join on tappaas2..9 to grow the cluster",
			"on tappaas-cicd: acme-setup.sh for TLS certificates for " + cfg.Site.Domain, "the full summary is in " + summary.File + " on the node"},
	}
	if cfg.BackupEnabled() {
		s.Built = append(s.Built, "Proxmox Backup Server, datastore "+cfg.Backup.Datastore)
		s.URLs = append(s.URLs, common.Link{Name: "Backup server", URL: "https://" + mgmt + ":8007", User: common.UserPVE})
	}
	upstream, _ := steps.Get(facts, preflight.FactInstallCIDR)
	upstream, _, _ = strings.Cut(upstream, "/")
	s.Reach = common.ManagementReach(cfg.Node.LANNIC, upstream, mgmt)
	if cicd != "" {
		s.URLs = append(s.URLs, common.Link{Name: "tappaas-cicd", URL: "ssh tappaas@" + cicd})
	}
	if pw, ok := install.UnshownPassword(sess.Store, cfg); ok {
		s.Generated = append(s.Generated, common.Secret{Name: "Firewall root password", Value: pw,
			Where: install.SecretsPath + " on the node (0600)"})
		// Shown once: the next done screen lists it under stored credentials only.
		if err := install.MarkPasswordShown(sess.Store); err != nil {
			b.o.Log.Warn("record that the generated password was shown", "err", err)
		}
	}
	return s, nil
}

// defaultAdminNetwork proposes the operator's own address (over --host) as
// node.admin_network when the answers have none: the gateway cutover then
// keeps their session routed via the upstream router.
func defaultAdminNetwork(in *config.Install, operator string) {
	if in.Node.AdminNetwork != "" || operator == "" {
		return
	}
	// Inside the management network it would be refused (it overlaps).
	if a, err := netip.ParseAddr(operator); err == nil && a.Is4() && !a.IsLoopback() && !netip.MustParsePrefix(config.MgmtSubnet).Contains(a) {
		in.Node.AdminNetwork = netip.PrefixFrom(a, 32).String()
	}
}
