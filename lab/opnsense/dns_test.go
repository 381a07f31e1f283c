package opnsense

import (
	"strings"
	"testing"
)

func dnsConfig(unbound, legacy string) []byte {
	return []byte(`<?xml version="1.0"?><opnsense>
<system><user><name>root</name><apikeys>k|` + CryptSHA512("s", "saltsalt") + `</apikeys></user></system>
<interfaces><lan><enable>1</enable><if>vtnet0</if><ipaddr>10.0.0.1</ipaddr><subnet>24</subnet></lan><wan><enable>1</enable><if>vtnet1</if><ipaddr>dhcp</ipaddr></wan></interfaces>
<dnsmasq version="1.0.8"><enable>1</enable><interface>lan</interface><port>53053</port>
<hosts uuid="11111111-1111-4111-8111-111111111111"><host>firewall</host><domain>mgmt.internal</domain><ip>10.0.0.1</ip></hosts>
<dhcp_ranges uuid="22222222-2222-4222-8222-222222222222"><interface>lan</interface><start_addr>10.0.0.100</start_addr><end_addr>10.0.0.254</end_addr><domain>mgmt.internal</domain></dhcp_ranges>
</dnsmasq>` + legacy + `<OPNsense>` + unbound + `</OPNsense></opnsense>`)
}

const forwardDots = `<dots><dot uuid="33333333-3333-4333-8333-333333333333"><enabled>1</enabled><type>forward</type><domain>internal</domain><server>127.0.0.1</server><port>53053</port></dot></dots>`

// TestLookupDNSFollowsConfig: Unbound answers only when the config enables
// it (general.enabled defaults to 0, opnsense/core@26.1.11 Unbound.xml:7-10),
// internal names only through a forward the config declares, and the
// boot-time migrations do what 26.1.11's do to legacy and unversioned
// sections.
func TestLookupDNSFollowsConfig(t *testing.T) {
	t.Parallel()
	leases := map[string]string{"tappaas-cicd": "10.0.0.230"}
	type probe struct {
		name string
		want DNSAnswer
		ip   string
	}
	cases := []struct {
		name           string
		cfg            []byte
		reload, booted []probe
	}{
		{"unboundplus enabled with the internal forward",
			dnsConfig(`<unboundplus version="1.0.13"><general><enabled>1</enabled><port>53</port></general>`+forwardDots+`</unboundplus>`, ""),
			[]probe{{"firewall.mgmt.internal", DNSFound, "10.0.0.1"}, {"tappaas-cicd.mgmt.internal", DNSFound, "10.0.0.230"}, {"nope.mgmt.internal", DNSFail, ""}, {"example.com", DNSRecurse, ""}},
			[]probe{{"firewall.mgmt.internal", DNSFound, "10.0.0.1"}}},
		{"enabled without a forward: internal names fail",
			dnsConfig(`<unboundplus version="1.0.13"><general><enabled>1</enabled></general></unboundplus>`, ""),
			[]probe{{"firewall.mgmt.internal", DNSFail, ""}, {"example.com", DNSRecurse, ""}}, nil},
		{"general.enabled 0",
			dnsConfig(`<unboundplus version="1.0.13"><general><enabled>0</enabled></general>`+forwardDots+`</unboundplus>`, ""),
			[]probe{{"firewall.mgmt.internal", DNSNoServer, ""}}, []probe{{"example.com", DNSNoServer, ""}}},
		// M1_0_2 turns the dots of an unversioned section into DNS over TLS.
		{"unversioned section: the boot migration breaks the forward",
			dnsConfig(`<unboundplus><general><enabled>1</enabled></general>`+forwardDots+`</unboundplus>`, ""),
			[]probe{{"firewall.mgmt.internal", DNSFound, "10.0.0.1"}}, []probe{{"firewall.mgmt.internal", DNSFail, ""}, {"example.com", DNSRecurse, ""}}},
		// The template before the fix: no unboundplus; M1_0_1 reads <ip>,
		// finds none, and the failed validation saves nothing.
		{"legacy unbound with <server>",
			dnsConfig("", `<unbound><enable>1</enable><domainoverrides><domain>internal</domain><server>127.0.0.1@53053</server></domainoverrides></unbound>`),
			[]probe{{"firewall.mgmt.internal", DNSNoServer, ""}}, []probe{{"firewall.mgmt.internal", DNSNoServer, ""}}},
		// With <ip> the migration saves, Unbound is enabled (M1_0_5), but
		// the forward loses its domain (M1_0_1's undefined $domain).
		{"legacy unbound with <ip>",
			dnsConfig("", `<unbound><enable>1</enable><domainoverrides><domain>internal</domain><ip>127.0.0.1@53053</ip></domainoverrides></unbound>`),
			[]probe{{"firewall.mgmt.internal", DNSNoServer, ""}}, []probe{{"firewall.mgmt.internal", DNSFail, ""}, {"example.com", DNSRecurse, ""}}},
	}
	for _, c := range cases {
		s := NewServer(Options{})
		if ip, a := s.LookupDNS("firewall.mgmt.internal", nil); a != DNSFound || ip != "10.0.0.1" {
			t.Fatalf("image resolver: %q %v", ip, a)
		}
		if _, err := s.ApplyConfigXML(c.cfg); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		check := func(when string, ps []probe) {
			for _, p := range ps {
				if ip, a := s.LookupDNS(p.name, leases); a != p.want || ip != p.ip {
					t.Errorf("%s, %s: %s = %q %v, want %q %v", c.name, when, p.name, ip, a, p.ip, p.want)
				}
			}
		}
		check("after the reload", c.reload)
		s.Boot()
		check("after a boot", c.booted)
	}
}

