package zones

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// OwnerPrefix starts the description of every firewall object tappaas owns.
const OwnerPrefix = "tappaas:zone:"

// Parents maps a zone's bridge to the firewall device its VLANs sit on
// (upstream: lan→vtnet0, wan→vtnet1, §1.2; opt1/opt2 extend the pattern).
var Parents = map[string]string{"lan": "vtnet0", "wan": "vtnet1", "opt1": "vtnet2", "opt2": "vtnet3"}

// Lease time of planned DHCP ranges in seconds (zone_manager.py configure_dhcp).
const LeaseTime = "86400"

// Op is what a Change does.
type Op string

// Change operations.
const (
	Create Op = "create"
	Update Op = "update"
	Delete Op = "delete"
)

// Kind is the firewall object a Change concerns, in dependency order.
type Kind string

// Kinds of object, in creation order.
const (
	KindVLAN       Kind = "vlan"
	KindAssignment Kind = "interface"
	KindListen     Kind = "dnsmasq"
	KindRange      Kind = "dhcp"
	KindHost       Kind = "dns"
	KindRule       Kind = "rule"
)

var kindOrder = map[Kind]int{KindVLAN: 0, KindAssignment: 1, KindListen: 2, KindRange: 3, KindHost: 4, KindRule: 5}

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
	// ID is the object's identity: the owner description part for owned
	// objects, the device for assignments.
	ID string `json:"id"`
	// Key addresses the existing object (uuid, or ifname for assignments);
	// empty for creates.
	Key    string        `json:"key,omitempty"`
	Fields []FieldChange `json:"fields,omitempty"` // updates: what differs
	// IfaceZone names the zone whose interface (ifname) the object must be
	// bound to; resolved at apply time when the interface does not exist yet.
	IfaceZone string `json:"ifaceZone,omitempty"`

	VLAN       *VLAN         `json:"vlan,omitempty"`
	Assignment *Assignment   `json:"assignment,omitempty"`
	Listen     []string      `json:"listen,omitempty"`
	Range      *Range        `json:"range,omitempty"`
	Host       *HostOverride `json:"host,omitempty"`
	Rule       *Rule         `json:"rule,omitempty"`
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

// Identity returns the owner identity of a description ("tappaas:zone:srv:vlan"
// of "tappaas:zone:srv:vlan | …") and the zone, or ok=false for objects
// tappaas does not own.
func Identity(descr string) (id, zone string, ok bool) {
	if !strings.HasPrefix(descr, OwnerPrefix) {
		return "", "", false
	}
	id = descr
	if i := strings.Index(id, " | "); i >= 0 {
		id = id[:i]
	}
	id = strings.TrimSpace(id)
	rest := id[len(OwnerPrefix):]
	i := strings.IndexByte(rest, ':')
	if i <= 0 {
		return "", "", false
	}
	return id, rest[:i], true
}

// RuleBase is upstream's per-zone sequence base in band 5:
// 30000 + 100·(sha256(name)[0:8] big-endian mod 100) (§2.5, vectors §4.5).
func RuleBase(zone string) int {
	sum := sha256.Sum256([]byte(zone))
	return 30000 + 100*int(binary.BigEndian.Uint64(sum[:8])%100)
}

// Sequences of the Caddy reach rules (band 1, §2.5).
const (
	SeqCaddyHTTPS = 990
	SeqCaddyHTTP  = 991
)

// Plan compares the desired state of f with cur and returns the changes. It
// never fails: zones it cannot plan (invalid subnet, unknown bridge, a VLAN
// tag held by an object tappaas does not own) are skipped and named in
// Warnings. Plan a file only after Validate reports no errors.
func Plan(f *File, cur Current) *Changes {
	p := &planner{f: f, cur: cur, out: &Changes{Ifaces: map[string]string{}}}
	p.run()
	return p.out
}

type planner struct {
	slab   []Rule
	f      *File
	byName map[string]*Zone
	cur    Current
	out    *Changes
	order  map[string]int
	// zones whose interface will be (re)created: their ifname is unknown now
	fresh map[string]bool
}

