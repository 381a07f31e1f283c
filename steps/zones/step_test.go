package zones_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/backends/opnsense"
	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/config/zones/zonestest"
	labfw "github.com/tappaas/tappaas/lab/opnsense"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/zones"
)

func startFirewall(t *testing.T, version string) (cz.Firewall, *labfw.Server) {
	t.Helper()
	return startWith(t, labfw.Options{Version: version})
}

func startWith(t *testing.T, o labfw.Options) (cz.Firewall, *labfw.Server) {
	t.Helper()
	cert, _, fp, err := labfw.NewCert("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	sim := labfw.NewServer(o)
	hs := httptest.NewUnstartedServer(sim.Handler())
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the pin-learning handshake fails by design
	hs.StartTLS()
	t.Cleanup(hs.Close)
	c, err := opnsense.New(opnsense.Config{BaseURL: hs.URL, Key: labfw.BootstrapKey, Secret: labfw.BootstrapSecret, Fingerprint: fp, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return zones.FromOPNsense(c), sim
}

// static is a Step.Firewall getter for a firewall that exists already.
func static(fw cz.Firewall) func(context.Context) (cz.Firewall, error) {
	return func(context.Context) (cz.Firewall, error) { return fw, nil }
}

func defaultZones(t *testing.T) *cz.File {
	t.Helper()
	f, err := cz.Default()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func rt() *steps.Runtime { return steps.NewRuntime(zones.StepID, nil, nil, nil, nil) }

func TestStepAgainstSimulator(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version string
		patch   bool
	}{
		{"26.1.2", true},
		// A patched firewall kept up to date: the patch's file survives the
		// upgrade, the savepoint API does not.
		{"26.7.2", true},
		{"27.1", false},
	} {
		t.Run(fmt.Sprintf("%s/patch=%v", tc.version, tc.patch), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			fw, sim := startWith(t, labfw.Options{Version: tc.version, AssignPatch: func() bool { return tc.patch }})
			f := defaultZones(t)
			s := &zones.Step{File: f, Firewall: static(fw), Options: cz.ApplyOptions{PingDelay: time.Millisecond}}
			st, err := s.Check(ctx, rt())
			if err != nil || st.Done {
				t.Fatalf("check before apply: %+v %v", st, err)
			}
			if err := s.Apply(ctx, rt()); err != nil {
				t.Fatalf("apply: %v", err)
			}
			st, err = s.Check(ctx, rt())
			if err != nil || !st.Done {
				cur, _ := cz.Snapshot(ctx, fw)
				t.Fatalf("check after apply: %+v %v\n%s", st, err, cz.Plan(f, cur).Text())
			}
			if len(sim.Armed()) != 0 {
				t.Fatalf("rollback still armed: %v", sim.Armed())
			}
			// Second apply: no mutating call reaches the firewall.
			m := sim.Mutations()
			if err := s.Apply(ctx, rt()); err != nil {
				t.Fatal(err)
			}
			if sim.Mutations() != m {
				t.Fatalf("re-apply made %d mutations", sim.Mutations()-m)
			}
			// Shrink access-to: exactly the stale rule goes.
			p := f.Zone("private").Clone()
			p.AccessTo = slices.DeleteFunc(p.AccessTo, func(s string) bool { return s == "iot" })
			f.SetZone("private", p)
			cur, err := cz.Snapshot(ctx, fw)
			if err != nil {
				t.Fatal(err)
			}
			ch := cz.Plan(f, cur)
			if len(ch.Changes) != 1 || ch.Changes[0].Op != cz.Delete || ch.Changes[0].ID != "Zone private -> iot" {
				t.Fatalf("shrink plan:\n%s", ch.Text())
			}
			if err := s.Apply(ctx, rt()); err != nil {
				t.Fatal(err)
			}
			if st, _ := s.Check(ctx, rt()); !st.Done {
				t.Fatalf("not converged after shrink: %s", st.Detail)
			}
			// The running filter has the rule set minus the stale one.
			rules, _ := fw.Rules(ctx)
			for _, r := range rules {
				if strings.Contains(r.Description, "private -> iot") {
					t.Fatal("stale rule present")
				}
			}
			// Teardown of iot.
			iot := f.Zone("iot").Clone()
			iot.State = cz.Disabled
			f.SetZone("iot", iot)
			if err := s.Apply(ctx, rt()); err != nil {
				t.Fatal(err)
			}
			vs, _ := fw.VLANs(ctx)
			if slices.ContainsFunc(vs, func(v cz.VLAN) bool { return v.Tag == 410 }) {
				t.Fatal("VLAN 410 survived teardown")
			}
		})
	}
}

func TestStockAssignmentWithoutIPFieldsFailsClearly(t *testing.T) {
	t.Parallel()
	fw, _ := startWith(t, labfw.Options{Version: "26.7", AssignPatch: func() bool { return false }})
	s := &zones.Step{File: defaultZones(t), Firewall: static(fw)}
	err := s.Apply(context.Background(), rt())
	if err == nil || !errors.Is(err, opnsense.ErrUnsupported) {
		t.Fatalf("err = %v", err)
	}
	t.Log(err)
}

func TestInvalidFileIsACheckError(t *testing.T) {
	t.Parallel()
	fw, _ := startFirewall(t, "26.1.2")
	f := defaultZones(t)
	z := f.Zone("srv").Clone()
	z.IP = "10.3.10.0/24"
	f.SetZone("srv", z)
	s := &zones.Step{File: f, Firewall: static(fw)}
	if _, err := s.Check(context.Background(), rt()); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Fatalf("err = %v", err)
	}
}

func TestStepFailuresAndCancellation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	// Wrong credentials: Check cannot check (error), it never says "not done".
	cert, _, fp, err := labfw.NewCert("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	sim := labfw.NewServer(labfw.Options{})
	hs := httptest.NewUnstartedServer(sim.Handler())
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the pin-learning handshake fails by design
	hs.StartTLS()
	t.Cleanup(hs.Close)
	c, err := opnsense.New(opnsense.Config{BaseURL: hs.URL, Key: "nope", Secret: "wrong", Fingerprint: fp})
	if err != nil {
		t.Fatal(err)
	}
	s := &zones.Step{File: defaultZones(t), Firewall: static(zones.FromOPNsense(c))}
	if _, err := s.Check(ctx, rt()); !errors.Is(err, opnsense.ErrUnauthorized) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("bad key: %v", err)
	}

	// Cancelled mid-way: Apply returns the context error; a later run converges.
	fw, _ := startFirewall(t, "26.1.2")
	s = &zones.Step{File: defaultZones(t), Firewall: static(fw)}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Apply(cctx, rt()); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled apply: %v", err)
	}
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Check(ctx, rt()); err != nil || !st.Done {
		t.Fatalf("after resume: %+v %v", st, err)
	}
	if s.ID() != "zones.apply" || len(s.Touches()) != 1 || len(s.Describe(nil)) != 1 {
		t.Fatal("step metadata")
	}
}

