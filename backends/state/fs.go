package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// FS is the small filesystem the Store writes through, rooted at the state
// directory. Names are slash-separated paths relative to that root; absolute
// names and names that climb out of it ("..") are rejected with
// fs.ErrInvalid. The same Store code works on the local disk (DirFS), through
// an Executor on a PVE node (ExecFS) and in memory (statetest.MemFS); the
// conformance suite statetest.TestFS holds them to the same behaviour.
type FS interface {
	// ReadFile returns the file's contents; a missing file is an error
	// matching fs.ErrNotExist.
	ReadFile(name string) ([]byte, error)
	// WriteFileAtomic replaces the file so that a reader (or a crash at any
	// point) sees either the old or the new contents in full: temp file in
	// the same directory, fsync, rename, fsync of the directory. perm is
	// the file's mode.
	WriteFileAtomic(name string, data []byte, perm fs.FileMode) error
	// AppendFile appends data at the end of the file, creating it with
	// perm if missing, and makes it durable before returning.
	AppendFile(name string, data []byte, perm fs.FileMode) error
	// CreateExclusive creates the file with data only if it does not exist;
	// otherwise it returns an error matching fs.ErrExist and changes
	// nothing.
	CreateExclusive(name string, data []byte, perm fs.FileMode) error
	// Remove deletes a file; a missing file is an error matching
	// fs.ErrNotExist.
	Remove(name string) error
	// MkdirAll creates the directory and its missing parents with perm and
	// sets perm on the directory itself (so an existing state directory is
	// tightened to 0700). "." names the root.
	MkdirAll(name string, perm fs.FileMode) error
	// Where says where a name lives, in full, for messages to the operator
	// ("root@10.0.0.10:22:/var/lib/tappaas/lock"). Part of the interface so
	// a wrapping FS cannot lose it.
	Where(name string) string
}

// cleanName validates a name relative to the FS root.
func cleanName(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("state fs: bad name %q: %w", name, fs.ErrInvalid)
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("state fs: name %q leaves the state directory: %w", name, fs.ErrInvalid)
	}
	return c, nil
}

// DirFS returns an FS rooted at dir on the local disk.
func DirFS(dir string) FS { return dirFS(dir) }

type dirFS string

func (d dirFS) path(name string) (string, error) {
	c, err := cleanName(name)
	if err != nil {
		return "", err
	}
	return filepath.Join(string(d), filepath.FromSlash(c)), nil
}

// Where implements FS.
func (d dirFS) Where(name string) string {
	p, err := d.path(name)
	if err != nil {
		return name
	}
	return p
}

func (d dirFS) ReadFile(name string) ([]byte, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

func (d dirFS) WriteFileAtomic(name string, data []byte, perm fs.FileMode) (err error) {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	f, err := os.CreateTemp(dir, "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, p); err != nil {
		return err
	}
	return syncDir(dir)
}

func (d dirFS) AppendFile(name string, data []byte, perm fs.FileMode) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	created := false
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, perm)
		created = true
	}
	if err != nil {
		return err
	}
	if created {
		if err := f.Chmod(perm); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if created {
		return syncDir(filepath.Dir(p))
	}
	return nil
}

// CreateExclusive writes a temp file in full and hard-links it to the name:
// link(2) fails if the name exists, so the file appears atomically with its
// whole contents (a reader never sees a half-written lock).
func (d dirFS) CreateExclusive(name string, data []byte, perm fs.FileMode) (err error) {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	f, err := os.CreateTemp(dir, "."+filepath.Base(p)+".new-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err = f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Link(tmp, p); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) && errors.Is(le.Err, fs.ErrExist) {
			return &fs.PathError{Op: "create", Path: p, Err: fs.ErrExist}
		}
		return err
	}
	return syncDir(dir)
}

func (d dirFS) Remove(name string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return err
	}
	return syncDir(filepath.Dir(p))
}

func (d dirFS) MkdirAll(name string, perm fs.FileMode) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(p, perm); err != nil {
		return err
	}
	return os.Chmod(p, perm)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Mode returns the permission bits of a file or directory (used by the
// conformance suite).
func (d dirFS) Mode(name string) (fs.FileMode, bool) {
	p, err := d.path(name)
	if err != nil {
		return 0, false
	}
	fi, err := os.Stat(p)
	if err != nil {
		return 0, false
	}
	return fi.Mode().Perm(), true
}