func (p *planner) warn(format string, a ...any) {
	p.out.Warnings = append(p.out.Warnings, fmt.Sprintf(format, a...))
}

func (p *planner) run() {
	p.order = map[string]int{}
	p.fresh = map[string]bool{}
	p.byName = make(map[string]*Zone, len(p.f.Zones))
	for i, z := range p.f.Zones {
		if _, dup := p.byName[z.Name]; !dup {
			p.byName[z.Name] = z
		}
		p.order[z.Name] = i
		p.out.ZoneOrder = append(p.out.ZoneOrder, z.Name)
	}

	// Owned VLANs by zone; foreign VLANs by parent/tag.
	ownedVLAN := map[string][]VLAN{}
	foreignTag := map[string]VLAN{}
	vlanZoneByDevice := map[string]string{}
	for _, v := range p.cur.VLANs {
		if _, zone, ok := Identity(v.Descr); ok {
			ownedVLAN[zone] = append(ownedVLAN[zone], v)
			vlanZoneByDevice[v.Device] = zone
		} else {
			foreignTag[v.Parent+"/"+strconv.Itoa(v.Tag)] = v
		}
	}
	assignByDevice := map[string]Assignment{}
	for _, a := range p.cur.Assignments {
		assignByDevice[a.Device] = a
	}

	n := 0
	for _, z := range p.f.Zones {
		n += len(z.AccessTo) + 10
	}
	want := make([]Change, 0, n)
	var dmzGW netip.Addr
	if dz := p.dmzZone(); dz != nil {
		dmzGW, _ = dz.Gateway()
	}
	for _, z := range p.f.Zones {
		pfx, okP := z.Prefix()
		gw, okG := z.Gateway()
		switch {
		case z.State.Enabled():
		case z.State == Manual:
			want = append(want, p.caddyRules(z, assignByDevice, dmzGW)...)
			continue
		default:
			continue
		}
		if !okP || !okG || ValidateCIDR(z.IP) != nil {
			p.warn("zone %s: skipped, ip %q is not a usable IPv4 network", z.Name, z.IP)
			continue
		}
		iface := ""
		if z.Tagged() {
			parent, ok := Parents[z.Bridge]
			if !ok {
				p.warn("zone %s: skipped, bridge %q has no VLAN parent device", z.Name, z.Bridge)
				continue
			}
			if fv, clash := foreignTag[parent+"/"+strconv.Itoa(z.VLANTag)]; clash {
				p.warn("zone %s: skipped, VLAN %d on %s already exists and is not owned by tappaas (description %q); remove it or mark it %s%s:vlan", z.Name, z.VLANTag, parent, fv.Descr, OwnerPrefix, z.Name)
				continue
			}
			vlan := &VLAN{Parent: parent, Tag: z.VLANTag, Device: z.VLANDevice(), Descr: human(OwnerPrefix+z.Name+":vlan", z.Description)}
			want = append(want, Change{Kind: KindVLAN, Zone: z.Name, ID: OwnerPrefix + z.Name + ":vlan", VLAN: vlan})
			as := &Assignment{Device: z.VLANDevice(), Descr: z.Name, Enabled: true, IPv4: netip.PrefixFrom(gw, pfx.Bits())}
			want = append(want, Change{Kind: KindAssignment, Zone: z.Name, ID: as.Device, Assignment: as})
			if a, ok := assignByDevice[as.Device]; ok && vlanZoneByDevice[as.Device] == z.Name && sameAssignment(a, *as) {
				iface = a.Ifname
				p.out.Ifaces[z.Name] = a.Ifname
			} else {
				p.fresh[z.Name] = true
			}
			first, last, ok := z.DHCPRange()
			if ok {
				r := &Range{Start: first.String(), End: last.String(), Domain: z.Domain(), LeaseTime: LeaseTime,
					Description: human(OwnerPrefix+z.Name+":dhcp", "Zone "+z.Name+" DHCP")}
				want = append(want, Change{Kind: KindRange, Zone: z.Name, ID: OwnerPrefix + z.Name + ":dhcp", IfaceZone: z.Name, Range: r})
			} else {
				p.warn("zone %s: no DHCP range, the offsets do not fit %s", z.Name, z.IP)
			}
			h := &HostOverride{Enabled: true, Hostname: "firewall", Domain: z.Domain(), RR: "A", Server: gw.String(),
				Description: human(OwnerPrefix+z.Name+":dns", "Zone "+z.Name+" gateway")}
			want = append(want, Change{Kind: KindHost, Zone: z.Name, ID: OwnerPrefix + z.Name + ":dns", Host: h})
		} else {
			if z.Type == "Overlay" {
				continue
			}
			iface = z.Bridge
			p.out.Ifaces[z.Name] = iface
		}
		want = append(want, p.caddyRules(z, assignByDevice, dmzGW)...)
		want = p.zoneRules(want, z, iface)
	}
	p.diff(want, ownedVLAN, vlanZoneByDevice, assignByDevice)
}

