package zones_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/config/zones/zonestest"
	goldenfile "github.com/tappaas/tappaas/internal/golden"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, name, got, *update)
}

func load(t testing.TB, path string) *zones.File {
	t.Helper()
	f, err := zones.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestPlanGoldenAgainstEmptyFirewall(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ file, golden string }{
		{"../../zones.json", "plan-default.golden"},
		{"testdata/upstream-zones.json", "plan-upstream.golden"},
	} {
		f := load(t, tc.file)
		ch := zones.Plan(f, zonestest.New().State())
		golden(t, tc.golden, []byte(ch.Text()))
		js, err := ch.JSON()
		if err != nil {
			t.Fatal(err)
		}
		golden(t, strings.TrimSuffix(tc.golden, ".golden")+".json.golden", append(js, '\n'))
	}
}

func TestRuleBaseMatchesUpstreamVectors(t *testing.T) {
	t.Parallel()
	// 30000 + 100·(sha256(name)[0:8] mod 100), computed with upstream's
	// _zone_rule_base (TAPPaaS@f54e4fc:…/opnsense_controller/zone_manager.py:628)
	// for the zones of its zones.json.
	want := map[string]int{"mgmt": 38100, "netbird": 38200, "srv": 31400, "srvHome": 32500, "srvWork": 31500,
		"srvCust": 30000, "srvDev": 35000, "srvTest": 33300, "home": 30400, "work": 39800, "iot": 39600,
		"iotLocal": 32600, "iotCloud": 38500, "iotCams": 32300, "iotUntrust": 37000, "guest": 32100, "dmz": 36000,
		"test": 33300, "testAllowA": 38800, "testAllowB": 39500, "testPinhole": 34500}
	for z, w := range want {
		if got := zones.RuleBase(z); got != w {
			t.Errorf("RuleBase(%s) = %d, want %d", z, got, w)
		}
	}
}

func TestUpstreamRuleSetShape(t *testing.T) {
	t.Parallel()
	f := load(t, "testdata/upstream-zones.json")
	ch := zones.Plan(f, zonestest.New().State())
	rules := map[string][]zones.Rule{}
	for _, c := range ch.Changes {
		if c.Kind == zones.KindRule {
			rules[c.Zone] = append(rules[c.Zone], *c.Rule)
		}
	}
	// home: access-to [internet, srvHome, iotCloud, iotLocal] → gateway at
	// base, the targets at base+1.. in list order, blocks at +90.., internet
	// at +99, Caddy reach 990/991 from 10.0.0.0/8 (zone_manager.py:1488-1661).
	var got []string
	for _, r := range rules["home"] {
		got = append(got, fmt.Sprintf("%d %s %s %s %s", r.Sequence, r.Action, r.SourceNet, r.DestinationNet, r.Description))
	}
	want := []string{
		"990 pass 10.0.0.0/8 10.6.0.1/32 Zone home -> caddy https",
		"991 pass 10.0.0.0/8 10.6.0.1/32 Zone home -> caddy http",
		"30400 pass 10.3.10.0/24 10.3.10.1/32 Zone home -> gateway",
		"30401 pass 10.3.10.0/24 10.2.10.0/24 Zone home -> srvHome",
		"30402 pass 10.3.10.0/24 10.4.20.0/24 Zone home -> iotCloud",
		"30403 pass 10.3.10.0/24 10.4.10.0/24 Zone home -> iotLocal",
		"30490 block 10.3.10.0/24 10.0.0.0/8 Zone home block rfc1918-10",
		"30491 block 10.3.10.0/24 172.16.0.0/12 Zone home block rfc1918-172",
		"30492 block 10.3.10.0/24 192.168.0.0/16 Zone home block rfc1918-192",
		"30499 pass 10.3.10.0/24 any Zone home -> internet"}
	if !slices.Equal(got, want) {
		t.Fatalf("home rules:\n got %q\nwant %q", got, want)
	}
	// iotLocal and iotCams (empty access-to) emit nothing; mgmt (Manual,
	// untagged) only Caddy on lan; dmz no Caddy; inactive zones none.
	for _, z := range []string{"iotLocal", "iotCams", "netbird", "srv", "test", "iotUntrust"} {
		if len(rules[z]) != 0 {
			t.Errorf("zone %s got rules %v", z, rules[z])
		}
	}
	if m := rules["mgmt"]; len(m) != 2 || m[0].Interface != "lan" || m[0].DestinationPort != "443" || m[1].DestinationPort != "80" {
		t.Errorf("mgmt rules = %+v", m)
	}
	for _, r := range rules["dmz"] {
		if strings.Contains(r.Description, "caddy") {
			t.Errorf("dmz got a caddy rule")
		}
	}
	// 10 enabled tagged zones get a VLAN described by the zone's description
	// and a range "<zone> DHCP".
	n := 0
	for _, c := range ch.Changes {
		switch c.Kind {
		case zones.KindVLAN:
			n++
			if c.VLAN.Descr != f.Zone(c.Zone).Description {
				t.Errorf("VLAN of %s described %q", c.Zone, c.VLAN.Descr)
			}
		case zones.KindRange:
			if c.Range.Description != c.Zone+" DHCP" {
				t.Errorf("range of %s described %q", c.Zone, c.Range.Description)
			}
		}
	}
	if n != 10 {
		t.Errorf("%d VLANs planned, want 10", n)
	}
}

