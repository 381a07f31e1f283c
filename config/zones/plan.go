package zones

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ParentOf is the firewall device a zone's VLAN sits on, as zone-manager
// picks it: lan→vtnet0, wan→vtnet1 (ZoneManager.DEFAULT_BRIDGE_MAP,
// TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/opnsense-controller/src/opnsense_controller/zone_manager.py:575),
// any other bridge → its --interface default vtnet1 (same file, line 1998).
func ParentOf(bridge string) string {
	if strings.EqualFold(bridge, "lan") {
		return "vtnet0"
	}
	return "vtnet1"
}

// Constants of zone-manager's objects (zone_manager.py, TAPPaaS@f54e4fc).
const (
	// LeaseTime of DHCP ranges in seconds (configure_dhcp, line 1207).
	LeaseTime = "86400"
	// SeqCaddyHTTPS and SeqCaddyHTTP are the Caddy reach rules' sequences
	// (CADDY_REACH_SEQUENCE, line 624).
	SeqCaddyHTTPS = 990
	SeqCaddyHTTP  = 991
	// CaddySource is the Caddy reach rules' source (CADDY_REACH_SOURCE, line 625).
	CaddySource = "10.0.0.0/8"
	// MaxAccessTargets is how many named zones one access-to may list: the
	// pass rules occupy base+1 … base+88 (ZONE_RULE_PASS_MAX, line 610).
	MaxAccessTargets = 88
)

// RuleDescription is zone-manager's description of a zone's rule, its
// matching key: "Zone <zone> -> <target>" (get_firewall_rule_description,
// zone_manager.py:797). Targets are access-to entries, "gateway", "all",
// "internet", "caddy https" and "caddy http".
func RuleDescription(zone, target string) string { return "Zone " + zone + " -> " + target }

// DHCPDescription is zone-manager's description of a zone's DHCP range, its
// matching key (Zone.dhcp_description, zone_manager.py:235).
func DHCPDescription(zone string) string { return zone + " DHCP" }

// rulePrefix is what every rule of a zone's description starts with;
// zone-manager deletes a disabled zone's rules by it (line 1446).
func rulePrefix(zone string) string { return "Zone " + zone + " " }

// RuleBase is zone-manager's per-zone sequence base in band 5:
// 30000 + 100·(sha256(name)[0:8] big-endian mod 100) (_zone_rule_base,
// zone_manager.py:628).
func RuleBase(zone string) int {
	sum := sha256.Sum256([]byte(zone))
	return 30000 + 100*int(binary.BigEndian.Uint64(sum[:8])%100)
}

// Op is what a Change does.
type Op string

// Change operations.
const (
	Create Op = "create"
	Update Op = "update"
	Delete Op = "delete"
)

// Kind is the firewall object a Change concerns.
type Kind string

// Kinds of object, in creation order.
const (
	KindVLAN       Kind = "vlan"
	KindAssignment Kind = "interface"
	KindListen     Kind = "dnsmasq"
	KindRange      Kind = "dhcp"
	KindRule       Kind = "rule"
)

var kindOrder = []Kind{KindVLAN, KindAssignment, KindListen, KindRange, KindRule}

// FieldChange is one field of an update.
type FieldChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// Change is one create, update or delete.
type Change struct {
	Op   Op     `json:"op"`
	Kind Kind   `json:"kind"`
	Zone string `json:"zone,omitempty"` // "" for firewall-wide objects (dnsmasq listen list)
	// ID is the object's matching key: the description for ranges and
	// rules, the device for VLANs and assignments.
	ID string `json:"id"`
	// Key addresses the existing object (uuid, or ifname for assignments);
	// empty for creates.
	Key    string        `json:"key,omitempty"`
	Fields []FieldChange `json:"fields,omitempty"` // updates: what differs
	// IfaceZone names the zone whose interface (ifname) the object must be
	// bound to; resolved at apply time when the interface does not exist yet.
	IfaceZone string `json:"ifaceZone,omitempty"`

	VLAN       *VLAN       `json:"vlan,omitempty"`
	Assignment *Assignment `json:"assignment,omitempty"`
	Listen     []string    `json:"listen,omitempty"`
	Range      *Range      `json:"range,omitempty"`
	Rule       *Rule       `json:"rule,omitempty"`
}

