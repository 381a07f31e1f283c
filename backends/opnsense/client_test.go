package opnsense_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/opnsense"
	"github.com/tappaas/tappaas/backends/opnsense/opnsensetest"
	"github.com/tappaas/tappaas/backends/tlspin"
	labopn "github.com/tappaas/tappaas/lab/opnsense"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPinMatchAndMismatch(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := opnsensetest.NewServer(t, labopn.Options{})
	other := opnsensetest.NewServer(t, labopn.Options{})

	// Match (learned certificate; the plain lower-case hex pin older
	// state.json files hold is accepted).
	cfg := srv.Config(labopn.BootstrapKey, labopn.BootstrapSecret)
	cfg.Fingerprint = strings.ToLower(strings.ReplaceAll(srv.Fingerprint, ":", ""))
	c, err := opnsense.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FirmwareStatus(ctx); err != nil {
		t.Fatalf("pinned call: %v", err)
	}

	// Mismatch: a client pinned to srv dials other.
	bad := other.Config(labopn.BootstrapKey, labopn.BootstrapSecret)
	bad.Fingerprint = srv.Fingerprint
	c2, err := opnsense.New(bad)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c2.FirmwareStatus(ctx)
	var pe *tlspin.MismatchError
	if !errors.As(err, &pe) || !errors.Is(err, tlspin.ErrMismatch) {
		t.Fatalf("want MismatchError, got %v", err)
	}
	if pe.Expected != srv.Fingerprint || pe.Got != other.Fingerprint {
		t.Fatalf("pin error names %s/%s, want %s/%s", pe.Expected, pe.Got, srv.Fingerprint, other.Fingerprint)
	}
	if !strings.Contains(err.Error(), srv.Fingerprint) || !strings.Contains(err.Error(), other.Fingerprint) {
		t.Fatalf("message must name both fingerprints: %v", err)
	}
	if other.Mutations() != 0 {
		t.Fatal("a request reached the wrong server")
	}
}