func applyAndReplan(t *testing.T, fw *zonestest.Fake, f *zones.File) {
	t.Helper()
	ctx := context.Background()
	ch := zones.Plan(f, fw.State())
	var lines []string
	if err := zones.Apply(ctx, fw, ch, func(s string) { lines = append(lines, s) }); err != nil {
		t.Fatalf("apply: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if again := zones.Plan(f, fw.State()); !again.Empty() {
		t.Fatalf("plan after apply is not empty:\n%s", again.Text())
	}
}

func TestApplyThenPlanIsEmptyAndReapplyWritesNothing(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"../../zones.json", "testdata/upstream-zones.json"} {
		fw := zonestest.New()
		f := load(t, file)
		applyAndReplan(t, fw, f)
		w := fw.Writes()
		if err := zones.Apply(context.Background(), fw, zones.Plan(f, fw.State()), nil); err != nil {
			t.Fatal(err)
		}
		if fw.Writes() != w {
			t.Fatalf("%s: second apply wrote %d times", file, fw.Writes()-w)
		}
		calls := fw.Calls()
		// Dependency order: first VLAN, assignments after VLAN reconfigure, rules confirmed after ping.
		iv := slices.Index(calls, "Reconfigure vlan")
		ia := slices.IndexFunc(calls, func(s string) bool { return strings.HasPrefix(s, "Assign ") })
		ip := slices.Index(calls, "Ping")
		ic := slices.IndexFunc(calls, func(s string) bool { return strings.HasPrefix(s, "CancelRollback") })
		if iv < 0 || ia < iv || ip < 0 || ic < ip {
			t.Fatalf("%s: call order wrong: %v", file, calls)
		}
	}
}

func TestShrinkAccessToRemovesTheStaleRuleAndRenumbers(t *testing.T) {
	t.Parallel()
	fw := zonestest.New()
	f := load(t, "testdata/upstream-zones.json")
	applyAndReplan(t, fw, f)
	home := f.Zone("home").Clone()
	home.AccessTo = slices.DeleteFunc(home.AccessTo, func(s string) bool { return s == "srvHome" })
	f.SetZone("home", home)
	ch := zones.Plan(f, fw.State())
	// zone-manager numbers the targets by their place in access-to, so the
	// later two move up; it never deletes the stale rule, tappaas does.
	var got []string
	for _, c := range ch.Changes {
		s := fmt.Sprintf("%s %s", c.Op, c.ID)
		if c.Op == zones.Update {
			s += fmt.Sprintf(" %s→%s", c.Fields[0].From, c.Fields[0].To)
		}
		got = append(got, s)
	}
	want := []string{"update Zone home -> iotCloud 30402→30401", "update Zone home -> iotLocal 30403→30402", "delete Zone home -> srvHome"}
	if !slices.Equal(got, want) {
		t.Fatalf("plan = %q, want %q", got, want)
	}
	applyAndReplan(t, fw, f)
	for _, r := range fw.State().Rules {
		if r.Description == "Zone home -> srvHome" {
			t.Fatal("stale rule still present")
		}
	}
}