// Changes is a plan: the ordered changes plus what the planner could not do.
type Changes struct {
	Changes []Change `json:"changes"`
	// Warnings name zones the planner skipped or objects it will not touch.
	Warnings []string `json:"warnings,omitempty"`
	// Ifaces maps zones to their existing interface ids (from Current).
	Ifaces map[string]string `json:"ifaces,omitempty"`
	// ZoneOrder is the zone order of the file, for grouping output.
	ZoneOrder []string `json:"-"`
	// Existing counts the objects tappaas manages that the firewall holds
	// now, for the deletion guard (Guard).
	Existing int `json:"-"`
}

// Empty reports whether there is nothing to do.
func (c *Changes) Empty() bool { return c == nil || len(c.Changes) == 0 }

// Count returns the number of creates, updates and deletes.
func (c *Changes) Count() (create, update, del int) {
	for _, ch := range c.Changes {
		switch ch.Op {
		case Create:
			create++
		case Update:
			update++
		case Delete:
			del++
		}
	}
	return
}

// Plan compares the desired state of f with cur and returns the changes. It
// never fails: zones it cannot plan (an invalid subnet) are skipped, left
// untouched and named in Warnings. Plan a file only after Validate reports
// no errors.
func Plan(f *File, cur Current) *Changes {
	p := newPlanner(f, cur)
	for _, z := range p.zones {
		switch {
		case z.State.Enabled():
			p.enabled(z)
		case z.State == Manual:
			p.caddy(z, p.manualIface(z))
		}
	}
	for _, z := range p.zones {
		if !z.State.Enabled() && z.State != Manual {
			p.teardown(z.Name, z)
		}
	}
	// A zone gone from the file is torn down like an Inactive one, found by
	// zone-manager's names (zone-manager itself leaves such objects behind).
	for _, zone := range p.removedZones() {
		p.teardown(zone, nil)
	}
	p.pruneStaleRules()
	p.listen()
	p.sort()
	return p.out
}

type planner struct {
	f      *File
	cur    Current
	out    *Changes
	zones  []*Zone          // first zone of each name, file order
	byName map[string]*Zone // exact name
	byFold map[string]*Zone // lower-case name (zone-manager's get_zone_by_name)
	rank   map[string]int
	dmz    *Zone

	vlans  map[int][]*VLAN          // by tag, lowest UUID first
	asgs   map[string][]*Assignment // by device
	ranges map[string][]*Range      // by description
	rules  map[string][]*Rule       // by description
	// zoneRules maps a zone name to the descriptions of its rules ("Zone
	// <z> …", zone-manager's naming).
	zoneRules map[string][]string
	// claimed current objects (by pointer): kept, updated or deleted.
	claimed map[any]bool
	// zones whose interface is (re)created now: its ifname is unknown.
	fresh map[string]bool
	// enabled zones the planner could not plan (invalid subnet): their
	// objects are left alone.
	skipped map[string]bool
	// slab holds the desired rules (one allocation for all).
	slab []Rule
}

