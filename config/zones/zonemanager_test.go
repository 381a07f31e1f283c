package zones_test

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/config/zones/zonestest"
)

// The vectors of upstream's own zone-manager tests,
// TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/opnsense-controller/src/test/test_zone_manager.py
// (cited as test_zone_manager.py:LINE), transcribed as table cases. Each runs
// twice: against zonestest.ZoneManager (our replay of zone-manager, which
// they check) and against tappaas' planner applied to the fake firewall
// (which must create the same rules).

// vectorZones is _build_zones (test_zone_manager.py:60): four Service zones
// srv, dmz, home, locked-srv, all 10.2.10.0/24, description "<name> zone".
// The test stubs get_zone_interface to put each zone on its own interface
// (line 489); here each zone gets its own VLAN tag to the same effect.
func vectorZones(t *testing.T, access map[string][]string, drop ...string) *zones.File {
	t.Helper()
	base := map[string][]string{"srv": {"internet", "dmz"}, "dmz": {"internet"}, "home": {"internet"}, "locked-srv": {"internet"}}
	maps.Copy(base, access)
	doc := map[string]any{}
	tag := 210
	for _, n := range []string{"srv", "dmz", "home", "locked-srv"} {
		if slices.Contains(drop, n) {
			continue
		}
		doc[n] = map[string]any{"type": "Service", "state": "Active", "typeId": "2", "subId": "10", "vlantag": tag,
			"ip": "10.2.10.0/24", "bridge": "lan", "access-to": base[n], "pinhole-allowed-from": []string{},
			"description": n + " zone"}
		tag++
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	f, err := zones.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// impl runs one reconciliation of f over st and returns the rules after it
// and the number of changes made.
type impl struct {
	name string
	run  func(t *testing.T, f *zones.File, st zones.Current) (zones.Current, int)
}

var impls = []impl{
	{"zone-manager replay", func(t *testing.T, f *zones.File, st zones.Current) (zones.Current, int) {
		ch, after := zonestest.ZoneManager(f, st)
		return after, len(ch)
	}},
	{"tappaas planner", func(t *testing.T, f *zones.File, st zones.Current) (zones.Current, int) {
		fw := zonestest.New()
		fw.Seed(st)
		ch := zones.Plan(f, fw.State())
		if err := zones.Apply(context.Background(), fw, ch, nil); err != nil {
			t.Fatalf("apply: %v", err)
		}
		return fw.State(), len(ch.Changes)
	}},
}

func empty() zones.Current { return zonestest.New().State() }

func seqs(st zones.Current) map[string]int {
	m := map[string]int{}
	for _, r := range st.Rules {
		m[r.Description] = r.Sequence
	}
	return m
}

func TestZoneManagerVectors(t *testing.T) {
	t.Parallel()
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			t.Parallel()
			run := func(f *zones.File, st zones.Current) (zones.Current, int) { return im.run(t, f, st) }
			for _, tc := range []struct {
				name, cite string
				check      func(t *testing.T)
			}{
				{"all zone rules in band 5", "test_zone_manager.py:506", func(t *testing.T) {
					st, _ := run(vectorZones(t, nil), empty())
					n := 0
					for _, r := range st.Rules {
						if !strings.Contains(r.Description, "-> caddy ") {
							n++
							if r.Sequence < 30000 || r.Sequence > 39999 {
								t.Errorf("%s at %d", r.Description, r.Sequence)
							}
						}
					}
					if n == 0 {
						t.Fatal("no zone rules")
					}
				}},
				{"block and internet trail passes", "test_zone_manager.py:526", func(t *testing.T) {
					st, _ := run(vectorZones(t, nil), empty())
					s := seqs(st)
					g, p, b, i := s["Zone srv -> gateway"], s["Zone srv -> dmz"], s["Zone srv block rfc1918-10"], s["Zone srv -> internet"]
					if !(g < p && p < b && b < i) {
						t.Fatalf("gateway %d, dmz %d, block %d, internet %d", g, p, b, i)
					}
				}},
				{"no duplicate sequence per interface", "test_zone_manager.py:538", func(t *testing.T) {
					st, _ := run(vectorZones(t, nil), empty())
					seen := map[string]map[int]string{}
					for _, r := range st.Rules {
						if seen[r.Interface] == nil {
							seen[r.Interface] = map[int]string{}
						}
						if o, dup := seen[r.Interface][r.Sequence]; dup {
							t.Errorf("%s and %s share %d on %s", o, r.Description, r.Sequence, r.Interface)
						}
						seen[r.Interface][r.Sequence] = r.Description
					}
				}},
				{"adding an access-to zone does not collide with the blocks", "test_zone_manager.py:547", func(t *testing.T) {
					first, _ := run(vectorZones(t, map[string][]string{"home": {"internet", "srv", "dmz"}}), empty())
					second, _ := run(vectorZones(t, map[string][]string{"home": {"internet", "srv", "dmz", "locked-srv"}}), first)
					var home []int
					for d, q := range seqs(second) {
						if strings.HasPrefix(d, "Zone home ") {
							home = append(home, q)
						}
					}
					if len(slices.Compact(slices.Sorted(slices.Values(home)))) != len(home) {
						t.Fatalf("home sequences collide: %v", home)
					}
					s := seqs(second)
					if s["Zone home -> locked-srv"] == 0 || s["Zone home -> locked-srv"] >= s["Zone home block rfc1918-10"] {
						t.Fatalf("new pass %d, block %d", s["Zone home -> locked-srv"], s["Zone home block rfc1918-10"])
					}
				}},
				{"idempotent rerun creates nothing", "test_zone_manager.py:576, 661", func(t *testing.T) {
					first, _ := run(vectorZones(t, nil), empty())
					if _, n := run(vectorZones(t, nil), first); n != 0 {
						t.Fatalf("second run made %d changes", n)
					}
				}},
				{"stale sequence is reconciled", "test_zone_manager.py:583", func(t *testing.T) {
					first, _ := run(vectorZones(t, nil), empty())
					for i := range first.Rules {
						if first.Rules[i].Description == "Zone srv -> gateway" {
							first.Rules[i].Sequence = 3100 // legacy vlan*10 numbering
						}
					}
					second, n := run(vectorZones(t, nil), first)
					if q := seqs(second)["Zone srv -> gateway"]; n != 1 || q < 30000 {
						t.Fatalf("%d changes, gateway at %d", n, q)
					}
				}},
				{"caddy rule per non-dmz zone", "test_zone_manager.py:609", func(t *testing.T) {
					st, _ := run(vectorZones(t, nil), empty())
					s := seqs(st)
					for _, z := range []string{"srv", "home", "locked-srv"} {
						if s["Zone "+z+" -> caddy https"] == 0 || s["Zone "+z+" -> caddy http"] == 0 {
							t.Errorf("%s lacks its caddy rules", z)
						}
					}
					if _, ok := s["Zone dmz -> caddy https"]; ok {
						t.Error("dmz got a caddy rule")
					}
				}},
				{"caddy targets the dmz gateway on tcp 80 and 443", "test_zone_manager.py:618", func(t *testing.T) {
					st, _ := run(vectorZones(t, nil), empty())
					for _, r := range st.Rules {
						if strings.Contains(r.Description, "-> caddy ") && (r.DestinationNet != "10.2.10.1/32" ||
							r.SourceNet != "10.0.0.0/8" || r.Action != "pass" || r.Protocol != "TCP" ||
							(r.DestinationPort != "80" && r.DestinationPort != "443")) {
							t.Errorf("caddy rule %+v", r)
						}
					}
				}},
				{"caddy sits below the rfc1918 block", "test_zone_manager.py:627", func(t *testing.T) {
					s := seqs(first(run(vectorZones(t, nil), empty())))
					for _, z := range []string{"srv", "home", "locked-srv"} {
						c, b := s["Zone "+z+" -> caddy https"], s["Zone "+z+" block rfc1918-10"]
						if c >= b || c >= 30000 {
							t.Errorf("%s: caddy %d, block %d", z, c, b)
						}
					}
				}},
				{"no caddy rules without a dmz zone", "test_zone_manager.py:638", func(t *testing.T) {
					for d := range seqs(first(run(vectorZones(t, nil, "dmz"), empty()))) {
						if strings.Contains(d, "-> caddy ") {
							t.Errorf("%s without dmz", d)
						}
					}
				}},
				{"isolated zone gets no caddy rule", "test_zone_manager.py:644", func(t *testing.T) {
					s := seqs(first(run(vectorZones(t, map[string][]string{"home": {}}), empty())))
					if _, ok := s["Zone home -> caddy https"]; ok {
						t.Error("isolated home reaches caddy")
					}
					if _, ok := s["Zone srv -> caddy https"]; !ok {
						t.Error("srv lost its caddy rule")
					}
				}},
				{"all-access zone gets the caddy rule", "test_zone_manager.py:654", func(t *testing.T) {
					s := seqs(first(run(vectorZones(t, map[string][]string{"home": {"all"}}), empty())))
					if _, ok := s["Zone home -> caddy https"]; !ok {
						t.Error("home with all lacks caddy")
					}
				}},
				{"a VLAN zone resolves to its assigned interface", "test_zone_manager.py:360-424", func(t *testing.T) {
					// get_zone_interface matches the assigned VLAN by tag:
					// srv (tag 210) lands on the interface of vlan0.210.
					st, _ := run(vectorZones(t, nil), empty())
					var ifname string
					for _, a := range st.Assignments {
						if a.Device == "vlan0.210" {
							ifname = a.Ifname
						}
					}
					for _, r := range st.Rules {
						if strings.HasPrefix(r.Description, "Zone srv ") && (ifname == "" || r.Interface != ifname) {
							t.Errorf("%s on %q, want %q", r.Description, r.Interface, ifname)
						}
					}
				}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Logf("vector: %s", tc.cite)
					tc.check(t)
				})
			}
		})
	}
}

