package preflight

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
)

// Facts learned by preflight.
var (
	// FactInventory is the node inventory at the last preflight.
	FactInventory = steps.Key[Inventory]("preflight.inventory")
	// FactInstallCIDR is the node's upstream address (kept on wan).
	FactInstallCIDR = steps.Key[string]("node.install_cidr")
	// FactGateway is the upstream gateway used until the cutover.
	FactGateway = steps.Key[string]("node.upstream_gateway")
	// FactPVEVersion is the PVE version ("9.1.4").
	FactPVEVersion = steps.Key[string]("node.pve_version")
)

// Outcome of one check.
type Outcome string

// Outcomes.
const (
	Pass    Outcome = "pass"
	Fail    Outcome = "fail"
	Unknown Outcome = "could not check"
)

// Result is one preflight check.
type Result struct {
	Name    string  `json:"name"`
	Outcome Outcome `json:"outcome"`
	Detail  string  `json:"detail"`
	Fix     string  `json:"fix,omitempty"` // what to do when it failed
}

// Supported PVE versions: 9.0 … 9.4 (upstream's gate; INSTALL.md names 9.1).
const (
	MinMinor = 0
	MaxMinor = 4
)

// Error lists every failed check.
type Error struct{ Failed []Result }

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "preflight: %d check(s) failed:", len(e.Failed))
	for _, r := range e.Failed {
		fmt.Fprintf(&b, "\n  %s: %s", r.Name, r.Detail)
		if r.Fix != "" {
			fmt.Fprintf(&b, " — %s", r.Fix)
		}
	}
	return b.String()
}

// Role of the node being prepared.
type Role string

// Roles.
const (
	RoleFirst Role = "first"
	RoleJoin  Role = "join"
)

// Checks is the read-only preflight step: every check runs, all results are
// reported at once, Apply fails (naming each problem and its fix) when any
// check failed — nothing later runs on a node that cannot take it.
type Checks struct {
	Node exec.Executor
	Cfg  config.Install
	Role Role
	// OperatorAddr is the address the operator connects from, when known (SSH
	// client address); a first-node install from inside the management subnet
	// would lock the operator out (docs/upstream.md#lockout).
	OperatorAddr string
	// NodeAddr is the node's address the installer's connection goes to
	// (--host); "" at the node's console, where no connection can be cut.
	NodeAddr string
	// PriorRun describes an earlier run's checkpoint ("" when none).
	PriorRun string
}

func (s *Checks) ID() string { return "preflight.checks" }

func (s *Checks) Title() string { return "Preflight checks" }

func (s *Checks) Describe(*steps.Runtime) []string {
	return []string{"read-only: PVE version, NICs, disks, DNS, time, space, operator address"}
}

// Check implements steps.Step: it runs the checks (read-only) and says done
// when none failed.
func (s *Checks) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	res, inv, err := s.Run(ctx)
	if err != nil {
		return steps.Status{}, err
	}
	s.record(rt, inv)
	pass, unknown, failed := count(res)
	if failed > 0 {
		return steps.NotDone("%d of %d checks fail", failed, len(res)), nil
	}
	if unknown > 0 {
		var names []string
		for _, r := range res {
			if r.Outcome == Unknown {
				names = append(names, r.Name)
			}
		}
		return steps.Done("%d checks pass; could not check: %s", pass, strings.Join(names, ", ")), nil
	}
	return steps.Done("all %d checks pass", pass), nil
}

