package opnsense

import (
	"strings"
)

// unboundModelVersion is the Unbound model's version in 26.1.2, the
// firmware of the TAPPaaS image
// (opnsense/core@26.1.2:src/opnsense/mvc/app/models/OPNsense/Unbound/Unbound.xml:4);
// migrations up to it run at boot for a section with an older or no
// version attribute.
const unboundModelVersion = "1.0.13"

// DNSState is the firewall's resolver: Unbound as config.xml holds it, as
// the running service uses it, and a legacy <unbound> section still in
// config.xml (read only by the boot-time migrations).
type DNSState struct {
	Unbound UnboundConfig  `json:"unbound"`
	Running UnboundConfig  `json:"running"`
	Legacy  *LegacyUnbound `json:"legacy,omitempty"`
}

func (u UnboundConfig) clone() UnboundConfig {
	u.Dots = append([]Dot(nil), u.Dots...)
	u.Hosts = nil
	return u
}

// imageDNS is the resolver of the TAPPaaS firewall image as it boots:
// upstream bakes its firewall-config.xml.template into the image
// (TAPPaaS@f54e4fc:.github/workflows/build-opnsense-image.yml:71-88), whose
// unboundplus section enables Unbound on :53 and forwards internal and
// 10.in-addr.arpa to dnsmasq on 127.0.0.1:53053
// (TAPPaaS@f54e4fc:src/foundation/firewall/firewall-config.xml.template:402-496).
func imageDNS() *DNSState {
	u := UnboundConfig{Present: true, Version: unboundModelVersion, Enabled: true, Port: "53", Dots: []Dot{
		{UUID: "4e110e89-0df4-41a4-8984-4660a92475fa", Enabled: true, Type: "forward", Domain: "internal", Server: "127.0.0.1", Port: "53053"},
		{UUID: "deba2d8b-d0ea-4f0f-9297-cfdf3da715d4", Enabled: true, Type: "forward", Domain: "10.in-addr.arpa", Server: "127.0.0.1", Port: "53053"},
	}}
	return &DNSState{Unbound: u, Running: u.clone()}
}

// applyUnbound is unbound/service/reconfigure: the service stops, and
// starts again only when general.enabled is set
// (opnsense/core@26.1.11:src/opnsense/mvc/app/controllers/OPNsense/Base/ApiMutableServiceControllerBase.php:186-223,
// Unbound ServiceController $internalServiceEnabled = 'general.enabled').
// s.mu is held.
func (s *Server) applyUnbound() {
	s.st.DNS.Running = s.st.DNS.Unbound.clone()
}