func newPlanner(f *File, cur Current) *planner {
	n := 0
	for _, z := range f.Zones {
		n += len(z.AccessTo) + 10
	}
	objects := len(cur.VLANs) + len(cur.Assignments) + len(cur.Ranges) + len(cur.Rules)
	p := &planner{f: f, cur: cur, out: &Changes{Ifaces: map[string]string{}, Changes: make([]Change, 0, n)},
		byName: map[string]*Zone{}, byFold: map[string]*Zone{}, rank: map[string]int{},
		claimed: make(map[any]bool, objects), fresh: map[string]bool{}, skipped: map[string]bool{},
		slab: make([]Rule, 0, n)}
	for i, z := range f.Zones {
		p.out.ZoneOrder = append(p.out.ZoneOrder, z.Name)
		if _, dup := p.byName[z.Name]; dup {
			continue
		}
		p.byName[z.Name] = z
		p.rank[z.Name] = i
		p.zones = append(p.zones, z)
		if _, dup := p.byFold[strings.ToLower(z.Name)]; !dup {
			p.byFold[strings.ToLower(z.Name)] = z
		}
	}
	p.dmz = p.byFold["dmz"]
	// Several objects of one key: the lowest uuid (ifname) is the object,
	// the rest are duplicates.
	p.vlans = group(cur.VLANs, func(v *VLAN) int { return v.Tag }, func(v *VLAN) string { return v.UUID })
	p.asgs = group(cur.Assignments, func(a *Assignment) string { return a.Device }, func(a *Assignment) string { return a.Ifname })
	p.ranges = group(cur.Ranges, func(r *Range) string { return r.Description }, func(r *Range) string { return r.UUID })
	p.rules = group(cur.Rules, func(r *Rule) string { return r.Description }, func(r *Rule) string { return r.UUID })
	p.zoneRules = map[string][]string{}
	for d := range p.rules {
		if rest, ok := strings.CutPrefix(d, "Zone "); ok {
			if z, _, ok := strings.Cut(rest, " "); ok {
				p.zoneRules[z] = append(p.zoneRules[z], d)
			}
		}
	}
	return p
}

// group indexes records by key, each group in id order. Most keys have
// one record: those share one backing slice (no allocation per key).
func group[T any, K comparable](recs []T, key func(*T) K, id func(*T) string) map[K][]*T {
	slab := make([]*T, len(recs))
	m := make(map[K][]*T, len(recs))
	var dup []K
	for i := range recs {
		k := key(&recs[i])
		slab[i] = &recs[i]
		if g, ok := m[k]; ok {
			m[k] = append(g, slab[i])
			dup = append(dup, k)
		} else {
			m[k] = slab[i : i+1 : i+1]
		}
	}
	for _, k := range dup {
		slices.SortFunc(m[k], func(a, b *T) int { return strings.Compare(id(a), id(b)) })
	}
	return m
}

func (p *planner) warn(format string, a ...any) {
	p.out.Warnings = append(p.out.Warnings, fmt.Sprintf(format, a...))
}

func (p *planner) add(c Change) { p.out.Changes = append(p.out.Changes, c) }

// del plans the deletion of a current object once.
func (p *planner) del(obj any, c Change) {
	if p.claimed[obj] {
		return
	}
	p.claimed[obj] = true
	c.Op = Delete
	p.add(c)
}

// enabled plans an Active/Mandatory zone: for a tagged zone its VLAN,
// interface and DHCP range, then its rules.
func (p *planner) enabled(z *Zone) {
	pfx, ok := z.Prefix()
	gw, okG := z.Gateway()
	if !ok || !okG || ValidateCIDR(z.IP) != nil {
		p.warn("zone %s: skipped, ip %q is not a usable IPv4 network", z.Name, z.IP)
		p.skipped[z.Name] = true
		return
	}
	iface := strings.ToLower(z.Bridge) // untagged: the bridge's interface (get_zone_interface)
	if z.Tagged() {
		iface = p.network(z, pfx, gw)
	} else {
		p.out.Ifaces[z.Name] = iface
	}
	p.caddy(z, iface) // 990/991 come before band 5: emitted in plan order
	p.accessRules(z, iface, gw)
}

