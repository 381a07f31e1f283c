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

// numKinds is the number of Kinds; kindOrder ranks them.
const numKinds = 6

// kindOrder is a Kind's position in creation order (an unknown Kind sorts
// with the VLANs, as a missing map entry did).
func kindOrder(k Kind) int {
	switch k {
	case KindAssignment:
		return 1
	case KindListen:
		return 2
	case KindRange:
		return 3
	case KindHost:
		return 4
	case KindRule:
		return 5
	}
	return 0
}

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

	// Unique zone names (first zone of each name, file order), with their
	// position in name order and their subnet's validity; targets of
	// access-to are resolved to these indices once per entry.
	names   []*Zone
	nameIdx map[string]int32
	rankOf  []int32 // names index → position in sorted name order
	byRank  []int32 // sorted name order → names index
	cidrOK  []bool  // names index → ValidateCIDR(IP) == nil
	stamp   []uint32
	gen     uint32
	ranks   []int32  // scratch: ranks of one zone's targets
	unknown []string // scratch: one zone's targets that are no zone
	specs   []ruleSpec

	// When the firewall holds no owned rule, every desired rule is a
	// create: emit finishes those changes itself (diff would only resolve
	// their interface) and checks on the way that they come in plan order.
	// want[finalFrom:] are such finished rules.
	rulesFinal   bool
	finalFrom    int
	rulesOrdered bool
	last         struct {
		rank, seq int
		zone, id  string
		ok        bool
	}
	dmz *Zone
}

// ruleSpec is one rule of a zone before its description is materialised:
// identity OwnerPrefix+zone+":"+sfx+sfxT, text "Zone "+zone+txt+txtT.
type ruleSpec struct {
	sfx, sfxT, txt, txtT     string
	seq                      int
	action, proto, dst, port string
}

// ruleJob is what the second pass needs to emit one zone's rules.
type ruleJob struct {
	z          *Zone
	caddyIface string // interface of the Caddy rules ("" → resolved at apply)
	caddy      bool   // emit the Caddy rules
	iface      string // interface of the band-5 rules
	zoneRules  bool   // emit the band-5 rules
	warnAt     int    // len(Warnings) where the zone's rule warnings belong
}

func (p *planner) warn(format string, a ...any) {
	p.out.Warnings = append(p.out.Warnings, fmt.Sprintf(format, a...))
}

func (p *planner) index() {
	p.order = make(map[string]int, len(p.f.Zones))
	p.fresh = map[string]bool{}
	p.byName = make(map[string]*Zone, len(p.f.Zones))
	p.nameIdx = make(map[string]int32, len(p.f.Zones))
	p.out.ZoneOrder = make([]string, 0, len(p.f.Zones))
	for i, z := range p.f.Zones {
		if _, dup := p.byName[z.Name]; !dup {
			p.byName[z.Name] = z
			p.nameIdx[z.Name] = int32(len(p.names))
			p.names = append(p.names, z)
		}
		p.order[z.Name] = i
		p.out.ZoneOrder = append(p.out.ZoneOrder, z.Name)
	}
	n := len(p.names)
	p.byRank = make([]int32, n)
	p.rankOf = make([]int32, n)
	p.cidrOK = make([]bool, n)
	p.stamp = make([]uint32, n)
	for i, z := range p.names {
		p.byRank[i] = int32(i)
		p.cidrOK[i] = ValidateCIDR(z.IP) == nil
	}
	slices.SortFunc(p.byRank, func(a, b int32) int { return cmp.Compare(p.names[a].Name, p.names[b].Name) })
	for r, i := range p.byRank {
		p.rankOf[i] = int32(r)
	}
	p.dmz = p.dmzZone()
}