func human(id, text string) string {
	if text == "" {
		return id
	}
	return id + " | " + text
}

func sameAssignment(a, b Assignment) bool {
	return a.Descr == b.Descr && a.Enabled == b.Enabled && a.IPv4 == b.IPv4
}

// dmzZone is the zone named dmz, else the first zone of type DMZ.
func (p *planner) dmzZone() *Zone {
	if z := p.byName["dmz"]; z != nil {
		return z
	}
	for _, z := range p.f.Zones {
		if z.Type == "DMZ" {
			return z
		}
	}
	return nil
}

func (p *planner) rule(z *Zone, iface, suffix, text string, seq int, action, proto, dst, port string) Change {
	// One allocation for description and identity (a prefix of it), and
	// rules come from a per-planner slab: large plans allocate little.
	desc := OwnerPrefix + z.Name + ":" + suffix + " | " + text
	id := desc[:len(OwnerPrefix)+len(z.Name)+1+len(suffix)]
	if len(p.slab) == cap(p.slab) {
		p.slab = make([]Rule, 0, 256)
	}
	p.slab = append(p.slab, Rule{Enabled: true, Sequence: seq, Action: action, Quick: true, Interface: iface, Direction: "in",
		IPProtocol: "inet", Protocol: proto, SourceNet: z.IP, DestinationNet: dst, DestinationPort: port, Log: true,
		Description: desc})
	d := Change{Kind: KindRule, Zone: z.Name, ID: id, Rule: &p.slab[len(p.slab)-1]}
	if iface == "" {
		d.IfaceZone = z.Name
	}
	return d
}

// zoneRules appends the band-5 rules of access-to (§2.5) to out.
func (p *planner) zoneRules(out []Change, z *Zone, iface string) []Change {
	if len(z.AccessTo) == 0 {
		return out // isolated: no rules at all, as upstream
	}
	base := RuleBase(z.Name)
	name := "Zone " + z.Name
	if z.HasAccess(KeywordAll) {
		return append(out, p.rule(z, iface, "all", name+" -> all", base, "pass", "any", "any", ""))
	}
	gw, _ := z.Gateway()
	out = append(out, p.rule(z, iface, "gateway", name+" -> gateway", base, "pass", "any", gw.String()+"/32", ""))
	seen := make(map[string]bool, len(z.AccessTo))
	// Targets in identity order, which is the plan's order.
	targets := slices.Clone(z.AccessTo)
	slices.Sort(targets)
	for _, t := range targets {
		if t == KeywordInternet || seen[t] || t == z.Name {
			continue
		}
		seen[t] = true
		tz := p.byName[t]
		if tz == nil {
			p.warn("zone %s: access-to %q is not a zone, no rule", z.Name, t)
			continue
		}
		if ValidateCIDR(tz.IP) != nil {
			p.warn("zone %s: access-to %q has no usable subnet, no rule", z.Name, t)
			continue
		}
		out = append(out, p.rule(z, iface, "to:"+t, name+" -> "+t, base+1, "pass", "any", tz.IP, ""))
	}
	if z.HasAccess(KeywordInternet) {
		for i, b := range []struct{ suffix, net string }{{"10", "10.0.0.0/8"}, {"172", "172.16.0.0/12"}, {"192", "192.168.0.0/16"}} {
			out = append(out, p.rule(z, iface, "block-rfc1918-"+b.suffix, name+" block rfc1918-"+b.suffix, base+90+i, "block", "any", b.net, ""))
		}
		out = append(out, p.rule(z, iface, "internet", name+" -> internet", base+99, "pass", "any", "any", ""))
	}
	return out
}

