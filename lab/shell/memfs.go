package shell

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Errors MemFS returns, wrapped in *fs.PathError. They are syscall errnos so
// errors.Is(err, fs.ErrNotExist) and friends work as with the os package.
var (
	errIsDir    = syscall.EISDIR
	errNotDir   = syscall.ENOTDIR
	errNotEmpty = syscall.ENOTEMPTY
	errLoop     = syscall.ELOOP
	errInval    = syscall.EINVAL
)

// maxSymlinks bounds symlink resolution like Linux's MAXSYMLINKS.
const maxSymlinks = 40

type memNode struct {
	dir     bool
	link    string // symlink target when non-empty
	mode    fs.FileMode
	data    []byte
	modTime time.Time
}

// MemFS is an in-memory filesystem implementing FS, used as each simulated
// host's disk. It is safe for concurrent use. Paths must be absolute; they
// are cleaned. Symlinks (see Symlink) are followed in every path component.
// Permission bits are stored and reported but not enforced: the lab's
// commands decide what a user may do.
//
// The zero value is not usable; call NewMemFS.
type MemFS struct {
	mu    sync.RWMutex
	nodes map[string]*memNode
	now   func() time.Time
}

// NewMemFS returns a filesystem holding only the root directory and the
// usual top-level directories of a Linux host (/etc, /root, /tmp, /var,
// /home, /usr/bin, /dev).
func NewMemFS() *MemFS {
	m := &MemFS{nodes: map[string]*memNode{}, now: time.Now}
	m.nodes["/"] = &memNode{dir: true, mode: fs.ModeDir | 0o755, modTime: m.now()}
	for _, d := range []string{"/etc", "/root", "/tmp", "/var", "/var/log", "/var/tmp", "/home", "/usr", "/usr/bin", "/usr/local", "/usr/local/bin", "/usr/local/sbin", "/dev", "/run"} {
		mode := fs.FileMode(0o755)
		switch d {
		case "/tmp", "/var/tmp":
			mode = 0o777 | fs.ModeSticky
		case "/root":
			mode = 0o700
		}
		m.nodes[d] = &memNode{dir: true, mode: fs.ModeDir | mode, modTime: m.now()}
	}
	return m
}

// SetClock replaces the clock used for modification times (tests, the lab's
// simulated time). Not safe to call concurrently with other methods.
func (m *MemFS) SetClock(now func() time.Time) { m.now = now }

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// clean checks that name is absolute and returns it cleaned.
func clean(op, name string) (string, error) {
	if !strings.HasPrefix(name, "/") {
		return "", pathErr(op, name, errInval)
	}
	return path.Clean(name), nil
}

// resolve follows symlinks in every component of name (and in the last one
// too when followLast). It returns the real path, which may not exist.
// The caller holds m.mu.
func (m *MemFS) resolve(name string, followLast bool) (string, error) {
	hops := 0
	for {
		parts := strings.Split(strings.TrimPrefix(name, "/"), "/")
		cur := "/"
		restarted := false
		for i, p := range parts {
			if p == "" {
				continue
			}
			next := path.Join(cur, p)
			n, ok := m.nodes[next]
			if !ok {
				// Missing component: the rest cannot be links.
				return path.Join(append([]string{next}, parts[i+1:]...)...), nil
			}
			last := i == len(parts)-1
			if n.link != "" && (!last || followLast) {
				hops++
				if hops > maxSymlinks {
					return "", errLoop
				}
				target := n.link
				if !strings.HasPrefix(target, "/") {
					target = path.Join(cur, target)
				}
				name = path.Clean(path.Join(append([]string{target}, parts[i+1:]...)...))
				restarted = true
				break
			}
			if !n.dir && !last && n.link == "" {
				return "", errNotDir
			}
			cur = next
		}
		if !restarted {
			return cur, nil
		}
	}
}

// lookup resolves name and returns its node (following the final link).
func (m *MemFS) lookup(op, name string, followLast bool) (string, *memNode, error) {
	p, err := clean(op, name)
	if err != nil {
		return "", nil, err
	}
	real, err := m.resolve(p, followLast)
	if err != nil {
		return "", nil, pathErr(op, name, err)
	}
	n, ok := m.nodes[real]
	if !ok {
		return real, nil, pathErr(op, name, fs.ErrNotExist)
	}
	return real, n, nil
}

// parentDir checks that the parent of real exists and is a directory.
func (m *MemFS) parentDir(op, name, real string) error {
	if real == "/" {
		return nil
	}
	pn, ok := m.nodes[path.Dir(real)]
	if !ok {
		return pathErr(op, name, fs.ErrNotExist)
	}
	if !pn.dir {
		return pathErr(op, name, errNotDir)
	}
	return nil
}