// Apply implements steps.Step: it reports the table and fails on failures.
func (s *Checks) Apply(ctx context.Context, rt *steps.Runtime) error {
	res, inv, err := s.Run(ctx)
	if err != nil {
		return err
	}
	s.record(rt, inv)
	for _, l := range Table(res) {
		rt.Printf("%s", l)
	}
	var failed []Result
	for _, r := range res {
		if r.Outcome == Fail {
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		return &Error{Failed: failed}
	}
	return nil
}

func (s *Checks) record(rt *steps.Runtime, inv *Inventory) {
	if rt == nil || inv == nil {
		return
	}
	_ = steps.Set(rt.Facts, FactInventory, *inv)
	if inv.InstallCIDR != "" {
		_ = steps.Set(rt.Facts, FactInstallCIDR, inv.InstallCIDR)
	}
	if inv.Gateway != "" && inv.Gateway != config.FirewallLANIP {
		_ = steps.Set(rt.Facts, FactGateway, inv.Gateway)
	}
	if inv.PVEVersion != "" {
		_ = steps.Set(rt.Facts, FactPVEVersion, inv.PVEVersion)
	}
}

func count(res []Result) (pass, unknown, failed int) {
	for _, r := range res {
		switch r.Outcome {
		case Pass:
			pass++
		case Unknown:
			unknown++
		case Fail:
			failed++
		}
	}
	return
}

// Table renders results as aligned lines.
func Table(res []Result) []string {
	w := 0
	for _, r := range res {
		w = max(w, len(r.Name))
	}
	out := make([]string, 0, len(res))
	for _, r := range res {
		l := fmt.Sprintf("%-*s  %-15s  %s", w, r.Name, r.Outcome, r.Detail)
		if r.Outcome == Fail && r.Fix != "" {
			l += " — fix: " + r.Fix
		}
		out = append(out, l)
	}
	return out
}

// notFound reports whether err says the command does not exist.
func notFound(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && ee.Code == 127
}

// Run performs every check (read-only) and returns the results and the
// inventory. An error means the node could not be read at all.
func (s *Checks) Run(ctx context.Context) ([]Result, *Inventory, error) {
	cfg := s.Cfg
	var res []Result
	add := func(name string, o Outcome, fix, format string, a ...any) {
		res = append(res, Result{Name: name, Outcome: o, Detail: fmt.Sprintf(format, a...), Fix: fix})
	}

	uid, err := node.Query(ctx, s.Node, "id -u")
	if err != nil {
		return nil, nil, fmt.Errorf("preflight: cannot run commands on %s: %w", s.Node.Target(), err)
	}
	if strings.TrimSpace(uid) == "0" {
		add("root", Pass, "", "running as root")
	} else {
		add("root", Fail, "connect as root (--host root@ADDR) or run tappaas as root on the node", "running as uid %s", strings.TrimSpace(uid))
	}

	inv, err := Gather(ctx, s.Node)
	if err != nil {
		return nil, nil, err
	}
	if major, minor, full, perr := ParsePVEVersion("pve-manager/" + inv.PVEVersion); perr != nil {
		add("pve version", Fail, "install Proxmox VE 9", "%v", perr)
	} else if major != 9 || minor < MinMinor || minor > MaxMinor {
		add("pve version", Fail, fmt.Sprintf("use Proxmox VE 9.%d–9.%d", MinMinor, MaxMinor), "PVE %s is not supported", full)
	} else {
		add("pve version", Pass, "", "PVE %s", full)
	}

	mgmt := cfg.MgmtPrefix()
	cutOver := inv.Gateway == config.FirewallLANIP && inv.HasAddr(mgmt.Addr().String())
	if inv.Hostname != cfg.Node.Hostname {
		add("hostname", Fail, fmt.Sprintf("set node.hostname = %q in the answers, or rename the node", inv.Hostname), "the node is %q, the answers say %q", inv.Hostname, cfg.Node.Hostname)
	} else {
		add("hostname", Pass, "", "%s", inv.Hostname)
	}

	// NICs.
	var names []string
	for _, n := range inv.NICs {
		st := "down"
		if n.Up {
			st = "up"
		}
		tag := ""
		if n.Upstream {
			tag = ", upstream"
		}
		names = append(names, fmt.Sprintf("%s (%s%s)", n.Name, st, tag))
	}
	add("nics", Pass, "", "%s", strings.Join(names, ", "))
	for _, role := range []struct{ key, name string }{{"node.lan_nic", cfg.Node.LANNIC}, {"node.wan_nic", cfg.Node.WANNIC}} {
		n, ok := inv.NIC(role.name)
		switch {
		case !ok:
			add(role.key, Fail, "name one of: "+strings.Join(nicNames(inv), ", "), "%q is not a physical port of this node", role.name)
		case !n.Up && role.key == "node.wan_nic":
			add(role.key, Fail, "cable it to the upstream router", "%s has no link", n.Name)
		case !n.Up:
			add(role.key, Unknown, "", "%s has no link yet (the LAN switch may be off)", n.Name)
		default:
			add(role.key, Pass, "", "%s has link", n.Name)
		}
	}
	if s.Role == RoleFirst && !cutOver {
		if w, ok := inv.NIC(cfg.Node.WANNIC); ok && !w.Upstream {
			up := "none"
			for _, n := range inv.NICs {
				if n.Upstream {
					up = n.Name
				}
			}
			add("internet port", Fail, "swap node.lan_nic and node.wan_nic in the answers", "the default route goes out %s, but node.wan_nic is %s", up, w.Name)
		} else if ok {
			add("internet port", Pass, "", "%s carries the default route via %s", w.Name, inv.Gateway)
		}
		if inv.InstallCIDR == "" {
			add("upstream address", Fail, "give the node a static address on the upstream network", "no IPv4 address on the default-route interface")
		} else if p, err := netip.ParsePrefix(inv.InstallCIDR); err == nil && p.Overlaps(netip.MustParsePrefix(config.MgmtSubnet)) && !cutOver {
			add("upstream address", Fail, "the upstream network must not be 10.0.0.0/24 (the management network); renumber it", "%s is inside the management network", inv.InstallCIDR)
		} else {
			add("upstream address", Pass, "", "%s", inv.InstallCIDR)
		}
	}

	// Disks.
	for _, pool := range cfg.Storage.Pools {
		if containsStr(inv.Pools, pool.Name) {
			// tappaas never erases or reshapes a pool: answers that
			// ask for another layout or other disks are refused, not
			// silently ignored.
			has, layout := inv.PoolDisks(pool.Name), inv.Layouts[pool.Name]
			var want []string
			for _, d := range pool.Disks {
				want = append(want, config.DiskName(d))
			}
			if (layout != "" && layout != pool.Layout) || !sameSet(has, want) {
				add("pool "+pool.Name, Fail, fmt.Sprintf("answer layout %s on %s (what exists), or destroy the pool by hand first", layout, strings.Join(has, ", ")),
					"exists as %s on %s; the answers ask for %s on %s, and tappaas never reshapes a pool", layout, strings.Join(has, ", "), pool.Layout, strings.Join(want, ", "))
				continue
			}
			add("pool "+pool.Name, Pass, "", "exists (%s on %s); kept as it is, nothing is erased", layout, strings.Join(has, ", "))
			continue
		}
		for _, d := range pool.Disks {
			disk, ok := inv.Disk(config.DiskName(d))
			key := "disk " + config.DiskName(d)
			switch {
			case !ok:
				add(key, Fail, "name one of: "+strings.Join(diskNames(inv), ", "), "%q is not a disk of this node", d)
			case disk.System:
				add(key, Fail, "choose another disk: this one holds the system", "%s holds /, /boot or swap", disk.Name)
			case disk.Pool != "":
				add(key, Fail, "choose another disk or destroy the pool by hand", "%s belongs to pool %s", disk.Name, disk.Pool)
			case disk.HasData && !cfg.WipeConfirmed(disk.Name):
				add(key, Fail, fmt.Sprintf("add %q to storage.confirm_wipe to allow wiping it", disk.Name), "%s (%s) holds data", disk.Name, human(disk.Size))
			case disk.HasData:
				add(key, Pass, "", "%s (%s) holds data; wiping it was confirmed", disk.Name, human(disk.Size))
			default:
				add(key, Pass, "", "%s (%s %s) is blank", disk.Name, human(disk.Size), disk.Model)
			}
		}
	}

	// DNS and internet.
	if out, err := node.Query(ctx, s.Node, "getent hosts download.proxmox.com"); err == nil && strings.TrimSpace(out) != "" {
		add("dns", Pass, "", "download.proxmox.com resolves")
	} else if err != nil && notFound(err) {
		add("dns", Unknown, "", "getent is not available")
	} else if cutOver {
		add("dns", Unknown, "", "download.proxmox.com does not resolve (after the cutover DNS is the firewall's)")
	} else {
		add("dns", Fail, "check /etc/resolv.conf and the upstream router", "download.proxmox.com does not resolve")
	}

	// Time sync.
	if out, err := node.Query(ctx, s.Node, "timedatectl show -p NTPSynchronized --value"); err == nil {
		if strings.TrimSpace(out) == "yes" {
			add("time sync", Pass, "", "NTP synchronised")
		} else {
			add("time sync", Unknown, "", "NTP not synchronised yet (chrony is installed by the node step)")
		}
	} else {
		add("time sync", Unknown, "", "timedatectl is not available")
	}

	// Free space for images.
	if out, err := node.Query(ctx, s.Node, "df -P -B1 /var/lib/vz"); err == nil {
		if avail, ok := dfAvail(out); ok {
			const need = 8 << 30
			if avail < need {
				add("free space", Fail, "free space on the root filesystem", "/var/lib/vz has %s free, images need %s", human(avail), human(need))
			} else {
				add("free space", Pass, "", "/var/lib/vz has %s free", human(avail))
			}
		} else {
			add("free space", Unknown, "", "unexpected df output")
		}
	} else {
		add("free space", Unknown, "", "df is not available")
	}

	// Operator lockout.
	if s.OperatorAddr != "" {
		if a, err := netip.ParseAddr(s.OperatorAddr); err == nil && netip.MustParsePrefix(config.MgmtSubnet).Contains(a) && s.Role == RoleFirst && !cutOver && !a.IsLoopback() {
			add("operator address", Fail, "connect from another network or from the node's console", "you connect from %s, inside %s: the lan bridge would cut you off", a, config.MgmtSubnet)
		} else {
			add("operator address", Pass, "", "%s", s.OperatorAddr)
		}
	}
	if s.Role == RoleFirst && !cutOver {
		if name, fix, detail, bad := s.lockout(inv); bad {
			add(name, Fail, fix, "%s", detail)
		}
	}
	if s.PriorRun != "" {
		add("earlier run", Pass, "", "%s; finished steps are re-checked and skipped", s.PriorRun)
	}
	return res, inv, nil
}

func dfAvail(out string) (int64, bool) {
	ls := node.Lines(out)
	if len(ls) < 2 {
		return 0, false
	}
	f := strings.Fields(ls[len(ls)-1])
	if len(f) < 4 {
		return 0, false
	}
	n, err := strconv.ParseInt(f[3], 10, 64)
	return n, err == nil
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func nicNames(inv *Inventory) []string {
	var out []string
	for _, n := range inv.NICs {
		out = append(out, n.Name)
	}
	return out
}

func diskNames(inv *Inventory) []string {
	var out []string
	for _, d := range inv.Disks {
		if !d.System {
			out = append(out, d.Name)
		}
	}
	return out
}

func human(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

// sameSet reports whether a and b hold the same names.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !containsStr(b, x) {
			return false
		}
	}
	return true
}

