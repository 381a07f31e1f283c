package network

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
	"github.com/tappaas/tappaas/steps/preflight"
)

// InterfacesFile is the ifupdown2 configuration.
const InterfacesFile = "/etc/network/interfaces"

// Stage of the node's network.
type Stage int

// Stages.
const (
	// StageBridges: wan keeps the upstream address and default gateway;
	// lan carries the management address (no gateway yet).
	StageBridges Stage = iota
	// StageCutover: the default gateway is the firewall on lan.
	StageCutover
	// StageSecondary: a joining node: wan without address, lan with the
	// management address and gateway 10.0.0.1.
	StageSecondary
)

// Layout is what the interfaces file is rendered from.
type Layout struct {
	Ports        []string // every physical port (iface X inet manual)
	LAN, WAN     string   // ports of the lan and wan bridges
	MgmtCIDR     string   // 10.0.0.10/24
	UpstreamCIDR string   // 192.168.1.10/24 (first node)
	UpstreamGW   string   // 192.168.1.1 (first node)
	AdminNetwork string   // optional CIDR kept routed via UpstreamGW after the cutover
}

// Render returns /etc/network/interfaces for the stage
// (docs/upstream.md#bridges and #cutover).
func Render(l Layout, st Stage) string {
	var b strings.Builder
	b.WriteString("# Managed by tappaas. Manual changes are kept only if they match what tappaas writes.\n")
	b.WriteString("auto lo\niface lo inet loopback\n\n")
	ports := append([]string(nil), l.Ports...)
	sort.Strings(ports)
	for _, p := range ports {
		fmt.Fprintf(&b, "iface %s inet manual\n\n", p)
	}
	switch st {
	case StageSecondary:
		fmt.Fprintf(&b, "auto wan\niface wan inet manual\n\tbridge-ports %s\n\tbridge-stp off\n\tbridge-fd 0\n\n", l.WAN)
	default:
		fmt.Fprintf(&b, "auto wan\niface wan inet static\n\taddress %s\n", l.UpstreamCIDR)
		if st == StageBridges {
			fmt.Fprintf(&b, "\tgateway %s\n", l.UpstreamGW)
		} else if l.AdminNetwork != "" {
			fmt.Fprintf(&b, "\tpost-up ip route replace %s via %s dev wan || true\n", l.AdminNetwork, l.UpstreamGW)
		}
		fmt.Fprintf(&b, "\tbridge-ports %s\n\tbridge-stp off\n\tbridge-fd 0\n\n", l.WAN)
	}
	fmt.Fprintf(&b, "auto lan\niface lan inet static\n\taddress %s\n", l.MgmtCIDR)
	if st != StageBridges {
		fmt.Fprintf(&b, "\tgateway %s\n", config.FirewallLANIP)
	}
	fmt.Fprintf(&b, "\tbridge-ports %s\n\tbridge-stp off\n\tbridge-fd 0\n\tbridge-vlan-aware yes\n\tbridge-vids 2-4094\n\n", l.LAN)
	b.WriteString("source /etc/network/interfaces.d/*\n")
	return b.String()
}

// LayoutFor builds the layout from the answers and what preflight learned.
func LayoutFor(cfg config.Install, rt *steps.Runtime) (Layout, error) {
	l := Layout{LAN: cfg.Node.LANNIC, WAN: cfg.Node.WANNIC, MgmtCIDR: cfg.Node.ManagementCIDR, AdminNetwork: cfg.Node.AdminNetwork}
	inv, ok := steps.Get(rt.Facts, preflight.FactInventory)
	if !ok {
		return l, fmt.Errorf("the node inventory is not known: run preflight first")
	}
	for _, n := range inv.NICs {
		l.Ports = append(l.Ports, n.Name)
	}
	l.UpstreamCIDR = cfg.Node.WANAddress
	if l.UpstreamCIDR == "" {
		l.UpstreamCIDR, _ = steps.Get(rt.Facts, preflight.FactInstallCIDR)
	}
	l.UpstreamGW = cfg.Node.Gateway
	if l.UpstreamGW == "" {
		l.UpstreamGW, _ = steps.Get(rt.Facts, preflight.FactGateway)
	}
	return l, nil
}

// Link is one interface as `ip -j addr` reports it.
type Link struct {
	Name   string
	Master string
	Up     bool
	Addrs  []string
}