// ReadFile returns a copy of the file's contents.
func (m *MemFS) ReadFile(name string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, n, err := m.lookup("open", name, true)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, pathErr("read", name, errIsDir)
	}
	return append([]byte(nil), n.data...), nil
}

// writeLocked creates or replaces/extends a regular file. mode applies only
// when the file is created (like open(2) with O_CREAT).
func (m *MemFS) writeLocked(op, name string, data []byte, mode fs.FileMode, appendData bool) error {
	p, err := clean(op, name)
	if err != nil {
		return err
	}
	real, err := m.resolve(p, true)
	if err != nil {
		return pathErr(op, name, err)
	}
	if n, ok := m.nodes[real]; ok {
		if n.dir {
			return pathErr(op, name, errIsDir)
		}
		if appendData {
			n.data = append(n.data, data...)
		} else {
			n.data = append([]byte(nil), data...)
		}
		n.modTime = m.now()
		return nil
	}
	if err := m.parentDir(op, name, real); err != nil {
		return err
	}
	m.nodes[real] = &memNode{mode: mode.Perm() | (mode & (fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)), data: append([]byte(nil), data...), modTime: m.now()}
	return nil
}

// WriteFile creates or truncates name. The parent directory must exist.
// mode is used only when the file is created, like os.WriteFile.
func (m *MemFS) WriteFile(name string, data []byte, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writeLocked("open", name, data, mode, false)
}

// CreateExclusive creates name with data only if it does not exist yet
// (fs.ErrExist otherwise), atomically with respect to other callers.
func (m *MemFS) CreateExclusive(name string, data []byte, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := clean("open", name)
	if err != nil {
		return err
	}
	real, err := m.resolve(p, true)
	if err != nil {
		return pathErr("open", name, err)
	}
	if _, ok := m.nodes[real]; ok {
		return pathErr("open", name, fs.ErrExist)
	}
	return m.writeLocked("open", name, data, mode, false)
}

// AppendFile appends to name, creating it with mode if missing.
func (m *MemFS) AppendFile(name string, data []byte, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writeLocked("open", name, data, mode, true)
}

func infoOf(real string, n *memNode) FileInfo {
	mode := n.mode
	if n.dir {
		mode |= fs.ModeDir
	}
	if n.link != "" {
		mode = fs.ModeSymlink | 0o777
	}
	size := int64(len(n.data))
	if n.dir {
		size = 4096
	}
	if n.link != "" {
		size = int64(len(n.link))
	}
	return FileInfo{Name: path.Base(real), Size: size, Mode: mode, IsDir: n.dir, ModTime: n.modTime}
}

// Stat describes name, following symlinks.
func (m *MemFS) Stat(name string) (FileInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	real, n, err := m.lookup("stat", name, true)
	if err != nil {
		return FileInfo{}, err
	}
	fi := infoOf(real, n)
	fi.Name = path.Base(path.Clean(name))
	return fi, nil
}

// Lstat describes name without following a final symlink.
func (m *MemFS) Lstat(name string) (FileInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	real, n, err := m.lookup("lstat", name, false)
	if err != nil {
		return FileInfo{}, err
	}
	return infoOf(real, n), nil
}

// Readlink returns a symlink's target.
func (m *MemFS) Readlink(name string) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, n, err := m.lookup("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.link == "" {
		return "", pathErr("readlink", name, errInval)
	}
	return n.link, nil
}

// Symlink creates name as a symbolic link to target (which may be relative
// to name's directory and need not exist).
func (m *MemFS) Symlink(target, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := clean("symlink", name)
	if err != nil {
		return err
	}
	real, err := m.resolve(p, false)
	if err != nil {
		return pathErr("symlink", name, err)
	}
	if _, ok := m.nodes[real]; ok {
		return pathErr("symlink", name, fs.ErrExist)
	}
	if err := m.parentDir("symlink", name, real); err != nil {
		return err
	}
	if target == "" {
		return pathErr("symlink", name, fs.ErrNotExist)
	}
	m.nodes[real] = &memNode{link: target, mode: 0o777, modTime: m.now()}
	return nil
}

