package zonestest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	tappaas "github.com/tappaas/tappaas"
	"github.com/tappaas/tappaas/config/zones"
)

// Conformance runs the planner/applier contract against a firewall: the
// same suite runs against Fake (config/zones) and against the OPNsense
// simulator through the real client (steps/zones). newFW must return a
// fresh, empty firewall each call.
func Conformance(t *testing.T, newFW func(t *testing.T) zones.Firewall) {
	ctx := context.Background()
	opts := zones.ApplyOptions{PingDelay: time.Millisecond}
	load := func(t *testing.T) *zones.File {
		f, err := zones.Parse(tappaas.DefaultZones)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	plan := func(t *testing.T, fw zones.Firewall, f *zones.File) *zones.Changes {
		t.Helper()
		cur, err := zones.Snapshot(ctx, fw)
		if err != nil {
			t.Fatal(err)
		}
		return zones.Plan(f, cur)
	}
	converge := func(t *testing.T, fw zones.Firewall, f *zones.File) {
		t.Helper()
		if err := zones.ApplyWith(ctx, fw, plan(t, fw, f), opts); err != nil {
			t.Fatalf("apply: %v", err)
		}
		if ch := plan(t, fw, f); !ch.Empty() {
			t.Fatalf("plan after apply not empty:\n%s", ch.Text())
		}
	}

	t.Run("ApplyThenPlanIsEmpty", func(t *testing.T) {
		fw := newFW(t)
		converge(t, fw, load(t))
	})
	t.Run("DriftOfAnOwnedRuleIsRepaired", func(t *testing.T) {
		fw := newFW(t)
		f := load(t)
		converge(t, fw, f)
		rules, _ := fw.Rules(ctx)
		i := slices.IndexFunc(rules, func(r zones.Rule) bool { return strings.HasPrefix(r.Description, "tappaas:zone:srv:internet") })
		if i < 0 {
			t.Fatal("srv internet rule missing")
		}
		r := rules[i]
		r.Action = "block"
		if err := fw.SetRule(ctx, r.UUID, r); err != nil {
			t.Fatal(err)
		}
		ch := plan(t, fw, f)
		if len(ch.Changes) != 1 || ch.Changes[0].Op != zones.Update || ch.Changes[0].Fields[0].Field != "action" {
			t.Fatalf("drift plan:\n%s", ch.Text())
		}
		converge(t, fw, f)
	})
	t.Run("ForeignObjectsAreNeverTouched", func(t *testing.T) {
		fw := newFW(t)
		before, err := zones.Snapshot(ctx, fw)
		if err != nil {
			t.Fatal(err)
		}
		f := load(t)
		converge(t, fw, f)
		empty, _ := zones.Parse([]byte("{}"))
		converge(t, fw, empty) // tear everything tappaas owns down
		after, err := zones.Snapshot(ctx, fw)
		if err != nil {
			t.Fatal(err)
		}
		same := func(a, b int, what string) {
			if a != b {
				t.Errorf("%s: %d before, %d after a full round trip", what, a, b)
			}
		}
		same(len(before.VLANs), len(after.VLANs), "VLANs")
		same(len(before.Assignments), len(after.Assignments), "assignments")
		same(len(before.Ranges), len(after.Ranges), "ranges")
		same(len(before.HostOverrides), len(after.HostOverrides), "host overrides")
		same(len(before.Rules), len(after.Rules), "rules")
		if !slices.Equal(before.DnsmasqInterfaces, after.DnsmasqInterfaces) {
			t.Errorf("dnsmasq listen list %v → %v", before.DnsmasqInterfaces, after.DnsmasqInterfaces)
		}
	})
	t.Run("DeletingAbsentObjectsSucceeds", func(t *testing.T) {
		fw := newFW(t)
		const id = "00000000-0000-4000-8000-00000000ffff"
		for name, del := range map[string]func(context.Context, string) error{
			"vlan": fw.DelVLAN, "range": fw.DelRange, "host": fw.DelHostOverride, "rule": fw.DelRule,
		} {
			if err := del(ctx, id); err != nil {
				t.Errorf("delete absent %s: %v", name, err)
			}
		}
	})
	t.Run("AssignedVLANCannotBeDeleted", func(t *testing.T) {
		fw := newFW(t)
		converge(t, fw, load(t))
		vs, _ := fw.VLANs(ctx)
		if len(vs) == 0 {
			t.Fatal("no VLANs")
		}
		if err := fw.DelVLAN(ctx, vs[0].UUID); err == nil {
			t.Fatal("an assigned VLAN was deleted")
		}
	})
}
