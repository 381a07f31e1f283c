package zones_test

import (
	"fmt"
	"testing"

	"github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/config/zones/zonestest"
)

// bigFile builds 600 zones: the six standard types × subId 0–99, all Active,
// each with access-to internet plus every other zone.
func bigFile(tb testing.TB) *zones.File {
	tb.Helper()
	f, err := zones.Parse([]byte("{}"))
	if err != nil {
		tb.Fatal(err)
	}
	types := []string{"Management", "Service", "Client", "IoT", "Guest", "DMZ"}
	var names []string
	for _, t := range types {
		for sub := range 100 {
			names = append(names, fmt.Sprintf("z%s%d", t, sub))
		}
	}
	i := 0
	for _, t := range types {
		for sub := range 100 {
			z := zones.NewZone(names[i], t, sub)
			z.State = zones.Active
			z.Description = names[i]
			z.AccessTo = append([]string{"internet"}, names[:i]...)
			z.AccessTo = append(z.AccessTo, names[i+1:]...)
			f.SetZone("", z)
			i++
		}
	}
	return f
}

func BenchmarkValidateAndPlan600(b *testing.B) {
	f := bigFile(b)
	cur := zonestest.New().State()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := f.Validate()
		ch := zones.Plan(f, cur)
		if ch.Empty() || !r.OK() {
			b.Fatal("unexpected result")
		}
	}
}

func BenchmarkValidate600(b *testing.B) {
	f := bigFile(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = f.Validate()
	}
}

func BenchmarkPlan600(b *testing.B) {
	f := bigFile(b)
	cur := zonestest.New().State()
	b.ReportAllocs()
	for b.Loop() {
		_ = zones.Plan(f, cur)
	}
}

func TestBigFileShape(t *testing.T) {
	t.Parallel()
	f := bigFile(t)
	r := f.Validate()
	if !r.OK() {
		t.Fatalf("600-zone file invalid: %v", r.Errors[0])
	}
	ch := zones.Plan(f, zonestest.New().State())
	cr, _, _ := ch.Count()
	if cr < 600*600 {
		t.Fatalf("only %d creates", cr)
	}
}

// BenchmarkValidateAndPlan600Realistic: the same 600 zones, each with
// access-to internet plus its ten neighbours in the file.
func BenchmarkValidateAndPlan600Realistic(b *testing.B) {
	f := bigFile(b)
	names := f.Names()
	for i, n := range names {
		z := f.Zone(n).Clone()
		z.AccessTo = []string{"internet"}
		for j := i + 1; j < len(names) && j <= i+10; j++ {
			z.AccessTo = append(z.AccessTo, names[j])
		}
		f.SetZone(n, z)
	}
	cur := zonestest.New().State()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := f.Validate()
		ch := zones.Plan(f, cur)
		if ch.Empty() || !r.OK() {
			b.Fatal("unexpected result")
		}
	}
}