// unreachable makes Ping fail, as if the new rules cut tappaas off.
type unreachable struct{ cz.Firewall }

func (unreachable) Ping(context.Context) error { return errors.New("connection timed out") }

func TestLostAPIAfterApplyIsRolledBackByTheFirewall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cert, _, fp, err := labfw.NewCert("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	sim := labfw.NewServer(labfw.Options{RollbackAfter: 200 * time.Millisecond})
	hs := httptest.NewUnstartedServer(sim.Handler())
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the pin-learning handshake fails by design
	hs.StartTLS()
	t.Cleanup(hs.Close)
	c, err := opnsense.New(opnsense.Config{BaseURL: hs.URL, Key: labfw.BootstrapKey, Secret: labfw.BootstrapSecret, Fingerprint: fp})
	if err != nil {
		t.Fatal(err)
	}
	fw := zones.FromOPNsense(c)
	rulesBefore := len(sim.Running("filter.rule"))
	s := &zones.Step{File: defaultZones(t), Firewall: static(unreachable{fw}), Options: cz.ApplyOptions{PingAttempts: 2, PingDelay: time.Millisecond}}
	err = s.Apply(ctx, rt())
	if !errors.Is(err, cz.ErrUnreachableAfterApply) {
		t.Fatalf("err = %v", err)
	}
	if len(sim.Armed()) != 1 {
		t.Fatalf("rollback not armed: %v", sim.Armed())
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(sim.Reverted()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(sim.Reverted()) != 1 {
		t.Fatal("the firewall did not roll back by itself")
	}
	if n := len(sim.Running("filter.rule")); n != rulesBefore {
		t.Fatalf("running rules after rollback = %d, want %d", n, rulesBefore)
	}
	// Reachable again: the next run converges.
	s.Firewall = static(fw)
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Check(ctx, rt()); !st.Done {
		t.Fatalf("not converged: %s", st.Detail)
	}
}

func TestSimulatorConformance(t *testing.T) {
	t.Parallel()
	for _, version := range []string{"26.1.2", "27.1"} {
		t.Run(version, func(t *testing.T) {
			zonestest.Conformance(t, func(t *testing.T) cz.Firewall {
				fw, _ := startFirewall(t, version)
				return fw
			})
		})
	}
}

// failNthAssign fails the n-th Assign (1-based), as if the link dropped
// half-way through a zones run.
type failNthAssign struct {
	cz.Firewall
	n, calls int
}

var errInjected = errors.New("injected: connection reset")

func (f *failNthAssign) Assign(ctx context.Context, a cz.Assignment) (string, error) {
	f.calls++
	if f.calls == f.n {
		return "", errInjected
	}
	return f.Firewall.Assign(ctx, a)
}

// A zones run that stopped after the VLANs were created (their devices now
// listed by interfacesInfo as unassigned, identifier "") and some zones
// assigned: the next run converges, in one step run, and a third changes
// nothing.
func TestHalfDoneZonesRunConverges(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 3} {
		t.Run(fmt.Sprintf("assign-%d-fails", n), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			fw, sim := startFirewall(t, "26.1.2")
			f := defaultZones(t)
			s := &zones.Step{File: f, Firewall: static(&failNthAssign{Firewall: fw, n: n}), Options: cz.ApplyOptions{PingDelay: time.Millisecond}}
			if err := s.Apply(ctx, rt()); !errors.Is(err, errInjected) {
				t.Fatalf("first run: %v", err)
			}
			s.Firewall = static(fw)
			if err := s.Apply(ctx, rt()); err != nil {
				t.Fatalf("resumed run: %v", err)
			}
			if st, err := s.Check(ctx, rt()); err != nil || !st.Done {
				cur, _ := cz.Snapshot(ctx, fw)
				t.Fatalf("after resume: %+v %v\n%s", st, err, cz.Plan(f, cur).Text())
			}
			m := sim.Mutations()
			if err := s.Apply(ctx, rt()); err != nil || sim.Mutations() != m {
				t.Fatalf("third run: %v, %d mutations", err, sim.Mutations()-m)
			}
		})
	}
}

