package pve

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// IfaceCfg is one `iface` stanza of /etc/network/interfaces.
type IfaceCfg struct {
	Name   string
	Auto   bool
	Family string // inet, inet6
	Method string // static, manual, dhcp, loopback
	Opts   [][2]string
}

// Get returns the first value of an option ("bridge-ports"; "_" and "-" are equal).
func (c *IfaceCfg) Get(k string) string {
	k = strings.ReplaceAll(k, "_", "-")
	for _, o := range c.Opts {
		if o[0] == k {
			return o[1]
		}
	}
	return ""
}

// Set replaces (or appends) an option; an empty value deletes it.
func (c *IfaceCfg) Set(k, v string) {
	k = strings.ReplaceAll(k, "_", "-")
	out := c.Opts[:0]
	done := false
	for _, o := range c.Opts {
		if o[0] == k {
			if !done && v != "" {
				out = append(out, [2]string{k, v})
				done = true
			}
			continue
		}
		out = append(out, o)
	}
	c.Opts = out
	if !done && v != "" {
		c.Opts = append(c.Opts, [2]string{k, v})
	}
}

// Interfaces is a parsed /etc/network/interfaces.
type Interfaces struct {
	Ifaces  []*IfaceCfg
	Sources []string // "source" lines kept verbatim
}

// Find returns the stanza for name (nil if none).
func (f *Interfaces) Find(name string) *IfaceCfg {
	for _, c := range f.Ifaces {
		if c.Name == name && c.Family != "inet6" {
			return c
		}
	}
	return nil
}

// ParseInterfaces parses the ifupdown2 file format (the subset PVE writes).
func ParseInterfaces(s string) (*Interfaces, error) {
	f := &Interfaces{}
	auto := map[string]bool{}
	var cur *IfaceCfg
	for i, raw := range strings.Split(s, "\n") {
		line := strings.TrimSpace(raw)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		switch fields[0] {
		case "auto", "allow-hotplug", "allow-auto":
			for _, n := range fields[1:] {
				auto[n] = true
			}
			cur = nil
		case "source", "source-directory":
			f.Sources = append(f.Sources, line)
			cur = nil
		case "iface":
			if len(fields) < 4 {
				return nil, fmt.Errorf("line %d: expected 'iface <name> <family> <method>'", i+1)
			}
			cur = &IfaceCfg{Name: fields[1], Family: fields[2], Method: fields[3]}
			f.Ifaces = append(f.Ifaces, cur)
		default:
			if cur == nil {
				return nil, fmt.Errorf("line %d: option %q outside an iface stanza", i+1, fields[0])
			}
			cur.Opts = append(cur.Opts, [2]string{fields[0], strings.Join(fields[1:], " ")})
		}
	}
	for _, c := range f.Ifaces {
		c.Auto = auto[c.Name]
	}
	return f, nil
}

// Render writes the file the way PVE does.
func (f *Interfaces) Render() string {
	var b strings.Builder
	for i, c := range f.Ifaces {
		if i > 0 {
			b.WriteString("\n")
		}
		if c.Auto {
			fmt.Fprintf(&b, "auto %s\n", c.Name)
		}
		fmt.Fprintf(&b, "iface %s %s %s\n", c.Name, c.Family, c.Method)
		for _, o := range c.Opts {
			fmt.Fprintf(&b, "\t%s %s\n", o[0], o[1])
		}
	}
	for _, s := range f.Sources {
		b.WriteString("\n" + s + "\n")
	}
	return b.String()
}

func splitPorts(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == ';' })
}

