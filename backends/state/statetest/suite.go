package statetest

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tappaas/tappaas/backends/state"
)

// Moder is implemented by FS values that can report permission bits; the
// suite then checks the modes it asked for.
type Moder interface {
	Mode(name string) (fs.FileMode, bool)
}

// Options tune TestFSWith.
type Options struct {
	// NoRace skips the concurrent CreateExclusive check, for a target
	// known not to give O_EXCL semantics; say why (it is logged).
	NoRace string
}

// TestFS is the conformance suite of state.FS. newFS returns a fresh, empty
// FS rooted at a directory that exists. Every implementation (DirFS, ExecFS,
// MemFS) must pass it.
func TestFS(t *testing.T, newFS func(t *testing.T) state.FS) {
	t.Helper()
	TestFSWith(t, newFS, Options{})
}

// TestFSWith is TestFS with options.
func TestFSWith(t *testing.T, newFS func(t *testing.T) state.FS, opts Options) {
	t.Helper()
	mode := func(t *testing.T, fsys state.FS, name string, want fs.FileMode) {
		t.Helper()
		if m, ok := fsys.(Moder); ok {
			got, ok := m.Mode(name)
			if !ok {
				t.Errorf("Mode(%q): not found", name)
			} else if got.Perm() != want {
				t.Errorf("Mode(%q) = %o, want %o", name, got.Perm(), want)
			}
		}
	}
	read := func(t *testing.T, fsys state.FS, name string, want []byte) {
		t.Helper()
		got, err := fsys.ReadFile(name)
		if err != nil {
			t.Fatalf("ReadFile(%q): %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("ReadFile(%q) = %q, want %q", name, got, want)
		}
	}
	t.Run("ReadMissing", func(t *testing.T) {
		fsys := newFS(t)
		if _, err := fsys.ReadFile("nope"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("ReadFile(missing) = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("WriteAtomic", func(t *testing.T) {
		fsys := newFS(t)
		if err := fsys.WriteFileAtomic("a.json", []byte("one"), 0o600); err != nil {
			t.Fatal(err)
		}
		read(t, fsys, "a.json", []byte("one"))
		mode(t, fsys, "a.json", 0o600)
		if err := fsys.WriteFileAtomic("a.json", []byte("two, longer"), 0o600); err != nil {
			t.Fatal(err)
		}
		read(t, fsys, "a.json", []byte("two, longer"))
		if err := fsys.WriteFileAtomic("a.json", nil, 0o600); err != nil {
			t.Fatal(err)
		}
		read(t, fsys, "a.json", []byte{})
	})
	t.Run("BinaryRoundTrip", func(t *testing.T) {
		fsys := newFS(t)
		var all []byte
		for i := range 256 {
			all = append(all, byte(i))
		}
		all = append(all, "\n'\"$(x)`y`\\\n"...)
		if err := fsys.WriteFileAtomic("bin", all, 0o600); err != nil {
			t.Fatal(err)
		}
		read(t, fsys, "bin", all)
		if err := fsys.AppendFile("bin.log", all, 0o600); err != nil {
			t.Fatal(err)
		}
		read(t, fsys, "bin.log", all)
		if err := fsys.CreateExclusive("bin.lock", all, 0o600); err != nil {
			t.Fatal(err)
		}
		read(t, fsys, "bin.lock", all)
	})
	t.Run("Append", func(t *testing.T) {
		fsys := newFS(t)
		for _, s := range []string{"a\n", "bb\n", "ccc\n"} {
			if err := fsys.AppendFile("j.jsonl", []byte(s), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		read(t, fsys, "j.jsonl", []byte("a\nbb\nccc\n"))
		mode(t, fsys, "j.jsonl", 0o600)
	})
	t.Run("CreateExclusive", func(t *testing.T) {
		fsys := newFS(t)
		if err := fsys.CreateExclusive("lock", []byte("first"), 0o600); err != nil {
			t.Fatal(err)
		}
		mode(t, fsys, "lock", 0o600)
		err := fsys.CreateExclusive("lock", []byte("second"), 0o600)
		if !errors.Is(err, fs.ErrExist) {
			t.Fatalf("second CreateExclusive = %v, want fs.ErrExist", err)
		}
		read(t, fsys, "lock", []byte("first"))
	})
	t.Run("CreateExclusiveRace", func(t *testing.T) {
		if opts.NoRace != "" {
			t.Skip(opts.NoRace)
		}
		fsys := newFS(t)
		const n = 8
		var wins, exists atomic.Int32
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				err := fsys.CreateExclusive("race", fmt.Appendf(nil, "holder %d", i), 0o600)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, fs.ErrExist):
					exists.Add(1)
				default:
					t.Errorf("CreateExclusive: %v", err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || exists.Load() != n-1 {
			t.Fatalf("%d winners and %d ErrExist of %d racers, want 1 and %d", wins.Load(), exists.Load(), n, n-1)
		}
		got, err := fsys.ReadFile("race")
		if err != nil || !bytes.HasPrefix(got, []byte("holder ")) {
			t.Fatalf("race file = %q, %v: want one holder's whole content", got, err)
		}
	})
	t.Run("Remove", func(t *testing.T) {
		fsys := newFS(t)
		if err := fsys.WriteFileAtomic("x", []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := fsys.Remove("x"); err != nil {
			t.Fatal(err)
		}
		if _, err := fsys.ReadFile("x"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("ReadFile after Remove = %v, want fs.ErrNotExist", err)
		}
		if err := fsys.Remove("x"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Remove(missing) = %v, want fs.ErrNotExist", err)
		}
		if err := fsys.CreateExclusive("x", []byte("again"), 0o600); err != nil {
			t.Fatalf("CreateExclusive after Remove: %v", err)
		}
	})
	t.Run("Mkdir", func(t *testing.T) {
		fsys := newFS(t)
		if err := fsys.MkdirAll(".", 0o700); err != nil {
			t.Fatal(err)
		}
		mode(t, fsys, ".", 0o700)
		if err := fsys.MkdirAll("sub/dir", 0o700); err != nil {
			t.Fatal(err)
		}
		if err := fsys.MkdirAll("sub/dir", 0o700); err != nil {
			t.Fatalf("MkdirAll twice: %v", err)
		}
		if err := fsys.WriteFileAtomic("sub/dir/f", []byte("f"), 0o600); err != nil {
			t.Fatal(err)
		}
		read(t, fsys, "sub/dir/f", []byte("f"))
		mode(t, fsys, "sub/dir", 0o700)
	})
	t.Run("BadNames", func(t *testing.T) {
		fsys := newFS(t)
		for _, name := range []string{"", "/etc/passwd", "../escape", "a/../../escape"} {
			if _, err := fsys.ReadFile(name); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("ReadFile(%q) = %v, want fs.ErrInvalid", name, err)
			}
			if err := fsys.WriteFileAtomic(name, nil, 0o600); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("WriteFileAtomic(%q) = %v, want fs.ErrInvalid", name, err)
			}
			if err := fsys.AppendFile(name, nil, 0o600); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("AppendFile(%q) = %v, want fs.ErrInvalid", name, err)
			}
			if err := fsys.CreateExclusive(name, nil, 0o600); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("CreateExclusive(%q) = %v, want fs.ErrInvalid", name, err)
			}
			if err := fsys.Remove(name); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("Remove(%q) = %v, want fs.ErrInvalid", name, err)
			}
			if err := fsys.MkdirAll(name, 0o700); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("MkdirAll(%q) = %v, want fs.ErrInvalid", name, err)
			}
		}
	})
}