func TestReconcileDHCPStateAndOwnership(t *testing.T) {
	t.Parallel()
	fw := zonestest.New()
	// Objects of others: a hand-made VLAN, a module's rule (rules-manager's
	// "tappaas-module:" names), the Manual mgmt zone's range.
	foreign := zones.Current{
		VLANs:  []zones.VLAN{{Parent: "vtnet0", Tag: 999, Device: "vlan0.999", Descr: "hand made"}},
		Rules:  []zones.Rule{{Enabled: true, Sequence: 10400, Action: "pass", Interface: "lan", SourceNet: "10.2.10.0/24", DestinationNet: "any", Description: "tappaas-module:nas:ingress:srv:445"}},
		Ranges: []zones.Range{{Interface: "lan", StartAddr: "10.0.0.100", EndAddr: "10.0.0.254", Domain: "mgmt.internal", Description: "mgmt DHCP"}},
	}
	fw.Seed(foreign)
	f := load(t, "../../zones.json")
	applyAndReplan(t, fw, f)

	// DHCP change → exactly one range update.
	srv := f.Zone("srv").Clone()
	s := 100
	srv.DHCPStart = &s
	f.SetZone("srv", srv)
	ch := zones.Plan(f, fw.State())
	if len(ch.Changes) != 1 || ch.Changes[0].Op != zones.Update || ch.Changes[0].Kind != zones.KindRange ||
		ch.Changes[0].Fields[0].To != "10.2.10.100" {
		t.Fatalf("dhcp change plan:\n%s", ch.Text())
	}
	applyAndReplan(t, fw, f)

	// iot Inactive → all its objects torn down, rules before interface before VLAN.
	iot := f.Zone("iot").Clone()
	iot.State = zones.Inactive
	f.SetZone("iot", iot)
	ch = zones.Plan(f, fw.State())
	var kinds []string
	for _, c := range ch.Changes {
		if c.Zone == "iot" {
			if c.Op != zones.Delete {
				t.Fatalf("non-delete for inactive zone: %s", c.Line())
			}
			kinds = append(kinds, string(c.Kind))
		}
	}
	kinds = slices.Compact(kinds)
	if !slices.Equal(kinds, []string{"rule", "dhcp", "interface", "vlan"}) {
		t.Fatalf("teardown order = %v\n%s", kinds, ch.Text())
	}
	// private's rule to iot stays (the zone still lists it) — nothing else changes.
	for _, c := range ch.Changes {
		if c.Zone != "iot" && c.Kind != zones.KindListen {
			t.Fatalf("unexpected change %s", c.Line())
		}
	}
	applyAndReplan(t, fw, f)

	// Manual: srv switched to Manual keeps its objects untouched.
	srv = f.Zone("srv").Clone()
	srv.State = zones.Manual
	srv.AccessTo = []string{}
	f.SetZone("srv", srv)
	ch = zones.Plan(f, fw.State())
	for _, c := range ch.Changes {
		if c.Zone == "srv" && !strings.Contains(c.ID, "caddy") {
			t.Fatalf("Manual zone touched: %s", c.Line())
		}
	}
	applyAndReplan(t, fw, f)

	// Foreign objects survive everything.
	st := fw.State()
	for _, want := range []string{"hand made"} {
		if !slices.ContainsFunc(st.VLANs, func(v zones.VLAN) bool { return v.Descr == want }) {
			t.Fatal("foreign VLAN removed")
		}
	}
	if !slices.ContainsFunc(st.Rules, func(r zones.Rule) bool { return r.Description == "tappaas-module:nas:ingress:srv:445" }) ||
		!slices.ContainsFunc(st.Ranges, func(r zones.Range) bool { return r.Description == "mgmt DHCP" }) {
		t.Fatal("foreign object removed or changed")
	}

	// Zone removed from the file → its objects go.
	f.DeleteZone("private")
	dmz := f.Zone("mgmt").Clone()
	dmz.AccessTo = slices.DeleteFunc(dmz.AccessTo, func(s string) bool { return s == "private" })
	f.SetZone("mgmt", dmz)
	srv = f.Zone("srv").Clone()
	srv.PinholeAllowedFrom = []string{"dmz"}
	f.SetZone("srv", srv)
	applyAndReplan(t, fw, f)
	for _, v := range fw.State().VLANs {
		if v.Tag == 310 {
			t.Fatal("VLAN of removed zone kept")
		}
	}
}

