package modules

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/tappaas/tappaas/config/jsonnode"
)

// FuzzParse: any input either fails to load or loads, round-trips
// byte for byte, validates without panicking, and stays loadable after an
// edit.
func FuzzParse(f *testing.F) {
	s, z, mods := fixtures(f)
	for _, p := range append(mods, "src/module-catalog.json", "src/apps/litellm/services/models/pinhole.json") {
		data, err := os.ReadFile(filepath.Join(upstreamDir, p))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"config":{"cluster:vm":[]},"dependsOn":"cluster:vm"}`))
	f.Add([]byte(`{"ports":[{"port":"1:"}],"aliases":{"a":1},"identity":null,"HANode":false}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The catalog and pinhole loaders take the same input without panicking.
		if c, err := ParseCatalog("c.json", data); err == nil {
			_ = c.Validate(nil)
		}
		if _, r, err := ParsePinhole(s, "pinhole.json", data); err == nil {
			_ = r.OK()
		}
		m, err := Parse("fuzz.json", data)
		if err != nil {
			return
		}
		if !bytes.Equal(m.Bytes(), data) {
			t.Fatal("unchanged file does not round-trip")
		}
		r := m.Validate(Options{Schema: s, Zones: z, Nodes: []string{"tappaas1", "tappaas2"}})
		for _, fd := range r.Findings {
			if fd.File != "fuzz.json" || fd.Message == "" || fd.Rule == "" {
				t.Fatalf("incomplete finding %+v", fd)
			}
		}
		_ = m.Module()
		if c, err := m.Canonical(s); err == nil {
			again, err := Parse("fuzz.json", c.Bytes())
			if err != nil {
				t.Fatalf("canonical form does not load: %v", err)
			}
			if c2, err := again.Canonical(s); err != nil || !bytes.Equal(c2.Bytes(), c.Bytes()) {
				t.Fatalf("Canonical is not idempotent: %v\n%s\n%s", err, c.Bytes(), c2.Bytes())
			}
		}
		m.Set(s, "cores", jsonnode.NewInt(3))
		again, err := Parse("fuzz.json", m.Bytes())
		if err != nil {
			t.Fatalf("edited file does not load: %v\n%s", err, m.Bytes())
		}
		if v, _, ok := again.Get("cores"); !ok || v.Text() != "3" {
			t.Fatalf("edit lost: %v", v)
		}
		if !bytes.Equal(again.Bytes(), m.Bytes()) {
			t.Fatal("edited file does not round-trip")
		}
	})
}
