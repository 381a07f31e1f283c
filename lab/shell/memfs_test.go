package shell

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
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

// A non-root view follows the kernel's permission rules (path_resolution(7),
// chmod(2), chown(2), unlink(2) with the sticky bit).
func TestMemFSOwnersAndModes(t *testing.T) {
	t.Parallel()
	m := NewMemFS()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(m.MkdirAll("/home/tappaas/.ssh", 0o700))
	must(m.Chown("/home/tappaas", 1000, 100))
	must(m.Chown("/home/tappaas/.ssh", 1000, 100))
	// What a sudo'd write leaves behind: root:root 0600 in the user's home.
	must(m.WriteFile("/home/tappaas/.ssh/id_ed25519", []byte("key"), 0o600))
	u := m.As(Cred{UID: 1000, GID: 100})
	other := m.As(Cred{UID: 1001, GID: 100})

	if _, err := u.ReadFile("/home/tappaas/.ssh/id_ed25519"); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("user reads root's 0600 file: %v", err)
	}
	if err := u.Chmod("/home/tappaas/.ssh/id_ed25519", 0o600); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("user chmods root's file: %v", err)
	}
	if err := u.(Chowner).Chown("/home/tappaas/.ssh/id_ed25519", 1000, 100); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("user chowns root's file: %v", err)
	}
	if err := u.WriteFile("/etc/motd", []byte("x"), 0o644); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("user writes into root's /etc: %v", err)
	}
	if _, err := u.ReadDir("/root"); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("user lists /root: %v", err)
	}
	if _, err := other.Stat("/home/tappaas/.ssh"); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("another user searches a 0700 home: %v", err)
	}
	// Its own directory: a new file is the user's, and it may replace
	// root's file by rename (write permission on the directory suffices).
	must(u.WriteFile("/home/tappaas/.ssh/.tmp", []byte("new"), 0o600))
	fi, err := m.Stat("/home/tappaas/.ssh/.tmp")
	if err != nil || fi.UID != 1000 || fi.GID != 100 {
		t.Fatalf("owner of a user's new file: %+v %v", fi, err)
	}
	must(u.Rename("/home/tappaas/.ssh/.tmp", "/home/tappaas/.ssh/id_ed25519"))
	if b, err := u.ReadFile("/home/tappaas/.ssh/id_ed25519"); err != nil || string(b) != "new" {
		t.Fatalf("after rename: %q %v", b, err)
	}
	must(u.Chmod("/home/tappaas/.ssh/id_ed25519", 0o400))
	if err := u.WriteFile("/home/tappaas/.ssh/id_ed25519", nil, 0o600); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("owner writes its 0400 file: %v", err)
	}
	// Sticky /tmp: only the owner removes its file.
	must(u.WriteFile("/tmp/mine", nil, 0o666))
	if err := other.Remove("/tmp/mine"); !errors.Is(err, syscall.EPERM) {
		t.Fatalf("another user removes a file in sticky /tmp: %v", err)
	}
	must(u.Remove("/tmp/mine"))
	// Group bits apply to group members, never a union with others'.
	must(m.WriteFile("/etc/shared", []byte("g"), 0o604))
	must(m.Chown("/etc/shared", 0, 100))
	if _, err := u.ReadFile("/etc/shared"); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("group member with ---- group bits: %v", err)
	}
	// Root may do anything; the snapshot keeps the owners.
	b, err := json.Marshal(m)
	must(err)
	var r MemFS
	must(json.Unmarshal(b, &r))
	if fi, err := r.Stat("/home/tappaas/.ssh/id_ed25519"); err != nil || fi.UID != 1000 || fi.GID != 100 {
		t.Fatalf("owner after restore: %+v %v", fi, err)
	}
}

// chown, ls -l and stat show and change owners by the host's names.
func TestChownBuiltin(t *testing.T) {
	t.Parallel()
	m := NewMemFS()
	if err := m.WriteFile("/etc/passwd", []byte("root:x:0:0::/root:/bin/sh\ntappaas:x:1000:100::/home/tappaas:/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := m.WriteFile("/etc/group", []byte("root:x:0:\nusers:x:100:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in := New(m)
	in.FSFor = UserFS
	var out, errb strings.Builder
	code := in.Run(context.Background(), `touch /tmp/f && chown tappaas:users /tmp/f && stat -c '%U:%G %u:%g' /tmp/f && chown nobody /tmp/f`, nil, &out, &errb, nil)
	if code != 1 || out.String() != "tappaas:users 1000:100\n" || errb.String() != "chown: invalid user: 'nobody'\n" {
		t.Fatalf("root: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	code = in.Run(context.Background(), `touch /tmp/g; chown tappaas /tmp/g; chown root /tmp/g; chmod 600 /etc/passwd`, nil, &out, &errb, map[string]string{"USER": "tappaas"})
	want := "chown: changing ownership of '/tmp/g': Operation not permitted\nchmod: changing permissions of '/etc/passwd': Operation not permitted\n"
	if code != 1 || errb.String() != want {
		t.Fatalf("user: %d %q", code, errb.String())
	}
}
