package shell

import (
	"encoding/json"
	"errors"
	"io/fs"
	"sync"
	"syscall"
	"testing"
)

func TestMemFSBasics(t *testing.T) {
	t.Parallel()
	m := NewMemFS()
	if err := m.WriteFile("/nope/f", nil, 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("write without parent: %v", err)
	}
	if err := m.WriteFile("rel", nil, 0o644); err == nil {
		t.Fatal("relative path accepted")
	}
	if err := m.MkdirAll("/a/b", 0o750); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteFile("/a/b/f", []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.AppendFile("/a/b/f", []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := m.ReadFile("/a/b/../b/./f")
	if err != nil || string(b) != "xy" {
		t.Fatalf("read %q %v", b, err)
	}
	fi, err := m.Stat("/a/b/f")
	if err != nil || fi.Mode.Perm() != 0o600 || fi.Size != 2 || fi.IsDir || fi.Name != "f" {
		t.Fatalf("stat %+v %v", fi, err)
	}
	if _, err := m.ReadFile("/a/b"); !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("read dir: %v", err)
	}
	if err := m.WriteFile("/a/b/f/g", nil, 0o644); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("file as dir: %v", err)
	}
	if err := m.MkdirAll("/a/b/f", 0o755); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("mkdir over file: %v", err)
	}
	if err := m.Remove("/a"); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("remove non-empty: %v", err)
	}
	names, _ := m.ReadDir("/a/b")
	if len(names) != 1 || names[0] != "f" {
		t.Fatalf("readdir %v", names)
	}
	if err := m.Rename("/a/b", "/c"); err != nil {
		t.Fatal(err)
	}
	if b, err := m.ReadFile("/c/f"); err != nil || string(b) != "xy" {
		t.Fatalf("after rename: %q %v", b, err)
	}
	if err := m.Rename("/c", "/c/sub"); err == nil {
		t.Fatal("moved dir into itself")
	}
	if err := m.Chmod("/c/f", 0o755|fs.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	if fi, _ := m.Stat("/c/f"); fi.Mode != 0o755|fs.ModeSetuid {
		t.Fatalf("chmod %v", fi.Mode)
	}
	if err := m.RemoveAll("/c"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Stat("/c/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after RemoveAll: %v", err)
	}
	if err := m.RemoveAll("/missing"); err != nil {
		t.Fatalf("RemoveAll missing: %v", err)
	}
	if err := m.RemoveAll("/"); err == nil {
		t.Fatal("RemoveAll / allowed")
	}
}

func TestMemFSSymlinks(t *testing.T) {
	t.Parallel()
	m := NewMemFS()
	_ = m.MkdirAll("/real/dir", 0o755)
	_ = m.WriteFile("/real/dir/f", []byte("data"), 0o644)
	if err := m.Symlink("/real/dir", "/link"); err != nil {
		t.Fatal(err)
	}
	if err := m.Symlink("dir/f", "/real/rel"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/link/f", "/real/rel"} {
		if b, err := m.ReadFile(p); err != nil || string(b) != "data" {
			t.Fatalf("%s: %q %v", p, b, err)
		}
	}
	fi, _ := m.Lstat("/link")
	if fi.Mode&fs.ModeSymlink == 0 {
		t.Fatalf("lstat mode %v", fi.Mode)
	}
	_ = m.Symlink("/loop2", "/loop1")
	_ = m.Symlink("/loop1", "/loop2")
	if _, err := m.ReadFile("/loop1"); !errors.Is(err, syscall.ELOOP) {
		t.Fatalf("loop: %v", err)
	}
	if err := m.Remove("/link"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Stat("/real/dir/f"); err != nil {
		t.Fatal("removing a link removed its target")
	}
}

func TestMemFSSnapshotRestore(t *testing.T) {
	t.Parallel()
	m := NewMemFS()
	_ = m.MkdirAll("/etc/pve", 0o755)
	_ = m.WriteFile("/etc/pve/storage.cfg", []byte("dir: local\n"), 0o640)
	_ = m.Symlink("/etc/pve", "/pve")
	snap, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var r MemFS
	if err := json.Unmarshal(snap, &r); err != nil {
		t.Fatal(err)
	}
	b, err := r.ReadFile("/pve/storage.cfg")
	if err != nil || string(b) != "dir: local\n" {
		t.Fatalf("restored: %q %v", b, err)
	}
	if fi, _ := r.Stat("/etc/pve/storage.cfg"); fi.Mode.Perm() != 0o640 {
		t.Fatalf("mode %v", fi.Mode)
	}
	if err := r.WriteFile("/tmp/x", nil, 0o644); err != nil {
		t.Fatalf("restored fs not writable: %v", err)
	}
	// Bad snapshots are refused and leave the FS unchanged.
	for _, bad := range []string{
		`{"files":[{"path":"relative","mode":420}]}`,
		`{"files":[{"path":"/a/b","mode":420}]}`,
		`{"files":[{"path":"/a","mode":420},{"path":"/a","mode":420}]}`,
		`{"files":[{"path":"/a/../b","mode":420}]}`,
		`not json`,
	} {
		if err := r.Restore([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	if _, err := r.Stat("/etc/pve/storage.cfg"); err != nil {
		t.Fatal("failed restore changed the fs")
	}
}

func TestMemFSConcurrent(t *testing.T) {
	t.Parallel()
	m := NewMemFS()
	var wg sync.WaitGroup
	for n := 0; n < 8; n++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < 200; k++ {
				_ = m.AppendFile("/tmp/log", []byte("x"), 0o644)
				_, _ = m.ReadDir("/tmp")
				_, _ = m.Snapshot()
			}
		}()
	}
	wg.Wait()
	if fi, _ := m.Stat("/tmp/log"); fi.Size != 1600 {
		t.Fatalf("size %d", fi.Size)
	}
}
