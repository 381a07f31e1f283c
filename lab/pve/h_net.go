package pve

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const ifacesPath = "/etc/network/interfaces"

// readIfaces returns the pending config (interfaces.new) if any, else the current one.
func (n *Node) readIfaces() (*Interfaces, bool, error) {
	if b, err := n.fs.ReadFile(ifacesPath + ".new"); err == nil {
		f, err := ParseInterfaces(string(b))
		return f, true, err
	}
	b, err := n.fs.ReadFile(ifacesPath)
	if err != nil {
		return &Interfaces{}, false, nil
	}
	f, err := ParseInterfaces(string(b))
	return f, false, err
}

func (n *Node) ifaceJSON(f *Interfaces, c *IfaceCfg, prio int) map[string]any {
	typ := "unknown"
	if n.m.nic(c.Name) != nil {
		typ = "eth"
	} else if c.Get("bridge-ports") != "" || strings.HasPrefix(c.Name, "vmbr") {
		typ = "bridge"
	} else if c.Get("vlan-raw-device") != "" || strings.Contains(c.Name, ".") {
		typ = "vlan"
	} else if c.Name == "lo" {
		typ = "loopback"
	}
	out := map[string]any{"iface": c.Name, "type": typ, "method": c.Method, "method6": "manual", "families": []string{"inet"}, "priority": prio}
	if c.Auto {
		out["autostart"] = 1
	}
	if l := n.m.Links[c.Name]; l != nil {
		out["active"] = 1
	}
	if typ == "eth" {
		out["exists"] = 1
	}
	if a := c.Get("address"); a != "" {
		if p, err := netip.ParsePrefix(a); err == nil {
			out["cidr"] = a
			out["address"] = p.Addr().String()
			out["netmask"] = fmt.Sprint(p.Bits())
		} else {
			out["address"] = a
			if nm := c.Get("netmask"); nm != "" {
				out["netmask"] = nm
				out["cidr"] = fmt.Sprintf("%s/%d", a, maskBits(nm))
			}
		}
	}
	if g := c.Get("gateway"); g != "" {
		out["gateway"] = g
	}
	if typ == "bridge" {
		out["bridge_ports"] = c.Get("bridge-ports")
		out["bridge_stp"] = c.Get("bridge-stp")
		out["bridge_fd"] = c.Get("bridge-fd")
		if v := c.Get("bridge-vlan-aware"); v == "yes" || v == "1" {
			out["bridge_vlan_aware"] = 1
		}
		if v := c.Get("bridge-vids"); v != "" {
			out["bridge_vids"] = v
		}
	}
	if v := c.Get("mtu"); v != "" {
		out["mtu"] = v
	}
	if v := c.Get("vlan-raw-device"); v != "" {
		out["vlan-raw-device"] = v
	}
	if v := c.Get("vlan-id"); v != "" {
		out["vlan-id"] = v
	}
	var cm []string
	for _, o := range c.Opts {
		if o[0] == "#" {
			cm = append(cm, o[1])
		}
	}
	if len(cm) > 0 {
		out["comments"] = strings.Join(cm, "\n") + "\n"
	}
	return out
}

func hNetList(c *call) (any, error) {
	n := c.n
	if err := n.checkNode(c); err != nil {
		return nil, err
	}
	f, pending, err := n.readIfaces()
	if err != nil {
		return nil, runErr("unable to parse interfaces: %v", err)
	}
	out := []any{}
	seen := map[string]bool{}
	for i, ic := range f.Ifaces {
		if ic.Name == "lo" || ic.Family != "inet" {
			continue
		}
		seen[ic.Name] = true
		j := n.ifaceJSON(f, ic, i+3)
		if t := c.p["type"]; t != "" && !typeMatch(t, j["type"].(string)) {
			continue
		}
		out = append(out, j)
	}
	for _, nic := range n.m.NICs {
		if !seen[nic.Name] && (c.p["type"] == "" || c.p["type"] == "eth") {
			out = append(out, map[string]any{"iface": nic.Name, "type": "eth", "method": "manual", "families": []string{"inet"}, "exists": 1, "active": 1, "priority": 99})
		}
	}
	if pending {
		old, _ := n.fs.ReadFile(ifacesPath)
		nw, _ := n.fs.ReadFile(ifacesPath + ".new")
		c.extra["changes"] = simpleDiff(string(old), string(nw))
	}
	return out, nil
}

func typeMatch(want, got string) bool {
	switch want {
	case "any_bridge", "any_local_bridge":
		return got == "bridge"
	case "include_sdn":
		return true
	}
	return want == got
}

