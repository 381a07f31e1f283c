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

// errAccess is a permission check's refusal (open(2)'s EACCES, "Permission
// denied"); errPerm an operation reserved to the owner or root (chmod(2),
// chown(2), the sticky bit: EPERM, "Operation not permitted").
var (
	errAccess = syscall.EACCES
	errPerm   = syscall.EPERM
)

// maxSymlinks bounds symlink resolution like Linux's MAXSYMLINKS.
const maxSymlinks = 40

type memNode struct {
	dir      bool
	link     string // symlink target when non-empty
	mode     fs.FileMode
	uid, gid int
	data     []byte
	modTime  time.Time
}

// Cred is who performs a filesystem operation: a user id, its primary
// group and its supplementary groups. The zero value is root.
type Cred struct {
	UID, GID int
	Groups   []int
}

func (c Cred) inGroup(gid int) bool {
	if c.GID == gid {
		return true
	}
	for _, g := range c.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// Permission bits asked of may (r, w, x of one class).
const (
	permR fs.FileMode = 4
	permW fs.FileMode = 2
	permX fs.FileMode = 1
)

// may reports whether c has every bit of want on n, the way Linux's
// generic_permission decides (fs/namei.c): root may read and write
// anything and search any directory; others get the owner's bits when
// they own n, else the group's when they are in its group, else the
// others' bits — never a union.
func (c Cred) may(n *memNode, want fs.FileMode) bool {
	if c.UID == 0 {
		return want&permX == 0 || n.dir || n.mode.Perm()&0o111 != 0
	}
	perm := n.mode.Perm()
	switch {
	case n.uid == c.UID:
		perm >>= 6
	case c.inGroup(n.gid):
		perm >>= 3
	}
	return perm&7&want == want
}

// owns reports whether c may change n's metadata (chmod, utimes to a
// chosen time): its owner or root (inode_owner_or_capable).
func (c Cred) owns(n *memNode) bool { return c.UID == 0 || n.uid == c.UID }

// MemFS is an in-memory filesystem implementing FS, used as each simulated
// host's disk. It is safe for concurrent use. Paths must be absolute; they
// are cleaned. Symlinks (see Symlink) are followed in every path component.
//
// Every node has an owner, a group and a mode. MemFS's own methods act as
// root (uid 0), which may do anything but search or run what has no x bit;
// As returns the same tree seen by another user, which the kernel's rules
// then bind: search permission on every directory of a path, read/write
// permission on a file, write permission on a directory to create, remove
// or rename in it (and the sticky bit's owner rule), chmod by the owner
// only, chown by root only. What such a user creates is theirs.
//
// The zero value is not usable; call NewMemFS.
type MemFS struct {
	mu    sync.RWMutex
	nodes map[string]*memNode
	now   func() time.Time
}

// NewMemFS returns a filesystem holding only the root directory and the
// usual top-level directories of a Linux host (/etc, /root, /tmp, /var,
// /home, /usr/bin, /dev), all owned by root.
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

// As returns the filesystem as the user c sees it (see MemFS). The view
// shares the tree; for root (c.UID 0) it is m itself.
func (m *MemFS) As(c Cred) FS {
	if c.UID == 0 {
		return m
	}
	return &credFS{m: m, c: c}
}

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
// too when followLast), checking that c may search every directory it
// passes through. It returns the real path, which may not exist.
// The caller holds m.mu.
func (m *MemFS) resolve(c Cred, name string, followLast bool) (string, error) {
	hops := 0
	for {
		parts := strings.Split(strings.TrimPrefix(name, "/"), "/")
		cur := "/"
		restarted := false
		for i, p := range parts {
			if p == "" {
				continue
			}
			if !c.may(m.nodes[cur], permX) {
				return "", errAccess
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

// lookup resolves name and returns its node (following the final link
// when followLast).
func (m *MemFS) lookup(c Cred, op, name string, followLast bool) (string, *memNode, error) {
	p, err := clean(op, name)
	if err != nil {
		return "", nil, err
	}
	real, err := m.resolve(c, p, followLast)
	if err != nil {
		return "", nil, pathErr(op, name, err)
	}
	n, ok := m.nodes[real]
	if !ok {
		return real, nil, pathErr(op, name, fs.ErrNotExist)
	}
	return real, n, nil
}

// parentDir checks that the parent of real exists and is a directory c
// may create and remove entries in (write and search permission).
func (m *MemFS) parentDir(c Cred, op, name, real string) error {
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
	if !c.may(pn, permW|permX) {
		return pathErr(op, name, errAccess)
	}
	return nil
}

// unlinkable checks that c may remove or replace the entry real (node n):
// write permission on its directory and, when that directory is sticky
// (/tmp), ownership of the entry or of the directory (may_delete in
// fs/namei.c).
func (m *MemFS) unlinkable(c Cred, op, name, real string, n *memNode) error {
	if err := m.parentDir(c, op, name, real); err != nil {
		return err
	}
	pn := m.nodes[path.Dir(real)]
	if pn.mode&fs.ModeSticky != 0 && c.UID != 0 && n.uid != c.UID && pn.uid != c.UID {
		return pathErr(op, name, errPerm)
	}
	return nil
}

// newNode is a node created by c in directory parent: owned by c, in c's
// primary group unless the directory is setgid (then in its group, and a
// new directory inherits the setgid bit), as on Linux.
func (m *MemFS) newNode(c Cred, real string, n *memNode) *memNode {
	n.uid, n.gid = c.UID, c.GID
	if pn, ok := m.nodes[path.Dir(real)]; ok && pn.mode&fs.ModeSetgid != 0 {
		n.gid = pn.gid
		if n.dir {
			n.mode |= fs.ModeSetgid
		}
	}
	n.modTime = m.now()
	m.nodes[real] = n
	return n
}

func (m *MemFS) readFile(c Cred, name string) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, n, err := m.lookup(c, "open", name, true)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, pathErr("read", name, errIsDir)
	}
	if !c.may(n, permR) {
		return nil, pathErr("open", name, errAccess)
	}
	return append([]byte(nil), n.data...), nil
}

// writeLocked creates or replaces/extends a regular file. mode applies only
// when the file is created (like open(2) with O_CREAT); exclusive refuses
// an existing file (O_EXCL).
func (m *MemFS) writeLocked(c Cred, op, name string, data []byte, mode fs.FileMode, appendData, exclusive bool) error {
	p, err := clean(op, name)
	if err != nil {
		return err
	}
	real, err := m.resolve(c, p, true)
	if err != nil {
		return pathErr(op, name, err)
	}
	if n, ok := m.nodes[real]; ok {
		switch {
		case exclusive:
			return pathErr(op, name, fs.ErrExist)
		case n.dir:
			return pathErr(op, name, errIsDir)
		case !c.may(n, permW):
			return pathErr(op, name, errAccess)
		}
		if appendData {
			n.data = append(n.data, data...)
		} else {
			n.data = append([]byte(nil), data...)
		}
		n.modTime = m.now()
		return nil
	}
	if err := m.parentDir(c, op, name, real); err != nil {
		return err
	}
	m.newNode(c, real, &memNode{mode: mode.Perm() | (mode & (fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)), data: append([]byte(nil), data...)})
	return nil
}

func (m *MemFS) write(c Cred, name string, data []byte, mode fs.FileMode, appendData, exclusive bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writeLocked(c, "open", name, data, mode, appendData, exclusive)
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
	return FileInfo{Name: path.Base(real), Size: size, Mode: mode, IsDir: n.dir, ModTime: n.modTime, UID: n.uid, GID: n.gid}
}

func (m *MemFS) stat(c Cred, name string) (FileInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	real, n, err := m.lookup(c, "stat", name, true)
	if err != nil {
		return FileInfo{}, err
	}
	fi := infoOf(real, n)
	fi.Name = path.Base(path.Clean(name))
	return fi, nil
}

func (m *MemFS) lstat(c Cred, name string) (FileInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	real, n, err := m.lookup(c, "lstat", name, false)
	if err != nil {
		return FileInfo{}, err
	}
	return infoOf(real, n), nil
}

func (m *MemFS) readlink(c Cred, name string) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, n, err := m.lookup(c, "readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.link == "" {
		return "", pathErr("readlink", name, errInval)
	}
	return n.link, nil
}

func (m *MemFS) symlink(c Cred, target, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := clean("symlink", name)
	if err != nil {
		return err
	}
	real, err := m.resolve(c, p, false)
	if err != nil {
		return pathErr("symlink", name, err)
	}
	if _, ok := m.nodes[real]; ok {
		return pathErr("symlink", name, fs.ErrExist)
	}
	if err := m.parentDir(c, "symlink", name, real); err != nil {
		return err
	}
	if target == "" {
		return pathErr("symlink", name, fs.ErrNotExist)
	}
	m.newNode(c, real, &memNode{link: target, mode: 0o777})
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

func (m *MemFS) remove(c Cred, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	real, n, err := m.lookup(c, "remove", name, false)
	if err != nil {
		return err
	}
	if real == "/" {
		return pathErr("remove", name, syscall.EBUSY)
	}
	if err := m.unlinkable(c, "remove", name, real, n); err != nil {
		return err
	}
	if n.dir && m.hasChildren(real) {
		return pathErr("remove", name, errNotEmpty)
	}
	delete(m.nodes, real)
	return nil
}

func (m *MemFS) removeAll(c Cred, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := clean("unlinkat", name)
	if err != nil {
		return err
	}
	real, err := m.resolve(c, p, false)
	if err != nil {
		if errors.Is(err, errNotDir) {
			return nil
		}
		return pathErr("unlinkat", name, err)
	}
	if real == "/" {
		return pathErr("unlinkat", name, syscall.EBUSY)
	}
	n, ok := m.nodes[real]
	if !ok {
		return nil
	}
	if err := m.unlinkable(c, "unlinkat", name, real, n); err != nil {
		return err
	}
	prefix := real + "/"
	if n.dir && n.link == "" && c.UID != 0 {
		// Emptying a directory needs read, write and search on it and on
		// every directory below; refuse before removing anything.
		for q, qn := range m.nodes {
			if (q == real || strings.HasPrefix(q, prefix)) && qn.dir && !c.may(qn, permR|permW|permX) {
				return pathErr("unlinkat", q, errAccess)
			}
		}
	}
	for q := range m.nodes {
		if q == real || strings.HasPrefix(q, prefix) {
			delete(m.nodes, q)
		}
	}
	return nil
}

func (m *MemFS) rename(c Cred, from, to string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	realFrom, n, err := m.lookup(c, "rename", from, false)
	if err != nil {
		return err
	}
	pt, err := clean("rename", to)
	if err != nil {
		return err
	}
	realTo, err := m.resolve(c, pt, false)
	if err != nil {
		return pathErr("rename", to, err)
	}
	if realFrom == realTo {
		return nil
	}
	if realFrom == "/" || strings.HasPrefix(realTo, realFrom+"/") {
		return pathErr("rename", to, errInval)
	}
	if err := m.unlinkable(c, "rename", from, realFrom, n); err != nil {
		return err
	}
	if err := m.parentDir(c, "rename", to, realTo); err != nil {
		return err
	}
	if dst, ok := m.nodes[realTo]; ok {
		if err := m.unlinkable(c, "rename", to, realTo, dst); err != nil {
			return err
		}
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

func (m *MemFS) chmod(c Cred, name string, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, n, err := m.lookup(c, "chmod", name, true)
	if err != nil {
		return err
	}
	if !c.owns(n) {
		return pathErr("chmod", name, errPerm)
	}
	keep := n.mode & fs.ModeDir
	n.mode = keep | mode.Perm() | (mode & (fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky))
	return nil
}

func (m *MemFS) chown(c Cred, name string, uid, gid int, followLast bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, n, err := m.lookup(c, "chown", name, followLast)
	if err != nil {
		return err
	}
	// chown(2): only root changes the owner; the owner may change the
	// group to one of its own groups. -1 leaves an id unchanged.
	if c.UID != 0 {
		if n.uid != c.UID || uid != -1 && uid != n.uid || gid != -1 && !c.inGroup(gid) {
			return pathErr("chown", name, errPerm)
		}
	}
	if uid != -1 {
		n.uid = uid
	}
	if gid != -1 {
		n.gid = gid
	}
	if !n.dir && n.link == "" {
		// chown clears setuid and setgid on a regular file (Linux
		// notify_change, ATTR_KILL_SUID/SGID).
		n.mode &^= fs.ModeSetuid | fs.ModeSetgid
	}
	return nil
}

func (m *MemFS) mkdirAll(c Cred, name string, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := clean("mkdir", name)
	if err != nil {
		return err
	}
	real, err := m.resolve(c, p, true)
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
			if err := m.parentDir(c, "mkdir", name, cur); err != nil {
				return err
			}
			m.newNode(c, cur, &memNode{dir: true, mode: fs.ModeDir | mode.Perm()})
			continue
		}
		if !n.dir {
			if cur == real {
				return pathErr("mkdir", name, fs.ErrExist)
			}
			return pathErr("mkdir", name, errNotDir)
		}
		if cur != real && !c.may(n, permX) {
			return pathErr("mkdir", name, errAccess)
		}
	}
	return nil
}

func (m *MemFS) mkdir(c Cred, name string, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, err := clean("mkdir", name)
	if err != nil {
		return err
	}
	real, err := m.resolve(c, p, false)
	if err != nil {
		return pathErr("mkdir", name, err)
	}
	if _, ok := m.nodes[real]; ok {
		return pathErr("mkdir", name, fs.ErrExist)
	}
	if err := m.parentDir(c, "mkdir", name, real); err != nil {
		return err
	}
	m.newNode(c, real, &memNode{dir: true, mode: fs.ModeDir | mode.Perm()})
	return nil
}

func (m *MemFS) readDir(c Cred, dir string) ([]string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	real, n, err := m.lookup(c, "open", dir, true)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, pathErr("readdirent", dir, errNotDir)
	}
	if !c.may(n, permR) {
		return nil, pathErr("open", dir, errAccess)
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

func (m *MemFS) chtimes(c Cred, name string, mtime time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, n, err := m.lookup(c, "chtimes", name, true)
	if err != nil {
		return err
	}
	if !c.owns(n) {
		// utimensat(2): setting a chosen time needs ownership; the
		// current time (touch) needs only write permission.
		if !c.may(n, permW) {
			return pathErr("utimensat", name, errAccess)
		}
	}
	n.modTime = mtime
	return nil
}

// root is the credential MemFS's own methods act with.
var root Cred

// ReadFile returns a copy of the file's contents.
func (m *MemFS) ReadFile(name string) ([]byte, error) { return m.readFile(root, name) }

// WriteFile creates or truncates name. The parent directory must exist.
// mode is used only when the file is created, like os.WriteFile.
func (m *MemFS) WriteFile(name string, data []byte, mode fs.FileMode) error {
	return m.write(root, name, data, mode, false, false)
}

// CreateExclusive creates name with data only if it does not exist yet
// (fs.ErrExist otherwise), atomically with respect to other callers.
func (m *MemFS) CreateExclusive(name string, data []byte, mode fs.FileMode) error {
	return m.write(root, name, data, mode, false, true)
}

// AppendFile appends to name, creating it with mode if missing.
func (m *MemFS) AppendFile(name string, data []byte, mode fs.FileMode) error {
	return m.write(root, name, data, mode, true, false)
}

// Stat describes name, following symlinks.
func (m *MemFS) Stat(name string) (FileInfo, error) { return m.stat(root, name) }

// Lstat describes name without following a final symlink.
func (m *MemFS) Lstat(name string) (FileInfo, error) { return m.lstat(root, name) }

// Readlink returns a symlink's target.
func (m *MemFS) Readlink(name string) (string, error) { return m.readlink(root, name) }

// Symlink creates name as a symbolic link to target (which may be relative
// to name's directory and need not exist).
func (m *MemFS) Symlink(target, name string) error { return m.symlink(root, target, name) }

// Remove removes a file, a symlink (not its target) or an empty directory.
func (m *MemFS) Remove(name string) error { return m.remove(root, name) }

// RemoveAll removes name and everything below it. A missing name is not an
// error, like os.RemoveAll. Removing "/" is refused.
func (m *MemFS) RemoveAll(name string) error { return m.removeAll(root, name) }

// Rename moves from to to, like rename(2): an existing file at to is
// replaced; a directory may replace only an empty directory; a directory
// cannot move below itself.
func (m *MemFS) Rename(from, to string) error { return m.rename(root, from, to) }

// Chmod sets the permission bits (and setuid/setgid/sticky) of name.
func (m *MemFS) Chmod(name string, mode fs.FileMode) error { return m.chmod(root, name, mode) }

// Chown sets name's owner and group (following symlinks); -1 leaves one
// unchanged.
func (m *MemFS) Chown(name string, uid, gid int) error { return m.chown(root, name, uid, gid, true) }

// Lchown is Chown on a symlink itself.
func (m *MemFS) Lchown(name string, uid, gid int) error { return m.chown(root, name, uid, gid, false) }

// MkdirAll creates name and any missing parents with mode. An existing
// directory is not an error; an existing file in the way is errNotDir /
// fs.ErrExist.
func (m *MemFS) MkdirAll(name string, mode fs.FileMode) error { return m.mkdirAll(root, name, mode) }

// Mkdir creates one directory; the parent must exist and name must not.
func (m *MemFS) Mkdir(name string, mode fs.FileMode) error { return m.mkdir(root, name, mode) }

// ReadDir lists the names directly below dir, sorted.
func (m *MemFS) ReadDir(dir string) ([]string, error) { return m.readDir(root, dir) }

// Chtimes sets a node's modification time.
func (m *MemFS) Chtimes(name string, mtime time.Time) error { return m.chtimes(root, name, mtime) }

// credFS is a MemFS seen by a non-root user (see MemFS.As).
type credFS struct {
	m *MemFS
	c Cred
}

func (v *credFS) ReadFile(name string) ([]byte, error) { return v.m.readFile(v.c, name) }
func (v *credFS) WriteFile(name string, data []byte, mode fs.FileMode) error {
	return v.m.write(v.c, name, data, mode, false, false)
}
func (v *credFS) CreateExclusive(name string, data []byte, mode fs.FileMode) error {
	return v.m.write(v.c, name, data, mode, false, true)
}
func (v *credFS) AppendFile(name string, data []byte, mode fs.FileMode) error {
	return v.m.write(v.c, name, data, mode, true, false)
}
func (v *credFS) Stat(name string) (FileInfo, error)        { return v.m.stat(v.c, name) }
func (v *credFS) Lstat(name string) (FileInfo, error)       { return v.m.lstat(v.c, name) }
func (v *credFS) Readlink(name string) (string, error)      { return v.m.readlink(v.c, name) }
func (v *credFS) Symlink(target, name string) error         { return v.m.symlink(v.c, target, name) }
func (v *credFS) Remove(name string) error                  { return v.m.remove(v.c, name) }
func (v *credFS) RemoveAll(name string) error               { return v.m.removeAll(v.c, name) }
func (v *credFS) Rename(from, to string) error              { return v.m.rename(v.c, from, to) }
func (v *credFS) Chmod(name string, mode fs.FileMode) error { return v.m.chmod(v.c, name, mode) }
func (v *credFS) Chown(name string, uid, gid int) error {
	return v.m.chown(v.c, name, uid, gid, true)
}
func (v *credFS) Lchown(name string, uid, gid int) error {
	return v.m.chown(v.c, name, uid, gid, false)
}
func (v *credFS) MkdirAll(name string, mode fs.FileMode) error {
	return v.m.mkdirAll(v.c, name, mode)
}
func (v *credFS) Mkdir(name string, mode fs.FileMode) error  { return v.m.mkdir(v.c, name, mode) }
func (v *credFS) ReadDir(dir string) ([]string, error)       { return v.m.readDir(v.c, dir) }
func (v *credFS) Chtimes(name string, mtime time.Time) error { return v.m.chtimes(v.c, name, mtime) }

// memFSFile is one entry of MemFS's JSON form.
type memFSFile struct {
	Path    string      `json:"path"`
	Dir     bool        `json:"dir,omitempty"`
	Link    string      `json:"link,omitempty"`
	Mode    fs.FileMode `json:"mode"`
	UID     int         `json:"uid,omitempty"`
	GID     int         `json:"gid,omitempty"`
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
		out.Files = append(out.Files, memFSFile{Path: p, Dir: n.dir, Link: n.link, Mode: n.mode, UID: n.uid, GID: n.gid, Data: n.data, ModTime: n.modTime})
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
		nodes[f.Path] = &memNode{dir: f.Dir, link: f.Link, mode: mode, uid: f.UID, gid: f.GID, data: f.Data, modTime: f.ModTime}
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
	_ Chowner          = (*MemFS)(nil)
	_ Linker           = (*credFS)(nil)
	_ ExclusiveCreator = (*credFS)(nil)
	_ Chowner          = (*credFS)(nil)
)

// Chowner is implemented by filesystems that keep owners (MemFS and its
// views do); chown uses it. -1 leaves an id unchanged; Lchown does not
// follow a final symlink.
type Chowner interface {
	Chown(name string, uid, gid int) error
	Lchown(name string, uid, gid int) error
}