func TestPinGivenCertificate(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := opnsensetest.NewServer(t, labopn.Options{})
	other := opnsensetest.NewServer(t, labopn.Options{})
	cfg := srv.Config(labopn.BootstrapKey, labopn.BootstrapSecret)
	cfg.Certificate = srv.CertPEM
	c, err := opnsense.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.FirmwareInfo(ctx); err != nil {
		t.Fatal(err)
	}
	// The given certificate must match the pin.
	cfg.Certificate = other.CertPEM
	if _, err := opnsense.New(cfg); !errors.Is(err, tlspin.ErrMismatch) {
		t.Fatalf("certificate/pin disagreement: %v", err)
	}
	// A server that changes certificate after the pin was learned is refused.
	cfg = other.Config(labopn.BootstrapKey, labopn.BootstrapSecret)
	cfg.Fingerprint = srv.Fingerprint
	cfg.Certificate = srv.CertPEM
	c3, err := opnsense.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c3.FirmwareInfo(ctx); !errors.Is(err, tlspin.ErrMismatch) {
		t.Fatalf("changed certificate: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	good := opnsense.Config{BaseURL: "https://10.0.0.1", Key: "k", Secret: "s", Fingerprint: strings.Repeat("ab", 32)}
	cases := map[string]func(*opnsense.Config){
		"http":        func(c *opnsense.Config) { c.BaseURL = "http://10.0.0.1" },
		"no key":      func(c *opnsense.Config) { c.Key = "" },
		"no pin":      func(c *opnsense.Config) { c.Fingerprint = "" },
		"short pin":   func(c *opnsense.Config) { c.Fingerprint = "abcd" },
		"bad pem":     func(c *opnsense.Config) { c.Certificate = []byte("nope") },
		"not hex pin": func(c *opnsense.Config) { c.Fingerprint = strings.Repeat("zz", 32) },
	}
	if _, err := opnsense.New(good); err != nil {
		t.Fatal(err)
	}
	for name, mut := range cases {
		cfg := good
		mut(&cfg)
		if _, err := opnsense.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestAuthErrors(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := opnsensetest.NewServer(t, labopn.Options{ACL: func(key, path string) bool {
		return key != "readonly" || strings.HasPrefix(path, "/api/core/")
	}})
	srv.AddKey("readonly", "ro-secret")

	wrong, _ := opnsense.New(srv.Config(labopn.BootstrapKey, "wrong"))
	_, err := wrong.VLANs(ctx)
	var ae *opnsense.APIError
	if !errors.Is(err, opnsense.ErrUnauthorized) || !errors.As(err, &ae) || ae.Status != 401 || ae.Message != "Authentication Failed" {
		t.Fatalf("wrong secret: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("secret leaked into error: %v", err)
	}
	ro, _ := opnsense.New(srv.Config("readonly", "ro-secret"))
	if _, err := ro.FirmwareStatus(ctx); err != nil {
		t.Fatalf("allowed path: %v", err)
	}
	if _, err := ro.VLANs(ctx); !errors.Is(err, opnsense.ErrForbidden) {
		t.Fatalf("forbidden path: %v", err)
	}

	// Rotation (docs/upstream.md#firewall-takeover): the pushed
	// config replaces the bootstrap key; the old key then fails, the new one
	// works.
	c := srv.Client(t)
	if _, err := c.FirmwareStatus(ctx); err != nil {
		t.Fatal(err)
	}
	srv.SetKeys(map[string]string{"installer": "fresh-secret"})
	if _, err := c.FirmwareStatus(ctx); !errors.Is(err, opnsense.ErrUnauthorized) {
		t.Fatalf("bootstrap key after rotation: %v", err)
	}
	nc, _ := opnsense.New(srv.Config("installer", "fresh-secret"))
	if _, err := nc.FirmwareStatus(ctx); err != nil {
		t.Fatalf("new key: %v", err)
	}
}

func TestDialectDetection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version   string
		patch     bool
		savepoint bool
		assign    opnsense.AssignFlavour
	}{
		{"26.1.2", true, true, opnsense.AssignTAPPaaS},
		{"26.1.2", false, true, opnsense.AssignNone},
		{"25.7.11", true, true, opnsense.AssignTAPPaaS},
		// A patched firewall upgraded to 26.7 keeps the patch's file.
		{"26.7.2", true, false, opnsense.AssignTAPPaaS},
		{"26.7", false, false, opnsense.AssignStock},
		{"26.7.2", false, false, opnsense.AssignStock},
		{"27.1", false, false, opnsense.AssignStockIP},
	} {
		t.Run(fmt.Sprintf("%s/patch=%v", tc.version, tc.patch), func(t *testing.T) {
			t.Parallel()
			srv := opnsensetest.NewServer(t, labopn.Options{Version: tc.version, AssignPatch: func() bool { return tc.patch }})
			d, err := srv.Client(t).Dialect(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			if d.Version != tc.version || d.HasSavepoint != tc.savepoint || d.Assign != tc.assign {
				t.Fatalf("got %+v", d)
			}
		})
	}
	for _, bad := range []string{"", "abc", "26", "x.1"} {
		if _, err := opnsense.DialectFor(bad); err == nil {
			t.Errorf("DialectFor(%q) accepted", bad)
		}
	}
	if d, err := opnsense.DialectFor("27.1.a_12"); err != nil || d.Assign != opnsense.AssignStockIP {
		t.Errorf("dev version: %+v %v", d, err)
	}
}

func TestVLANLifecycle(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := opnsensetest.NewServer(t, labopn.Options{})
	c := srv.Client(t)

	id1, err := c.AddVLAN(ctx, opnsense.VLAN{Parent: "vtnet0", Tag: 210, Descr: "srv"})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := c.AddVLAN(ctx, opnsense.VLAN{Parent: "vtnet0", Tag: 310, Descr: "private", Device: "vlan0.310"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.VLAN(ctx, id1)
	if err != nil || v.Device != "vlan01" || v.Tag != 210 || v.Parent != "vtnet0" {
		t.Fatalf("auto-named VLAN: %+v %v", v, err)
	}
	// Tag unique per parent → validation error with the field map.
	_, err = c.AddVLAN(ctx, opnsense.VLAN{Parent: "vtnet0", Tag: 210})
	var ve *opnsense.ValidationError
	if !errors.As(err, &ve) || ve.Fields["vlan.tag"] != "Tag for this device must be unique." {
		t.Fatalf("duplicate tag: %v", err)
	}
	if !errors.Is(err, opnsense.ErrFailed) {
		t.Fatal("validation errors match ErrFailed")
	}
	// Same tag on another parent is fine.
	if _, err := c.AddVLAN(ctx, opnsense.VLAN{Parent: "vtnet1", Tag: 210}); err != nil {
		t.Fatal(err)
	}
	// Out of range.
	if _, err := c.AddVLAN(ctx, opnsense.VLAN{Parent: "vtnet0", Tag: 5000}); !errors.As(err, &ve) || ve.Fields["vlan.tag"] == "" {
		t.Fatalf("tag 5000: %v", err)
	}

	// Staged until reconfigure.
	if n := len(srv.Running("vlan")); n != 0 {
		t.Fatalf("running before reconfigure: %d", n)
	}
	if err := c.Reconfigure(ctx, opnsense.ServiceVLAN); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Running("vlan")); n != 3 {
		t.Fatalf("running after reconfigure: %d", n)
	}

	// Assign (TAPPaaS patch) → delete refused with the UserException text.
	ifn, err := c.Assign(ctx, opnsense.Assignment{Device: "vlan0.310", Descr: "private", Enabled: true, IPv4: netip.MustParsePrefix("10.3.10.1/24")})
	if err != nil || ifn != "opt1" {
		t.Fatalf("assign: %q %v", ifn, err)
	}
	_, err = c.Assign(ctx, opnsense.Assignment{Device: "vlan0.310", Descr: "again", IPv4: netip.MustParsePrefix("10.3.10.1/24")})
	var ae *opnsense.APIError
	if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Message, "already assigned to interface 'opt1'") {
		t.Fatalf("double assign: %v", err)
	}
	err = c.DelVLAN(ctx, id2)
	if !errors.As(err, &ae) || ae.Status != 500 || ae.Message != "This VLAN cannot be deleted because it is assigned as an interface." {
		t.Fatalf("delete assigned: %v", err)
	}
	as, err := c.Assignments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, a := range as {
		if a.Ifname == "opt1" {
			found = a.Device == "vlan0.310" && a.VLANTag == 310 && a.IPv4.String() == "10.3.10.1/24" && a.Descr == "private" && a.Enabled
		}
	}
	if !found {
		t.Fatalf("assignments: %+v", as)
	}
	// Search shows "vlan0.310 [private]"; the client strips the label.
	vs, err := c.VLANs(ctx)
	if err != nil || len(vs) != 3 || vs[1].Device != "vlan0.310" {
		t.Fatalf("VLANs: %+v %v", vs, err)
	}
	if err := c.Unassign(ctx, ifn); err != nil {
		t.Fatal(err)
	}
	if err := c.Unassign(ctx, ifn); err != nil { // idempotent in the patch
		t.Fatal(err)
	}
	if err := c.DelVLAN(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if err := c.DelVLAN(ctx, id2); !errors.Is(err, opnsense.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := c.VLAN(ctx, id2); !errors.Is(err, opnsense.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	// Set is an upsert and a partial update keeps other fields.
	up := "3f1c2a7e-1111-4222-8333-444455556666"
	if err := c.SetVLAN(ctx, up, opnsense.VLAN{Parent: "vtnet0", Tag: 410, Descr: "iot"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Set(ctx, opnsense.ResVLAN, up, opnsense.Record{"descr": "iot2"}); err != nil {
		t.Fatal(err)
	}
	if v, err := c.VLAN(ctx, up); err != nil || v.Tag != 410 || v.Descr != "iot2" {
		t.Fatalf("upsert: %+v %v", v, err)
	}
	if err := c.Set(ctx, opnsense.ResVLAN, "not-a-uuid", opnsense.Record{"descr": "x"}); !errors.Is(err, opnsense.ErrFailed) {
		t.Fatalf("non-uuid set: %v", err)
	}
}

func TestUnknownFieldRejected(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := opnsensetest.NewServer(t, labopn.Options{})
	c := srv.Client(t)
	_, err := c.Add(ctx, opnsense.ResVLAN, opnsense.Record{"if": "vtnet0", "tag": "20", "colour": "red"})
	var ve *opnsense.ValidationError
	if !errors.As(err, &ve) || ve.Fields["vlan.colour"] == "" {
		t.Fatalf("unknown field: %v", err)
	}
	if !strings.Contains(err.Error(), "vlan.colour") {
		t.Fatalf("message must name the field: %v", err)
	}
	if n := len(srv.Staged("vlan")); n != 0 {
		t.Fatalf("rejected record stored: %d", n)
	}
}

func TestAssignmentStockDialects(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	// 26.7 without the patch: assign only, staged until ApplyAssignments;
	// no addresses.
	srv := opnsensetest.NewServer(t, labopn.Options{Version: "26.7.2", AssignPatch: func() bool { return false }})
	c := srv.Client(t)
	if _, err := c.AddVLAN(ctx, opnsense.VLAN{Parent: "vtnet0", Tag: 210, Device: "vlan0.210"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Reconfigure(ctx, opnsense.ServiceVLAN); err != nil {
		t.Fatal(err)
	}
	_, err := c.Assign(ctx, opnsense.Assignment{Device: "vlan0.210", Descr: "srv", IPv4: netip.MustParsePrefix("10.2.10.1/24")})
	if !errors.Is(err, opnsense.ErrUnsupported) {
		t.Fatalf("address on 26.7: %v", err)
	}
	ifn, err := c.Assign(ctx, opnsense.Assignment{Device: "vlan0.210", Descr: "srv"})
	if err != nil || ifn != "opt1" {
		t.Fatalf("assign: %q %v", ifn, err)
	}
	if _, err := c.Assign(ctx, opnsense.Assignment{Device: "vlan0.210", Descr: "x"}); err == nil {
		t.Fatal("double assignment accepted")
	}
	if len(srv.Running("interfaces")) != 2 {
		t.Fatal("assignment applied before reconfigure")
	}
	if err := c.ApplyAssignments(ctx); err != nil {
		t.Fatal(err)
	}
	if len(srv.Running("interfaces")) != 3 {
		t.Fatal("assignment not applied")
	}
	// The TAPPaaS patch is absent on 26.7.
	err = c.Call(ctx, "POST", "interfaces/interface_assign/addItem", map[string]any{"assign": map[string]any{}}, nil)
	if !errors.Is(err, opnsense.ErrEndpointNotFound) {
		t.Fatalf("patch on 26.7: %v", err)
	}
	if err := c.Unassign(ctx, ifn); err != nil {
		t.Fatal(err)
	}
	if err := c.Unassign(ctx, "lan"); err == nil {
		t.Fatal("unassigning lan accepted")
	}

	// 27.1: with address fields.
	srv2 := opnsensetest.NewServer(t, labopn.Options{Version: "27.1", AssignPatch: func() bool { return false }})
	c2 := srv2.Client(t)
	if _, err := c2.AddVLAN(ctx, opnsense.VLAN{Parent: "vtnet0", Tag: 210, Device: "vlan0.210"}); err != nil {
		t.Fatal(err)
	}
	if err := c2.Reconfigure(ctx, opnsense.ServiceVLAN); err != nil {
		t.Fatal(err)
	}
	ifn2, err := c2.Assign(ctx, opnsense.Assignment{Device: "vlan0.210", Descr: "srv", Enabled: true, IPv4: netip.MustParsePrefix("10.2.10.1/24")})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.ApplyAssignments(ctx); err != nil {
		t.Fatal(err)
	}
	as, _ := c2.Assignments(ctx)
	i := slices.IndexFunc(as, func(a opnsense.Assignment) bool { return a.Ifname == ifn2 })
	if i < 0 || as[i].IPv4.String() != "10.2.10.1/24" || as[i].VLANTag != 210 {
		t.Fatalf("27.1 assignments: %+v", as)
	}

	// ≤ 26.1 without the patch: a clear hint.
	srv3 := opnsensetest.NewServer(t, labopn.Options{AssignPatch: func() bool { return false }})
	_, err = srv3.Client(t).Assign(ctx, opnsense.Assignment{Device: "vtnet0", IPv4: netip.MustParsePrefix("10.9.0.1/24")})
	if !errors.Is(err, opnsense.ErrUnsupported) || !strings.Contains(err.Error(), "patch") {
		t.Fatalf("missing patch: %v", err)
	}
}

func TestDnsmasq(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := opnsensetest.NewServer(t, labopn.Options{})
	c := srv.Client(t)
	ifs, err := c.DnsmasqInterfaces(ctx)
	if err != nil || strings.Join(ifs, ",") != "lan" {
		t.Fatalf("interfaces: %v %v", ifs, err)
	}
	var ve *opnsense.ValidationError
	if err := c.SetDnsmasqInterfaces(ctx, []string{"lan", "opt1"}); !errors.As(err, &ve) || ve.Fields["dnsmasq.interface"] == "" {
		t.Fatalf("unknown interface: %v", err)
	}
	if _, err := c.AddVLAN(ctx, opnsense.VLAN{Parent: "vtnet0", Tag: 210, Device: "vlan0.210"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Reconfigure(ctx, opnsense.ServiceVLAN); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Assign(ctx, opnsense.Assignment{Device: "vlan0.210", Descr: "srv", IPv4: netip.MustParsePrefix("10.2.10.1/24")}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetDnsmasqInterfaces(ctx, []string{"lan", "opt1"}); err != nil {
		t.Fatal(err)
	}
	if ifs, _ := c.DnsmasqInterfaces(ctx); strings.Join(ifs, ",") != "lan,opt1" {
		t.Fatalf("after set: %v", ifs)
	}
	rg := opnsense.Range{Interface: "opt1", StartAddr: "10.2.10.100", EndAddr: "10.2.10.200", Domain: "srv.internal", LeaseTime: "86400", Description: "srv DHCP"}
	id, err := c.AddRange(ctx, rg)
	if err != nil {
		t.Fatal(err)
	}
	bad := rg
	bad.StartAddr, bad.EndAddr = "10.2.10.200", "10.2.10.100"
	if _, err := c.AddRange(ctx, bad); !errors.As(err, &ve) || ve.Fields["range.end_addr"] == "" {
		t.Fatalf("reversed range: %v", err)
	}
	bad = rg
	bad.Interface = "opt9"
	if _, err := c.AddRange(ctx, bad); !errors.As(err, &ve) || ve.Fields["range.interface"] == "" {
		t.Fatalf("unknown interface: %v", err)
	}
	rg.EndAddr = "10.2.10.250"
	if err := c.SetRange(ctx, id, rg); err != nil {
		t.Fatal(err)
	}
	rs, err := c.Ranges(ctx)
	if err != nil || len(rs) != 2 || rs[1].EndAddr != "10.2.10.250" || rs[1].UUID != id || rs[1].Interface != "opt1" {
		t.Fatalf("ranges: %+v %v", rs, err)
	}
	// Staged → applied by the dnsmasq reconfigure.
	if len(srv.Running("dnsmasq.range")) != 1 {
		t.Fatal("range live before reconfigure")
	}
	if err := c.Reconfigure(ctx, opnsense.ServiceDnsmasq); err != nil {
		t.Fatal(err)
	}
	if len(srv.Running("dnsmasq.range")) != 2 {
		t.Fatal("range not applied")
	}
	if err := c.DelRange(ctx, id); err != nil {
		t.Fatal(err)
	}
}

func zoneRule(iface, src, dst string, seq int) opnsense.Rule {
	return opnsense.Rule{Enabled: true, Sequence: seq, Action: "pass", Quick: true, Interface: iface,
		Direction: "in", IPProtocol: "inet", Protocol: "any", SourceNet: src, DestinationNet: dst, Log: true,
		Description: "Zone srv -> gateway"}
}

func TestFilterRulesAndRollback(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	clock := labopn.NewFakeClock(time.Unix(1_800_000_000, 0))
	srv := opnsensetest.NewServer(t, labopn.Options{Clock: clock, RollbackAfter: 60 * time.Second})
	c := srv.Client(t)

	id, err := c.AddRule(ctx, zoneRule("lan", "10.0.0.0/24", "10.0.0.1/32", 31400))
	if err != nil {
		t.Fatal(err)
	}
	var ve *opnsense.ValidationError
	bad := zoneRule("lan", "not-a-net", "any", 1)
	if _, err := c.AddRule(ctx, bad); !errors.As(err, &ve) || ve.Fields["rule.source_net"] == "" {
		t.Fatalf("bad source: %v", err)
	}
	bad = zoneRule("lan", "any", "any", 1)
	bad.DestinationPort = "443"
	if _, err := c.AddRule(ctx, bad); !errors.As(err, &ve) || ve.Fields["rule.protocol"] == "" {
		t.Fatalf("port without protocol: %v", err)
	}
	if err := c.Apply(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if len(srv.Running("filter.rule")) != 1 {
		t.Fatal("plain apply")
	}

	// Savepoint, change, apply with rollback, no confirmation → reverted.
	rev, err := c.Savepoint(ctx)
	if err != nil || rev == "" {
		t.Fatalf("savepoint: %q %v", rev, err)
	}
	if _, err := c.AddRule(ctx, zoneRule("lan", "10.0.0.0/24", "any", 31499)); err != nil {
		t.Fatal(err)
	}
	if err := c.DelRule(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(ctx, rev); err != nil {
		t.Fatal(err)
	}
	if rs := srv.Running("filter.rule"); len(rs) != 1 || rs[0]["sequence"] != "31499" {
		t.Fatalf("applied: %v", rs)
	}
	clock.Advance(59 * time.Second)
	if len(srv.Reverted()) != 0 {
		t.Fatal("reverted early")
	}
	clock.Advance(2 * time.Second)
	if got := srv.Reverted(); len(got) != 1 || got[0] != rev {
		t.Fatalf("reverted: %v", got)
	}
	rules, err := c.Rules(ctx)
	if err != nil || len(rules) != 1 || rules[0].UUID != id || rules[0].Sequence != 31400 {
		t.Fatalf("after auto revert: %+v %v", rules, err)
	}
	if rs := srv.Running("filter.rule"); len(rs) != 1 || rs[0]["uuid"] != id {
		t.Fatalf("running after revert: %v", rs)
	}

	// Confirmed in time → kept.
	rev2, _ := c.Savepoint(ctx)
	id3, _ := c.AddRule(ctx, zoneRule("lan", "10.0.0.0/24", "any", 31450))
	if err := c.Apply(ctx, rev2); err != nil {
		t.Fatal(err)
	}
	if err := c.CancelRollback(ctx, rev2); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Minute)
	if len(srv.Reverted()) != 1 {
		t.Fatal("confirmed apply reverted")
	}
	if r, err := c.Rule(ctx, id3); err != nil || r.Sequence != 31450 || !r.Log || r.Interface != "lan" {
		t.Fatalf("kept rule: %+v %v", r, err)
	}

	// Manual revert.
	if err := c.Revert(ctx, rev2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Rule(ctx, id3); !errors.Is(err, opnsense.ErrNotFound) {
		t.Fatalf("after revert: %v", err)
	}
	if err := c.Revert(ctx, "123.0001"); !errors.Is(err, opnsense.ErrNotFound) {
		t.Fatalf("unknown revision: %v", err)
	}
}

func TestFilterNoSavepointOn267(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := opnsensetest.NewServer(t, labopn.Options{Version: "26.7"})
	c := srv.Client(t)
	before := srv.Mutations()
	if _, err := c.Savepoint(ctx); !errors.Is(err, opnsense.ErrUnsupported) {
		t.Fatalf("savepoint: %v", err)
	}
	if err := c.Apply(ctx, "1.1"); !errors.Is(err, opnsense.ErrUnsupported) {
		t.Fatalf("apply with revision: %v", err)
	}
	if err := c.CancelRollback(ctx, "1.1"); !errors.Is(err, opnsense.ErrUnsupported) {
		t.Fatalf("cancel: %v", err)
	}
	if srv.Mutations() != before {
		t.Fatal("unsupported calls reached the firewall")
	}
	if err := c.Call(ctx, "POST", "firewall/filter/savepoint", nil, nil); !errors.Is(err, opnsense.ErrEndpointNotFound) {
		t.Fatalf("raw savepoint: %v", err)
	}
	if err := c.Apply(ctx, ""); err != nil {
		t.Fatal(err)
	}
}

func TestUnboundOverrides(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := opnsensetest.NewServer(t, labopn.Options{})
	c := srv.Client(t)
	id, err := c.AddHostOverride(ctx, opnsense.HostOverride{Enabled: true, Hostname: "*", Domain: "example.org", RR: "A", Server: "10.6.0.1", Description: "tappaas wildcard"})
	if err != nil {
		t.Fatal(err)
	}
	var ve *opnsense.ValidationError
	if _, err := c.AddHostOverride(ctx, opnsense.HostOverride{Enabled: true, Hostname: "x", Domain: "example.org", RR: "A", Server: "fd00::1"}); !errors.As(err, &ve) || ve.Fields["host.server"] == "" {
		t.Fatalf("v6 in A: %v", err)
	}
	if _, err := c.AddHostOverride(ctx, opnsense.HostOverride{Hostname: "x", RR: "A", Server: "10.0.0.1"}); !errors.As(err, &ve) || ve.Fields["host.domain"] == "" {
		t.Fatalf("missing domain: %v", err)
	}
	if err := c.SetHostOverride(ctx, id, opnsense.HostOverride{Enabled: true, Hostname: "*", Domain: "example.org", RR: "A", Server: "10.6.0.2"}); err != nil {
		t.Fatal(err)
	}
	hs, err := c.HostOverrides(ctx)
	if err != nil || len(hs) != 1 || hs[0].Server != "10.6.0.2" || hs[0].Hostname != "*" {
		t.Fatalf("overrides: %+v %v", hs, err)
	}
	if err := c.Reconfigure(ctx, opnsense.ServiceUnbound); err != nil {
		t.Fatal(err)
	}
	if len(srv.Running("unbound.host")) != 1 {
		t.Fatal("not applied")
	}
	if err := c.DelHostOverride(ctx, id); err != nil {
		t.Fatal(err)
	}
}

func TestFirmwareAndSystem(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := opnsensetest.NewServer(t, labopn.Options{Version: "26.7.2"})
	c := srv.Client(t)
	st, err := c.FirmwareStatus(ctx)
	if err != nil || st.ProductVersion != "26.7.2" || st.ProductName != "OPNsense" || st.ProductSeries != "26.7" || st.Status != "none" {
		t.Fatalf("firmware status: %+v %v", st, err)
	}
	sys, err := c.SystemStatus(ctx)
	if err != nil || sys.Status != "OK" || sys.Subsystems["Firewall"].Title != "Firewall" {
		t.Fatalf("system status: %+v %v", sys, err)
	}
}

func TestLockedSerialisesWriters(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := opnsensetest.NewServer(t, labopn.Options{})
	c := srv.Client(t)

	inBatch := make(chan struct{})
	release := make(chan struct{})
	var order []string
	var mu sync.Mutex
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	done := make(chan error, 1)
	go func() {
		done <- c.Locked(ctx, func(ctx context.Context) error {
			if _, err := c.AddVLAN(ctx, opnsense.VLAN{Parent: "vtnet0", Tag: 11}); err != nil { // no deadlock: same ctx
				return err
			}
			close(inBatch)
			<-release
			note("batch-reconfigure")
			return c.Reconfigure(ctx, opnsense.ServiceVLAN)
		})
	}()
	<-inBatch
	// A writer with its own ctx must wait for the batch.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.AddVLAN(short, opnsense.VLAN{Parent: "vtnet0", Tag: 12}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("writer did not wait for the lock: %v", err)
	}
	// Reads do not lock.
	if _, err := c.VLANs(ctx); err != nil {
		t.Fatal(err)
	}
	waiter := make(chan error, 1)
	go func() {
		_, err := c.AddVLAN(ctx, opnsense.VLAN{Parent: "vtnet0", Tag: 13})
		note("other-write")
		waiter <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the waiter block (ordering check below does not depend on it)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-waiter; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) != 2 || order[0] != "batch-reconfigure" {
		t.Fatalf("order: %v", order)
	}
	if len(srv.Staged("vlan")) != 2 {
		t.Fatalf("vlans: %d", len(srv.Staged("vlan")))
	}
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	srv := opnsensetest.NewServer(t, labopn.Options{})
	c := srv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.VLANs(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestRetryableClassification(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	retryable := func(err error) bool {
		var r interface{ Retryable() bool }
		return errors.As(err, &r) && r.Retryable()
	}
	srv := opnsensetest.NewServer(t, labopn.Options{})
	c := srv.Client(t)
	if _, err := c.FirmwareStatus(ctx); err != nil {
		t.Fatal(err)
	}
	// Validation, auth and pin errors are not retryable.
	_, err := c.AddVLAN(ctx, opnsense.VLAN{Parent: "vtnet0", Tag: 0})
	if err == nil || retryable(err) {
		t.Fatalf("validation: %v", err)
	}
	other := opnsensetest.NewServer(t, labopn.Options{})
	cfg := other.Config(labopn.BootstrapKey, labopn.BootstrapSecret)
	cfg.Fingerprint = srv.Fingerprint
	pc, _ := opnsense.New(cfg)
	if _, err := pc.FirmwareStatus(ctx); err == nil || retryable(err) {
		t.Fatalf("pin: %v", err)
	}
	// The firewall going away (reboot) is retryable.
	srv.HTTP.CloseClientConnections()
	srv.HTTP.Close()
	_, err = c.FirmwareStatus(ctx)
	if err == nil || !retryable(err) {
		t.Fatalf("connection refused: %v", err)
	}
}

func TestPathArgumentsChecked(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := opnsensetest.NewServer(t, labopn.Options{})
	c := srv.Client(t)
	before := srv.Mutations()
	for _, bad := range []string{"", "../core/firmware", "a/b", "x?y", "a b"} {
		if err := c.DelVLAN(ctx, bad); err == nil || errors.Is(err, opnsense.ErrNotFound) {
			t.Errorf("DelVLAN(%q): %v", bad, err)
		}
		if _, err := c.VLAN(ctx, bad); err == nil {
			t.Errorf("VLAN(%q) accepted", bad)
		}
		if err := c.Unassign(ctx, bad); err == nil {
			t.Errorf("Unassign(%q) accepted", bad)
		}
	}
	if srv.Mutations() != before {
		t.Fatal("a refused argument reached the firewall")
	}
}

func TestReconfigureShortNames(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := opnsensetest.NewServer(t, labopn.Options{})
	c := srv.Client(t)
	if _, err := c.AddHostOverride(ctx, opnsense.HostOverride{Enabled: true, Hostname: "a", Domain: "b.org", RR: "A", Server: "10.0.0.5"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Reconfigure(ctx, "unbound"); err != nil {
		t.Fatal(err)
	}
	if len(srv.Running("unbound.host")) != 1 {
		t.Fatal("short name did not reconfigure unbound")
	}
	if err := c.Reconfigure(ctx, "nosuch"); err == nil {
		t.Fatal("unknown module accepted")
	}
	if err := c.Reconfigure(ctx, opnsense.ServiceAssignment); !errors.Is(err, opnsense.ErrEndpointNotFound) {
		t.Fatalf("stock assignment reconfigure on 26.1: %v", err)
	}
}

// interfacesInfo as OverviewController builds it: CIDR in ipaddr (no
// subnetbits), unassigned devices with identifier "", the address from the
// kernel once the interface is configured.
func TestAssignmentsFromTheOverview(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	srv := opnsensetest.NewServer(t, labopn.Options{})
	c := srv.Client(t)
	if _, err := c.AddVLAN(ctx, opnsense.VLAN{Parent: "vtnet0", Tag: 210, Device: "vlan0.210"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Reconfigure(ctx, opnsense.ServiceVLAN); err != nil {
		t.Fatal(err)
	}
	noUnassigned := func(as []opnsense.Assignment) {
		t.Helper()
		for _, a := range as {
			if a.Ifname == "" || a.Device == "vlan0.210" && a.Ifname == "" {
				t.Fatalf("an unassigned device listed as assigned: %+v", as)
			}
		}
	}
	as, err := c.Assignments(ctx)
	if err != nil {
		t.Fatal(err)
	}
	noUnassigned(as)
	lan := slices.IndexFunc(as, func(a opnsense.Assignment) bool { return a.Ifname == "lan" })
	if lan < 0 || as[lan].IPv4.String() != "10.0.0.1/24" || !as[lan].Enabled || as[lan].Device != "vtnet0" {
		t.Fatalf("lan: %+v", as)
	}
	ifn, err := c.Assign(ctx, opnsense.Assignment{Device: "vlan0.210", Descr: "srv", Enabled: true, IPv4: netip.MustParsePrefix("10.2.10.1/24")})
	if err != nil {
		t.Fatal(err)
	}
	as, _ = c.Assignments(ctx)
	i := slices.IndexFunc(as, func(a opnsense.Assignment) bool { return a.Ifname == ifn })
	if i < 0 || as[i].IPv4.String() != "10.2.10.1/24" || as[i].VLANTag != 210 || as[i].Descr != "srv" || !as[i].Enabled {
		t.Fatalf("assigned: %+v", as)
	}
	// Unassigned again, the device keeps its address in the kernel and is
	// listed as an unassigned device: not an assignment.
	if err := c.Unassign(ctx, ifn); err != nil {
		t.Fatal(err)
	}
	as, _ = c.Assignments(ctx)
	noUnassigned(as)
	if slices.ContainsFunc(as, func(a opnsense.Assignment) bool { return a.Device == "vlan0.210" }) {
		t.Fatalf("after unassign: %+v", as)
	}
}
