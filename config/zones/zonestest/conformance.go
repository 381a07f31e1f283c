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
	// Upstream's zone-manager keeps running on tappaas-cicd after the
	// install (TAPPaaS@f54e4fc:src/foundation/firewall/update.sh:140): the
	// two must agree on the firewall in both directions.
	t.Run("ZoneManagerFindsNothingToChangeAfterApply", func(t *testing.T) {
		fw := newFW(t)
		f := load(t)
		converge(t, fw, f)
		cur, err := zones.Snapshot(ctx, fw)
		if err != nil {
			t.Fatal(err)
		}
		if changes, _ := ZoneManager(f, cur); len(changes) != 0 {
			t.Fatalf("zone-manager would change %d things after tappaas applied:\n%s", len(changes), strings.Join(changes, "\n"))
		}
	})
	t.Run("PlanOverZoneManagersFirewallIsEmpty", func(t *testing.T) {
		fw := newFW(t)
		f := load(t)
		cur, err := zones.Snapshot(ctx, fw)
		if err != nil {
			t.Fatal(err)
		}
		changes, after := ZoneManager(f, cur)
		if len(changes) == 0 {
			t.Fatal("zone-manager found nothing to do on an empty firewall")
		}
		writeState(t, fw, cur, after)
		if ch := plan(t, fw, f); !ch.Empty() {
			t.Fatalf("plan over zone-manager's firewall is not empty:\n%s", ch.Text())
		}
	})
	t.Run("DriftOfAnOwnedRuleIsRepaired", func(t *testing.T) {
		fw := newFW(t)
		f := load(t)
		converge(t, fw, f)
		rules, _ := fw.Rules(ctx)
		i := slices.IndexFunc(rules, func(r zones.Rule) bool { return r.Description == "Zone srv -> internet" })
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
		converge(t, fw, empty) // tear every zone's objects down
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
		same(len(before.Rules), len(after.Rules), "rules")
		if !slices.Equal(before.DnsmasqInterfaces, after.DnsmasqInterfaces) {
			t.Errorf("dnsmasq listen list %v → %v", before.DnsmasqInterfaces, after.DnsmasqInterfaces)
		}
	})
	t.Run("DeletingAbsentObjectsSucceeds", func(t *testing.T) {
		fw := newFW(t)
		const id = "00000000-0000-4000-8000-00000000ffff"
		for name, del := range map[string]func(context.Context, string) error{
			"vlan": fw.DelVLAN, "range": fw.DelRange, "rule": fw.DelRule,
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

// writeState makes fw hold what after adds to before, through fw's own API
// (the firewall picks the interface names; references follow them).
func writeState(t *testing.T, fw zones.Firewall, before, after zones.Current) {
	t.Helper()
	ctx := context.Background()
	for _, v := range after.VLANs {
		if !slices.ContainsFunc(before.VLANs, func(o zones.VLAN) bool { return o.UUID == v.UUID }) {
			if _, err := fw.AddVLAN(ctx, v); err != nil {
				t.Fatalf("add VLAN %d: %v", v.Tag, err)
			}
		}
	}
	if err := fw.Reconfigure(ctx, zones.ModuleVLAN); err != nil {
		t.Fatal(err)
	}
	rename := map[string]string{}
	for _, a := range after.Assignments {
		if !slices.ContainsFunc(before.Assignments, func(o zones.Assignment) bool { return o.Ifname == a.Ifname }) {
			ifname, err := fw.Assign(ctx, a)
			if err != nil {
				t.Fatalf("assign %s: %v", a.Device, err)
			}
			rename[a.Ifname] = ifname
		}
	}
	to := func(i string) string {
		if n, ok := rename[i]; ok {
			return n
		}
		return i
	}
	var listen []string
	for _, i := range after.DnsmasqInterfaces {
		listen = append(listen, to(i))
	}
	if err := fw.SetDnsmasqInterfaces(ctx, listen); err != nil {
		t.Fatal(err)
	}
	for _, r := range after.Ranges {
		r.Interface = to(r.Interface)
		if _, err := fw.AddRange(ctx, r); err != nil {
			t.Fatalf("add range %s: %v", r.Description, err)
		}
	}
	if err := fw.Reconfigure(ctx, zones.ModuleDnsmasq); err != nil {
		t.Fatal(err)
	}
	for _, r := range after.Rules {
		r.Interface = to(r.Interface)
		if _, err := fw.AddRule(ctx, r); err != nil {
			t.Fatalf("add rule %s: %v", r.Description, err)
		}
	}
	if err := fw.ApplyFilter(ctx, ""); err != nil {
		t.Fatal(err)
	}
}