func (p *planner) run() {
	p.index()

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

	// Desired changes are generated in the plan's kind order: the zone
	// objects first (pass 1), then every zone's rules (pass 2), so that the
	// final sort finds them in place. Rule warnings are merged back at the
	// position a single pass would have produced them.
	n, nr := 0, 0
	for _, z := range p.f.Zones {
		n += len(z.AccessTo) + 10
		nr += len(z.AccessTo) + 6
	}
	p.slab = make([]Rule, 0, nr)
	want := make([]Change, 0, n)
	var byKind [4][]Change // VLAN, assignment, range, host
	jobs := make([]ruleJob, 0, len(p.f.Zones))
	var dmzGW netip.Addr
	if p.dmz != nil {
		dmzGW, _ = p.dmz.Gateway()
	}
	for _, z := range p.f.Zones {
		pfx, okP := z.Prefix()
		gw, okG := z.Gateway()
		switch {
		case z.State.Enabled():
		case z.State == Manual:
			if ci, ok := p.caddyIface(z, assignByDevice, dmzGW); ok {
				jobs = append(jobs, ruleJob{z: z, caddy: true, caddyIface: ci, warnAt: len(p.out.Warnings)})
			}
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
			byKind[0] = append(byKind[0], Change{Kind: KindVLAN, Zone: z.Name, ID: OwnerPrefix + z.Name + ":vlan", VLAN: vlan})
			as := &Assignment{Device: z.VLANDevice(), Descr: z.Name, Enabled: true, IPv4: netip.PrefixFrom(gw, pfx.Bits())}
			byKind[1] = append(byKind[1], Change{Kind: KindAssignment, Zone: z.Name, ID: as.Device, Assignment: as})
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
				byKind[2] = append(byKind[2], Change{Kind: KindRange, Zone: z.Name, ID: OwnerPrefix + z.Name + ":dhcp", IfaceZone: z.Name, Range: r})
			} else {
				p.warn("zone %s: no DHCP range, the offsets do not fit %s", z.Name, z.IP)
			}
			h := &HostOverride{Enabled: true, Hostname: "firewall", Domain: z.Domain(), RR: "A", Server: gw.String(),
				Description: human(OwnerPrefix+z.Name+":dns", "Zone "+z.Name+" gateway")}
			byKind[3] = append(byKind[3], Change{Kind: KindHost, Zone: z.Name, ID: OwnerPrefix + z.Name + ":dns", Host: h})
		} else {
			if z.Type == "Overlay" {
				continue
			}
			iface = z.Bridge
			p.out.Ifaces[z.Name] = iface
		}
		j := ruleJob{z: z, iface: iface, zoneRules: true, warnAt: len(p.out.Warnings)}
		j.caddyIface, j.caddy = p.caddyIface(z, assignByDevice, dmzGW)
		jobs = append(jobs, j)
	}
	// The dnsmasq listen update sorts between assignments and ranges; a
	// placeholder keeps its slot so that the rules need not move later.
	want = append(want, byKind[0]...)
	want = append(want, byKind[1]...)
	want = append(want, Change{Kind: KindListen})
	want = append(want, byKind[2]...)
	want = append(want, byKind[3]...)

	// Pass 2: rules. Warnings of this pass go to their zone's position.
	p.rulesFinal, p.rulesOrdered, p.finalFrom = true, true, len(want)
	for i := range p.cur.Rules {
		if _, _, owned := Identity(p.cur.Rules[i].Description); owned {
			p.rulesFinal = false
			break
		}
	}
	early := p.out.Warnings
	p.out.Warnings = nil
	merged := make([]string, 0, len(early))
	from := 0
	var caddyDst string
	if dmzGW.IsValid() {
		caddyDst = dmzGW.String() + "/32"
	}
	for _, j := range jobs {
		merged = append(merged, early[from:j.warnAt]...)
		from = j.warnAt
		p.specs = p.specs[:0]
		if j.caddy {
			p.specs = append(p.specs,
				ruleSpec{sfx: "caddy-https", txt: " -> caddy https", seq: SeqCaddyHTTPS, action: "pass", proto: "TCP", dst: caddyDst, port: "443"},
				ruleSpec{sfx: "caddy-http", txt: " -> caddy http", seq: SeqCaddyHTTP, action: "pass", proto: "TCP", dst: caddyDst, port: "80"})
			want = p.emit(want, j.z, j.caddyIface)
			p.specs = p.specs[:0]
		}
		if j.zoneRules {
			p.zoneRules(j.z)
			want = p.emit(want, j.z, j.iface)
		}
		merged = append(merged, p.out.Warnings...)
		p.out.Warnings = p.out.Warnings[:0]
	}
	merged = append(merged, early[from:]...)
	if len(merged) == 0 {
		merged = nil
	}
	p.out.Warnings = merged
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