func TestVLANWithTheZonesTagIsAdopted(t *testing.T) {
	t.Parallel()
	// zone-manager adopts a VLAN by tag and reconciles its description
	// (configure_vlans, TAPPaaS@f54e4fc:…/zone_manager.py:954-991); so does tappaas.
	fw := zonestest.New()
	fw.Seed(zones.Current{VLANs: []zones.VLAN{{Parent: "vtnet0", Tag: 210, Device: "vlan0.210", Descr: "Services (upstream)"}}})
	f := load(t, "../../zones.json")
	ch := zones.Plan(f, fw.State())
	var vlan []string
	for _, c := range ch.Changes {
		if c.Zone == "srv" && c.Kind == zones.KindVLAN {
			vlan = append(vlan, c.Line())
		}
	}
	if len(vlan) != 1 || !strings.HasPrefix(vlan[0], "~ vlan") || !strings.Contains(vlan[0], `"Services (upstream)" → "Services: applications and their backends"`) {
		t.Fatalf("srv VLAN changes = %q", vlan)
	}
	applyAndReplan(t, fw, f)
}

func TestApplyRevertsOnRuleFailureAndDoesNotConfirmWhenUnreachable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := load(t, "../../zones.json")

	fw := zonestest.New()
	fw.FailRuleAddsAfter = 3
	err := zones.Apply(ctx, fw, zones.Plan(f, fw.State()), nil)
	if err == nil || !strings.Contains(err.Error(), "reverted to savepoint") {
		t.Fatalf("err = %v", err)
	}
	if n := len(fw.State().Rules); n != 0 {
		t.Fatalf("%d rules left after revert", n)
	}
	fw.FailRuleAddsAfter = 0
	applyAndReplan(t, fw, f) // converges from the partial state

	fw2 := zonestest.New()
	fw2.PingErr = errors.New("connection refused")
	err = zones.ApplyWith(ctx, fw2, zones.Plan(f, fw2.State()), zones.ApplyOptions{PingAttempts: 2, PingDelay: 1})
	if !errors.Is(err, zones.ErrUnreachableAfterApply) || !strings.Contains(err.Error(), "rolls back") {
		t.Fatalf("err = %v", err)
	}
	if slices.ContainsFunc(fw2.Calls(), func(s string) bool { return strings.HasPrefix(s, "CancelRollback") }) {
		t.Fatal("rollback cancelled although the API was unreachable")
	}

	fw3 := zonestest.New()
	fw3.NoSavepoint = true
	applyAndReplan(t, fw3, f)
	if slices.ContainsFunc(fw3.Calls(), func(s string) bool { return strings.HasPrefix(s, "CancelRollback") }) {
		t.Fatal("CancelRollback without savepoint")
	}
}

func TestPlanIsDeterministic(t *testing.T) {
	t.Parallel()
	f := load(t, "testdata/upstream-zones.json")
	fw := zonestest.New()
	applyAndReplan(t, fw, f)
	st := fw.State()
	slices.Reverse(st.Rules)
	slices.Reverse(st.VLANs)
	// tear everything down twice from differently ordered snapshots
	empty, _ := zones.Parse([]byte(`{}`))
	a := zones.Plan(empty, st).Text()
	b := zones.Plan(empty, fw.State()).Text()
	if a != b {
		t.Fatal("plan depends on snapshot order")
	}
	applyAndReplan(t, fw, empty)
	if st := fw.State(); len(st.VLANs) != 0 || len(st.Rules) != 0 || len(st.Ranges) != 0 || len(st.Assignments) != 2 {
		t.Fatalf("teardown left %+v", st)
	}
}

