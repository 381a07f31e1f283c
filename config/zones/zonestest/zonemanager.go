package zonestest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/config/zones"
)

// This file replays upstream TAPPaaS's zone-manager --execute
// (configure_all) against a firewall snapshot, written from its source and
// independent of our planner, so tests can check that both tools agree on
// one firewall. Citations are to
// TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/opnsense-controller/src/opnsense_controller/zone_manager.py
// unless noted.

// ZoneManager returns what zone-manager would change on a firewall in state
// cur for the zones of f (one line per create, update, delete or rebind, in
// its order) and the state it would leave. An empty list means zone-manager
// finds the firewall in sync.
func ZoneManager(f *zones.File, cur zones.Current) (changes []string, after zones.Current) {
	m := &zm{f: f, st: cloneCurrent(cur)}
	m.vlans()
	m.dnsmasq()
	m.dhcp()
	m.rules()
	return m.changes, m.st
}

type zm struct {
	f       *zones.File
	st      zones.Current
	changes []string
	next    int
}

func cloneCurrent(c zones.Current) zones.Current {
	return zones.Current{VLANs: slices.Clone(c.VLANs), Assignments: slices.Clone(c.Assignments),
		DnsmasqInterfaces: slices.Clone(c.DnsmasqInterfaces), Ranges: slices.Clone(c.Ranges), Rules: slices.Clone(c.Rules)}
}

func (m *zm) change(format string, a ...any) {
	m.changes = append(m.changes, fmt.Sprintf(format, a...))
}

func (m *zm) uuid() string {
	m.next++
	return fmt.Sprintf("00000000-0000-4000-9000-%012d", m.next)
}

// Zone.is_enabled / is_manual (lines 182-190): case-insensitive, with the
// "manadatory" misspelling accepted.
func zmEnabled(z *zones.Zone) bool {
	s := strings.ToLower(string(z.State))
	return s == "active" || s == "mandatory" || s == "manadatory"
}
func zmManual(z *zones.Zone) bool { return strings.EqualFold(string(z.State), "manual") }

func (m *zm) enabled(tagged bool) []*zones.Zone {
	var out []*zones.Zone
	for _, z := range m.f.Zones {
		if zmEnabled(z) && (!tagged || z.VLANTag > 0) {
			out = append(out, z)
		}
	}
	return out
}

// disabled is get_disabled_zones (line 689): neither enabled nor manual.
func (m *zm) disabled(tagged bool) []*zones.Zone {
	var out []*zones.Zone
	for _, z := range m.f.Zones {
		if !zmEnabled(z) && !zmManual(z) && (!tagged || z.VLANTag > 0) {
			out = append(out, z)
		}
	}
	return out
}

// zoneByName is get_zone_by_name (line 717): case-insensitive, first match.
func (m *zm) zoneByName(name string) *zones.Zone {
	for _, z := range m.f.Zones {
		if strings.EqualFold(z.Name, name) {
			return z
		}
	}
	return nil
}

// network, gateway and DHCP addresses as the Zone dataclass computes them
// (lines 203-222): the first host, network address + offsets.
func zmNet(z *zones.Zone) (netip.Prefix, netip.Addr) {
	p, err := netip.ParsePrefix(z.IP)
	if err != nil {
		return netip.Prefix{}, netip.Addr{}
	}
	p = p.Masked()
	return p, p.Addr().Next()
}

func zmAddr(p netip.Prefix, off int) string {
	a := p.Addr().As4()
	v := binary.BigEndian.Uint32(a[:]) + uint32(off)
	binary.BigEndian.PutUint32(a[:], v)
	return netip.AddrFrom4(a).String()
}

// assigned is get_assigned_vlans (vlan_manager.py:109): interfacesInfo rows
// with a vlan_tag, the tag coming from the VLAN device.
type zmAssigned struct {
	tag                      int
	device, identifier, desc string
}

