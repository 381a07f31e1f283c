package pve

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tappaas/tappaas/lab/shell"
)

// Config configures a simulated node.
type Config struct {
	Hostname string
	Model    *Model   // a resumed model; nil = a freshly installed node
	FS       shell.FS // the node's filesystem (nil = an internal one); seeded for a fresh model
	Speed    float64  // latency scale: 0 = instant
	Faults   *Faults  // nil = none
	Log      func(Entry)
	// OnChange is called (outside the lock) after every mutation.
	OnChange func()
	// OnBoot is called (outside the lock) when a VM starts; guest is "opnsense",
	// "nixos" or "" and ready is when its OS is up.
	OnBoot func(vmid int, guest, version string, ready time.Time)
	// OnDestroy is called (outside the lock) when a VM is destroyed: its
	// disks are gone, and with them its guest OS (host key, files).
	OnDestroy func(vmid int)
	// OnPBS is called once when proxmox-backup-server gets installed.
	OnPBS func()
	// Join performs the member side of a cluster join (the peer named
	// hostname checks the password and its fingerprint and adds this node);
	// nil: no peer is reachable.
	Join func(req JoinRequest) (*JoinResult, error)
	// SiteFirewallUp reports whether a firewall elsewhere on the site
	// routes 10.0.0.1 (for nodes without their own firewall VM).
	SiteFirewallUp func() bool
	// FirewallDNS asks the firewall's resolver on 10.0.0.1:53 for name:
	// found with an address, or recurse when it would look the name up on
	// the internet; neither means no answer (nothing listens, NXDOMAIN,
	// SERVFAIL). nil: no firewall answers DNS.
	FirewallDNS func(name string) (ip string, found, recurse bool)
	// CertFor returns the PEM certificate served at a lab address other
	// than the node's own (the firewall's 10.0.0.1:443), for openssl
	// s_client; ok is false when nothing listens there.
	CertFor func(ip, port string) (pem string, ok bool)
}

// Node is one simulated PVE node: the model plus its faces.
type Node struct {
	mu      sync.Mutex
	m       *Model
	fs      shell.FS
	cfg     Config
	mut     [2]atomic.Int64 // mutating API calls, SSH commands
	reqs    atomic.Int64
	pending []func() // callbacks to run after unlock
	exec    func(cmdline string)
	timers  map[string]*time.Timer
}

// New builds a node. A fresh model seeds the filesystem and brings up the
// network from /etc/network/interfaces.
func New(cfg Config) (*Node, error) {
	n := &Node{cfg: cfg, fs: cfg.FS}
	if n.fs == nil {
		n.fs = NewMemFS()
	}
	if cfg.Model != nil {
		n.m = cfg.Model
		if cfg.Model.Schema > SchemaVersion {
			return nil, fmt.Errorf("lab state schema %d is newer than this binary (%d)", cfg.Model.Schema, SchemaVersion)
		}
		if len(n.m.Files) > 0 {
			if err := restoreFS(n.fs, n.m.Files); err != nil {
				return nil, err
			}
			n.m.Files = nil
		}
		if err := n.m.seedVirtual(n.fs); err != nil {
			return nil, err
		}
		n.syncSysNetLocked()
		if n.m.Volumes == nil {
			n.m.Volumes = map[string]*Volume{}
		}
		if n.m.VMs == nil {
			n.m.VMs = map[int]*VM{}
		}
		n.syncDevLocked() // /dev is not persisted: udev makes it at boot
		return n, nil
	}
	m, err := NewModel(cfg.Hostname)
	if err != nil {
		return nil, err
	}
	n.m = m
	if err := m.seedFS(n.fs); err != nil {
		return nil, err
	}
	n.syncFilesLocked()
	f, err := ParseInterfaces(m.initialInterfaces())
	if err != nil {
		return nil, err
	}
	if _, err := m.applyInterfaces(f); err != nil {
		return nil, err
	}
	return n, nil
}

// FS is the node's filesystem (the shell works on it).
func (n *Node) FS() shell.FS { return n.fs }

// Hostname of the node.
func (n *Node) Hostname() string { return n.m.Hostname }

