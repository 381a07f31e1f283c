package opnsense

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Config is what the lab models of a config.xml: the API keys, the
// assigned interfaces, dnsmasq, Unbound (OPNsense/unboundplus) and a legacy
// <unbound> section still waiting for the boot-time migration. A section
// that is absent parses to the model's defaults, as OPNsense reads it.
type Config struct {
	// Keys maps API key → secret hash.
	Keys map[string]string
	// Interfaces are the assigned interfaces (lan, wan, optN), in
	// document order.
	Interfaces []Interface
	Dnsmasq    DnsmasqConfig
	Unbound    UnboundConfig
	// Legacy is the pre-MVC <unbound> section (nil when absent).
	Legacy *LegacyUnbound
}

// Interface is one entry of <interfaces>.
type Interface struct {
	Name, If, Descr, IPAddr, Subnet string
	Enable                          bool
}

// DnsmasqConfig is the <dnsmasq> model (mounted at /dnsmasq,
// opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Dnsmasq/Dnsmasq.xml:2).
type DnsmasqConfig struct {
	// Settings holds the lab's flattened settings record (the keys of
	// dnsmasqFields: "enable", "port", "dhcp_authoritative", …).
	Settings Record
	Hosts    []Item
	Ranges   []Item
}

// Item is an ArrayField item: its uuid attribute and its fields.
type Item struct {
	UUID   string
	Fields Record
}

// UnboundConfig is the OPNsense/unboundplus model
// (opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Unbound/Unbound.xml).
type UnboundConfig struct {
	// Present says the section exists; Version is its version attribute
	// ("" when missing: every migration runs again at boot).
	Present bool   `json:"present"`
	Version string `json:"version,omitempty"`
	// Enabled is general.enabled, default 0 (Unbound.xml:7-10).
	Enabled bool `json:"enabled"`
	// Port is general.port, default 53 (Unbound.xml:11-14).
	Port string `json:"port"`
	// Dots are the query forwarding / DNS over TLS entries (Unbound.xml:279-313).
	Dots []Dot `json:"dots,omitempty"`
	// Hosts are the host overrides (hosts.host, Unbound.xml:314 on).
	Hosts []Item `json:"-"`
}

// Dot is one dots.dot entry.
type Dot struct {
	UUID    string `json:"uuid"`
	Enabled bool   `json:"enabled"`
	// Type is "dot" (DNS over TLS) or "forward", default "dot" (Unbound.xml:285-292).
	Type   string `json:"type"`
	Domain string `json:"domain"`
	Server string `json:"server"`
	Port   string `json:"port"`
}

// LegacyUnbound is what the boot-time migrations read of a pre-MVC
// <unbound> section.
type LegacyUnbound struct {
	// Enable is whether <enable> is present: Unbound M1_0_5 sets
	// general.enabled from isset($config->unbound->enable)
	// (opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Unbound/Migrations/M1_0_5.php:53).
	Enable bool `json:"enable"`
	// Overrides are the <domainoverrides> entries; M1_0_1 reads their
	// <domain> and <ip> (M1_0_1.php:94-106).
	Overrides []LegacyOverride `json:"overrides,omitempty"`
}

// LegacyOverride is one legacy <domainoverrides> entry.
type LegacyOverride struct {
	Domain string `json:"domain"`
	IP     string `json:"ip"` // "<server>[@<port>]"
}

// xnode is a parsed XML element.
type xnode struct {
	name  string
	attrs map[string]string
	text  strings.Builder
	kids  []*xnode
}

func (n *xnode) all(name string) []*xnode {
	var out []*xnode
	if n == nil {
		return nil
	}
	for _, k := range n.kids {
		if k.name == name {
			out = append(out, k)
		}
	}
	return out
}

// get follows a "/"-separated path of first children; nil when absent.
func (n *xnode) get(path string) *xnode {
	cur := n
	for _, p := range strings.Split(path, "/") {
		ks := cur.all(p)
		if len(ks) == 0 {
			return nil
		}
		cur = ks[0]
	}
	return cur
}

func (n *xnode) val(path string) string {
	if x := n.get(path); x != nil {
		return strings.TrimSpace(x.text.String())
	}
	return ""
}

