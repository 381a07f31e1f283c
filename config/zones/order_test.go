package zones_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/config/zones/zonestest"
)

// phase is a change's place in the plan: creates/updates in kind order,
// then deletes in reverse kind order (doc.go, "ordering").
func phase(c zones.Change) int {
	k := slices.Index([]zones.Kind{zones.KindVLAN, zones.KindAssignment, zones.KindListen, zones.KindRange, zones.KindHost, zones.KindRule}, c.Kind)
	if c.Op == zones.Delete {
		return 11 - k
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

// TestPlanOrderOnBothRulePaths plans the 600-zone file against an empty
// firewall (rules finished while generated) and against one holding a
// single owned, in-sync rule (every rule goes through the general diff):
// both plans are in plan order, and they differ by exactly that rule.
func TestPlanOrderOnBothRulePaths(t *testing.T) {
	t.Parallel()
	f := bigFile(t)
	empty := zonestest.New().State()
	fast := zones.Plan(f, empty)
	checkPlanOrder(t, f, fast)

	// An untagged zone's rule is bound to its bridge: in sync as it is.
	i := slices.IndexFunc(fast.Changes, func(c zones.Change) bool {
		return c.Kind == zones.KindRule && c.Zone == "zManagement0" && strings.HasSuffix(c.ID, ":to:zIoT7")
	})
	if i < 0 {
		t.Fatal("no rule zManagement0 -> zIoT7 in the plan")
	}
	held := *fast.Changes[i].Rule
	held.UUID = "held-rule"
	cur := empty
	cur.Rules = append(slices.Clone(cur.Rules), held)
	slow := zones.Plan(f, cur)
	checkPlanOrder(t, f, slow)

	want := slices.Delete(slices.Clone(fast.Changes), i, i+1)
	if !reflect.DeepEqual(want, slow.Changes) || !reflect.DeepEqual(fast.Warnings, slow.Warnings) {
		t.Fatalf("plan with the rule held differs from the empty-firewall plan by more than that rule (%d vs %d changes)", len(slow.Changes), len(fast.Changes))
	}
	// Deterministic: the same input gives the same plan.
	if again := zones.Plan(f, empty); !reflect.DeepEqual(again, fast) {
		t.Fatal("two plans of the same input differ")
	}
}

// TestPlanAdoptsRenamedVLANDeterministically: two owned VLANs on the same
// parent and tag, both of zones no longer in the file; the renamed zone
// adopts the first by identity on every run, and the other is deleted.
func TestPlanAdoptsRenamedVLANDeterministically(t *testing.T) {
	t.Parallel()
	f, err := zones.Parse([]byte("{}"))
	if err != nil {
		t.Fatal(err)
	}
	z := zones.NewZone("srvNew", "Service", 10)
	z.State = zones.Active
	f.SetZone("", z)
	cur := zones.Current{VLANs: []zones.VLAN{
		{UUID: "u-2", Parent: "vtnet0", Tag: 210, Device: "vlan0.210", Descr: zones.OwnerPrefix + "srvOld2:vlan"},
		{UUID: "u-1", Parent: "vtnet0", Tag: 210, Device: "vlan0.210", Descr: zones.OwnerPrefix + "srvOld1:vlan"},
	}}
	first := zones.Plan(f, cur)
	var update, del string
	for _, c := range first.Changes {
		if c.Kind == zones.KindVLAN && c.Op == zones.Update {
			update = c.Key
		}
		if c.Kind == zones.KindVLAN && c.Op == zones.Delete {
			del = c.Key
		}
	}
	if update != "u-1" || del != "u-2" {
		t.Fatalf("adopted %q and deleted %q, want u-1 (srvOld1) adopted and u-2 deleted:\n%s", update, del, first.Text())
	}
	for range 30 {
		if again := zones.Plan(f, cur); !reflect.DeepEqual(again, first) {
			t.Fatalf("plans differ between runs:\n%s\n---\n%s", first.Text(), again.Text())
		}
	}
}
