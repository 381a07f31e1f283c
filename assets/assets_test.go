package assets

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// xnode is a parsed XML element (test helper).
type xnode struct {
	name  string
	attrs map[string]string
	text  string
	kids  []*xnode
}

func parseXML(t *testing.T, b []byte) *xnode {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	var stack []*xnode
	var root *xnode
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch v := tok.(type) {
		case xml.StartElement:
			n := &xnode{name: v.Name.Local, attrs: map[string]string{}}
			for _, a := range v.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(v)
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	return root
}

func (n *xnode) all(name string) []*xnode {
	var out []*xnode
	for _, k := range n.kids {
		if k.name == name {
			out = append(out, k)
		}
	}
	return out
}

func (n *xnode) get(path string) *xnode {
	cur := n
	for _, p := range strings.Split(path, "/") {
		var next *xnode
		if cur != nil {
			if ks := cur.all(p); len(ks) > 0 {
				next = ks[0]
			}
		}
		cur = next
	}
	return cur
}

func (n *xnode) val(path string) string {
	if x := n.get(path); x != nil {
		return strings.TrimSpace(x.text)
	}
	return ""
}

func render(t *testing.T) []byte {
	t.Helper()
	b, err := RenderFirewallConfig(FirewallConfig{APIKey: "k<&>\"", APISecretHash: "$6$salt$hash", RootPasswordHash: "$6$x$y",
		AuthorizedKeysB64: "c3NoLWVkMjU1MTk=", LANIP: "10.0.0.1", Nodes: []FirewallNode{{Name: "tappaas1", IP: "10.0.0.10"}, {Name: "tappaas2", IP: "10.0.0.11"}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRenderFirewallConfigEscapesAndIsXML(t *testing.T) {
	t.Parallel()
	root := parseXML(t, render(t))
	// OPNsense 26.1 stores API keys as "<key>|<crypt of the secret>" lines
	// (opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Auth/FieldTypes/ApiKeyField.php),
	// the form upstream renders for @APIKEYS@.
	if got := root.val("system/user/apikeys"); got != "k<&>\"|$6$salt$hash" {
		t.Fatalf("apikeys = %q", got)
	}
	var hosts []string
	for _, h := range root.get("dnsmasq").all("hosts") {
		hosts = append(hosts, h.val("host")+"."+h.val("domain")+"="+h.val("ip"))
	}
	if strings.Join(hosts, " ") != "firewall.mgmt.internal=10.0.0.1 tappaas1.mgmt.internal=10.0.0.10 tappaas2.mgmt.internal=10.0.0.11" {
		t.Fatalf("dnsmasq hosts: %v", hosts)
	}
	if _, err := RenderFirewallConfig(FirewallConfig{APIKey: "a|b", APISecretHash: "$6$x$y"}); err == nil {
		t.Fatal("an API key holding '|' was rendered")
	}
}

// TestFirewallConfigDNSAsOPNsense261 checks the DNS sections of the rendered
// configuration against OPNsense 26.1: Unbound lives under
// OPNsense/unboundplus with general.enabled defaulting to 0
// (opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Unbound/Unbound.xml:2,7-10),
// so the section must say enabled=1 itself; the internal and reverse zones
// are forwarded to dnsmasq on 127.0.0.1:53053 as upstream's template does
// (TAPPaaS@f54e4fc:src/foundation/firewall/firewall-config.xml.template:402-496).
func TestFirewallConfigDNSAsOPNsense261(t *testing.T) {
	t.Parallel()
	root := parseXML(t, render(t))
	if root.get("unbound") != nil {
		t.Fatal("legacy <unbound> section: 26.1 migrates it only at boot, and not the forwards (Unbound M1_0_1 reads <ip>)")
	}
	ub := root.get("OPNsense/unboundplus")
	if ub == nil {
		t.Fatal("no OPNsense/unboundplus section")
	}
	// Without a version attribute every migration runs again at boot and
	// M1_0_2 turns each dot into DNS over TLS
	// (opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Unbound/Migrations/M1_0_2.php).
	if ub.attrs["version"] == "" || root.get("dnsmasq").attrs["version"] == "" {
		t.Fatal("model sections need their version attribute")
	}
	if ub.val("general/enabled") != "1" || ub.val("general/port") != "53" {
		t.Fatalf("unbound general: enabled=%q port=%q", ub.val("general/enabled"), ub.val("general/port"))
	}
	fwd := map[string]string{}
	for _, d := range ub.get("dots").all("dot") {
		if d.val("enabled") == "1" && d.val("type") == "forward" {
			fwd[d.val("domain")] = d.val("server") + ":" + d.val("port")
		}
	}
	if fwd["internal"] != "127.0.0.1:53053" || fwd["10.in-addr.arpa"] != "127.0.0.1:53053" {
		t.Fatalf("unbound forwards: %v", fwd)
	}
	dm := root.get("dnsmasq")
	if dm.val("enable") != "1" || dm.val("port") != "53053" || dm.val("interface") != "lan" || dm.val("dhcp/authoritative") != "1" {
		t.Fatalf("dnsmasq: enable=%q port=%q interface=%q authoritative=%q", dm.val("enable"), dm.val("port"), dm.val("interface"), dm.val("dhcp/authoritative"))
	}
}

// modelFields lists, per model section, the fields OPNsense 26.1.11 defines
// (a path of containers and fields, "*" for an ArrayField item), transcribed
// from the model files named beside each block.
var modelFields = map[string][]string{
	// opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Unbound/Unbound.xml
	"OPNsense/unboundplus": {
		// general, lines 6-58
		"general/enabled", "general/port", "general/stats", "general/active_interface", "general/dnssec", "general/dns64",
		"general/dns64prefix", "general/noarecords", "general/regdhcp", "general/regdhcpdomain", "general/regdhcpstatic",
		"general/noreglladdr6", "general/noregrecords", "general/txtsupport", "general/cacheflush", "general/safesearch",
		"general/local_zone_type", "general/outgoing_interface", "general/enable_wpad",
		// acls, lines 142-183
		"acls/default_action", "acls/acl",
		// forwarding and dots, lines 276-313
		"forwarding/enabled",
		"dots/dot/enabled", "dots/dot/type", "dots/dot/domain", "dots/dot/server", "dots/dot/port", "dots/dot/verify",
		"dots/dot/forward_tcp_upstream", "dots/dot/forward_first", "dots/dot/description",
		// hosts and aliases, lines 314 on (empty here)
		"hosts", "aliases",
	},
	// opnsense/core@26.1.11:src/opnsense/mvc/app/models/OPNsense/Dnsmasq/Dnsmasq.xml
	"dnsmasq": {
		// lines 6-46
		"enable", "regdhcp", "regdhcpstatic", "dhcpfirst", "strict_order", "domain_needed", "no_private_reverse", "no_resolv",
		"log_queries", "no_hosts", "strictbind", "dnssec", "regdhcpdomain", "interface", "port", "dns_forward_max",
		"cache_size", "local_ttl", "add_mac", "add_subnet", "strip_subnet",
		// dhcp, lines 47-99
		"dhcp/no_interface", "dhcp/fqdn", "dhcp/domain", "dhcp/local", "dhcp/lease_max", "dhcp/authoritative",
		"dhcp/default_fw_rules", "dhcp/reply_delay", "dhcp/enable_ra", "dhcp/host_ping", "dhcp/nosync", "dhcp/log_dhcp", "dhcp/log_quiet",
		// line 100
		"no_ident",
		// hosts, lines 104-146
		"hosts/host", "hosts/domain", "hosts/local", "hosts/ip", "hosts/cnames", "hosts/client_id", "hosts/hwaddr",
		"hosts/lease_time", "hosts/ignore", "hosts/set_tag", "hosts/descr", "hosts/comments", "hosts/aliases",
		// dhcp_ranges, lines 194-271
		"dhcp_ranges/interface", "dhcp_ranges/set_tag", "dhcp_ranges/start_addr", "dhcp_ranges/end_addr", "dhcp_ranges/subnet_mask",
		"dhcp_ranges/constructor", "dhcp_ranges/mode", "dhcp_ranges/prefix_len", "dhcp_ranges/lease_time", "dhcp_ranges/domain_type",
		"dhcp_ranges/domain", "dhcp_ranges/nosync", "dhcp_ranges/ra_mode", "dhcp_ranges/ra_priority", "dhcp_ranges/ra_mtu",
		"dhcp_ranges/ra_interval", "dhcp_ranges/ra_router_lifetime", "dhcp_ranges/description",
	},
}

// arrayItems are the ArrayField items among modelFields (type="ArrayField"
// in the same model files).
var arrayItems = map[string]bool{"dots/dot": true, "acls/acl": true, "hosts": true, "dhcp_ranges": true}

// TestFirewallConfigFieldsExistInModels fails on any element of a modelled
// section that OPNsense 26.1.11 does not define (such as the old template's
// dnsmasq <dhcp_authoritative>), and on array items without a stable uuid.
func TestFirewallConfigFieldsExistInModels(t *testing.T) {
	t.Parallel()
	root := parseXML(t, render(t))
	uuidRe := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for section, fields := range modelFields {
		known := map[string]bool{}
		for _, f := range fields {
			known[f] = true
		}
		sec := root.get(section)
		if sec == nil {
			t.Fatalf("section %s missing", section)
		}
		var unknown []string
		var walk func(n *xnode, prefix string)
		walk = func(n *xnode, prefix string) {
			for _, k := range n.kids {
				p := strings.TrimPrefix(prefix+"/"+k.name, "/")
				if known[p] {
					continue
				}
				if len(k.kids) == 0 {
					unknown = append(unknown, p)
					continue
				}
				if arrayItems[p] {
					u := k.attrs["uuid"]
					if !uuidRe.MatchString(u) || seen[u] {
						t.Errorf("%s/%s: uuid %q missing, malformed or repeated (OPNsense invents a new one at every load)", section, p, u)
					}
					seen[u] = true
				}
				walk(k, p)
			}
		}
		walk(sec, "")
		sort.Strings(unknown)
		if len(unknown) > 0 {
			t.Errorf("%s: fields OPNsense 26.1.11 does not define: %v", section, unknown)
		}
	}
	if a, b := render(t), render(t); !bytes.Equal(a, b) {
		t.Error("two renders of the same input differ (item uuids must be stable)")
	}
}
func TestModules(t *testing.T) {
	t.Parallel()
	fw, err := Module("firewall")
	if err != nil {
		t.Fatal(err)
	}
	if fw.VMID != 110 || fw.Cores != 4 || fw.MemoryMB != 8192 || fw.DiskSize != "32G" || fw.Bridge1 != "wan" || fw.CloudInit || fw.Tags != "TAPPaaS;Foundation" {
		t.Fatalf("firewall.json: %+v", fw)
	}
	c, err := Module("tappaas-cicd")
	if err != nil || c.VMID != 130 || c.ImageType != "clone" || c.Image != "8080" || !c.CloudInit {
		t.Fatalf("tappaas-cicd.json: %+v %v", c, err)
	}
	if _, err := Module("nope"); err == nil {
		t.Fatal("unknown module accepted")
	}
}