// lockout reports whether the bridges (network.bridges) would take away
// the node address the installer is connected through: after them the
// node has only node.wan_address (or its install address) on wan and the
// management address on lan. The change is confirmed over a new
// connection, so a new address is acceptable only when the operator said
// the network they connect from reaches it (node.admin_network holds
// their address).
func (s *Checks) lockout(inv *Inventory) (name, fix, detail string, bad bool) {
	conn, err := netip.ParseAddr(s.NodeAddr)
	if s.NodeAddr == "" || err != nil || conn.IsLoopback() {
		return "", "", "", false
	}
	var kept []netip.Addr
	wan := s.Cfg.Node.WANAddress
	if wan == "" {
		wan = inv.InstallCIDR
	}
	if p, err := netip.ParsePrefix(wan); err == nil {
		kept = append(kept, p.Addr())
	}
	kept = append(kept, s.Cfg.MgmtPrefix().Addr())
	for _, k := range kept {
		if k == conn {
			return "", "", "", false
		}
	}
	if op, err := netip.ParseAddr(s.OperatorAddr); err == nil && s.Cfg.Node.AdminNetwork != "" {
		if an, err := netip.ParsePrefix(s.Cfg.Node.AdminNetwork); err == nil && an.Contains(op) {
			return "", "", "", false
		}
	}
	bits := 24
	if p, err := netip.ParsePrefix(inv.InstallCIDR); err == nil && p.Addr() == conn {
		bits = p.Bits()
	}
	return "node.wan_address",
		fmt.Sprintf("set node.wan_address to %s/%d (or leave it empty), or set node.admin_network to the network you connect from so the change is confirmed over a new connection to %s, or run tappaas at the node's console", conn, bits, wan),
		fmt.Sprintf("you are connected through %s, but node.wan_address %s moves the node off it: the bridge change would cut this session and the next run would find no route to the node", conn, wan),
		true
}