func TestRenameZoneAdoptsItsVLAN(t *testing.T) {
	t.Parallel()
	fw := zonestest.New()
	f := load(t, "../../zones.json")
	applyAndReplan(t, fw, f)
	iot := f.Zone("iot").Clone()
	iot.Name = "things"
	f.SetZone("iot", iot)
	for _, n := range []string{"mgmt", "private"} {
		z := f.Zone(n).Clone()
		for i, a := range z.AccessTo {
			if a == "iot" {
				z.AccessTo[i] = "things"
			}
		}
		f.SetZone(n, z)
	}
	ch := zones.Plan(f, fw.State())
	for _, c := range ch.Changes {
		if c.Kind == zones.KindVLAN && c.Op != zones.Update {
			t.Fatalf("rename must update the VLAN in place, got %s", c.Line())
		}
	}
	applyAndReplan(t, fw, f)
	var tags []int
	for _, v := range fw.State().VLANs {
		tags = append(tags, v.Tag)
	}
	slices.Sort(tags)
	if !slices.Equal(tags, []int{210, 310, 410, 610}) {
		t.Fatalf("VLANs after rename = %v", tags)
	}
}

func TestSubnetChangeReassignsAndMovesRules(t *testing.T) {
	t.Parallel()
	fw := zonestest.New()
	f := load(t, "../../zones.json")
	applyAndReplan(t, fw, f)
	srv := f.Zone("srv").Clone()
	srv.IP = "10.2.11.0/24"
	f.SetZone("srv", srv)
	applyAndReplan(t, fw, f) // one apply converges: rules follow the new ifname
	st := fw.State()
	var ifname string
	for _, a := range st.Assignments {
		if a.Device == "vlan0.210" {
			ifname = a.Ifname
			if a.IPv4.String() != "10.2.11.1/24" {
				t.Fatalf("address = %s", a.IPv4)
			}
		}
	}
	for _, r := range st.Rules {
		if strings.HasPrefix(r.Description, "Zone srv ") && r.Interface != ifname {
			t.Fatalf("rule %s on %s, want %s", r.Description, r.Interface, ifname)
		}
	}
	if !slices.Contains(st.DnsmasqInterfaces, ifname) || len(st.DnsmasqInterfaces) != 5 {
		t.Fatalf("dnsmasq listens on %v", st.DnsmasqInterfaces)
	}
}

func TestFakeConformance(t *testing.T) {
	t.Parallel()
	zonestest.Conformance(t, func(*testing.T) zones.Firewall { return zonestest.New() })
}

// A zone moved to another bridge keeps its VLAN where it is, as
// zone-manager does (it matches by tag and never moves one); the plan says
// how to move it instead of failing half-way on the taken device name.
func TestBridgeChangeKeepsTheVLANAndSaysHowToMoveIt(t *testing.T) {
	t.Parallel()
	fw := zonestest.New()
	f := load(t, "../../zones.json")
	applyAndReplan(t, fw, f)
	srv := f.Zone("srv").Clone()
	srv.Bridge = "wan"
	f.SetZone("srv", srv)
	ch := zones.Plan(f, fw.State())
	if !ch.Empty() || len(ch.Warnings) != 1 || !strings.Contains(ch.Warnings[0], "VLAN 210 stays on vtnet0") {
		t.Fatalf("plan:\n%s", ch.Text())
	}
	srv.State = zones.Inactive
	f.SetZone("srv", srv)
	applyAndReplan(t, fw, f)
	srv.State = zones.Active
	f.SetZone("srv", srv)
	applyAndReplan(t, fw, f)
	for _, v := range fw.State().VLANs {
		if v.Tag == 210 && v.Parent != "vtnet1" {
			t.Fatalf("VLAN 210 on %s", v.Parent)
		}
	}
}