// caddyRules lets a zone with internet access reach the reverse proxy on the
// DMZ gateway (band 1, §2.5). Manual zones get them on their existing
// interface (the bridge when untagged).
func (p *planner) caddyRules(z *Zone, assignByDevice map[string]Assignment, dmzGW netip.Addr) []Change {
	if !dmzGW.IsValid() || z.Type == "DMZ" || z.Type == "Overlay" || !(z.HasAccess(KeywordInternet) || z.HasAccess(KeywordAll)) {
		return nil
	}
	if d := p.dmzZone(); d != nil && d.Name == z.Name {
		return nil
	}
	if ValidateCIDR(z.IP) != nil {
		return nil
	}
	iface := ""
	switch {
	case !z.Tagged():
		iface = z.Bridge
	case z.State == Manual:
		a, ok := assignByDevice[z.VLANDevice()]
		if !ok {
			return nil // a Manual VLAN zone without an interface: nothing to bind to
		}
		iface = a.Ifname
	default:
		iface = p.out.Ifaces[z.Name] // "" → resolved at apply
	}
	dst := dmzGW.String() + "/32"
	name := "Zone " + z.Name
	return []Change{
		p.rule(z, iface, "caddy-https", name+" -> caddy https", SeqCaddyHTTPS, "pass", "TCP", dst, "443"),
		p.rule(z, iface, "caddy-http", name+" -> caddy http", SeqCaddyHTTP, "pass", "TCP", dst, "80"),
	}
}

func (p *planner) zoneRank(zone string) int {
	if i, ok := p.order[zone]; ok {
		return i
	}
	return len(p.order)
}