// Snapshot returns the model as JSON including the filesystem (for persistence).
func (n *Node) Snapshot() ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	files, err := snapshotFS(n.fs)
	if err != nil {
		return nil, err
	}
	n.m.Files = files
	defer func() { n.m.Files = nil }()
	return json.MarshalIndent(n.m, "", " ")
}

// State returns the model as JSON without the filesystem.
func (n *Node) State() ([]byte, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return json.MarshalIndent(n.m, "", " ")
}

// Read runs f with the model locked (read-only use).
func (n *Node) Read(f func(m *Model)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f(n.m)
}

// Mutations returns the number of mutating API calls and SSH commands seen.
func (n *Node) Mutations() (api, ssh int64) { return n.mut[0].Load(), n.mut[1].Load() }

// Requests is the number of API requests served.
func (n *Node) Requests() int64 { return n.reqs.Load() }

// lock/unlock run deferred callbacks after releasing the lock.
func (n *Node) lock() { n.mu.Lock() }
func (n *Node) unlock() {
	p := n.pending
	n.pending = nil
	n.mu.Unlock()
	for _, f := range p {
		f()
	}
}

func (n *Node) after(f func()) { n.pending = append(n.pending, f) }

// changed marks a mutation (called with the lock held).
func (n *Node) changed() {
	n.syncFilesLocked()
	if n.cfg.OnChange != nil {
		n.after(n.cfg.OnChange)
	}
}

// scaled returns d scaled by the speed factor.
func (n *Node) scaled(d time.Duration) time.Duration {
	if n.cfg.Speed <= 0 {
		return 0
	}
	return time.Duration(float64(d) * n.cfg.Speed)
}

// syncFilesLocked re-renders the files derived from the model.
func (n *Node) syncFilesLocked() {
	m := n.m
	var b strings.Builder
	for i, s := range m.Storages {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s: %s\n", s.Type, s.ID)
		for _, k := range sortedKeys(s.Config) {
			fmt.Fprintf(&b, "\t%s %s\n", k, s.Config[k])
		}
	}
	_ = n.fs.WriteFile("/etc/pve/storage.cfg", []byte(b.String()), 0o640)
	b.Reset()
	for _, u := range m.Users {
		en := 0
		if u.Enable {
			en = 1
		}
		fmt.Fprintf(&b, "user:%s:%d:0:::%s:%s::\n", u.ID, en, u.Email, u.Comment)
		for _, t := range sortedKeys(u.Tokens) {
			tk := u.Tokens[t]
			ps := 0
			if tk.Privsep {
				ps = 1
			}
			fmt.Fprintf(&b, "token:%s!%s:%d:%d:%s:\n", u.ID, t, tk.Expire, ps, tk.Comment)
		}
	}
	b.WriteString("\n")
	for _, a := range m.ACL {
		p := 0
		if a.Propagate {
			p = 1
		}
		fmt.Fprintf(&b, "acl:%d:%s:%s:%s:\n", p, a.Path, a.UGID, a.Role)
	}
	_ = n.fs.WriteFile("/etc/pve/user.cfg", []byte(b.String()), 0o640)
	if c := m.Cluster; c != nil {
		var nl strings.Builder
		for _, mb := range c.Members {
			fmt.Fprintf(&nl, "  node {\n    name: %s\n    nodeid: %d\n    quorum_votes: 1\n    ring0_addr: %s\n  }\n", mb.Name, mb.NodeID, mb.Addr)
		}
		conf := fmt.Sprintf("logging {\n  debug: off\n  to_syslog: yes\n}\n\nnodelist {\n%s}\n\nquorum {\n  provider: corosync_votequorum\n}\n\ntotem {\n  cluster_name: %s\n  config_version: %d\n  interface {\n    linknumber: 0\n  }\n  ip_version: ipv4-6\n  link_mode: passive\n  secauth: on\n  version: 2\n}\n", nl.String(), c.Name, c.Version)
		if old, err := n.fs.ReadFile("/etc/pve/corosync.conf"); err != nil || !strings.Contains(string(old), "cluster_name: "+c.Name) || !strings.Contains(string(old), fmt.Sprintf("config_version: %d", c.Version)) {
			_ = n.fs.WriteFile("/etc/pve/corosync.conf", []byte(conf), 0o640)
		}
	}
	for id, vm := range m.VMs {
		var cb strings.Builder
		for _, k := range sortedKeys(vm.Config) {
			fmt.Fprintf(&cb, "%s: %s\n", k, vm.Config[k])
		}
		_ = n.fs.WriteFile(fmt.Sprintf("/etc/pve/nodes/%s/qemu-server/%d.conf", m.Hostname, id), []byte(cb.String()), 0o640)
	}
	n.syncSysNetLocked()
	n.syncDevLocked()
	ak := AuthorizedKeyPEM(m.Certs.ClientPEM, "lab-client")
	if cur, err := n.fs.ReadFile(RootAuthorizedKeys); err != nil {
		_ = n.fs.MkdirAll("/root/.ssh", 0o700)
		_ = n.fs.WriteFile(RootAuthorizedKeys, []byte(ak+"\n"), 0o600)
	} else if !strings.Contains(string(cur), strings.Fields(ak)[1]) {
		_ = n.fs.AppendFile(RootAuthorizedKeys, []byte(ak+"\n"), 0o600)
	}
	if _, err := n.fs.Stat("/root/.ssh/id_ed25519.pub"); err != nil {
		_ = n.fs.WriteFile("/root/.ssh/id_ed25519.pub", []byte(AuthorizedKeyPEM(m.Certs.RootKeyPEM, "root@"+m.Hostname)+"\n"), 0o644)
	}
}

