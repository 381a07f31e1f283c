package zones_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/config/zones/zonestest"
)

// phase is a change's place in the plan: creates/updates in kind order,
// then deletes in reverse kind order (doc.go, "ordering").
func phase(c zones.Change) int {
	k := slices.Index([]zones.Kind{zones.KindVLAN, zones.KindAssignment, zones.KindListen, zones.KindRange, zones.KindRule}, c.Kind)
	if c.Op == zones.Delete {
		return 9 - k
	}
	return k
}

// checkPlanOrder asserts the plan order independently of the planner's own
// bookkeeping: phase, then zone (file order), then rule sequence, then
// identity.
func checkPlanOrder(t *testing.T, f *zones.File, ch *zones.Changes) {
	t.Helper()
	seq := func(c zones.Change) int {
		if c.Rule != nil {
			return c.Rule.Sequence
		}
		return 0
	}
	ranks := map[string]int{}
	for i, n := range f.Names() {
		ranks[n] = i
	}
	r := func(z string) int {
		if v, ok := ranks[z]; ok {
			return v
		}
		return len(ranks)
	}
	for i := 1; i < len(ch.Changes); i++ {
		a, b := ch.Changes[i-1], ch.Changes[i]
		pa, pb := phase(a), phase(b)
		if pa != pb {
			if pa > pb {
				t.Fatalf("change %d (%s %s %s) comes after %s %s %s", i, b.Op, b.Kind, b.ID, a.Op, a.Kind, a.ID)
			}
			continue
		}
		ka := []int{r(a.Zone), 0, seq(a)}
		kb := []int{r(b.Zone), strings.Compare(b.Zone, a.Zone), seq(b)}
		if c := slices.Compare(ka, kb); c > 0 || (c == 0 && a.ID > b.ID) {
			t.Fatalf("change %d (%s %s %s) out of order after %s %s %s", i, b.Op, b.Kind, b.ID, a.Op, a.Kind, a.ID)
		}
	}
}

// TestPlanOrder checks the order of a plan of creates (empty firewall), of
// one with updates and deletes (access-to and states changed), and that two
// VLANs with one tag on different parents resolve to the one on the zone's.
func TestPlanOrder(t *testing.T) {
	t.Parallel()
	f := load(t, "testdata/upstream-zones.json")
	fw := zonestest.New()
	ch := zones.Plan(f, fw.State())
	checkPlanOrder(t, f, ch)
	applyAndReplan(t, fw, f)
	g := f.Clone()
	home := g.Zone("home").Clone()
	home.AccessTo = []string{"internet", "iotCloud"}
	g.SetZone("home", home)
	for _, n := range []string{"srvWork", "guest"} {
		z := g.Zone(n).Clone()
		z.State = zones.Inactive
		g.SetZone(n, z)
	}
	ch = zones.Plan(g, fw.State())
	if _, u, d := ch.Count(); u == 0 || d == 0 {
		t.Fatalf("want updates and deletes:\n%s", ch.Text())
	}
	checkPlanOrder(t, g, ch)

	two := zonestest.New()
	two.Seed(zones.Current{VLANs: []zones.VLAN{
		{UUID: "u-1", Parent: "vtnet1", Tag: 210, Device: "vlan0.210x", Descr: "on wan"},
		{UUID: "u-2", Parent: "vtnet0", Tag: 210, Device: "vlan0.210", Descr: "x"},
	}})
	d := load(t, "../../zones.json")
	ch = zones.Plan(d, two.State())
	for _, c := range ch.Changes {
		if c.Kind == zones.KindVLAN && c.Zone == "srv" && (c.Op != zones.Update || c.Key != "u-2") {
			t.Fatalf("srv VLAN: %s (key %s), want an update of u-2", c.Line(), c.Key)
		}
	}
}