func parseTree(configXML []byte) (*xnode, error) {
	dec := xml.NewDecoder(bytes.NewReader(configXML))
	dec.Strict = true
	var stack []*xnode
	var root *xnode
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("opnsense lab: config.xml: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, errors.New("opnsense lab: config.xml: more than one root element")
				}
				if t.Name.Local != "opnsense" {
					return nil, fmt.Errorf("opnsense lab: config.xml: root element is <%s>, want <opnsense>", t.Name.Local)
				}
				root = n
			} else {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			}
			stack = append(stack, n)
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	if root == nil {
		return nil, errors.New("opnsense lab: config.xml: no <opnsense> root element")
	}
	return root, nil
}

// ParseAPIKeys extracts the API keys of a config.xml: every <apikeys>
// element, either in the form of OPNsense 26.1 (text lines
// "<key>|<sha512-crypt of the secret>", what TAPPaaS' template renders for
// @APIKEYS@) or the legacy form (<item><key>…</key><secret>…</secret></item>),
// which ApiKeyField::setValue converts
// (opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Auth/FieldTypes/ApiKeyField.php).
// The map is key → secret hash.
func ParseAPIKeys(configXML []byte) (map[string]string, error) {
	root, err := parseTree(configXML)
	if err != nil {
		return nil, err
	}
	return apiKeys(root), nil
}

func apiKeys(root *xnode) map[string]string {
	keys := map[string]string{}
	var walk func(n *xnode)
	walk = func(n *xnode) {
		for _, k := range n.kids {
			if k.name != "apikeys" {
				walk(k)
				continue
			}
			if items := k.all("item"); len(items) > 0 {
				for _, it := range items {
					if key := it.val("key"); key != "" {
						keys[key] = it.val("secret")
					}
				}
				continue
			}
			for _, line := range strings.Split(k.text.String(), "\n") {
				if key, h, ok := strings.Cut(strings.TrimSpace(line), "|"); ok && key != "" {
					keys[key] = h
				}
			}
		}
	}
	walk(root)
	return keys
}

// ParseConfig reads the sections the lab models. Values the models would
// refuse (a port out of range, a forward without a server, an unknown dot
// type) are refused here: the lab is stricter than loading a config.xml,
// which OPNsense does without validation.
func ParseConfig(configXML []byte) (*Config, error) {
	root, err := parseTree(configXML)
	if err != nil {
		return nil, err
	}
	c := &Config{Keys: apiKeys(root)}
	for k, h := range c.Keys {
		if !strings.HasPrefix(h, "$6$") {
			return nil, fmt.Errorf("opnsense lab: config.xml: API key %q: secret is not a SHA-512 crypt hash ($6$…)", k)
		}
	}
	var ifaces []*xnode
	if x := root.get("interfaces"); x != nil {
		ifaces = x.kids
	}
	for _, x := range ifaces {
		// The loopback (lo0) is internal_dynamic and never listed as an
		// assignment.
		if x.name == "lo0" || x.val("if") == "lo0" {
			continue
		}
		ifc := Interface{Name: x.name, If: x.val("if"), Descr: x.val("descr"), IPAddr: x.val("ipaddr"), Subnet: x.val("subnet"), Enable: x.get("enable") != nil}
		if ifc.If == "" {
			return nil, fmt.Errorf("opnsense lab: config.xml: interfaces/%s has no <if>", x.name)
		}
		if ifc.Descr == "" {
			ifc.Descr = strings.ToUpper(x.name)
		}
		c.Interfaces = append(c.Interfaces, ifc)
	}
	if err := parseDnsmasq(root.get("dnsmasq"), &c.Dnsmasq); err != nil {
		return nil, err
	}
	if err := parseUnbound(root.get("OPNsense/unboundplus"), &c.Unbound); err != nil {
		return nil, err
	}
	if lg := root.get("unbound"); lg != nil {
		c.Legacy = &LegacyUnbound{Enable: lg.get("enable") != nil}
		for _, o := range lg.all("domainoverrides") {
			c.Legacy.Overrides = append(c.Legacy.Overrides, LegacyOverride{Domain: o.val("domain"), IP: o.val("ip")})
		}
	}
	return c, nil
}