// network plans the VLAN, the interface assignment and the DHCP range of a
// tagged zone and returns its interface ("" when it is (re)created now).
func (p *planner) network(z *Zone, pfx netip.Prefix, gw netip.Addr) string {
	want := VLAN{Parent: ParentOf(z.Bridge), Tag: z.VLANTag, Device: z.VLANDevice(), Descr: z.Description}
	cur := p.vlanOf(z)
	if cur != nil {
		p.claimed[cur] = true
	}
	switch {
	case cur == nil:
		p.add(Change{Op: Create, Kind: KindVLAN, Zone: z.Name, ID: want.Device, VLAN: &want})
	default:
		if cur.Parent != want.Parent {
			// Neither tool moves a VLAN: its device name stays taken until
			// it is gone, and rules on its interface must move first.
			p.warn("zone %s: VLAN %d stays on %s although bridge %s means %s; to move it, set the zone Inactive, apply, then Active again",
				z.Name, cur.Tag, cur.Parent, z.Bridge, want.Parent)
		}
		want.Device = cur.Device // adopted as it is, like zone-manager
		if cur.Descr != want.Descr {
			w := *cur
			w.Descr = want.Descr
			p.add(Change{Op: Update, Kind: KindVLAN, Zone: z.Name, ID: cur.Device, Key: cur.UUID, VLAN: &w,
				Fields: []FieldChange{{Field: "descr", From: cur.Descr, To: want.Descr}}})
		}
	}

	as := Assignment{Device: want.Device, Descr: z.Name, Enabled: true, IPv4: netip.PrefixFrom(gw, pfx.Bits())}
	iface := ""
	var a *Assignment
	if cur != nil {
		if l := p.asgs[want.Device]; len(l) > 0 {
			a = l[0]
			p.claimed[a] = true
		}
	}
	switch {
	case a == nil:
		p.add(Change{Op: Create, Kind: KindAssignment, Zone: z.Name, ID: as.Device, Assignment: &as})
		p.fresh[z.Name] = true
	case a.Descr != as.Descr || a.Enabled != as.Enabled || a.IPv4 != as.IPv4:
		p.add(Change{Op: Update, Kind: KindAssignment, Zone: z.Name, ID: as.Device, Key: a.Ifname, Assignment: &as,
			Fields: diffFields([]string{"descr", "enabled", "ipv4"},
				[]string{a.Descr, strconv.FormatBool(a.Enabled), prefixString(a.IPv4)},
				[]string{as.Descr, strconv.FormatBool(as.Enabled), prefixString(as.IPv4)})})
		p.fresh[z.Name] = true
	default:
		iface = a.Ifname
		p.out.Ifaces[z.Name] = iface
	}

	if first, last, ok := z.DHCPRange(); ok {
		r := Range{Interface: iface, StartAddr: first.String(), EndAddr: last.String(), Domain: z.Domain(), LeaseTime: LeaseTime,
			Description: DHCPDescription(z.Name)}
		p.want(z.Name, iface, KindRange, r.Description, &r, nil)
	} else {
		p.warn("zone %s: no DHCP range, the offsets do not fit %s", z.Name, z.IP)
	}
	return iface
}

// vlanOf is a zone's VLAN: zone-manager matches it by tag
// (configure_vlans, line 954); of several with the tag (one per parent at
// most) the one on the zone's parent.
func (p *planner) vlanOf(z *Zone) *VLAN {
	var cur *VLAN
	for _, v := range p.vlans[z.VLANTag] {
		if cur == nil || v.Parent == ParentOf(z.Bridge) && cur.Parent != ParentOf(z.Bridge) {
			cur = v
		}
	}
	return cur
}

// deleteVLAN deletes a VLAN and the interface assigned to it.
func (p *planner) deleteVLAN(zone string, v *VLAN) {
	for _, a := range p.asgs[v.Device] {
		p.del(a, Change{Kind: KindAssignment, Zone: zone, ID: a.Device, Key: a.Ifname, Assignment: a})
	}
	p.del(v, Change{Kind: KindVLAN, Zone: zone, ID: v.Device, Key: v.UUID, VLAN: v})
}