// emit appends the rules of p.specs for zone z on iface to out. All
// descriptions of the zone share one string (identities are prefixes of
// them), and rules come from the planner's slab: large plans allocate
// little.
func (p *planner) emit(out []Change, z *Zone, iface string) []Change {
	if len(p.specs) == 0 {
		return out
	}
	fixed := len(OwnerPrefix) + len(z.Name) + 1 + len(" | Zone ") + len(z.Name)
	total := 0
	for i := range p.specs {
		s := &p.specs[i]
		total += fixed + len(s.sfx) + len(s.sfxT) + len(s.txt) + len(s.txtT)
	}
	head, mid := OwnerPrefix+z.Name+":", " | Zone "+z.Name
	var b strings.Builder
	b.Grow(total)
	for i := range p.specs {
		s := &p.specs[i]
		b.WriteString(head)
		b.WriteString(s.sfx)
		b.WriteString(s.sfxT)
		b.WriteString(mid)
		b.WriteString(s.txt)
		b.WriteString(s.txtT)
	}
	all := b.String()
	ifaceZone := ""
	if iface == "" {
		ifaceZone = z.Name
	}
	var op Op
	rank := 0
	if p.rulesFinal {
		// What diff does to a rule without a current object: bind it to
		// the zone's interface when that exists already, create it.
		op, rank = Create, p.zoneRank(z.Name)
		if ifaceZone != "" && !p.fresh[ifaceZone] {
			if i := p.out.Ifaces[ifaceZone]; i != "" {
				iface, ifaceZone = i, ""
			}
		}
	}
	at := 0
	for i := range p.specs {
		s := &p.specs[i]
		idLen := len(OwnerPrefix) + len(z.Name) + 1 + len(s.sfx) + len(s.sfxT)
		n := fixed + len(s.sfx) + len(s.sfxT) + len(s.txt) + len(s.txtT)
		desc := all[at : at+n]
		at += n
		// Slab and out hold zero values past their length (fresh
		// allocations, only ever appended to): set the non-zero fields in
		// place, which spares copying whole structs and most write
		// barriers.
		if len(p.slab) == cap(p.slab) {
			p.slab = make([]Rule, 0, 256)
		}
		p.slab = p.slab[:len(p.slab)+1]
		r := &p.slab[len(p.slab)-1]
		r.Enabled, r.Sequence, r.Action, r.Quick = true, s.seq, s.action, true
		if iface != "" {
			r.Interface = iface
		}
		r.Direction, r.IPProtocol, r.Protocol, r.SourceNet, r.DestinationNet = "in", "inet", s.proto, z.IP, s.dst
		if s.port != "" {
			r.DestinationPort = s.port
		}
		r.Log, r.Description = true, desc
		if len(out) == cap(out) {
			out = append(out, Change{})
		} else {
			out = out[:len(out)+1]
		}
		c := &out[len(out)-1]
		c.Op, c.Kind, c.Zone, c.ID, c.Rule = op, KindRule, z.Name, desc[:idLen], r
		if ifaceZone != "" {
			c.IfaceZone = ifaceZone
		}
		if p.rulesFinal && p.rulesOrdered {
			// Strictly after the previous rule in (zone rank, zone,
			// sequence, identity): then the plan order holds whatever
			// the keys and positions.
			l := &p.last
			if l.ok {
				o := cmp.Compare(l.rank, rank)
				if o == 0 {
					o = strings.Compare(l.zone, z.Name)
				}
				if o == 0 {
					o = cmp.Compare(l.seq, s.seq)
				}
				if o == 0 {
					o = strings.Compare(l.id, c.ID)
				}
				p.rulesOrdered = o < 0
			}
			l.rank, l.zone, l.seq, l.id, l.ok = rank, z.Name, s.seq, c.ID, true
		}
	}
	return out
}

var rfc1918 = []struct{ sfx, txt, net string }{
	{"block-rfc1918-10", " block rfc1918-10", "10.0.0.0/8"},
	{"block-rfc1918-172", " block rfc1918-172", "172.16.0.0/12"},
	{"block-rfc1918-192", " block rfc1918-192", "192.168.0.0/16"},
}