func boolVal(n *xnode, path, def string) string {
	x := n.get(path)
	if x == nil || strings.TrimSpace(x.text.String()) == "" {
		return def
	}
	if strings.TrimSpace(x.text.String()) == "1" {
		return "1"
	}
	return "0"
}

func checkPort(where, v string) error {
	if v == "" {
		return nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("opnsense lab: config.xml: %s %q is not a port number", where, v)
	}
	return nil
}

// parseDnsmasq follows Dnsmasq.xml: booleans empty by default except
// dhcp.fqdn and dhcp.default_fw_rules (Default 1, lines 51-54, 67-70);
// dnsmasq runs when <enable> is set (dnsmasq.inc:33-38).
func parseDnsmasq(n *xnode, d *DnsmasqConfig) error {
	d.Settings = Record{
		"enable": boolVal(n, "enable", "0"), "interface": n.val("interface"), "port": n.val("port"),
		"regdhcp": boolVal(n, "regdhcp", "0"), "regdhcpstatic": boolVal(n, "regdhcpstatic", "0"), "dhcpfirst": boolVal(n, "dhcpfirst", "0"),
		"domain_needed": boolVal(n, "domain_needed", "0"), "no_hosts": boolVal(n, "no_hosts", "0"), "strict_order": boolVal(n, "strict_order", "0"),
		"dhcp_authoritative": boolVal(n, "dhcp/authoritative", "0"), "dhcp_default_fw_rules": boolVal(n, "dhcp/default_fw_rules", "1"),
		"dhcp_fqdn": boolVal(n, "dhcp/fqdn", "1"), "dhcp_domain": n.val("dhcp/domain"),
	}
	if err := checkPort("dnsmasq/port", d.Settings["port"]); err != nil {
		return err
	}
	for _, h := range n.all("hosts") {
		if len(h.kids) == 0 {
			continue // an empty legacy tag is skipped (BaseModel.php:285-288)
		}
		d.Hosts = append(d.Hosts, Item{UUID: itemUUID(h), Fields: Record{"host": h.val("host"), "domain": h.val("domain"), "ip": h.val("ip"),
			"local": boolVal(h, "local", "0"), "ignore": boolVal(h, "ignore", "0"), "hwaddr": h.val("hwaddr"), "descr": h.val("descr")}})
	}
	for _, r := range n.all("dhcp_ranges") {
		if len(r.kids) == 0 {
			continue
		}
		it := Item{UUID: itemUUID(r), Fields: Record{"interface": r.val("interface"), "start_addr": r.val("start_addr"), "end_addr": r.val("end_addr"),
			"domain": r.val("domain"), "domain_type": r.val("domain_type"), "lease_time": r.val("lease_time"), "description": r.val("description"), "nosync": boolVal(r, "nosync", "0")}}
		if it.Fields["domain_type"] == "" {
			it.Fields["domain_type"] = "range" // Default range (Dnsmasq.xml:236-243)
		}
		if it.Fields["start_addr"] == "" {
			return fmt.Errorf("opnsense lab: config.xml: dnsmasq dhcp_ranges %s: start_addr is required (Dnsmasq.xml:212-215)", it.UUID)
		}
		d.Ranges = append(d.Ranges, it)
	}
	return nil
}

// itemUUID is an ArrayField item's uuid attribute, or a new one: OPNsense
// invents a random uuid for an item without one at every load
// (opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Base/BaseModel.php:291-307).
func itemUUID(n *xnode) string {
	if u := n.attrs["uuid"]; u != "" {
		return u
	}
	return newUUID()
}

