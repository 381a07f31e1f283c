package assets_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/tappaas/tappaas/assets"
	"github.com/tappaas/tappaas/config/modules"
)

// The embedded upstream files are the test fixtures' unmodified copies, the
// catalog loads, and every entry's module JSON is there except the two
// upstream's catalog names but does not ship.
func TestUpstream(t *testing.T) {
	t.Parallel()
	fsys := assets.Upstream()
	n := 0
	err := fs.WalkDir(fsys, "src", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		got, _ := fs.ReadFile(fsys, p)
		want, err := os.ReadFile(filepath.Join("../config/modules/testdata/upstream", p))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from the TAPPaaS@f54e4fc copy in config/modules/testdata/upstream: %v", p, err)
		}
		return nil
	})
	if err != nil || n < 30 {
		t.Fatalf("walked %d files: %v", n, err)
	}
	c, err := modules.LoadCatalogFS(fsys, assets.CatalogPath)
	if err != nil {
		t.Fatal(err)
	}
	absent := map[string]bool{"src/apps/unifi/unifi.json": true, "src/foundation/templates/template.json": true}
	for _, e := range c.Entries {
		_, err := modules.LoadFS(fsys, e.ModuleJSON)
		if (err != nil) != absent[e.ModuleJSON] {
			t.Errorf("%s (%s): %v", e.ModuleName, e.ModuleJSON, err)
		}
	}
	data, err := fs.ReadFile(fsys, assets.ModuleFieldsPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := modules.ParseSchema(data); err != nil {
		t.Fatal(err)
	}
}