func (m *zm) assigned() []zmAssigned {
	var out []zmAssigned
	for _, a := range m.st.Assignments {
		for _, v := range m.st.VLANs {
			if v.Device == a.Device {
				out = append(out, zmAssigned{tag: v.Tag, device: a.Device, identifier: a.Ifname, desc: a.Descr})
				break
			}
		}
	}
	return out
}

// zoneInterface is get_zone_interface (line 731): for a VLAN zone the first
// assigned VLAN whose tag or label matches, else the bridge, lower-cased.
func (m *zm) zoneInterface(z *zones.Zone) string {
	if z.VLANTag <= 0 {
		return strings.ToLower(z.Bridge)
	}
	for _, a := range m.assigned() {
		if a.tag == z.VLANTag || strings.EqualFold(a.desc, z.Name) {
			return a.identifier
		}
	}
	return ""
}

// vlans is configure_vlans (line 858).
func (m *zm) vlans() {
	byTag := func() map[int]zones.VLAN { // a dict comprehension: the last row wins (line 895)
		t := map[int]zones.VLAN{}
		for _, v := range m.st.VLANs {
			t[v.Tag] = v
		}
		return t
	}
	existingTags := byTag()
	existingDescr := map[string]zones.VLAN{}
	for _, v := range m.st.VLANs {
		existingDescr[v.Descr] = v
	}
	assignedByTag := map[int]zmAssigned{}
	for _, a := range m.assigned() {
		assignedByTag[a.tag] = a
	}
	for _, z := range m.disabled(true) { // lines 904-948
		v, ok := existingTags[z.VLANTag]
		if !ok {
			continue
		}
		a, ok := assignedByTag[z.VLANTag]
		if !ok {
			for _, x := range m.assigned() {
				if x.device == v.Device || strings.EqualFold(x.desc, z.Name) {
					a, ok = x, true
					break
				}
			}
		}
		if ok {
			m.change("unassign %s (%s)", a.identifier, z.Name)
			m.st.Assignments = slices.DeleteFunc(m.st.Assignments, func(x zones.Assignment) bool { return x.Ifname == a.identifier })
		}
		m.change("delete vlan %d (%s)", z.VLANTag, z.Name)
		m.st.VLANs = slices.DeleteFunc(m.st.VLANs, func(x zones.VLAN) bool { return x.UUID == v.UUID })
	}
	for _, z := range m.enabled(true) { // lines 951-1067
		v, ok := existingTags[z.VLANTag]
		if !ok {
			v, ok = existingDescr[z.Description]
		}
		if ok {
			if v.Descr != z.Description { // issue #186: description drift is reconciled in place
				m.change("update vlan %d description %q -> %q", v.Tag, v.Descr, z.Description)
				for i := range m.st.VLANs {
					if m.st.VLANs[i].UUID == v.UUID {
						m.st.VLANs[i].Descr = z.Description
					}
				}
			}
			continue // label drift is only reported (line 1012), no change
		}
		// get_interface_for_bridge (line 655): lan/wan, else --interface (vtnet1, line 1998).
		parent := map[string]string{"lan": "vtnet0", "wan": "vtnet1"}[strings.ToLower(z.Bridge)]
		if parent == "" {
			parent = "vtnet1"
		}
		dev := "vlan0." + strconv.Itoa(z.VLANTag)
		m.change("create vlan %d on %s (%s)", z.VLANTag, parent, z.Name)
		m.st.VLANs = append(m.st.VLANs, zones.VLAN{UUID: m.uuid(), Parent: parent, Tag: z.VLANTag, Device: dev, Descr: z.Description})
		// create_vlan(assign=True, interface_name=zone.name, static gateway/prefix)
		// (vlan_manager.py:308); the patch takes the next optN (max + 1).
		p, gw := zmNet(z)
		top := 0
		for _, a := range m.st.Assignments {
			if n, ok := strings.CutPrefix(a.Ifname, "opt"); ok {
				if i, err := strconv.Atoi(n); err == nil && i > top {
					top = i
				}
			}
		}
		ifname := "opt" + strconv.Itoa(top+1)
		m.change("assign %s as %s (%s)", dev, ifname, z.Name)
		m.st.Assignments = append(m.st.Assignments, zones.Assignment{Ifname: ifname, Device: dev, Descr: z.Name, Enabled: true,
			IPv4: netip.PrefixFrom(gw, p.Bits())})
	}
}