// want plans one range or rule matched by its description: create it, or
// claim the existing one, update what differs and delete duplicates.
func (p *planner) want(zone, iface string, k Kind, id string, r *Range, ru *Rule) {
	c := Change{Kind: k, Zone: zone, ID: id, Range: r, Rule: ru}
	if iface == "" {
		c.IfaceZone = zone
	}
	var key string
	var fields []FieldChange
	found := false
	switch k {
	case KindRange:
		if l := p.ranges[id]; len(l) > 0 {
			o := l[0]
			found, key = true, o.UUID
			p.claimed[o] = true
			for _, d := range l[1:] {
				p.del(d, Change{Kind: k, Zone: zone, ID: id, Key: d.UUID, Range: d})
			}
			fields = diffFields([]string{"interface", "start", "end", "domain", "leaseTime", "description"},
				[]string{o.Interface, o.StartAddr, o.EndAddr, o.Domain, o.LeaseTime, o.Description},
				[]string{ifaceOr(iface, c.IfaceZone), r.StartAddr, r.EndAddr, r.Domain, r.LeaseTime, r.Description})
		}
	case KindRule:
		if l := p.rules[id]; len(l) > 0 {
			o := l[0]
			found, key = true, o.UUID
			p.claimed[o] = true
			for _, d := range l[1:] {
				p.del(d, Change{Kind: k, Zone: zone, ID: id, Key: d.UUID, Rule: d})
			}
			fields = diffRule(*o, *ru, c.IfaceZone)
		}
	}
	switch {
	case !found:
		c.Op = Create
	case len(fields) > 0:
		c.Op, c.Key, c.Fields = Update, key, fields
	default:
		return // in sync
	}
	p.add(c)
}

// rule plans one filter rule of zone z on iface, as _create_or_skip_rule
// creates it (zone_manager.py:1367: in, inet, quick, logged, enabled).
func (p *planner) rule(z *Zone, iface, descr string, seq int, action, src, dst, proto, port string) {
	p.slab = append(p.slab, Rule{Enabled: true, Sequence: seq, Action: action, Quick: true, Interface: iface,
		Direction: "in", IPProtocol: "inet", Protocol: proto, SourceNet: src, DestinationNet: dst,
		DestinationPort: port, Log: true, Description: descr})
	r := &p.slab[len(p.slab)-1]
	p.want(z.Name, iface, KindRule, r.Description, nil, r)
}

var rfc1918 = []struct{ label, net string }{
	{"rfc1918-10", "10.0.0.0/8"}, {"rfc1918-172", "172.16.0.0/12"}, {"rfc1918-192", "192.168.0.0/16"},
}

// accessRules plans the band-5 rules of access-to as configure_firewall_rules
// does (zone_manager.py:1488-1554): "all" → one pass to any at base; else a
// pass to the gateway at base, one pass per named target at base+1+i in
// list order, with "internet" the RFC 1918 blocks at base+90..92 and a pass
// to any at base+99. An empty access-to gets no rules.
func (p *planner) accessRules(z *Zone, iface string, gw netip.Addr) {
	if len(z.AccessTo) == 0 {
		return
	}
	base := RuleBase(z.Name)
	var named []string
	all, internet := false, false
	for _, t := range z.AccessTo {
		switch strings.ToLower(t) {
		case KeywordAll:
			all = true
		case KeywordInternet:
			internet = true
		default:
			named = append(named, t)
		}
	}
	if all {
		p.rule(z, iface, RuleDescription(z.Name, "all"), base, "pass", z.IP, "any", "any", "")
		return
	}
	p.rule(z, iface, RuleDescription(z.Name, "gateway"), base, "pass", z.IP, gw.String()+"/32", "any", "")
	for i, t := range named[:min(len(named), MaxAccessTargets)] {
		tz := p.byFold[strings.ToLower(t)]
		if tz == nil {
			p.warn("zone %s: access-to %q is not a zone, no rule", z.Name, t)
			continue
		}
		p.rule(z, iface, RuleDescription(z.Name, t), base+1+i, "pass", z.IP, tz.IP, "any", "")
	}
	if len(named) > MaxAccessTargets {
		p.warn("zone %s: access-to lists %d zones, only the first %d get a rule", z.Name, len(named), MaxAccessTargets)
	}
	if internet {
		for i, b := range rfc1918 {
			// zone-manager names these "Zone <z> block <label>" (line 1540).
			p.rule(z, iface, rulePrefix(z.Name)+"block "+b.label, base+90+i, "block", z.IP, b.net, "any", "")
		}
		p.rule(z, iface, RuleDescription(z.Name, "internet"), base+99, "pass", z.IP, "any", "any", "")
	}
}