// diff turns desired objects and the owned current ones into changes.
func (p *planner) diff(want []Change, ownedVLAN map[string][]VLAN, vlanZoneByDevice map[string]string, assignByDevice map[string]Assignment) {
	type curObj struct {
		key  string // uuid or ifname
		zone string
		vlan *VLAN
		as   *Assignment
		rng  *Range
		host *HostOverride
		rule *Rule
	}
	cur := map[Kind]map[string][]curObj{}
	add := func(k Kind, id string, o curObj) {
		if cur[k] == nil {
			cur[k] = map[string][]curObj{}
		}
		cur[k][id] = append(cur[k][id], o)
	}
	for _, vs := range ownedVLAN {
		for i := range vs {
			id, zone, _ := Identity(vs[i].Descr)
			add(KindVLAN, id, curObj{key: vs[i].UUID, zone: zone, vlan: &vs[i]})
		}
	}
	for i := range p.cur.Assignments {
		a := &p.cur.Assignments[i]
		if zone, ok := vlanZoneByDevice[a.Device]; ok {
			add(KindAssignment, a.Device, curObj{key: a.Ifname, zone: zone, as: a})
		}
	}
	for i := range p.cur.Ranges {
		if id, zone, ok := Identity(p.cur.Ranges[i].Description); ok {
			add(KindRange, id, curObj{key: p.cur.Ranges[i].UUID, zone: zone, rng: &p.cur.Ranges[i]})
		}
	}
	for i := range p.cur.HostOverrides {
		if id, zone, ok := Identity(p.cur.HostOverrides[i].Description); ok {
			add(KindHost, id, curObj{key: p.cur.HostOverrides[i].UUID, zone: zone, host: &p.cur.HostOverrides[i]})
		}
	}
	for i := range p.cur.Rules {
		if id, zone, ok := Identity(p.cur.Rules[i].Description); ok {
			add(KindRule, id, curObj{key: p.cur.Rules[i].UUID, zone: zone, rule: &p.cur.Rules[i]})
		}
	}
	// Duplicates: keep the lowest key, delete the rest.
	for _, m := range cur {
		for id, objs := range m {
			slices.SortFunc(objs, func(a, b curObj) int { return cmp.Compare(a.key, b.key) })
			m[id] = objs
		}
	}

	// Owned VLANs of zones that want none, by parent/tag (rename adoption).
	wantsVLAN := map[string]bool{}
	for i := range want {
		if want[i].Kind == KindVLAN {
			wantsVLAN[want[i].Zone] = true
		}
	}
	adoptable := map[string]curObj{}
	for _, objs := range cur[KindVLAN] {
		for _, o := range objs {
			if !wantsVLAN[o.zone] {
				adoptable[o.vlan.Parent+"/"+strconv.Itoa(o.vlan.Tag)] = o
			}
		}
	}
	// want is rewritten in place: kept changes are compacted to its front;
	// deletes found on the way go to extra.
	var extra []Change
	kept := 0
	matched := map[Kind]map[string]bool{}
	mark := func(k Kind, id string) {
		if matched[k] == nil {
			matched[k] = map[string]bool{}
		}
		matched[k][id] = true
	}
	for i := range want {
		ch := &want[i]
		iface := ""
		if ch.IfaceZone != "" && !p.fresh[ch.IfaceZone] {
			iface = p.out.Ifaces[ch.IfaceZone]
		}
		bound := ch.IfaceZone != ""
		if iface != "" {
			ch.IfaceZone = "" // resolved now; otherwise resolved at apply
		}
		objs := cur[ch.Kind][ch.ID]
		if len(objs) > 0 {
			mark(ch.Kind, ch.ID)
		}
		var fields []FieldChange
		switch ch.Kind {
		case KindVLAN:
			v := ch.VLAN
			if len(objs) == 0 {
				// A renamed zone: adopt its old VLAN (same parent and tag,
				// owned by a zone that no longer wants one) instead of
				// creating a clashing second one.
				if o, ok := adoptable[v.Parent+"/"+strconv.Itoa(v.Tag)]; ok {
					id, _, _ := Identity(o.vlan.Descr)
					mark(KindVLAN, id)
					objs = []curObj{o}
				}
			}
			if len(objs) > 0 {
				o := objs[0].vlan
				if o.Parent != v.Parent || o.Tag != v.Tag {
					// Tag and parent of an assigned VLAN cannot change: replace.
					extra = append(extra, Change{Op: Delete, Kind: KindVLAN, Zone: ch.Zone, ID: ch.ID, Key: o.UUID, VLAN: o})
					if a, ok := assignByDevice[o.Device]; ok {
						extra = append(extra, Change{Op: Delete, Kind: KindAssignment, Zone: ch.Zone, ID: a.Device, Key: a.Ifname, Assignment: &a})
						mark(KindAssignment, a.Device)
					}
					objs = nil
				} else {
					fields = diffFields(
						[]string{"device", "descr"},
						[]string{o.Device, o.Descr}, []string{v.Device, v.Descr})
				}
			}
		case KindAssignment:
			if len(objs) > 0 {
				o, d := objs[0].as, ch.Assignment
				fields = diffFields([]string{"descr", "enabled", "ipv4"},
					[]string{o.Descr, strconv.FormatBool(o.Enabled), prefixString(o.IPv4)},
					[]string{d.Descr, strconv.FormatBool(d.Enabled), prefixString(d.IPv4)})
			}
		case KindRange:
			r := ch.Range
			r.Interface = iface
			if len(objs) > 0 {
				o := objs[0].rng
				fields = diffFields([]string{"interface", "start", "end", "domain", "leaseTime", "description"},
					[]string{o.Interface, o.Start, o.End, o.Domain, o.LeaseTime, o.Description},
					[]string{ifaceOr(r.Interface, ch.IfaceZone), r.Start, r.End, r.Domain, r.LeaseTime, r.Description})
			}
		case KindHost:
			if len(objs) > 0 {
				o, d := objs[0].host, ch.Host
				fields = diffFields([]string{"enabled", "hostname", "domain", "rr", "server", "description"},
					[]string{strconv.FormatBool(o.Enabled), o.Hostname, o.Domain, o.RR, o.Server, o.Description},
					[]string{strconv.FormatBool(d.Enabled), d.Hostname, d.Domain, d.RR, d.Server, d.Description})
			}
		case KindRule:
			if bound {
				ch.Rule.Interface = iface
			}
			if len(objs) > 0 {
				fields = diffRule(*objs[0].rule, *ch.Rule, ch.IfaceZone)
			}
		}
		for _, dup := range objs[min(1, len(objs)):] {
			extra = append(extra, deleteOf(ch.Kind, dup.key, dup.zone, ch.ID, dup.vlan, dup.as, dup.rng, dup.host, dup.rule))
		}
		switch {
		case len(objs) == 0:
			ch.Op = Create
		case len(fields) > 0:
			ch.Op = Update
			ch.Key = objs[0].key
			ch.Fields = fields
		default:
			continue // in sync
		}
		want[kept] = *ch
		kept++
	}
	changes := append(want[:kept], extra...)
	// Owned objects nothing wants: delete, except those of Manual zones.
	for _, k := range []Kind{KindVLAN, KindAssignment, KindRange, KindHost, KindRule} {
		ids := make([]string, 0, len(cur[k]))
		for id := range cur[k] {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if matched[k][id] {
				continue
			}
			for _, o := range cur[k][id] {
				if z := p.byName[o.zone]; z != nil && z.State == Manual && !(k == KindRule && isCaddyID(id)) {
					continue
				}
				changes = append(changes, deleteOf(k, o.key, o.zone, id, o.vlan, o.as, o.rng, o.host, o.rule))
			}
		}
	}
	changes = append(changes, p.listenChanges(changes)...)
	p.out.Changes = p.sort(changes)
}