func simpleDiff(a, b string) string {
	var out strings.Builder
	out.WriteString("--- /etc/network/interfaces\n+++ /etc/network/interfaces.new\n")
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	in := map[string]bool{}
	for _, l := range al {
		in[l] = true
	}
	inb := map[string]bool{}
	for _, l := range bl {
		inb[l] = true
	}
	for _, l := range al {
		if !inb[l] {
			out.WriteString("-" + l + "\n")
		}
	}
	for _, l := range bl {
		if !in[l] {
			out.WriteString("+" + l + "\n")
		}
	}
	return out.String()
}

var ifaceNameRe = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]{1,20}([:\.]\d+)?$`)

var netParams = map[string]P{
	"iface": {T: "string", Req: true, Re: ifaceNameRe}, "type": {T: "string", Req: true, Enum: []string{"bridge", "bond", "eth", "alias", "vlan", "fabric", "OVSBridge", "OVSBond", "OVSPort", "OVSIntPort", "vnet", "unknown"}},
	"bridge_ports": pStr(), "bridge_vlan_aware": pBool(), "bridge_vids": pFmt(checkVids), "autostart": pBool(),
	"cidr": pFmt(checkCIDR), "address": pFmt(checkIP), "netmask": pStr(), "gateway": pFmt(checkIP), "mtu": pInt(1280, 65520),
	"comments": pStr(), "cidr6": pStr(), "address6": pStr(), "netmask6": pStr(), "gateway6": pStr(), "comments6": pStr(),
	"bond_mode": pStr(), "bond-primary": pStr(), "bond_xmit_hash_policy": pStr(), "slaves": pStr(),
	"vlan-id": pInt(1, 4094), "vlan-raw-device": pStr(), "ovs_bridge": pStr(), "ovs_bonds": pStr(), "ovs_options": pStr(), "ovs_ports": pStr(), "ovs_tag": pInt(1, 4094),
	"bridge-access": pInt(1, 4094), "bridge-learning": pBool(), "bridge-arp-nd-suppress": pBool(), "bridge-unicast-flood": pBool(), "bridge-multicast-flood": pBool(),
	"link-type": pStr(), "node": pStr(),
}

func checkVids(v string) string {
	for _, p := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' || r == ';' }) {
		lo, hi, found := strings.Cut(p, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if found {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 2 || b > 4094 || a > b {
			return "invalid format - invalid VLAN ID range '" + p + "'"
		}
	}
	return ""
}

func checkCIDR(v string) string {
	if p, err := netip.ParsePrefix(v); err != nil || !p.Addr().Is4() {
		return "invalid format - value does not look like a valid IPv4 network configuration"
	}
	return ""
}

func checkIP(v string) string {
	if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
		return "invalid format - value does not look like a valid IPv4 address"
	}
	return ""
}

// stageIface creates or updates an interface in interfaces.new (POST/PUT network).
func (n *Node) stageIface(p map[string]string, create bool) error {
	f, _, err := n.readIfaces()
	if err != nil {
		return runErr("unable to parse interfaces: %v", err)
	}
	name := p["iface"]
	c := f.Find(name)
	if create {
		if c != nil || (n.m.nic(name) != nil && p["type"] != "eth") {
			return paramErr("iface", "interface already exists")
		}
		c = &IfaceCfg{Name: name, Family: "inet", Method: "manual"}
		if p["type"] == "bridge" {
			if p["bridge_ports"] == "" {
				c.Set("bridge-ports", "none")
			}
			c.Set("bridge-stp", "off")
			c.Set("bridge-fd", "0")
		}
	} else if c == nil {
		return runErr("interface '%s' does not exist", name)
	}
	for _, d := range splitList(p["delete"]) {
		c.Set(d, "")
		if d == "cidr" || d == "address" {
			c.Set("address", "")
			c.Set("netmask", "")
		}
	}
	if v := p["bridge_ports"]; v != "" {
		ports := splitPorts(v)
		for _, port := range ports {
			if n.m.nic(port) == nil && f.Find(port) == nil {
				return paramErr("bridge_ports", "unable to find bridge port '"+port+"'")
			}
			for _, o := range f.Ifaces {
				if o.Name != name {
					for _, q := range splitPorts(o.Get("bridge-ports")) {
						if q == port {
							return paramErr("bridge_ports", fmt.Sprintf("%s is already used on interface '%s'", port, o.Name))
						}
					}
				}
			}
		}
		c.Set("bridge-ports", strings.Join(ports, " "))
	}
	cidr := p["cidr"]
	if cidr == "" && p["address"] != "" {
		if p["netmask"] == "" {
			return paramErr("netmask", "address and netmask must be set together")
		}
		cidr = fmt.Sprintf("%s/%d", p["address"], maskBits(p["netmask"]))
	}
	if cidr != "" {
		c.Method = "static"
		c.Set("address", cidr)
		c.Set("netmask", "")
	}
	if g := p["gateway"]; g != "" {
		for _, o := range f.Ifaces {
			if o.Name != name && o.Get("gateway") != "" && o.Family == "inet" {
				return paramErr("gateway", fmt.Sprintf("Default gateway already exists on interface '%s'.", o.Name))
			}
		}
		c.Set("gateway", g)
	}
	if v, ok := p["bridge_vlan_aware"]; ok {
		if v == "1" {
			c.Set("bridge-vlan-aware", "yes")
		} else {
			c.Set("bridge-vlan-aware", "")
		}
	}
	if v := p["bridge_vids"]; v != "" {
		c.Set("bridge-vids", v)
	} else if create && p["bridge_vlan_aware"] == "1" {
		c.Set("bridge-vids", "2-4094")
	}
	if v := p["mtu"]; v != "" {
		c.Set("mtu", v)
	}
	if v := p["vlan-raw-device"]; v != "" {
		c.Set("vlan-raw-device", v)
	}
	if v := p["vlan-id"]; v != "" {
		c.Set("vlan-id", v)
	}
	if v, ok := p["autostart"]; ok {
		c.Auto = v == "1"
	} else if create {
		c.Auto = true
	}
	if v, ok := p["comments"]; ok {
		c.Set("#", strings.TrimSpace(v))
	}
	if create {
		f.Ifaces = append(f.Ifaces, c)
	}
	return n.fs.WriteFile(ifacesPath+".new", []byte(f.Render()), 0o644)
}

func hNetCreate(c *call) (any, error) {
	if err := c.n.checkNode(c); err != nil {
		return nil, err
	}
	return nil, c.n.stageIface(c.p, true)
}

func hNetUpdate(c *call) (any, error) {
	if err := c.n.checkNode(c); err != nil {
		return nil, err
	}
	return nil, c.n.stageIface(c.p, false)
}

func hNetGet(c *call) (any, error) {
	f, _, err := c.n.readIfaces()
	if err != nil {
		return nil, runErr("unable to parse interfaces: %v", err)
	}
	ic := f.Find(c.p["iface"])
	if ic == nil {
		return nil, runErr("interface does not exist")
	}
	return c.n.ifaceJSON(f, ic, 0), nil
}

func hNetDelete(c *call) (any, error) {
	f, _, err := c.n.readIfaces()
	if err != nil {
		return nil, runErr("unable to parse interfaces: %v", err)
	}
	out := f.Ifaces[:0]
	found := false
	for _, ic := range f.Ifaces {
		if ic.Name == c.p["iface"] {
			found = true
			continue
		}
		out = append(out, ic)
	}
	if !found {
		return nil, runErr("interface does not exist")
	}
	f.Ifaces = out
	return nil, c.n.fs.WriteFile(ifacesPath+".new", []byte(f.Render()), 0o644)
}

func hNetRevert(c *call) (any, error) {
	_ = c.n.fs.Remove(ifacesPath + ".new")
	return nil, nil
}

// ifreload applies /etc/network/interfaces (after moving .new into place
// when apply is true). Returns output lines.
func (n *Node) ifreload() ([]string, error) {
	b, err := n.fs.ReadFile(ifacesPath)
	if err != nil {
		return nil, fmt.Errorf("error: main exception: %s: no such file", ifacesPath)
	}
	f, err := ParseInterfaces(string(b))
	if err != nil {
		return nil, fmt.Errorf("error: %s: %v", ifacesPath, err)
	}
	return n.m.applyInterfaces(f)
}

func hNetApply(c *call) (any, error) {
	n := c.n
	if err := n.checkNode(c); err != nil {
		return nil, err
	}
	if _, err := n.fs.Stat(ifacesPath + ".new"); err == nil {
		if err := n.fs.Rename(ifacesPath+".new", ifacesPath); err != nil {
			return nil, runErr("%v", err)
		}
	}
	warn, err := n.ifreload()
	lines := append([]string{}, warn...)
	errText := ""
	if err != nil {
		lines = append(lines, err.Error())
		errText = "command 'ifreload -a' failed: exit code 1"
	}
	t := n.newTask("srvreload", "networking", c.auth.authID(), 2*time.Second, lines, errText)
	return t.UPID, nil
}