// Links reads the live interfaces.
func Links(ctx context.Context, e exec.Executor) (map[string]Link, error) {
	out, err := node.Query(ctx, e, "ip -j addr show")
	if err != nil {
		return nil, err
	}
	var raw []struct {
		IfName    string `json:"ifname"`
		OperState string `json:"operstate"`
		Master    string `json:"master"`
		AddrInfo  []struct {
			Family    string `json:"family"`
			Local     string `json:"local"`
			PrefixLen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		return nil, fmt.Errorf("ip -j addr: unexpected output: %w", err)
	}
	m := map[string]Link{}
	for _, r := range raw {
		l := Link{Name: r.IfName, Master: r.Master, Up: !strings.EqualFold(r.OperState, "down")}
		for _, a := range r.AddrInfo {
			if a.Family == "inet" {
				l.Addrs = append(l.Addrs, fmt.Sprintf("%s/%d", a.Local, a.PrefixLen))
			}
		}
		m[r.IfName] = l
	}
	return m, nil
}

// DefaultGateway reads the live default gateway.
func DefaultGateway(ctx context.Context, e exec.Executor) (string, error) {
	out, err := node.Query(ctx, e, "ip -j route show default")
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(out) == "" {
		return "", nil
	}
	var rs []struct {
		Gateway string `json:"gateway"`
	}
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		return "", fmt.Errorf("ip -j route: unexpected output: %w", err)
	}
	if len(rs) == 0 {
		return "", nil
	}
	return rs[0].Gateway, nil
}

func has(addrs []string, cidr string) bool {
	want, err := netip.ParsePrefix(cidr)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a); err == nil && p == want {
			return true
		}
	}
	return false
}

// liveOK checks the bridges are up as the layout says.
func liveOK(links map[string]Link, l Layout, st Stage) (bool, string) {
	lan, ok := links["lan"]
	if !ok {
		return false, "bridge lan is not up"
	}
	if !has(lan.Addrs, l.MgmtCIDR) {
		return false, fmt.Sprintf("lan lacks %s", l.MgmtCIDR)
	}
	wan, ok := links["wan"]
	if !ok {
		return false, "bridge wan is not up"
	}
	if st != StageSecondary && !has(wan.Addrs, l.UpstreamCIDR) {
		return false, fmt.Sprintf("wan lacks %s", l.UpstreamCIDR)
	}
	if p, ok := links[l.LAN]; ok && p.Master != "lan" {
		return false, fmt.Sprintf("%s is not a port of lan", l.LAN)
	}
	if p, ok := links[l.WAN]; ok && p.Master != "wan" {
		return false, fmt.Sprintf("%s is not a port of wan", l.WAN)
	}
	return true, fmt.Sprintf("lan %s on %s, wan on %s", l.MgmtCIDR, l.LAN, l.WAN)
}

// Bridges builds the lan (VLAN-aware trunk with the management address) and
// wan bridges, commit/confirm.
type Bridges struct {
	Node exec.Executor
	Cfg  config.Install
	// Secondary renders a joining node's layout.
	Secondary     bool
	RollbackAfter int // seconds; 0 = default
	// After are steps that must finish first (the node's post-install:
	// upstream configures the network after it).
	After []string
	// NodeAddr is the node address the installer is connected through
	// ("" at the node's console).
	NodeAddr string
	// Reach opens a new connection to the node at addr; the change is
	// verified and confirmed over it (nil: over Node).
	Reach Reach
}

// Reach opens a new connection to the node at addr (an IP address), trusting
// only the host key of the connection already open; closing it is the
// caller's.
type Reach func(ctx context.Context, addr string) (exec.Executor, func() error, error)

// reconnect binds r to addr for a Change (nil when either is unset).
func reconnect(r Reach, addr string) func(ctx context.Context) (exec.Executor, func() error, error) {
	if r == nil || addr == "" {
		return nil
	}
	return func(ctx context.Context) (exec.Executor, func() error, error) { return r(ctx, addr) }
}

// addrAfter is where the operator reaches the node once the layout is live:
// the address they are connected through when the layout keeps it, else
// the new upstream address (wan), or the management address on a joining
// node, which has no upstream address.
func addrAfter(connected string, l Layout, st Stage) string {
	var kept []string
	if st != StageSecondary {
		if p, err := netip.ParsePrefix(l.UpstreamCIDR); err == nil {
			kept = append(kept, p.Addr().String())
		}
	}
	if p, err := netip.ParsePrefix(l.MgmtCIDR); err == nil {
		kept = append(kept, p.Addr().String())
	}
	for _, k := range kept {
		if k == connected {
			return connected
		}
	}
	if len(kept) == 0 {
		return connected
	}
	return kept[0]
}

