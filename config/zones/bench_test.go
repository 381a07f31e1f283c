package zones_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	tappaas "github.com/tappaas/tappaas"
	"github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/config/zones/zonestest"
)

// bigFile builds 600 zones (the six standard types × subId 0–99, all
// Active), each reaching the internet and the next five zones of the file:
// a large but realistic firewall. (A full mesh is not: zone-manager gives a
// zone at most 88 targets.)
func bigFile(tb testing.TB) *zones.File {
	tb.Helper()
	f, err := zones.Parse([]byte("{}"))
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, t := range []string{"Management", "Service", "Client", "IoT", "Guest", "DMZ"} {
		for sub := range 100 {
			z := zones.NewZone(fmt.Sprintf("z%s%d", t, sub), t, sub)
			z.State = zones.Active
			z.Description = z.Name
			f.SetZone("", z)
			names = append(names, z.Name)
		}
	}
	for i, n := range names {
		z := f.Zone(n).Clone()
		z.AccessTo = []string{"internet"}
		for j := i + 1; j < len(names) && j <= i+5; j++ {
			z.AccessTo = append(z.AccessTo, names[j])
		}
		f.SetZone(n, z)
	}
	return f
}

// cpu reports the process's CPU time per op beside the wall time (a shared
// machine's load inflates the wall time, much less the CPU time).
func cpu(b *testing.B) func() {
	used := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := used()
	return func() { b.ReportMetric(float64(used()-start)/float64(b.N), "cpu-ns/op") }
}

// BenchmarkValidateAndPlan600 guards the planner's speed on 600 zones
// against an empty firewall (target: under 20 ms per op).
func BenchmarkValidateAndPlan600(b *testing.B) {
	f := bigFile(b)
	cur := zonestest.New().State()
	b.ReportAllocs()
	defer cpu(b)()
	for b.Loop() {
		if r := f.Validate(); !r.OK() || zones.Plan(f, cur).Empty() {
			b.Fatal("unexpected result")
		}
	}
}

// BenchmarkValidateAndPlan600InSync is the same against a firewall that
// already matches (every object compared, nothing to do).
func BenchmarkValidateAndPlan600InSync(b *testing.B) {
	f := bigFile(b)
	fw := zonestest.New()
	_, after := zonestest.ZoneManager(f, fw.State())
	b.ReportAllocs()
	defer cpu(b)()
	for b.Loop() {
		if r := f.Validate(); !r.OK() || !zones.Plan(f, after).Empty() {
			b.Fatal("unexpected result")
		}
	}
}

// BenchmarkValidateAndPlanDefault guards the default zones.json (target:
// under 100 µs per op).
func BenchmarkValidateAndPlanDefault(b *testing.B) {
	f, err := zones.Parse(tappaas.DefaultZones)
	if err != nil {
		b.Fatal(err)
	}
	cur := zonestest.New().State()
	b.ReportAllocs()
	defer cpu(b)()
	for b.Loop() {
		if r := f.Validate(); !r.OK() || zones.Plan(f, cur).Empty() {
			b.Fatal("unexpected result")
		}
	}
}

func TestBigFileShape(t *testing.T) {
	t.Parallel()
	f := bigFile(t)
	if r := f.Validate(); !r.OK() {
		t.Fatalf("600-zone file invalid: %v", r.Errors[0])
	}
	ch := zones.Plan(f, zonestest.New().State())
	// Per zone: VLAN, interface, range, gateway, ≤5 targets, 3 blocks, internet.
	if cr, _, _ := ch.Count(); cr < 600*10 {
		t.Fatalf("only %d creates", cr)
	}
}