func (m *MemFS) hasChildren(dir string) bool {
	prefix := dir + "/"
	if dir == "/" {
		prefix = "/"
	}
	for p := range m.nodes {
		if p != dir && strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

// Remove removes a file, a symlink (not its target) or an empty directory.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	real, n, err := m.lookup("remove", name, false)
	if err != nil {
		return err
	}
	if real == "/" {
		return pathErr("remove", name, syscall.EBUSY)
	}
	if n.dir && m.hasChildren(real) {
		return pathErr("remove", name, errNotEmpty)
	}
	delete(m.nodes, real)
	return nil
}

// RemoveAll removes name and everything below it. A missing name is not an
// error, like os.RemoveAll. Removing "/" is refused.
func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := clean("unlinkat", name)
	if err != nil {
		return err
	}
	real, err := m.resolve(p, false)
	if err != nil {
		if errors.Is(err, errNotDir) {
			return nil
		}
		return pathErr("unlinkat", name, err)
	}
	if real == "/" {
		return pathErr("unlinkat", name, syscall.EBUSY)
	}
	if _, ok := m.nodes[real]; !ok {
		return nil
	}
	prefix := real + "/"
	for q := range m.nodes {
		if q == real || strings.HasPrefix(q, prefix) {
			delete(m.nodes, q)
		}
	}
	return nil
}

// Rename moves from to to, like rename(2): an existing file at to is
// replaced; a directory may replace only an empty directory; a directory
// cannot move below itself.
func (m *MemFS) Rename(from, to string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	realFrom, n, err := m.lookup("rename", from, false)
	if err != nil {
		return err
	}
	pt, err := clean("rename", to)
	if err != nil {
		return err
	}
	realTo, err := m.resolve(pt, false)
	if err != nil {
		return pathErr("rename", to, err)
	}
	if realFrom == realTo {
		return nil
	}
	if realFrom == "/" || strings.HasPrefix(realTo, realFrom+"/") {
		return pathErr("rename", to, errInval)
	}
	if err := m.parentDir("rename", to, realTo); err != nil {
		return err
	}
	if dst, ok := m.nodes[realTo]; ok {
		switch {
		case dst.dir && !n.dir:
			return pathErr("rename", to, errIsDir)
		case !dst.dir && n.dir:
			return pathErr("rename", to, errNotDir)
		case dst.dir && m.hasChildren(realTo):
			return pathErr("rename", to, errNotEmpty)
		}
		delete(m.nodes, realTo)
	}
	moved := map[string]*memNode{}
	prefix := realFrom + "/"
	for q, qn := range m.nodes {
		if q == realFrom {
			moved[realTo] = qn
		} else if n.dir && strings.HasPrefix(q, prefix) {
			moved[realTo+"/"+strings.TrimPrefix(q, prefix)] = qn
		}
	}
	for q := range m.nodes {
		if q == realFrom || (n.dir && strings.HasPrefix(q, prefix)) {
			delete(m.nodes, q)
		}
	}
	for q, qn := range moved {
		m.nodes[q] = qn
	}
	return nil
}

// Chmod sets the permission bits (and setuid/setgid/sticky) of name.
func (m *MemFS) Chmod(name string, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, n, err := m.lookup("chmod", name, true)
	if err != nil {
		return err
	}
	keep := n.mode & fs.ModeDir
	n.mode = keep | mode.Perm() | (mode & (fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky))
	return nil
}

// MkdirAll creates name and any missing parents with mode. An existing
// directory is not an error; an existing file in the way is errNotDir /
// fs.ErrExist.
func (m *MemFS) MkdirAll(name string, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := clean("mkdir", name)
	if err != nil {
		return err
	}
	real, err := m.resolve(p, true)
	if err != nil {
		return pathErr("mkdir", name, err)
	}
	cur := "/"
	for _, part := range strings.Split(strings.TrimPrefix(real, "/"), "/") {
		if part == "" {
			continue
		}
		cur = path.Join(cur, part)
		n, ok := m.nodes[cur]
		if !ok {
			m.nodes[cur] = &memNode{dir: true, mode: fs.ModeDir | mode.Perm(), modTime: m.now()}
			continue
		}
		if !n.dir {
			if cur == real {
				return pathErr("mkdir", name, fs.ErrExist)
			}
			return pathErr("mkdir", name, errNotDir)
		}
	}
	return nil
}

// Mkdir creates one directory; the parent must exist and name must not.
func (m *MemFS) Mkdir(name string, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := clean("mkdir", name)
	if err != nil {
		return err
	}
	real, err := m.resolve(p, false)
	if err != nil {
		return pathErr("mkdir", name, err)
	}
	if _, ok := m.nodes[real]; ok {
		return pathErr("mkdir", name, fs.ErrExist)
	}
	if err := m.parentDir("mkdir", name, real); err != nil {
		return err
	}
	m.nodes[real] = &memNode{dir: true, mode: fs.ModeDir | mode.Perm(), modTime: m.now()}
	return nil
}