// zoneRules appends the band-5 rules of access-to (§2.5) to p.specs.
// Targets come in identity order (by name), which is the plan's order.
func (p *planner) zoneRules(z *Zone) {
	if len(z.AccessTo) == 0 {
		return // isolated: no rules at all, as upstream
	}
	base := RuleBase(z.Name)

	// Resolve the targets once: zones are marked (deduplicated) by index,
	// anything else is collected and sorted by name.
	p.gen++
	if p.gen == 0 { // wrapped: reset the marks
		clear(p.stamp)
		p.gen = 1
	}
	p.ranks, p.unknown = p.ranks[:0], p.unknown[:0]
	internet, all := false, false
	for _, t := range z.AccessTo {
		switch t {
		case KeywordInternet:
			internet = true
			continue
		case KeywordAll:
			all = true
			continue
		case z.Name:
			continue
		}
		i, ok := p.nameIdx[t]
		if !ok {
			p.unknown = append(p.unknown, t)
			continue
		}
		if p.stamp[i] != p.gen {
			p.stamp[i] = p.gen
			p.ranks = append(p.ranks, p.rankOf[i])
		}
	}
	if all {
		p.specs = append(p.specs, ruleSpec{sfx: "all", txt: " -> all", seq: base, action: "pass", proto: "any", dst: "any"})
		return
	}
	gw, _ := z.Gateway()
	p.specs = append(p.specs, ruleSpec{sfx: "gateway", txt: " -> gateway", seq: base, action: "pass", proto: "any", dst: gw.String() + "/32"})
	if len(p.unknown) > 1 {
		slices.Sort(p.unknown)
		p.unknown = slices.Compact(p.unknown)
	}
	// Known targets in name order: sort their ranks when few, else walk
	// every zone in name order and keep the marked ones.
	if len(p.ranks)*16 < len(p.names) {
		slices.Sort(p.ranks)
	} else {
		p.ranks = p.ranks[:0]
		for r, i := range p.byRank {
			if p.stamp[i] == p.gen {
				p.ranks = append(p.ranks, int32(r))
			}
		}
	}
	u := 0
	for _, r := range p.ranks {
		i := p.byRank[r]
		t := p.names[i].Name
		for ; u < len(p.unknown) && p.unknown[u] < t; u++ {
			p.warn("zone %s: access-to %q is not a zone, no rule", z.Name, p.unknown[u])
		}
		if !p.cidrOK[i] {
			p.warn("zone %s: access-to %q has no usable subnet, no rule", z.Name, t)
			continue
		}
		p.specs = append(p.specs, ruleSpec{sfx: "to:", sfxT: t, txt: " -> ", txtT: t, seq: base + 1, action: "pass", proto: "any", dst: p.names[i].IP})
	}
	for ; u < len(p.unknown); u++ {
		p.warn("zone %s: access-to %q is not a zone, no rule", z.Name, p.unknown[u])
	}
	if internet {
		for i, b := range rfc1918 {
			p.specs = append(p.specs, ruleSpec{sfx: b.sfx, txt: b.txt, seq: base + 90 + i, action: "block", proto: "any", dst: b.net})
		}
		p.specs = append(p.specs, ruleSpec{sfx: "internet", txt: " -> internet", seq: base + 99, action: "pass", proto: "any", dst: "any"})
	}
}

