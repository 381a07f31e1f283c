package modules

import (
	"io/fs"
	"os"
	"testing"
)

// BenchmarkCatalogLoadValidate: read the field table and the catalog, then
// load and validate every upstream module JSON (issue 14: target < 20 ms).
func BenchmarkCatalogLoadValidate(b *testing.B) {
	_, z, mods := fixtures(b)
	fsys := os.DirFS(upstreamDir)
	for b.Loop() {
		data, err := fs.ReadFile(fsys, "src/foundation/module-fields.json")
		if err != nil {
			b.Fatal(err)
		}
		s, err := ParseSchema(data)
		if err != nil {
			b.Fatal(err)
		}
		c, err := LoadCatalogFS(fsys, "src/module-catalog.json")
		if err != nil {
			b.Fatal(err)
		}
		_ = c.Validate(fsys)
		for _, p := range mods {
			f, err := LoadFS(fsys, p)
			if err != nil {
				b.Fatal(err)
			}
			_ = f.Validate(Options{Schema: s, Zones: z})
		}
	}
}