// manualIface is a Manual zone's interface for its Caddy rules, as
// get_zone_interface finds it (zone_manager.py:731): the bridge when
// untagged, else the assigned VLAN with the zone's tag or label.
func (p *planner) manualIface(z *Zone) string {
	if !z.Tagged() {
		return strings.ToLower(z.Bridge)
	}
	for _, v := range p.vlans[z.VLANTag] {
		if l := p.asgs[v.Device]; len(l) > 0 {
			return l[0].Ifname
		}
	}
	for _, a := range p.cur.Assignments {
		if strings.EqualFold(a.Descr, z.Name) && strings.HasPrefix(a.Device, "vlan") {
			return a.Ifname
		}
	}
	return ""
}

// caddy plans the two rules that let a zone with internet or all in its
// access-to reach the reverse proxy on the gateway of the zone named dmz
// (_configure_caddy_reachability, zone_manager.py:1595-1661).
func (p *planner) caddy(z *Zone, iface string) {
	if p.dmz == nil || p.dmz == z || !hasInternet(z) {
		return
	}
	if z.State == Manual && iface == "" {
		return // no interface to bind to (zone-manager skips it too)
	}
	gw, ok := p.dmz.Gateway()
	if !ok {
		p.warn("zone %s: no Caddy reach rules, zone %s has no usable ip %q", z.Name, p.dmz.Name, p.dmz.IP)
		return
	}
	dst := gw.String() + "/32"
	p.rule(z, iface, RuleDescription(z.Name, "caddy https"), SeqCaddyHTTPS, "pass", CaddySource, dst, "TCP", "443")
	p.rule(z, iface, RuleDescription(z.Name, "caddy http"), SeqCaddyHTTP, "pass", CaddySource, dst, "TCP", "80")
}

func hasInternet(z *Zone) bool {
	return slices.ContainsFunc(z.AccessTo, func(t string) bool {
		return strings.EqualFold(t, KeywordInternet) || strings.EqualFold(t, KeywordAll)
	})
}

// teardown deletes a zone's objects that nothing claimed: its rules (by
// zone-manager's "Zone <z> " prefix), and for a tagged zone its DHCP range
// and VLAN with its interface. An in-file zone's (z) VLAN is found by tag,
// as zone-manager does. A zone gone from the file (z nil) was tagged when
// an interface on a VLAN device carries its label; only then do its VLAN,
// interface and range go (the base configuration's mgmt pool on lan stays).
func (p *planner) teardown(zone string, z *Zone) {
	for _, d := range p.zoneRules[zone] {
		for _, r := range p.rules[d] {
			p.del(r, Change{Kind: KindRule, Zone: zone, ID: d, Key: r.UUID, Rule: r})
		}
	}
	var vlans []*VLAN
	tagged := false
	if z != nil {
		if tagged = z.Tagged(); tagged {
			if v := p.vlanOf(z); v != nil {
				vlans = append(vlans, v)
			}
		}
	} else {
		for i := range p.cur.Assignments {
			a := &p.cur.Assignments[i]
			for j := range p.cur.VLANs {
				if v := &p.cur.VLANs[j]; a.Descr == zone && v.Device == a.Device && !p.claimed[a] {
					vlans = append(vlans, v)
				}
			}
		}
		tagged = len(vlans) > 0
	}
	if !tagged {
		return
	}
	for _, r := range p.ranges[DHCPDescription(zone)] {
		p.del(r, Change{Kind: KindRange, Zone: zone, ID: r.Description, Key: r.UUID, Range: r})
	}
	for _, v := range vlans {
		if !p.claimed[v] {
			p.deleteVLAN(zone, v)
		}
	}
}