func parseUnbound(n *xnode, u *UnboundConfig) error {
	*u = UnboundConfig{Port: "53"}
	if n == nil {
		return nil
	}
	u.Present, u.Version = true, n.attrs["version"]
	u.Enabled = boolVal(n, "general/enabled", "0") == "1"
	if p := n.val("general/port"); p != "" {
		u.Port = p
	}
	if err := checkPort("unboundplus general/port", u.Port); err != nil {
		return err
	}
	for _, d := range n.get("dots").all("dot") {
		if len(d.kids) == 0 {
			continue
		}
		dot := Dot{UUID: itemUUID(d), Enabled: boolVal(d, "enabled", "1") == "1", Type: d.val("type"), Domain: d.val("domain"), Server: d.val("server"), Port: d.val("port")}
		if dot.Type == "" {
			dot.Type = "dot"
		}
		if err := checkDot(dot); err != nil {
			return fmt.Errorf("opnsense lab: config.xml: unboundplus dots %s: %w", dot.UUID, err)
		}
		u.Dots = append(u.Dots, dot)
	}
	for _, h := range n.get("hosts").all("host") {
		if len(h.kids) == 0 {
			continue
		}
		u.Hosts = append(u.Hosts, Item{UUID: itemUUID(h), Fields: Record{"enabled": boolVal(h, "enabled", "1"), "hostname": h.val("hostname"),
			"domain": h.val("domain"), "rr": h.val("rr"), "server": h.val("server"), "description": h.val("description")}})
	}
	return nil
}

// checkDot follows dots.dot in Unbound.xml:279-313: type is dot or
// forward, server is required and an address, port a port.
func checkDot(d Dot) error {
	if d.Type != "dot" && d.Type != "forward" {
		return fmt.Errorf("type %q is not dot or forward", d.Type)
	}
	if d.Server == "" {
		return errors.New("server is required")
	}
	if _, err := netip.ParseAddr(d.Server); err != nil {
		return fmt.Errorf("server %q is not an address", d.Server)
	}
	return checkPort("port", d.Port)
}

// ApplyConfigXML is what the lab does when a config.xml is copied to
// /conf/config.xml and rc.reload_all runs, as the installer and upstream do
// (TAPPaaS@f54e4fc:src/foundation/firewall/config-firewall.sh:258-263): the
// modelled sections replace the saved and the running state, since
// rc.reload_all reconfigures every service from the file — Unbound and
// dnsmasq through their 'local' hooks (opnsense/core@26.1.11:src/etc/rc.reload_all:56,
// src/etc/inc/plugins.inc.d/unbound.inc:44, dnsmasq.inc:44). No migration
// runs (they run at boot only, src/etc/rc.bootup:63): a legacy <unbound>
// section stays unread until Boot. The API keys become exactly the ones it
// carries, so the image's bootstrap key stops working. It returns the
// number of keys.
func (s *Server) ApplyConfigXML(configXML []byte) (int, error) {
	c, err := ParseConfig(configXML)
	if err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadConfig(c)
	return len(c.Keys), nil
}

// loadConfig replaces the modelled state with c and starts the services
// from it. s.mu is held.
func (s *Server) loadConfig(c *Config) {
	s.st.Keys = map[string]string{}
	for k, v := range c.Keys {
		s.st.Keys[k] = v
	}
	s.verified = map[string][32]byte{}
	ifs := newTable()
	for _, i := range c.Interfaces {
		type4 := "static"
		switch i.IPAddr {
		case "dhcp":
			type4 = "dhcp"
		case "":
			type4 = "none"
		}
		en := "0"
		if i.Enable {
			en = "1"
		}
		ifs.put(i.Name, Record{"if": i.If, "descr": i.Descr, "enable": en, "lock": "0", "type4": type4, "ipaddr": i.IPAddr, "subnet": i.Subnet})
	}
	s.st.Tables[tIfaces] = ifs
	items := func(its []Item) *Table {
		t := newTable()
		for _, it := range its {
			t.put(it.UUID, it.Fields.clone())
		}
		return t
	}
	s.st.Tables[tHost] = items(c.Dnsmasq.Hosts)
	s.st.Tables[tRange] = items(c.Dnsmasq.Ranges)
	s.st.Tables[tOverride] = items(c.Unbound.Hosts)
	s.st.Settings["dnsmasq"] = c.Dnsmasq.Settings.clone()
	for _, t := range []string{tIfaces, tHost, tRange, tOverride} {
		s.st.Running[t] = s.st.Tables[t].clone()
	}
	s.st.RunningSettings["dnsmasq"] = s.st.Settings["dnsmasq"].clone()
	u := c.Unbound
	u.Hosts = nil
	s.st.DNS = &DNSState{Unbound: u, Legacy: c.Legacy}
	s.st.DNS.Running = s.st.DNS.Unbound.clone()
}