// lateConfirm answers the reachability check only after the firewall's
// rollback timer ran out (a confirmation that came too late).
type lateConfirm struct {
	cz.Firewall
	clock *labfw.FakeClock
}

func (l lateConfirm) Ping(ctx context.Context) error {
	l.clock.Advance(2 * time.Minute)
	return l.Firewall.Ping(ctx)
}

// OPNsense answers cancelRollback the same whether or not a timer was
// running: a rollback that happened before the confirmation is found by
// reading the rules back, and the next run converges.
func TestRollbackBeforeConfirmationIsDetected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := labfw.NewFakeClock(time.Unix(1_800_000_000, 0))
	fw, sim := startWith(t, labfw.Options{Clock: clock})
	s := &zones.Step{File: defaultZones(t), Firewall: static(lateConfirm{fw, clock}), Options: cz.ApplyOptions{PingDelay: time.Millisecond}}
	if err := s.Apply(ctx, rt()); !errors.Is(err, cz.ErrRolledBack) {
		t.Fatalf("err = %v", err)
	}
	if len(sim.Reverted()) != 1 {
		t.Fatalf("reverted: %v", sim.Reverted())
	}
	s.Firewall = static(fw)
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Check(ctx, rt()); !st.Done || len(sim.Armed()) != 0 {
		t.Fatalf("not converged: %s, armed %v", st.Detail, sim.Armed())
	}
}

// The TAPPaaS image is stock OPNsense: until the interface_assign patch is
// copied on, the zones step stops (after creating the VLANs) with a message
// naming the patch; once it is there, a rerun converges.
func TestZonesBeforeTheAssignPatchThenAfter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var patched atomic.Bool
	fw, sim := startWith(t, labfw.Options{AssignPatch: patched.Load})
	s := &zones.Step{File: defaultZones(t), Firewall: static(fw), Options: cz.ApplyOptions{PingDelay: time.Millisecond}}
	err := s.Apply(ctx, rt())
	if !errors.Is(err, opnsense.ErrUnsupported) || !strings.Contains(err.Error(), "interface_assign patch") {
		t.Fatalf("without the patch: %v", err)
	}
	if len(sim.Running("vlan")) == 0 {
		t.Fatal("the run stopped before the VLANs: not the half-done state this test is about")
	}
	patched.Store(true)
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatalf("rerun with the patch: %v", err)
	}
	if st, err := s.Check(ctx, rt()); err != nil || !st.Done {
		t.Fatalf("after rerun: %+v %v", st, err)
	}
}

// The step seeds the node's live zones.json (upstream's tools read it) when
// absent and never overwrites an operator's copy; Check wants it present.
func TestStepSeedsTheNodesLiveZonesFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fw, _ := startFirewall(t, "26.1.2")
	node := exectest.NewFake()
	node.On(`^test -f (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		if _, _, ok := inv.Fake.File(inv.Match[1]); ok {
			return 0, nil
		}
		return 1, nil
	})
	node.Reply(`^mkdir -p /root/tappaas$`, "", 0)
	f := defaultZones(t)
	s := &zones.Step{File: f, Firewall: static(fw), Node: node, Options: cz.ApplyOptions{PingDelay: time.Millisecond}}
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	got, mode, ok := node.File(cz.NodeFile)
	if !ok || string(got) != string(f.Bytes()) || mode.Perm() != 0o644 {
		t.Fatalf("seeded %v %o: %d bytes", ok, mode, len(got))
	}
	if st, err := s.Check(ctx, rt()); err != nil || !st.Done {
		t.Fatalf("check after apply: %+v %v", st, err)
	}
	node.SetFile(cz.NodeFile, []byte("{}\n"), 0o644) // an operator's edit
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := node.File(cz.NodeFile); string(got) != "{}\n" {
		t.Fatal("the live file was overwritten")
	}
	node.RemoveFile(cz.NodeFile)
	if st, err := s.Check(ctx, rt()); err != nil || st.Done {
		t.Fatalf("check without the live file: %+v %v", st, err)
	}
}