// removedZones names the zones the firewall holds objects of (rules "Zone
// <z> …", ranges "<z> DHCP") that are not in the file.
func (p *planner) removedZones() []string {
	seen := map[string]bool{}
	note := func(z string) {
		if _, known := p.byName[z]; !known && ValidateName(z) == nil {
			seen[z] = true
		}
	}
	for z := range p.zoneRules {
		note(z)
	}
	for d := range p.ranges {
		if z, ok := strings.CutSuffix(d, " DHCP"); ok {
			note(z)
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// pruneStaleRules deletes the rules of planned zones that the zones no
// longer want (an access-to entry removed; zone-manager never does this),
// and stale Caddy reach rules of Manual zones.
func (p *planner) pruneStaleRules() {
	for _, z := range p.zones {
		if !z.State.Enabled() && z.State != Manual {
			continue
		}
		if z.State.Enabled() && p.skipped[z.Name] {
			continue
		}
		for _, d := range p.zoneRules[z.Name] {
			if z.State == Manual && d != RuleDescription(z.Name, "caddy https") && d != RuleDescription(z.Name, "caddy http") {
				continue
			}
			for _, r := range p.rules[d] {
				p.del(r, Change{Kind: KindRule, Zone: z.Name, ID: d, Key: r.UUID, Rule: r})
			}
		}
	}
}

// listen keeps dnsmasq listening on lan and every enabled zone interface,
// as update_dnsmasq_interfaces sets it (zone_manager.py:1663): entries are
// added before ranges are created; interfaces of deleted assignments are
// removed after their ranges are gone. Other entries stay.
func (p *planner) listen() {
	cur := p.cur.DnsmasqInterfaces
	gone, moved := map[string]bool{}, map[string]bool{}
	var add []string
	for _, c := range p.out.Changes {
		if c.Kind != KindAssignment {
			continue
		}
		switch c.Op {
		case Create:
			add = append(add, "@"+c.Zone)
		case Update:
			add = append(add, "@"+c.Zone)
			moved[c.Key] = true // gone once re-assigned under a new ifname
		case Delete:
			gone[c.Key] = true
		}
	}
	for _, z := range p.zones {
		if i, ok := p.out.Ifaces[z.Name]; ok && z.Tagged() && !p.fresh[z.Name] && !slices.Contains(cur, i) {
			add = append(add, "@"+z.Name)
		}
	}
	slices.SortFunc(add, func(a, b string) int { return cmp.Compare(p.rank[a[1:]], p.rank[b[1:]]) })
	add = slices.Compact(add)
	var list []string
	for _, i := range cur {
		if !moved[i] {
			list = append(list, i)
		}
	}
	if !slices.Contains(list, "lan") {
		list = append([]string{"lan"}, list...)
	}
	list = append(list, add...)
	if !slices.Equal(list, cur) {
		p.add(Change{Op: Update, Kind: KindListen, ID: "dnsmasq:interfaces", Listen: list,
			Fields: []FieldChange{{Field: "interface", From: strings.Join(cur, ","), To: strings.Join(list, ",")}}})
	}
	if len(gone) > 0 {
		final := slices.DeleteFunc(slices.Clone(list), func(i string) bool { return gone[i] })
		if len(final) != len(list) {
			p.add(Change{Op: Delete, Kind: KindListen, ID: "dnsmasq:interfaces", Listen: final,
				Fields: []FieldChange{{Field: "interface", From: strings.Join(list, ","), To: strings.Join(final, ",")}}})
		}
	}
}

// phase is a change's place in the plan: creates and updates in kind order,
// then deletes in reverse kind order.
func phase(c *Change) int {
	k := slices.Index(kindOrder, c.Kind)
	if c.Op == Delete {
		return 2*len(kindOrder) - 1 - k
	}
	return k
}

// sort puts the plan in order: phase, zone (file order, then zones gone
// from the file by name), rule sequence, id, key. The planner emits each
// phase nearly in order already, so a phase is sorted only when it is not.
func (p *planner) sort() {
	type key struct{ rank, seq int }
	cs := p.out.Changes
	keys := make([]key, len(cs))
	buckets := make([][]int, 2*len(kindOrder))
	for i := range cs {
		c := &cs[i]
		k := key{rank: len(p.rank)}
		if r, ok := p.rank[c.Zone]; ok {
			k.rank = r
		}
		if c.Rule != nil {
			k.seq = c.Rule.Sequence
		}
		keys[i] = k
		b := phase(c)
		buckets[b] = append(buckets[b], i)
	}
	less := func(i, j int) int {
		a, b := &cs[i], &cs[j]
		return cmp.Or(cmp.Compare(keys[i].rank, keys[j].rank), strings.Compare(a.Zone, b.Zone),
			cmp.Compare(keys[i].seq, keys[j].seq), strings.Compare(a.ID, b.ID), strings.Compare(a.Key, b.Key))
	}
	out := make([]Change, 0, len(cs))
	for _, b := range buckets {
		if !slices.IsSortedFunc(b, less) {
			slices.SortStableFunc(b, less)
		}
		for _, i := range b {
			out = append(out, cs[i])
		}
	}
	p.out.Changes = out
	for _, mine := range p.claimed {
		if mine {
			p.out.Existing++
		}
	}
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

func ifaceOr(iface, zone string) string {
	if iface == "" && zone != "" {
		return "@" + zone
	}
	return iface
}

func diffFields(names, from, to []string) []FieldChange {
	var out []FieldChange
	for i := range names {
		if from[i] != to[i] {
			out = append(out, FieldChange{Field: names[i], From: from[i], To: to[i]})
		}
	}
	return out
}

func diffRule(o, d Rule, ifaceZone string) []FieldChange {
	// The fields compared, normalised; most rules are in sync.
	norm := func(r Rule) Rule {
		return Rule{Enabled: r.Enabled, Sequence: r.Sequence, Action: r.Action, Quick: r.Quick, Interface: r.Interface,
			Direction: r.Direction, IPProtocol: r.IPProtocol, Protocol: strings.ToLower(r.Protocol), SourceNet: r.SourceNet,
			DestinationNet: r.DestinationNet, DestinationPort: r.DestinationPort, Log: r.Log, Description: r.Description}
	}
	d.Interface = ifaceOr(d.Interface, ifaceZone)
	if norm(o) == norm(d) {
		return nil
	}
	b := strconv.FormatBool
	return diffFields(
		[]string{"enabled", "sequence", "action", "quick", "interface", "direction", "ipprotocol", "protocol", "source", "destination", "destinationPort", "log", "description"},
		[]string{b(o.Enabled), strconv.Itoa(o.Sequence), o.Action, b(o.Quick), o.Interface, o.Direction, o.IPProtocol, strings.ToLower(o.Protocol), o.SourceNet, o.DestinationNet, o.DestinationPort, b(o.Log), o.Description},
		[]string{b(d.Enabled), strconv.Itoa(d.Sequence), d.Action, b(d.Quick), d.Interface, d.Direction, d.IPProtocol, strings.ToLower(d.Protocol), d.SourceNet, d.DestinationNet, d.DestinationPort, b(d.Log), d.Description})
}