func (s *Bridges) ID() string { return "network.bridges" }

func (s *Bridges) Title() string { return "Network bridges lan and wan (commit/confirm)" }

func (s *Bridges) Needs() []string { return append([]string{"preflight.checks"}, s.After...) }

func (s *Bridges) Touches() []string { return []string{"node:network"} }

func (s *Bridges) Describe(*steps.Runtime) []string {
	return []string{
		fmt.Sprintf("bridge lan on %s: %s, VLAN-aware 2-4094", s.Cfg.Node.LANNIC, s.Cfg.Node.ManagementCIDR),
		fmt.Sprintf("bridge wan on %s: keeps the upstream address and gateway", s.Cfg.Node.WANNIC),
		"rewrite /etc/network/interfaces with a rollback armed on the node before ifreload",
	}
}

func (s *Bridges) stages() []Stage {
	if s.Secondary {
		return []Stage{StageSecondary}
	}
	return []Stage{StageBridges, StageCutover}
}

// Check implements steps.Step: the file is ours (before or after the
// cutover), the bridges are live, and no unconfirmed change is pending.
func (s *Bridges) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	l, err := LayoutFor(s.Cfg, rt)
	if err != nil {
		return steps.NotDone("%v", err), nil
	}
	cur, _, err := node.ReadFile(ctx, s.Node, InterfacesFile)
	if err != nil {
		return steps.Status{}, err
	}
	match := false
	for _, st := range s.stages() {
		if string(cur) == Render(l, st) {
			match = true
		}
	}
	if !match {
		return steps.NotDone("%s is not the tappaas layout", InterfacesFile), nil
	}
	if p, err := Pending(ctx, s.Node); err != nil {
		return steps.Status{}, err
	} else if len(p) > 0 {
		return steps.NotDone("an unconfirmed network change is pending rollback (%s)", strings.Join(p, ", ")), nil
	}
	links, err := Links(ctx, s.Node)
	if err != nil {
		return steps.Status{}, err
	}
	ok, detail := liveOK(links, l, s.stages()[0])
	if !ok {
		return steps.NotDone("%s", detail), nil
	}
	return steps.Done("%s", detail), nil
}

func (s *Bridges) Apply(ctx context.Context, rt *steps.Runtime) error {
	l, err := LayoutFor(s.Cfg, rt)
	if err != nil {
		return err
	}
	st := s.stages()[0]
	if st != StageSecondary && (l.UpstreamCIDR == "" || l.UpstreamGW == "") {
		return fmt.Errorf("the upstream address or gateway is unknown: set node.wan_address and node.gateway in the answers")
	}
	cur, _, err := node.ReadFile(ctx, s.Node, InterfacesFile)
	if err != nil {
		return err
	}
	want := Render(l, st)
	if !s.Secondary && string(cur) == Render(l, StageCutover) {
		want = string(cur) // already cut over: never undo it
	}
	next := ""
	if s.NodeAddr != "" {
		next = addrAfter(s.NodeAddr, l, st)
	}
	c := &Change{
		Node:      s.Node,
		Files:     map[string]string{InterfacesFile: want},
		Apply:     "ifreload -a",
		Reconnect: reconnect(s.Reach, next),
		Verify: func(ctx context.Context, e exec.Executor) (bool, string, error) {
			links, err := Links(ctx, e)
			if err != nil {
				return false, "cannot read interfaces", err
			}
			ok, d := liveOK(links, l, st)
			return ok, d, nil
		},
	}
	if s.RollbackAfter > 0 {
		c.RollbackAfter = secs(s.RollbackAfter)
	}
	if err := c.Commit(ctx, rt); err != nil {
		return err
	}
	if next != s.NodeAddr && !s.Secondary {
		// Confirmed over a new connection to the new address; the links
		// of this run go to the old one. (A joining node keeps going on
		// the link it was joined through.)
		return fmt.Errorf("the node moved to %s (node.wan_address; confirmed over a new connection there): run tappaas again with --host root@%s to continue", next, next)
	}
	return nil
}