// dnsmasq is update_dnsmasq_interfaces (line 1663): lan plus every enabled
// VLAN zone's interface, set on every run. A change is reported when the
// resulting set differs (the order of the list does not matter to dnsmasq).
func (m *zm) dnsmasq() {
	list := []string{"lan"}
	for _, z := range m.enabled(true) {
		if i := m.zoneInterface(z); i != "" && !slices.Contains(list, i) {
			list = append(list, i)
		}
	}
	a, b := slices.Sorted(slices.Values(list)), slices.Sorted(slices.Values(m.st.DnsmasqInterfaces))
	if !slices.Equal(a, slices.Compact(b)) {
		m.change("set dnsmasq interfaces %s (was %s)", strings.Join(list, ","), strings.Join(m.st.DnsmasqInterfaces, ","))
	}
	m.st.DnsmasqInterfaces = list
}

// dhcp is configure_dhcp (line 1099): ranges matched by "<zone> DHCP".
func (m *zm) dhcp() {
	byDescr := func() map[string]zones.Range { // the last row wins (line 1126)
		t := map[string]zones.Range{}
		for _, r := range m.st.Ranges {
			t[r.Description] = r
		}
		return t
	}
	existing := byDescr()
	for _, z := range m.disabled(true) {
		if r, ok := existing[z.Name+" DHCP"]; ok {
			m.change("delete range %q", r.Description)
			m.st.Ranges = slices.DeleteFunc(m.st.Ranges, func(x zones.Range) bool { return x.UUID == r.UUID })
		}
	}
	for _, z := range m.enabled(true) {
		desc := z.Name + " DHCP"
		iface := ""
		for _, a := range m.assigned() { // line 1171: by tag only
			if a.tag == z.VLANTag {
				iface = a.identifier
				break
			}
		}
		r, ok := existing[desc]
		if ok && (iface == "" || r.Interface == iface) { // line 1191: start/end are not compared
			continue
		}
		p, _ := zmNet(z)
		s, e := z.DHCPOffsets()
		verb := "create"
		if ok {
			verb = "rebind"
		}
		m.change("%s range %q on %s", verb, desc, iface)
		// create_range deletes any range of that description first (dhcp_manager.py:394).
		m.st.Ranges = slices.DeleteFunc(m.st.Ranges, func(x zones.Range) bool { return x.Description == desc })
		m.st.Ranges = append(m.st.Ranges, zones.Range{UUID: m.uuid(), Interface: iface, StartAddr: zmAddr(p, s), EndAddr: zmAddr(p, e),
			Domain: z.Name + ".internal", LeaseTime: "86400", Description: desc})
	}
}

// zmBase is _zone_rule_base (line 628).
func zmBase(name string) int {
	d := sha256.Sum256([]byte(name))
	return 30000 + 100*int(binary.BigEndian.Uint64(d[:8])%100)
}

type zmRule struct {
	descr, iface, src, dst, action, proto, port string
	seq                                         int
}

