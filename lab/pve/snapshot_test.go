package pve

import (
	"testing"

	"github.com/tappaas/tappaas/lab/shell"
)

// tearingFS is a guest filesystem whose /run/current-system is replaced
// (removed, then linked again, as an activation does) while a walk looks at
// it: the moment between the two is what a walk of a busy guest can see.
type tearingFS struct {
	*shell.MemFS
	store string
}

func (f *tearingFS) Lstat(name string) (shell.FileInfo, error) {
	if name != "/run/current-system" {
		return f.MemFS.Lstat(name)
	}
	_ = f.MemFS.Remove(name)
	st, err := f.MemFS.Lstat(name)
	if lerr := f.MemFS.Symlink(f.store, name); lerr != nil {
		panic(lerr)
	}
	return st, err
}

// TestSnapshotFSIsOneInstant: a guest saved while its shell replaces
// /run/current-system is saved as it was at one instant (the link), never
// as the link's target directory copied under the link's name, which a
// restarted lab's `nixos-rebuild switch` cannot replace ("File exists").
func TestSnapshotFSIsOneInstant(t *testing.T) {
	m := shell.NewMemFS()
	store := "/nix/store/abc-nixos-system-tappaas-cicd-25.05"
	for _, d := range []string{store, "/run"} {
		if err := m.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.WriteFile(store+"/lab-settings", []byte("config=tappaas-cicd\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := m.Symlink(store, "/run/current-system"); err != nil {
		t.Fatal(err)
	}
	files, err := SnapshotFS(&tearingFS{MemFS: m, store: store})
	if err != nil {
		t.Fatal(err)
	}
	if got := files["/run/current-system"]; got.Link != store || got.Dir {
		t.Errorf("/run/current-system saved as %+v, want the link to %s", got, store)
	}
	if _, ok := files["/run/current-system/lab-settings"]; ok {
		t.Error("the walk went through /run/current-system and saved its target's files under it")
	}
	if _, ok := files[store+"/lab-settings"]; !ok {
		t.Errorf("the store's files are missing: %v", files)
	}
	// Restored, the link can be replaced again.
	r := shell.NewMemFS()
	if err := RestoreFS(r, files); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove("/run/current-system"); err != nil {
		t.Fatalf("the restored /run/current-system cannot be replaced: %v", err)
	}
}