func first(st zones.Current, _ int) zones.Current { return st }

// TestZoneManagerAgreesOnUpstreamZones runs both directions on upstream's
// own zones.json: after tappaas applies, zone-manager changes nothing; over
// zone-manager's firewall, tappaas plans nothing.
func TestZoneManagerAgreesOnUpstreamZones(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"../../zones.json", "testdata/upstream-zones.json"} {
		f := load(t, file)
		fw := zonestest.New()
		applyAndReplan(t, fw, f)
		if ch, _ := zonestest.ZoneManager(f, fw.State()); len(ch) != 0 {
			t.Errorf("%s: zone-manager after tappaas: %q", file, ch)
		}
		ch, after := zonestest.ZoneManager(f, empty())
		if len(ch) == 0 {
			t.Fatalf("%s: zone-manager did nothing on an empty firewall", file)
		}
		if p := zones.Plan(f, after); !p.Empty() {
			t.Errorf("%s: tappaas over zone-manager's firewall:\n%s", file, p.Text())
		}
	}
}

// The replay is not blind: each drift zone-manager reconciles is reported.
func TestZoneManagerReplaySeesDrift(t *testing.T) {
	t.Parallel()
	f := load(t, "../../zones.json")
	fw := zonestest.New()
	applyAndReplan(t, fw, f)
	for _, tc := range []struct {
		name, want string
		drift      func(c *zones.Current)
	}{
		{"rule source", `recreate rule "Zone srv -> caddy https"`, func(c *zones.Current) {
			for i := range c.Rules {
				if c.Rules[i].Description == "Zone srv -> caddy https" {
					c.Rules[i].SourceNet = "10.2.10.0/24" // tappaas' old Caddy source
				}
			}
		}},
		{"rule sequence", `recreate rule "Zone private -> iot"`, func(c *zones.Current) {
			for i := range c.Rules {
				if c.Rules[i].Description == "Zone private -> iot" {
					c.Rules[i].Sequence = 31401 // tappaas' old shared base+1
				}
			}
		}},
		{"rule description", `create rule "Zone iot -> internet"`, func(c *zones.Current) {
			for i := range c.Rules {
				if c.Rules[i].Description == "Zone iot -> internet" {
					c.Rules[i].Description = "tappaas:zone:iot:internet | Zone iot -> internet" // tappaas' old marker
				}
			}
		}},
		{"VLAN description", `update vlan 310 description`, func(c *zones.Current) {
			for i := range c.VLANs {
				if c.VLANs[i].Tag == 310 {
					c.VLANs[i].Descr = "tappaas:zone:private:vlan"
				}
			}
		}},
		{"range description", `create range "dmz DHCP"`, func(c *zones.Current) {
			for i := range c.Ranges {
				if c.Ranges[i].Description == "dmz DHCP" {
					c.Ranges[i].Description = "tappaas:zone:dmz:dhcp | Zone dmz DHCP"
				}
			}
		}},
	} {
		st := fw.State()
		tc.drift(&st)
		ch, _ := zonestest.ZoneManager(f, st)
		if !slices.ContainsFunc(ch, func(s string) bool { return strings.HasPrefix(s, tc.want) }) {
			t.Errorf("%s: zone-manager changes %q, want %s", tc.name, ch, tc.want)
		}
	}
}