// applyInterfaces computes the live links and routes from a parsed file
// (what `ifreload -a` does). It returns warnings and a fatal error.
func (m *Model) applyInterfaces(f *Interfaces) (warn []string, err error) {
	links := map[string]*Link{"lo": {Name: "lo", Kind: "lo", Up: true, Addrs: []string{"127.0.0.1/8"}, MAC: "00:00:00:00:00:00", Index: 1}}
	for i, n := range m.NICs {
		links[n.Name] = &Link{Name: n.Name, Kind: "eth", Up: n.Link, MAC: n.MAC, Index: i + 2}
	}
	next := len(m.NICs) + 2
	var routes []Route
	used := map[string]string{}
	var gwIface string
	for _, c := range f.Ifaces {
		if c.Family != "inet" || c.Name == "lo" {
			continue
		}
		l := links[c.Name]
		ports := splitPorts(c.Get("bridge-ports"))
		if l == nil {
			if len(ports) == 0 && c.Get("bridge-ports") == "" && !strings.HasPrefix(c.Name, "vmbr") {
				if c.Get("vlan-raw-device") == "" && !strings.Contains(c.Name, ".") {
					warn = append(warn, fmt.Sprintf("warning: %s: interface not recognized - please check interface configuration", c.Name))
					continue
				}
			}
			l = &Link{Name: c.Name, Kind: "bridge", Up: true, MAC: "", Index: next}
			next++
			links[c.Name] = l
		}
		if l.Kind == "bridge" {
			for _, p := range ports {
				if p == "none" {
					continue
				}
				pl := links[p]
				if pl == nil || pl.Kind != "eth" {
					warn = append(warn, fmt.Sprintf("warning: %s: port %s: does not exist", c.Name, p))
					continue
				}
				if o, ok := used[p]; ok {
					return nil, fmt.Errorf("error: %s: bridge port %s already in use by bridge %s", c.Name, p, o)
				}
				used[p] = c.Name
				pl.Master = c.Name
				l.Ports = append(l.Ports, p)
				if l.MAC == "" {
					l.MAC = pl.MAC
				}
			}
			v := c.Get("bridge-vlan-aware")
			l.VlanAware = v == "yes" || v == "1" || v == "on"
		}
		if a := c.Get("address"); a != "" && c.Method == "static" {
			if !strings.Contains(a, "/") {
				if nm := c.Get("netmask"); nm != "" {
					a += "/" + fmt.Sprint(maskBits(nm))
				}
			}
			if _, e := netip.ParsePrefix(a); e != nil {
				return nil, fmt.Errorf("error: %s: invalid address %q", c.Name, a)
			}
			l.Addrs = append(l.Addrs, a)
			pfx, _ := netip.ParsePrefix(a)
			routes = append(routes, Route{Dst: pfx.Masked().String(), Dev: c.Name, Src: pfx.Addr().String()})
		}
		if gw := c.Get("gateway"); gw != "" {
			if gwIface != "" {
				return nil, fmt.Errorf("error: %s: default gateway already configured on %s", c.Name, gwIface)
			}
			gwIface = c.Name
			routes = append(routes, Route{Dst: "default", Via: gw, Dev: c.Name})
		}
		for _, o := range c.Opts {
			if o[0] == "post-up" {
				// "ip route add <cidr> via <gw>" is the only form we honour
				fs := strings.Fields(o[1])
				if len(fs) >= 6 && fs[0] == "ip" && fs[1] == "route" && (fs[2] == "add" || fs[2] == "replace") && fs[4] == "via" {
					routes = append(routes, Route{Dst: fs[3], Via: fs[5], Dev: c.Name})
				}
			}
		}
	}
	m.Links = links
	sort.SliceStable(routes, func(i, j int) bool { return routes[i].Dst == "default" && routes[j].Dst != "default" })
	m.Routes = routes
	return warn, nil
}

func maskBits(nm string) int {
	a, err := netip.ParseAddr(nm)
	if err != nil {
		return 24
	}
	n := 0
	for _, b := range a.As4() {
		for i := 7; i >= 0; i-- {
			if b&(1<<i) != 0 {
				n++
			}
		}
	}
	return n
}

// AddrUp reports whether ip is configured on a live interface that is
// reachable from the operator: 192.168.1.x addresses only through the
// upstream NIC (the WAN cable), the others on any live interface.
func (m *Model) AddrUp(ip string) bool {
	for _, l := range m.Links {
		for _, a := range l.Addrs {
			p, err := netip.ParsePrefix(a)
			if err != nil || p.Addr().String() != ip {
				continue
			}
			if !l.Up {
				continue
			}
			if strings.HasPrefix(ip, "192.168.1.") {
				if l.Kind == "eth" {
					if n := m.nic(l.Name); n != nil && n.Internet && n.Link {
						return true
					}
				}
				for _, p := range l.Ports {
					if n := m.nic(p); n != nil && n.Internet && n.Link {
						return true
					}
				}
				continue
			}
			return true
		}
	}
	return false
}
