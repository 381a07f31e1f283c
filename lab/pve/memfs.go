package pve

import (
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tappaas/tappaas/lab/shell"
)

// memFS is a small in-memory shell.FS used when the caller supplies none
// (unit tests of this package). The lab wires the shell package's MemFS.
type memFS struct {
	mu    sync.Mutex
	files map[string]*memFile
}

type memFile struct {
	data  []byte
	mode  fs.FileMode
	dir   bool
	mtime time.Time
}

// NewMemFS returns an empty in-memory filesystem with a root directory.
func NewMemFS() shell.FS {
	return &memFS{files: map[string]*memFile{"/": {dir: true, mode: fs.ModeDir | 0o755, mtime: time.Now()}}}
}

func clean(name string) string { return path.Clean("/" + name) }

func (m *memFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[clean(name)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if f.dir {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrInvalid}
	}
	return append([]byte(nil), f.data...), nil
}

func (m *memFS) parentOK(name string) error {
	d := path.Dir(name)
	f, ok := m.files[d]
	if !ok {
		return &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if !f.dir {
		return &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	return nil
}

func (m *memFS) WriteFile(name string, data []byte, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	if err := m.parentOK(name); err != nil {
		return err
	}
	if f, ok := m.files[name]; ok {
		if f.dir {
			return &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
		}
		f.data = append([]byte(nil), data...)
		f.mtime = time.Now()
		return nil
	}
	m.files[name] = &memFile{data: append([]byte(nil), data...), mode: mode.Perm(), mtime: time.Now()}
	return nil
}

func (m *memFS) AppendFile(name string, data []byte, mode fs.FileMode) error {
	m.mu.Lock()
	f, ok := m.files[clean(name)]
	if ok && !f.dir {
		f.data = append(f.data, data...)
		f.mtime = time.Now()
		m.mu.Unlock()
		return nil
	}
	m.mu.Unlock()
	return m.WriteFile(name, data, mode)
}

func (m *memFS) Stat(name string) (shell.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	f, ok := m.files[name]
	if !ok {
		return shell.FileInfo{}, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return shell.FileInfo{Name: path.Base(name), Size: int64(len(f.data)), Mode: f.mode, IsDir: f.dir, ModTime: f.mtime}, nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	f, ok := m.files[name]
	if !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if f.dir {
		for k := range m.files {
			if strings.HasPrefix(k, name+"/") {
				return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrInvalid}
			}
		}
	}
	delete(m.files, name)
	return nil
}

func (m *memFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	for k := range m.files {
		if k == name || strings.HasPrefix(k, name+"/") {
			delete(m.files, k)
		}
	}
	return nil
}

func (m *memFS) Rename(from, to string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	from, to = clean(from), clean(to)
	f, ok := m.files[from]
	if !ok {
		return &fs.PathError{Op: "rename", Path: from, Err: fs.ErrNotExist}
	}
	if err := m.parentOK(to); err != nil {
		return err
	}
	delete(m.files, from)
	m.files[to] = f
	if f.dir {
		for k, v := range m.files {
			if strings.HasPrefix(k, from+"/") {
				delete(m.files, k)
				m.files[to+strings.TrimPrefix(k, from)] = v
			}
		}
	}
	return nil
}

func (m *memFS) Chmod(name string, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[clean(name)]
	if !ok {
		return &fs.PathError{Op: "chmod", Path: name, Err: fs.ErrNotExist}
	}
	f.mode = f.mode&fs.ModeDir | mode.Perm()
	return nil
}

func (m *memFS) MkdirAll(name string, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = clean(name)
	for p := name; ; p = path.Dir(p) {
		if f, ok := m.files[p]; ok {
			if !f.dir {
				return &fs.PathError{Op: "mkdir", Path: p, Err: fs.ErrExist}
			}
		} else {
			m.files[p] = &memFile{dir: true, mode: fs.ModeDir | mode.Perm(), mtime: time.Now()}
		}
		if p == "/" {
			break
		}
	}
	return nil
}

func (m *memFS) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir = clean(dir)
	f, ok := m.files[dir]
	if !ok || !f.dir {
		return nil, &fs.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	prefix := dir + "/"
	if dir == "/" {
		prefix = "/"
	}
	var out []string
	for k := range m.files {
		if k != dir && strings.HasPrefix(k, prefix) && !strings.Contains(k[len(prefix):], "/") {
			out = append(out, k[len(prefix):])
		}
	}
	sort.Strings(out)
	return out, nil
}