// versionLess compares dotted versions ("" is 0.0.0), as version_compare.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < 3; i++ {
		var x, y int
		if i < len(pa) {
			x = atoiSafe(pa[i])
		}
		if i < len(pb) {
			y = atoiSafe(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func atoiSafe(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return n
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// migrateUnbound runs the Unbound model migrations the lab models, as
// rc.bootup's convert_config does (opnsense/core@26.1.11:src/etc/rc.bootup:63,
// src/etc/inc/config.inc:161-185 → pluginctl -M → run_migrations.php), for
// a section whose version is older than the model
// (src/opnsense/mvc/app/models/OPNsense/Base/BaseModel.php:891-958):
//
//   - M1_0_1 turns each legacy domain override into a forward, reading its
//     server from <ip> and its domain from an undefined variable, so the
//     domain is always lost (Migrations/M1_0_1.php:94-106);
//   - M1_0_2 sets every dot's type to "dot" (DNS over TLS) when the section
//     already had dots (Migrations/M1_0_2.php);
//   - M1_0_5 sets general.enabled from whether <unbound><enable> exists
//     (Migrations/M1_0_5.php:53).
//
// The result is validated before it is saved: a dot without a server
// (Unbound.xml:298-300, Required) fails the whole migration, which is then
// not saved at all and the section keeps what it had (BaseModel.php:945-954,
// serializeToConfig 806-823). On success the legacy section is removed
// (M1_0_1.php:114-118, M1_0_6.php post). s.mu is held.
func (s *Server) migrateUnbound() {
	d := s.st.DNS
	cur := d.Unbound
	if cur.Present && !versionLess(cur.Version, unboundModelVersion) {
		return
	}
	m := cur.clone()
	hadDots := len(cur.Dots) > 0
	if versionLess(cur.Version, "1.0.1") && d.Legacy != nil {
		for _, o := range d.Legacy.Overrides {
			server, port, _ := strings.Cut(o.IP, "@")
			m.Dots = append(m.Dots, Dot{UUID: newUUID(), Enabled: true, Type: "forward", Domain: "", Server: server, Port: port})
		}
	}
	if versionLess(cur.Version, "1.0.2") && hadDots {
		for i := range m.Dots {
			m.Dots[i].Type = "dot"
		}
	}
	if versionLess(cur.Version, "1.0.5") && d.Legacy != nil {
		m.Enabled = d.Legacy.Enable
	}
	for _, dot := range m.Dots {
		if checkDot(dot) != nil {
			return // validation failed: nothing is saved
		}
	}
	m.Present, m.Version = true, unboundModelVersion
	d.Unbound, d.Legacy = m, nil
}

// Boot is what the firewall does when its VM (re)starts: the boot-time
// model migrations, then every service configured from the saved
// configuration (rc.bootup's plugins_configure hooks,
// opnsense/core@26.1.11:src/etc/rc.bootup:90-102): staged changes go live.
func (s *Server) Boot() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.migrateUnbound()
	s.st.DNS.Running = s.st.DNS.Unbound.clone()
	for name, t := range s.st.Tables {
		s.st.Running[name] = t.clone()
	}
	for name, r := range s.st.Settings {
		s.st.RunningSettings[name] = r.clone()
	}
}

// DNSAnswer is how the firewall answers a query on 10.0.0.1:53.
type DNSAnswer int

const (
	// DNSNoServer: nothing listens on 10.0.0.1:53 (the query times out).
	DNSNoServer DNSAnswer = iota
	// DNSFail: the name does not resolve (NXDOMAIN or SERVFAIL).
	DNSFail
	// DNSFound: an address.
	DNSFound
	// DNSRecurse: Unbound resolves the name on the internet; whether that
	// works depends on the firewall's WAN.
	DNSRecurse
)

// LookupDNS answers an A query sent to the firewall's port 53. leases maps
// the hostnames of dnsmasq's DHCP clients to their addresses. Unbound must
// be running on port 53; it answers its host overrides, sends a name under
// an enabled forward domain to that server (dnsmasq when it is
// 127.0.0.1:<dnsmasq port> and dnsmasq runs), and recurses for the rest,
// except the non-public internal and in-addr.arpa names, for which the root
// has no delegation (the lab answers them with a failure).
func (s *Server) LookupDNS(name string, leases map[string]string) (string, DNSAnswer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	run := s.st.DNS.Running
	if !run.Enabled || run.Port != "53" {
		return "", DNSNoServer
	}
	for _, id := range s.st.Running[tOverride].Order {
		r := s.st.Running[tOverride].Rows[id]
		fqdn := r["domain"]
		if r["hostname"] != "" {
			fqdn = r["hostname"] + "." + fqdn
		}
		if r["enabled"] != "0" && (r["rr"] == "" || r["rr"] == "A") && strings.EqualFold(fqdn, name) {
			return r["server"], DNSFound
		}
	}
	var best *Dot
	for i, d := range run.Dots {
		if !d.Enabled || d.Domain == "" {
			continue
		}
		dom := strings.ToLower(d.Domain)
		if (name == dom || strings.HasSuffix(name, "."+dom)) && (best == nil || len(dom) > len(best.Domain)) {
			best = &run.Dots[i]
		}
	}
	if best != nil {
		dm := s.st.RunningSettings["dnsmasq"]
		// A DNS-over-TLS "forward" to dnsmasq gets no answer: dnsmasq
		// does not speak TLS.
		if best.Type != "forward" || best.Server != "127.0.0.1" || best.Port == "" || dm["enable"] != "1" || dm["port"] != best.Port {
			return "", DNSFail
		}
		return s.dnsmasqLookup(name, leases)
	}
	if strings.HasSuffix(name, ".internal") || name == "internal" || strings.HasSuffix(name, ".arpa") || !strings.Contains(name, ".") {
		return "", DNSFail
	}
	return "", DNSRecurse
}

// dnsmasqLookup answers from dnsmasq's host entries and, for DHCP clients,
// hostname.<range domain> (dhcp.fqdn). s.mu is held.
func (s *Server) dnsmasqLookup(name string, leases map[string]string) (string, DNSAnswer) {
	hosts := s.st.Running[tHost]
	for _, id := range hosts.Order {
		r := hosts.Rows[id]
		fqdn := r["host"]
		if r["domain"] != "" {
			fqdn += "." + r["domain"]
		}
		if strings.EqualFold(fqdn, name) && r["ip"] != "" {
			return strings.Split(r["ip"], ",")[0], DNSFound
		}
	}
	ranges := s.st.Running[tRange]
	for _, id := range ranges.Order {
		dom := ranges.Rows[id]["domain"]
		if dom == "" {
			dom = s.st.RunningSettings["dnsmasq"]["dhcp_domain"]
		}
		for h, ip := range leases {
			if dom != "" && strings.EqualFold(h+"."+dom, name) {
				return ip, DNSFound
			}
		}
	}
	return "", DNSFail
}