// AuthorizedKeyPEM renders the public half of a PEM private key.
func AuthorizedKeyPEM(p, comment string) string {
	s, err := ParseSigner(p)
	if err != nil {
		return ""
	}
	return AuthorizedKey(s, comment)
}

func sortedKeys[V any](mp map[string]V) []string {
	out := make([]string, 0, len(mp))
	for k := range mp {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}

// syncSysNetLocked mirrors the live links into /sys/class/net.
// syncDevLocked makes the disks' device nodes and udev's
// /dev/disk/by-id links (see Disk.IDs): relative links to ../../sdb, and
// ID-partN to each partition, as on a real node.
func (n *Node) syncDevLocked() {
	l, ok := n.fs.(shell.Linker)
	if !ok {
		return
	}
	_ = n.fs.RemoveAll(ByIDDir)
	_ = n.fs.MkdirAll(ByIDDir, 0o755)
	for _, d := range n.m.Disks {
		_ = n.fs.WriteFile(d.Dev, nil, 0o660)
		for _, id := range d.IDs() {
			_ = l.Symlink("../../"+strings.TrimPrefix(d.Dev, "/dev/"), ByIDDir+id)
			for _, p := range d.parts() {
				_ = n.fs.WriteFile("/dev/"+d.partName(p), nil, 0o660)
				_ = l.Symlink("../../"+d.partName(p), fmt.Sprintf("%s%s-part%d", ByIDDir, id, p))
			}
		}
	}
}

func (n *Node) syncSysNetLocked() {
	have, _ := n.fs.ReadDir("/sys/class/net")
	for _, name := range have {
		if n.m.Links[name] == nil && n.m.nic(name) == nil {
			_ = n.fs.RemoveAll("/sys/class/net/" + name)
		}
	}
	for name, l := range n.m.Links {
		dir := "/sys/class/net/" + name
		if _, err := n.fs.Stat(dir + "/address"); err == nil && l.Kind == "eth" {
			continue
		}
		_ = n.fs.MkdirAll(dir, 0o755)
		state := "down"
		if l.Up {
			state = "up"
		}
		if l.Kind == "lo" {
			state = "unknown"
		}
		_ = n.fs.WriteFile(dir+"/address", []byte(l.MAC+"\n"), 0o444)
		_ = n.fs.WriteFile(dir+"/operstate", []byte(state+"\n"), 0o444)
		if l.Kind == "bridge" {
			_ = n.fs.MkdirAll(dir+"/bridge", 0o755)
		}
	}
}