// caddyIface decides whether a zone with internet access gets the rules
// that let it reach the reverse proxy on the DMZ gateway (band 1, §2.5), and
// on which interface. Manual zones get them on their existing interface (the
// bridge when untagged).
func (p *planner) caddyIface(z *Zone, assignByDevice map[string]Assignment, dmzGW netip.Addr) (string, bool) {
	if !dmzGW.IsValid() || z.Type == "DMZ" || z.Type == "Overlay" || !(z.HasAccess(KeywordInternet) || z.HasAccess(KeywordAll)) {
		return "", false
	}
	if p.dmz != nil && p.dmz.Name == z.Name {
		return "", false
	}
	if ValidateCIDR(z.IP) != nil {
		return "", false
	}
	switch {
	case !z.Tagged():
		return z.Bridge, true
	case z.State == Manual:
		a, ok := assignByDevice[z.VLANDevice()]
		if !ok {
			return "", false // a Manual VLAN zone without an interface: nothing to bind to
		}
		return a.Ifname, true
	default:
		return p.out.Ifaces[z.Name], true // "" → resolved at apply
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
	// Indexed by kindOrder: no hashing of the Kind per desired change.
	var cur [numKinds]map[string][]curObj
	add := func(k Kind, id string, o curObj) {
		ki := kindOrder(k)
		if cur[ki] == nil {
			cur[ki] = map[string][]curObj{}
		}
		cur[ki][id] = append(cur[ki][id], o)
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
	for i := 0; i < len(want) && len(cur[kindOrder(KindVLAN)]) > 0; i++ {
		if want[i].Kind == KindVLAN {
			wantsVLAN[want[i].Zone] = true
		}
	}
	// When several such VLANs share a parent/tag, the first by identity
	// and key is adopted (map order would make the plan vary run to run).
	adoptable := map[string]curObj{}
	vlanIDs := slices.Sorted(maps.Keys(cur[kindOrder(KindVLAN)]))
	for _, id := range vlanIDs {
		for _, o := range cur[kindOrder(KindVLAN)][id] {
			k := o.vlan.Parent + "/" + strconv.Itoa(o.vlan.Tag)
			if _, taken := adoptable[k]; !taken && !wantsVLAN[o.zone] {
				adoptable[k] = o
			}
		}
	}
	// want is rewritten in place: kept changes are compacted to its front;
	// deletes found on the way go to extra.
	var extra []Change
	kept := 0
	var matched [numKinds]map[string]bool
	mark := func(k Kind, id string) {
		ki := kindOrder(k)
		if matched[ki] == nil {
			matched[ki] = map[string]bool{}
		}
		matched[ki][id] = true
	}
	// Consecutive changes mostly concern the same zone: remember its
	// interface instead of looking it up per change.
	lastZone, lastIface, haveLast := "", "", false
	slot := -1           // the listen placeholder's index after compaction
	asgLo, asgHi := 0, 0 // the kept assignment changes lie in want[asgLo:asgHi]
	// Whether the kept changes are in plan order, checked on the way.
	ord := &orderer{p: p}
	inOrder, prevB, prevK := true, -1, sortKey{}
	check := func(i int) {
		b, k := bucketOf(&want[i]), ord.key(want, i)
		if b < prevB || (b == prevB && orderCmp(want, k, prevK) < 0) {
			inOrder = false
		}
		prevB, prevK = b, k
	}
	for i := range want {
		if p.rulesFinal && i >= p.finalFrom {
			// Finished by emit: keep them all, in place when nothing
			// before them was dropped.
			if kept != i {
				copy(want[kept:], want[i:])
			}
			kept += len(want) - i
			inOrder = inOrder && p.rulesOrdered // rules sort after every earlier bucket
			break
		}
		ch := &want[i]
		if ch.Kind == KindListen && ch.Op == "" {
			slot = kept
			if kept != i {
				want[kept] = *ch
			}
			check(kept)
			kept++
			continue
		}
		iface := ""
		if ch.IfaceZone != "" {
			if !haveLast || ch.IfaceZone != lastZone {
				lastZone, lastIface, haveLast = ch.IfaceZone, "", true
				if !p.fresh[ch.IfaceZone] {
					lastIface = p.out.Ifaces[ch.IfaceZone]
				}
			}
			iface = lastIface
		}
		bound := ch.IfaceZone != ""
		if iface != "" {
			ch.IfaceZone = "" // resolved now; otherwise resolved at apply
		}
		var objs []curObj
		if m := cur[kindOrder(ch.Kind)]; len(m) > 0 {
			objs = m[ch.ID]
		}
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
			if bound && iface != "" { // "" is already there
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
		if kept != i {
			want[kept] = *ch
		}
		if inOrder {
			check(kept)
		}
		if ch.Kind == KindAssignment {
			if asgHi == 0 {
				asgLo = kept
			}
			asgHi = kept + 1
		}
		kept++
	}
	changes := append(want[:kept], extra...)
	// Owned objects nothing wants: delete, except those of Manual zones.
	for _, k := range []Kind{KindVLAN, KindAssignment, KindRange, KindHost, KindRule} {
		ki := kindOrder(k)
		ids := make([]string, 0, len(cur[ki]))
		for id := range cur[ki] {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if matched[ki][id] {
				continue
			}
			for _, o := range cur[ki][id] {
				if z := p.byName[o.zone]; z != nil && z.State == Manual && !(k == KindRule && isCaddyID(id)) {
					continue
				}
				changes = append(changes, deleteOf(k, o.key, o.zone, id, o.vlan, o.as, o.rng, o.host, o.rule))
			}
		}
	}
	// Assignment changes: those kept from want (one stretch, as generated)
	// and the deletes after it.
	for _, l := range p.listenChanges(changes[asgLo:asgHi], changes[kept:]) {
		if l.Op == Update && slot >= 0 {
			changes[slot] = l
			slot = -1
			continue
		}
		changes = append(changes, l)
	}
	sorted := 0
	if inOrder {
		sorted = kept
	}
	if slot >= 0 {
		changes = slices.Delete(changes, slot, slot+1)
		sorted = max(sorted-1, 0)
	}
	p.out.Changes = p.sort(changes, sorted)
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
// Only assignment changes matter; parts are the stretches of the plan that
// may hold them.
func (p *planner) listenChanges(parts ...[]Change) []Change {
	curList := slices.Clone(p.cur.DnsmasqInterfaces)
	var addZones []string
	removed, reassigned := map[string]bool{}, map[string]bool{}
	for _, changes := range parts {
		for i := range changes {
			ch := &changes[i] // not a copy of each (large) change
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

// sortKey is a change's position in the plan order, precomputed.
type sortKey struct {
	idx  int32
	rank int32
	seq  int32
}

// bucketOf is the plan phase of a change: creates/updates in kind order,
// then deletes in reverse kind order.
func bucketOf(c *Change) int {
	k := kindOrder(c.Kind)
	if c.Op == Delete {
		k = 2*numKinds - 1 - k
	}
	return k
}

// orderer computes sort keys; consecutive changes mostly concern the same
// zone, so it remembers the last zone's rank.
type orderer struct {
	p        *planner
	lastZone string
	lastRank int32
	have     bool
}

func (o *orderer) key(changes []Change, i int) sortKey {
	c := &changes[i]
	if !o.have || c.Zone != o.lastZone {
		o.lastZone, o.lastRank, o.have = c.Zone, int32(o.p.zoneRank(c.Zone)), true
	}
	k := sortKey{idx: int32(i), rank: o.lastRank}
	if c.Rule != nil {
		k.seq = int32(c.Rule.Sequence)
	}
	return k
}

// orderCmp orders two changes of one bucket by zone, sequence, identity,
// key and finally position.
func orderCmp(changes []Change, x, y sortKey) int {
	if c := cmp.Compare(x.rank, y.rank); c != 0 {
		return c
	}
	a, b := &changes[x.idx], &changes[y.idx]
	// strings.Compare is one comparison; cmp.Compare on strings is two.
	if c := strings.Compare(a.Zone, b.Zone); c != 0 {
		return c
	}
	if c := cmp.Compare(x.seq, y.seq); c != 0 {
		return c
	}
	if c := strings.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	if c := strings.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	return cmp.Compare(x.idx, y.idx)
}

// sort puts changes in plan order. changes[:sorted] is known to be in
// order already (diff checked it while compacting).
func (p *planner) sort(changes []Change, sorted int) []Change {
	// Bucket by phase and kind (creates/updates in kind order, deletes in
	// reverse), then order each bucket by zone, sequence, identity. Sorting
	// indices with precomputed keys avoids moving the large Change values
	// and repeated map lookups.
	o := &orderer{p: p}
	less := func(x, y sortKey) int { return orderCmp(changes, x, y) }
	// The planner generates changes in order; confirm the rest in one pass
	// before bucketing and permuting.
	inOrder := true
	prevB, prev := -1, sortKey{}
	for i := max(sorted-1, 0); i < len(changes); i++ {
		b, k := bucketOf(&changes[i]), o.key(changes, i)
		if b < prevB || (b == prevB && less(k, prev) < 0) {
			inOrder = false
			break
		}
		prevB, prev = b, k
	}
	if inOrder {
		return changes
	}
	type key = sortKey
	keyOf := func(i int) key { return o.key(changes, i) }
	var counts [2 * numKinds]int
	for i := range changes {
		counts[bucketOf(&changes[i])]++
	}
	buckets := make([][]key, 2*numKinds)
	for b, n := range counts {
		buckets[b] = make([]key, 0, n)
	}
	for i := range changes {
		buckets[bucketOf(&changes[i])] = append(buckets[bucketOf(&changes[i])], keyOf(i))
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