// ReadDir lists the names directly below dir, sorted.
func (m *MemFS) ReadDir(dir string) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	real, n, err := m.lookup("open", dir, true)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, pathErr("readdirent", dir, errNotDir)
	}
	prefix := real + "/"
	if real == "/" {
		prefix = "/"
	}
	var names []string
	for q := range m.nodes {
		if q == real || !strings.HasPrefix(q, prefix) {
			continue
		}
		rest := strings.TrimPrefix(q, prefix)
		if !strings.Contains(rest, "/") {
			names = append(names, rest)
		}
	}
	sort.Strings(names)
	return names, nil
}

// Chtimes sets a node's modification time.
func (m *MemFS) Chtimes(name string, mtime time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, n, err := m.lookup("chtimes", name, true)
	if err != nil {
		return err
	}
	n.modTime = mtime
	return nil
}

// memFSFile is one entry of MemFS's JSON form.
type memFSFile struct {
	Path    string      `json:"path"`
	Dir     bool        `json:"dir,omitempty"`
	Link    string      `json:"link,omitempty"`
	Mode    fs.FileMode `json:"mode"`
	Data    []byte      `json:"data,omitempty"`
	ModTime time.Time   `json:"mtime"`
}

type memFSJSON struct {
	Files []memFSFile `json:"files"`
}

// MarshalJSON snapshots the whole tree (sorted by path; contents base64).
func (m *MemFS) MarshalJSON() ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := memFSJSON{Files: make([]memFSFile, 0, len(m.nodes))}
	for p, n := range m.nodes {
		out.Files = append(out.Files, memFSFile{Path: p, Dir: n.dir, Link: n.link, Mode: n.mode, Data: n.data, ModTime: n.modTime})
	}
	sort.Slice(out.Files, func(i, j int) bool { return out.Files[i].Path < out.Files[j].Path })
	return json.Marshal(out)
}

// UnmarshalJSON replaces the tree with a snapshot made by MarshalJSON. The
// snapshot is validated (absolute clean paths, parents present and
// directories, no duplicates); on error the filesystem is unchanged.
func (m *MemFS) UnmarshalJSON(b []byte) error {
	var in memFSJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("memfs snapshot: %w", err)
	}
	nodes := make(map[string]*memNode, len(in.Files)+1)
	for _, f := range in.Files {
		if !strings.HasPrefix(f.Path, "/") || path.Clean(f.Path) != f.Path {
			return fmt.Errorf("memfs snapshot: path %q is not absolute and clean", f.Path)
		}
		if _, dup := nodes[f.Path]; dup {
			return fmt.Errorf("memfs snapshot: path %q appears twice", f.Path)
		}
		if f.Dir && f.Link != "" {
			return fmt.Errorf("memfs snapshot: %q is both a directory and a link", f.Path)
		}
		mode := f.Mode
		if f.Dir {
			mode |= fs.ModeDir
		}
		nodes[f.Path] = &memNode{dir: f.Dir, link: f.Link, mode: mode, data: f.Data, modTime: f.ModTime}
	}
	if r, ok := nodes["/"]; !ok {
		nodes["/"] = &memNode{dir: true, mode: fs.ModeDir | 0o755}
	} else if !r.dir {
		return errors.New(`memfs snapshot: "/" is not a directory`)
	}
	for p := range nodes {
		if p == "/" {
			continue
		}
		parent, ok := nodes[path.Dir(p)]
		if !ok || !parent.dir {
			return fmt.Errorf("memfs snapshot: parent of %q is missing or not a directory", p)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes = nodes
	if m.now == nil {
		m.now = time.Now
	}
	return nil
}

// Snapshot is MarshalJSON under a friendlier name.
func (m *MemFS) Snapshot() ([]byte, error) { return m.MarshalJSON() }

// Restore is UnmarshalJSON under a friendlier name.
func (m *MemFS) Restore(b []byte) error { return m.UnmarshalJSON(b) }

// Linker is implemented by filesystems that support symbolic links
// (MemFS does). The ln, readlink and ls builtins use it when present.
type Linker interface {
	Symlink(target, name string) error
	Readlink(name string) (string, error)
	Lstat(name string) (FileInfo, error)
}

var (
	_ FS               = (*MemFS)(nil)
	_ Linker           = (*MemFS)(nil)
	_ ExclusiveCreator = (*MemFS)(nil)
)
