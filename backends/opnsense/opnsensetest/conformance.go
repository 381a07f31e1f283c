package opnsensetest

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/opnsense"
)

// RunConformance checks that an opnsense.API implementation behaves like a
// real firewall as seen through *opnsense.Client: staged CRUD with typed
// errors (ValidationError naming "<monad>.<field>", ErrNotFound on deleting
// an absent record), assignment refusing VLAN deletes, savepoint support
// according to the dialect. newAPI must return a fresh firewall in its
// first-boot state (lan and wan assigned, no VLANs, no rules) for each call.
// Run it against the real client (see conformance_test.go) and against any
// fake used by step tests, so the fake stays honest.
func RunConformance(t *testing.T, newAPI func(t *testing.T) opnsense.API) {
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		t.Cleanup(cancel)
		return c
	}
	isValidation := func(t *testing.T, err error, field string) {
		t.Helper()
		var ve *opnsense.ValidationError
		if !errors.As(err, &ve) || ve.Fields[field] == "" {
			t.Fatalf("want a validation error on %s, got %v", field, err)
		}
	}
	t.Run("VLANs", func(t *testing.T) {
		t.Parallel()
		api, c := newAPI(t), ctx(t)
		id, err := api.AddVLAN(c, opnsense.VLAN{Parent: "vtnet0", Tag: 210, Device: "vlan0.210", Descr: "srv"})
		if err != nil || id == "" {
			t.Fatalf("add: %q %v", id, err)
		}
		_, err = api.AddVLAN(c, opnsense.VLAN{Parent: "vtnet0", Tag: 210, Device: "vlan0.999"})
		isValidation(t, err, "vlan.tag")
		if err := api.SetVLAN(c, id, opnsense.VLAN{Parent: "vtnet0", Tag: 210, Device: "vlan0.210", Descr: "srv2"}); err != nil {
			t.Fatal(err)
		}
		vs, err := api.VLANs(c)
		if err != nil || len(vs) != 1 || vs[0].UUID != id || vs[0].Descr != "srv2" || vs[0].Tag != 210 || vs[0].Device != "vlan0.210" {
			t.Fatalf("list: %+v %v", vs, err)
		}
		if err := api.Reconfigure(c, opnsense.ServiceVLAN); err != nil {
			t.Fatal(err)
		}
		if err := api.DelVLAN(c, id); err != nil {
			t.Fatal(err)
		}
		if err := api.DelVLAN(c, id); !errors.Is(err, opnsense.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
	t.Run("Assignment", func(t *testing.T) {
		t.Parallel()
		api, c := newAPI(t), ctx(t)
		d, err := api.Dialect(c)
		if err != nil {
			t.Fatal(err)
		}
		id, err := api.AddVLAN(c, opnsense.VLAN{Parent: "vtnet0", Tag: 310, Device: "vlan0.310", Descr: "private"})
		if err != nil {
			t.Fatal(err)
		}
		// The device exists once the VLANs are reconfigured.
		if err := api.Reconfigure(c, opnsense.ServiceVLAN); err != nil {
			t.Fatal(err)
		}
		a := opnsense.Assignment{Device: "vlan0.310", Descr: "private", Enabled: true, IPv4: netip.MustParsePrefix("10.3.10.1/24")}
		if d.Assign == opnsense.AssignStock {
			if _, err := api.Assign(c, a); !errors.Is(err, opnsense.ErrUnsupported) {
				t.Fatalf("address on stock 26.7: %v", err)
			}
			a.IPv4 = netip.Prefix{}
		}
		ifn, err := api.Assign(c, a)
		if err != nil || ifn == "" {
			t.Fatalf("assign: %q %v", ifn, err)
		}
		if err := api.ApplyAssignments(c); err != nil {
			t.Fatal(err)
		}
		as, err := api.Assignments(c)
		if err != nil {
			t.Fatal(err)
		}
		var got *opnsense.Assignment
		for i := range as {
			if as[i].Ifname == ifn {
				got = &as[i]
			}
		}
		if got == nil || got.Device != "vlan0.310" || got.Descr != "private" || got.IPv4 != a.IPv4 {
			t.Fatalf("assignments: %+v", as)
		}
		if err := api.DelVLAN(c, id); err == nil {
			t.Fatal("deleted an assigned VLAN")
		}
		if err := api.Unassign(c, ifn); err != nil {
			t.Fatal(err)
		}
		if err := api.ApplyAssignments(c); err != nil {
			t.Fatal(err)
		}
		if err := api.DelVLAN(c, id); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("DHCP", func(t *testing.T) {
		t.Parallel()
		api, c := newAPI(t), ctx(t)
		isValidation(t, api.SetDnsmasqInterfaces(c, []string{"lan", "opt42"}), "dnsmasq.interface")
		if err := api.SetDnsmasqInterfaces(c, []string{"lan"}); err != nil {
			t.Fatal(err)
		}
		before, err := api.Ranges(c)
		if err != nil {
			t.Fatal(err)
		}
		r := opnsense.Range{Interface: "lan", StartAddr: "10.0.0.50", EndAddr: "10.0.0.60", Domain: "mgmt.internal", Description: "conformance"}
		id, err := api.AddRange(c, r)
		if err != nil {
			t.Fatal(err)
		}
		r.EndAddr = "10.0.0.40"
		isValidation(t, api.SetRange(c, id, r), "range.end_addr")
		r.EndAddr = "10.0.0.70"
		if err := api.SetRange(c, id, r); err != nil {
			t.Fatal(err)
		}
		after, _ := api.Ranges(c)
		if len(after) != len(before)+1 {
			t.Fatalf("ranges %d → %d", len(before), len(after))
		}
		if err := api.Reconfigure(c, opnsense.ServiceDnsmasq); err != nil {
			t.Fatal(err)
		}
		if err := api.DelRange(c, id); err != nil {
			t.Fatal(err)
		}
		if err := api.DelRange(c, id); !errors.Is(err, opnsense.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
	t.Run("Filter", func(t *testing.T) {
		t.Parallel()
		api, c := newAPI(t), ctx(t)
		d, err := api.Dialect(c)
		if err != nil {
			t.Fatal(err)
		}
		rule := opnsense.Rule{Enabled: true, Sequence: 30400, Action: "pass", Quick: true, Interface: "lan",
			Direction: "in", IPProtocol: "inet", Protocol: "any", SourceNet: "10.0.0.0/24", DestinationNet: "10.0.0.1/32",
			Log: true, Description: "Zone mgmt -> gateway"}
		bad := rule
		bad.Action = "allow"
		_, err = api.AddRule(c, bad)
		isValidation(t, err, "rule.action")
		rev, err := api.Savepoint(c)
		if !d.HasSavepoint {
			if !errors.Is(err, opnsense.ErrUnsupported) {
				t.Fatalf("savepoint on %s: %v", d.Version, err)
			}
			rev = ""
		} else if err != nil || rev == "" {
			t.Fatalf("savepoint: %q %v", rev, err)
		}
		id, err := api.AddRule(c, rule)
		if err != nil {
			t.Fatal(err)
		}
		if err := api.Apply(c, rev); err != nil {
			t.Fatal(err)
		}
		if rev != "" {
			if err := api.CancelRollback(c, rev); err != nil {
				t.Fatal(err)
			}
		}
		rs, err := api.Rules(c)
		if err != nil || len(rs) != 1 || rs[0].UUID != id || rs[0].Sequence != 30400 || rs[0].Interface != "lan" || !rs[0].Quick {
			t.Fatalf("rules: %+v %v", rs, err)
		}
		rule.Sequence = 30401
		if err := api.SetRule(c, id, rule); err != nil {
			t.Fatal(err)
		}
		if rev != "" {
			if err := api.Revert(c, rev); err != nil {
				t.Fatal(err)
			}
			if rs, _ := api.Rules(c); len(rs) != 0 {
				t.Fatalf("revert left %d rules", len(rs))
			}
			return
		}
		if err := api.DelRule(c, id); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("DNS", func(t *testing.T) {
		t.Parallel()
		api, c := newAPI(t), ctx(t)
		id, err := api.AddHostOverride(c, opnsense.HostOverride{Enabled: true, Hostname: "*", Domain: "example.org", RR: "A", Server: "10.6.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = api.AddHostOverride(c, opnsense.HostOverride{Enabled: true, Hostname: "x", Domain: "example.org", RR: "A", Server: "nope"})
		isValidation(t, err, "host.server")
		hs, _ := api.HostOverrides(c)
		if len(hs) != 1 || hs[0].UUID != id {
			t.Fatalf("overrides: %+v", hs)
		}
		if err := api.Reconfigure(c, opnsense.ServiceUnbound); err != nil {
			t.Fatal(err)
		}
		if err := api.DelHostOverride(c, id); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("LockedBatch", func(t *testing.T) {
		t.Parallel()
		api, c := newAPI(t), ctx(t)
		err := api.Locked(c, func(c context.Context) error {
			if _, err := api.AddVLAN(c, opnsense.VLAN{Parent: "vtnet0", Tag: 77, Device: "vlan0.77"}); err != nil {
				return err
			}
			return api.Reconfigure(c, opnsense.ServiceVLAN)
		})
		if err != nil {
			t.Fatal(err)
		}
		sentinel := errors.New("stop")
		if err := api.Locked(c, func(context.Context) error { return sentinel }); !errors.Is(err, sentinel) {
			t.Fatalf("Locked must return fn's error: %v", err)
		}
	})
	t.Run("System", func(t *testing.T) {
		t.Parallel()
		api, c := newAPI(t), ctx(t)
		if err := api.Ping(c); err != nil {
			t.Fatal(err)
		}
		d, err := api.Dialect(c)
		if err != nil {
			t.Fatal(err)
		}
		st, err := api.FirmwareStatus(c)
		if err != nil || st.ProductVersion != d.Version {
			t.Fatalf("firmware %+v vs dialect %+v: %v", st, d, err)
		}
		if _, err := api.SystemStatus(c); err != nil {
			t.Fatal(err)
		}
	})
}
