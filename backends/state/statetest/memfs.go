// Package statetest provides an in-memory state.FS and the conformance
// suite every state.FS must pass (DirFS, ExecFS and MemFS run it alike).
package statetest

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"
)

// MemFS is an in-memory state.FS for tests. Safe for concurrent use. Fail,
// when set, is called before every mutating operation and its error (if
// any) is returned instead, to inject faults.
type MemFS struct {
	mu    sync.Mutex
	files map[string]memFile
	dirs  map[string]fs.FileMode

	// Fail injects errors: op is "write", "append", "create", "remove" or
	// "mkdir".
	Fail func(op, name string) error
}

type memFile struct {
	data []byte
	perm fs.FileMode
}

// NewMemFS returns an empty MemFS whose root exists.
func NewMemFS() *MemFS {
	return &MemFS{files: map[string]memFile{}, dirs: map[string]fs.FileMode{".": 0o700}}
}

func clean(op, name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return c, nil
}

func (m *MemFS) fail(op, name string) error {
	if m.Fail != nil {
		return m.Fail(op, name)
	}
	return nil
}

// parentOK (m.mu held) reports whether the file's directory exists.
func (m *MemFS) parentOK(op, name string) error {
	if _, ok := m.dirs[path.Dir(name)]; !ok {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	if _, ok := m.dirs[name]; ok {
		return &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("is a directory")}
	}
	return nil
}

// Where implements state.FS: "mem:" and the cleaned name.
func (m *MemFS) Where(name string) string {
	if c, err := clean("where", name); err == nil {
		name = c
	}
	return "mem:" + name
}

// ReadFile implements state.FS.
func (m *MemFS) ReadFile(name string) ([]byte, error) {
	c, err := clean("read", name)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[c]
	if !ok {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return bytes.Clone(f.data), nil
}

// WriteFileAtomic implements state.FS.
func (m *MemFS) WriteFileAtomic(name string, data []byte, perm fs.FileMode) error {
	c, err := clean("write", name)
	if err != nil {
		return err
	}
	if err := m.fail("write", c); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.parentOK("write", c); err != nil {
		return err
	}
	m.files[c] = memFile{data: bytes.Clone(data), perm: perm.Perm()}
	return nil
}

// AppendFile implements state.FS.
func (m *MemFS) AppendFile(name string, data []byte, perm fs.FileMode) error {
	c, err := clean("append", name)
	if err != nil {
		return err
	}
	if err := m.fail("append", c); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.parentOK("append", c); err != nil {
		return err
	}
	f, ok := m.files[c]
	if !ok {
		f.perm = perm.Perm()
	}
	f.data = append(f.data, data...) // ReadFile hands out copies
	m.files[c] = f
	return nil
}

// CreateExclusive implements state.FS.
func (m *MemFS) CreateExclusive(name string, data []byte, perm fs.FileMode) error {
	c, err := clean("create", name)
	if err != nil {
		return err
	}
	if err := m.fail("create", c); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.parentOK("create", c); err != nil {
		return err
	}
	if _, ok := m.files[c]; ok {
		return &fs.PathError{Op: "create", Path: name, Err: fs.ErrExist}
	}
	m.files[c] = memFile{data: bytes.Clone(data), perm: perm.Perm()}
	return nil
}

// Remove implements state.FS.
func (m *MemFS) Remove(name string) error {
	c, err := clean("remove", name)
	if err != nil {
		return err
	}
	if err := m.fail("remove", c); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.files[c]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(m.files, c)
	return nil
}

// MkdirAll implements state.FS.
func (m *MemFS) MkdirAll(name string, perm fs.FileMode) error {
	c, err := clean("mkdir", name)
	if err != nil {
		return err
	}
	if err := m.fail("mkdir", c); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := c; ; d = path.Dir(d) {
		if _, isFile := m.files[d]; isFile {
			return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrExist}
		}
		if _, ok := m.dirs[d]; !ok {
			m.dirs[d] = perm.Perm()
		}
		if d == "." {
			break
		}
	}
	m.dirs[c] = perm.Perm()
	return nil
}

// Mode returns a file's or directory's permission bits (for tests).
func (m *MemFS) Mode(name string) (fs.FileMode, bool) {
	c, err := clean("stat", name)
	if err != nil {
		return 0, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if f, ok := m.files[c]; ok {
		return f.perm, true
	}
	d, ok := m.dirs[c]
	return d, ok
}