func TestParseConfigRefusesWhatTheModelRefuses(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		`<unboundplus version="1.0.13"><dots><dot><type>forward</type><domain>internal</domain></dot></dots></unboundplus>`,
		`<unboundplus version="1.0.13"><dots><dot><type>udp</type><server>127.0.0.1</server></dot></dots></unboundplus>`,
		`<unboundplus version="1.0.13"><general><port>70000</port></general></unboundplus>`,
	} {
		if _, err := ParseConfig(dnsConfig(bad, "")); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	c, err := ParseConfig(dnsConfig("", ""))
	if err != nil || c.Unbound.Enabled || len(c.Interfaces) != 2 || c.Interfaces[0].Descr != "LAN" || c.Dnsmasq.Settings["port"] != "53053" {
		t.Fatalf("parse: %+v %v", c, err)
	}
	// Items without a uuid get a new one at every load.
	x := strings.Replace(string(dnsConfig("", "")), ` uuid="11111111-1111-4111-8111-111111111111"`, "", 1)
	a, _ := ParseConfig([]byte(x))
	b, _ := ParseConfig([]byte(x))
	if a.Dnsmasq.Hosts[0].UUID == b.Dnsmasq.Hosts[0].UUID {
		t.Fatal("a uuid-less item kept its uuid across loads")
	}
}

// TestUnboundReconfigureFollowsSavedConfig: unbound/service/reconfigure
// stops Unbound and starts it only when the saved general.enabled is set
// (ApiMutableServiceControllerBase::reconfigureAction, opnsense/core@26.1.11
// .../Base/ApiMutableServiceControllerBase.php:186-223).
func TestUnboundReconfigureFollowsSavedConfig(t *testing.T) {
	t.Parallel()
	r, s := startRaw(t, Options{})
	s.mu.Lock()
	s.st.DNS.Unbound.Enabled = false // saved, not yet applied
	s.mu.Unlock()
	if _, a := s.LookupDNS("firewall.mgmt.internal", nil); a != DNSFound {
		t.Fatalf("the running Unbound stopped before the reconfigure: %v", a)
	}
	if st, body := r.post("/api/unbound/service/reconfigure", map[string]any{}); st != 200 || !strings.Contains(body, `"ok"`) {
		t.Fatalf("reconfigure: %d %s", st, body)
	}
	if _, a := s.LookupDNS("firewall.mgmt.internal", nil); a != DNSNoServer {
		t.Fatalf("after reconfigure with general.enabled 0: %v, want no server", a)
	}
}