func isCaddyID(id string) bool {
	return strings.HasSuffix(id, ":caddy-https") || strings.HasSuffix(id, ":caddy-http")
}

func deleteOf(k Kind, key, zone, id string, v *VLAN, a *Assignment, r *Range, h *HostOverride, ru *Rule) Change {
	return Change{Op: Delete, Kind: k, Zone: zone, ID: id, Key: key, VLAN: v, Assignment: a, Range: r, Host: h, Rule: ru}
}

// listenChanges keeps dnsmasq listening on every enabled zone interface:
// new interfaces are added before ranges are created, interfaces of deleted
// assignments are removed after their ranges are gone. Other entries stay.
func (p *planner) listenChanges(changes []Change) []Change {
	curList := slices.Clone(p.cur.DnsmasqInterfaces)
	var addZones []string
	removed, reassigned := map[string]bool{}, map[string]bool{}
	for _, ch := range changes {
		switch {
		case ch.Kind == KindAssignment && ch.Op == Create:
			addZones = append(addZones, ch.Zone)
		case ch.Kind == KindAssignment && ch.Op == Update:
			addZones = append(addZones, ch.Zone)
			reassigned[ch.Key] = true // gone once re-assigned under a new ifname
		case ch.Kind == KindAssignment && ch.Op == Delete:
			removed[ch.Key] = true
		}
	}
	for zone, ifname := range p.out.Ifaces {
		if z := p.byName[zone]; z != nil && z.Tagged() && !slices.Contains(curList, ifname) {
			addZones = append(addZones, zone)
		}
	}
	var out []Change
	var list []string
	for _, i := range curList {
		if !reassigned[i] {
			list = append(list, i)
		}
	}
	slices.SortFunc(addZones, func(a, b string) int { return cmp.Compare(p.zoneRank(a), p.zoneRank(b)) })
	addZones = slices.Compact(addZones)
	if len(addZones) > 0 || len(list) != len(curList) {
		// "@zone" entries are resolved to the zone's ifname at apply time.
		for _, z := range addZones {
			list = append(list, "@"+z)
		}
		out = append(out, Change{Op: Update, Kind: KindListen, ID: "dnsmasq:interfaces", Listen: list,
			Fields: []FieldChange{{Field: "interface", From: strings.Join(curList, ","), To: strings.Join(list, ",")}}})
	}
	if len(removed) > 0 {
		var final []string
		for _, i := range list {
			if !removed[i] {
				final = append(final, i)
			}
		}
		if len(final) != len(list) {
			out = append(out, Change{Op: Delete, Kind: KindListen, ID: "dnsmasq:interfaces", Listen: final,
				Fields: []FieldChange{{Field: "interface", From: strings.Join(list, ","), To: strings.Join(final, ",")}}})
		}
	}
	return out
}