// rules is configure_firewall_rules (line 1395) and
// _configure_caddy_reachability (line 1595).
func (m *zm) rules() {
	existing := map[string]zones.Rule{} // line 1442: the last rule of a description wins
	for _, r := range m.st.Rules {
		existing[r.Description] = r
	}
	for _, z := range m.disabled(false) { // lines 1445-1459
		pre := "Zone " + z.Name + " "
		for _, r := range slices.Clone(m.st.Rules) {
			if strings.HasPrefix(r.Description, pre) {
				m.change("delete rule %q", r.Description)
				m.delRule(r.Description)
			}
		}
	}
	for _, z := range m.enabled(false) {
		if len(z.AccessTo) == 0 {
			continue // isolated (line 1715 get_firewall_zones)
		}
		iface := m.zoneInterface(z)
		if iface == "" {
			continue // "Cannot find interface (skipping)"
		}
		_, gw := zmNet(z)
		base := zmBase(z.Name)
		var named []string
		all, internet := false, false
		for _, t := range z.AccessTo {
			switch strings.ToLower(t) {
			case "all":
				all = true
			case "internet":
				internet = true
			default:
				named = append(named, t)
			}
		}
		r := func(descr, dst, action string, seq int) {
			m.rule(existing, zmRule{descr: descr, iface: iface, src: z.IP, dst: dst, action: action, proto: "any", seq: seq})
		}
		pre := "Zone " + z.Name
		if all {
			r(pre+" -> all", "any", "pass", base)
			continue
		}
		r(pre+" -> gateway", gw.String()+"/32", "pass", base)
		for i, t := range named[:min(len(named), 88)] {
			dst := t // an unknown target is used as an alias name (line 1523)
			if tz := m.zoneByName(t); tz != nil {
				dst = tz.IP
			}
			r(pre+" -> "+t, dst, "pass", base+1+i)
		}
		if internet {
			for i, b := range [][2]string{{"10.0.0.0/8", "rfc1918-10"}, {"172.16.0.0/12", "rfc1918-172"}, {"192.168.0.0/16", "rfc1918-192"}} {
				r(pre+" block "+b[1], b[0], "block", base+90+i)
			}
			r(pre+" -> internet", "any", "pass", base+99)
		}
	}
	// Caddy reach (lines 1622-1661): enabled zones, then manual ones.
	dmz := m.zoneByName("dmz")
	if dmz == nil {
		return
	}
	_, gw := zmNet(dmz)
	var cands []*zones.Zone
	cands = append(cands, m.enabled(false)...)
	for _, z := range m.f.Zones {
		if zmManual(z) {
			cands = append(cands, z)
		}
	}
	for _, z := range cands {
		if z.Name == dmz.Name || !slices.ContainsFunc(z.AccessTo, func(t string) bool {
			return strings.EqualFold(t, "internet") || strings.EqualFold(t, "all")
		}) {
			continue
		}
		iface := m.zoneInterface(z)
		if iface == "" {
			continue
		}
		for i, p := range [][2]string{{"443", "https"}, {"80", "http"}} {
			m.rule(existing, zmRule{descr: "Zone " + z.Name + " -> caddy " + p[1], iface: iface, src: "10.0.0.0/8",
				dst: gw.String() + "/32", action: "pass", proto: "TCP", port: p[0], seq: 990 + i})
		}
	}
}

// rule is _create_or_skip_rule (line 1269): an existing rule of the same
// description is kept when interface, action, source, destination,
// destination port and sequence match; otherwise it is deleted and created
// again (in, inet, quick, logged, enabled; firewall_manager.py:299).
func (m *zm) rule(existing map[string]zones.Rule, w zmRule) {
	if o, ok := existing[w.descr]; ok {
		if o.Interface == w.iface && strings.EqualFold(o.Action, w.action) && o.DestinationNet == w.dst &&
			o.SourceNet == w.src && o.DestinationPort == w.port && o.Sequence == w.seq {
			return
		}
		m.change("recreate rule %q (drift)", w.descr)
		m.delRule(w.descr)
	} else {
		m.change("create rule %q", w.descr)
	}
	m.st.Rules = append(m.st.Rules, zones.Rule{UUID: m.uuid(), Enabled: true, Sequence: w.seq, Action: w.action, Quick: true,
		Interface: w.iface, Direction: "in", IPProtocol: "inet", Protocol: w.proto, SourceNet: w.src,
		DestinationNet: w.dst, DestinationPort: w.port, Log: true, Description: w.descr})
}

// delRule is delete_rule(description) (firewall_manager.py:378, matched on
// description): one rule of that description goes.
func (m *zm) delRule(descr string) {
	if i := slices.IndexFunc(m.st.Rules, func(r zones.Rule) bool { return r.Description == descr }); i >= 0 {
		m.st.Rules = slices.Delete(m.st.Rules, i, i+1)
	}
}