func (p *planner) sort(changes []Change) []Change {
	// Bucket by phase and kind (creates/updates in kind order, deletes in
	// reverse), then order each bucket by zone, sequence, identity. Buckets
	// are mostly generated in order already, which pdqsort detects cheaply;
	// sorting indices with precomputed keys avoids moving the large Change
	// values and repeated map lookups.
	type key struct {
		idx  int32
		rank int32
		seq  int32
	}
	buckets := make([][]key, 2*len(kindOrder))
	for i := range changes {
		c := &changes[i]
		k := kindOrder[c.Kind]
		if c.Op == Delete {
			k = 2*len(kindOrder) - 1 - k
		}
		kk := key{idx: int32(i), rank: int32(p.zoneRank(c.Zone))}
		if c.Rule != nil {
			kk.seq = int32(c.Rule.Sequence)
		}
		buckets[k] = append(buckets[k], kk)
	}
	less := func(x, y key) int {
		if c := cmp.Compare(x.rank, y.rank); c != 0 {
			return c
		}
		a, b := &changes[x.idx], &changes[y.idx]
		if c := cmp.Compare(a.Zone, b.Zone); c != 0 {
			return c
		}
		if c := cmp.Compare(x.seq, y.seq); c != 0 {
			return c
		}
		if c := cmp.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return cmp.Compare(x.idx, y.idx)
	}
	perm := make([]int32, 0, len(changes))
	for _, b := range buckets {
		if !slices.IsSortedFunc(b, less) {
			slices.SortFunc(b, less)
		}
		for _, k := range b {
			perm = append(perm, k.idx)
		}
	}
	// Apply the permutation in place, cycle by cycle (no second slice of
	// large values): position i receives changes[perm[i]].
	done := make([]bool, len(changes))
	for start := range changes {
		if done[start] || perm[start] == int32(start) {
			done[start] = true
			continue
		}
		tmp := changes[start]
		j := start
		for {
			done[j] = true
			k := int(perm[j])
			if k == start {
				changes[j] = tmp
				break
			}
			changes[j] = changes[k]
			j = k
		}
	}
	return changes
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
	b := strconv.FormatBool
	return diffFields(
		[]string{"enabled", "sequence", "action", "quick", "interface", "direction", "ipprotocol", "protocol", "source", "destination", "destinationPort", "log", "description"},
		[]string{b(o.Enabled), strconv.Itoa(o.Sequence), o.Action, b(o.Quick), o.Interface, o.Direction, o.IPProtocol, strings.ToLower(o.Protocol), o.SourceNet, o.DestinationNet, o.DestinationPort, b(o.Log), o.Description},
		[]string{b(d.Enabled), strconv.Itoa(d.Sequence), d.Action, b(d.Quick), ifaceOr(d.Interface, ifaceZone), d.Direction, d.IPProtocol, strings.ToLower(d.Protocol), d.SourceNet, d.DestinationNet, d.DestinationPort, b(d.Log), d.Description})
}
