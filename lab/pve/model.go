package pve

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tappaas/tappaas/lab/shell"
)

// SchemaVersion of the persisted model.
const SchemaVersion = 1

// PVE release the lab pretends to be.
const (
	PVEVersion = "9.1.4"
	PVERelease = "9.1"
	PVERepoID  = "5a1f3c9e2b7d4e08"
	Kernel     = "6.17.2-1-pve"
)

// Model is the node's whole state: one value shared by the API, the shell
// commands and persistence. All access goes through Node.mu.
type Model struct {
	Schema       int       `json:"schema"`
	Hostname     string    `json:"hostname"`
	RootPassword string    `json:"root_password"`
	NodeAddr     string    `json:"node_addr"`
	Booted       time.Time `json:"booted"`
	Secret       string    `json:"secret"` // HMAC key for tickets
	NextPID      int       `json:"next_pid"`

	NICs    []NIC            `json:"nics"`
	Disks   []*Disk          `json:"disks"`
	Links   map[string]*Link `json:"links"` // live interfaces (after ifreload)
	Routes  []Route          `json:"routes"`
	Apt     Apt              `json:"apt"`
	Cluster *Cluster         `json:"cluster,omitempty"`

	Storages []*Storage         `json:"storages"`
	Pools    []*Pool            `json:"pools"`
	Datasets []string           `json:"datasets"`
	Volumes  map[string]*Volume `json:"volumes"`

	Users []*User `json:"users"`
	ACL   []ACL   `json:"acl"`

	VMs        map[int]*VM         `json:"vms"`
	HA         []*HAResource       `json:"ha"`
	BackupJobs []map[string]string `json:"backup_jobs,omitempty"`
	ReplJobs   []map[string]string `json:"replication_jobs,omitempty"`
	Tasks      []*Task             `json:"tasks"`
	PBS        PBS                 `json:"pbs"`
	Certs      Certs               `json:"certs"`
	Services   map[string]string   `json:"services"` // name → "active"/"inactive"
	// Disabled are the units `systemctl disable` turned off at boot; every
	// other known unit is enabled, as the Debian packages install them.
	Disabled map[string]bool `json:"disabled,omitempty"`
	Timers   []Timer         `json:"timers"`

	Files map[string]FileRec `json:"files,omitempty"` // FS snapshot (persistence only)
}

// NIC is a physical network port.
type NIC struct {
	Name     string `json:"name"`
	MAC      string `json:"mac"`
	Speed    int    `json:"speed"` // Mb/s
	Link     bool   `json:"link"`
	Internet bool   `json:"internet"` // cabled to the upstream router
	Driver   string `json:"driver"`
}

// Disk is a block device.
type Disk struct {
	Dev    string `json:"dev"` // /dev/sda
	Size   int64  `json:"size"`
	Model  string `json:"model"`
	Serial string `json:"serial"`
	WWN    string `json:"wwn"`
	Rota   bool   `json:"rota"`
	Use    string `json:"use"` // "" unused, "system", "zfs:<pool>", "data"
	// Bus is how udev names it in /dev/disk/by-id: "ata" (the default for
	// sdX), "scsi" (e.g. a QEMU SCSI disk) or "nvme" (nvmeXnY).
	Bus string `json:"bus,omitempty"`
}

// IDs are the disk's /dev/disk/by-id names as udev's
// 60-persistent-storage.rules makes them (systemd/systemd:
// rules.d/60-persistent-storage.rules.in): ata-<model>_<serial> for ATA
// disks (ata_id's ID_SERIAL, blanks as "_"), scsi-<serial> for SCSI,
// nvme-<model>_<serial> and nvme-<wwid> for NVMe, and wwn-<wwn> for
// disks reporting a World Wide Name. A partition N adds "-partN".
func (d *Disk) IDs() []string {
	serial := strings.ReplaceAll(d.Model, " ", "_") + "_" + d.Serial
	var ids []string
	switch d.bus() {
	case "nvme":
		ids = append(ids, "nvme-"+serial)
		if d.WWN != "" {
			ids = append(ids, "nvme-"+d.WWN)
		}
		return ids
	case "scsi":
		ids = append(ids, "scsi-"+d.Serial)
	default:
		ids = append(ids, "ata-"+serial)
	}
	if d.WWN != "" {
		ids = append(ids, "wwn-"+d.WWN)
	}
	return ids
}

func (d *Disk) bus() string {
	switch {
	case d.Bus != "":
		return d.Bus
	case strings.HasPrefix(d.Dev, "/dev/nvme"):
		return "nvme"
	}
	return "ata"
}

// partName is the kernel name of partition n of the disk: sdb1, nvme0n1p1.
func (d *Disk) partName(n int) string {
	base := strings.TrimPrefix(d.Dev, "/dev/")
	if strings.HasPrefix(base, "nvme") {
		return fmt.Sprintf("%sp%d", base, n)
	}
	return fmt.Sprintf("%s%d", base, n)
}

// parts are the partition numbers the disk has: the PVE installer's three
// on the system disk, ZFS's 1 and 9 on a whole-disk vdev.
func (d *Disk) parts() []int {
	switch {
	case d.Use == "system":
		return []int{1, 2, 3}
	case strings.HasPrefix(d.Use, "zfs:"):
		return []int{1, 9}
	}
	return nil
}

// Link is a live network interface.
type Link struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"` // lo, eth, bridge
	Ports     []string `json:"ports,omitempty"`
	Addrs     []string `json:"addrs,omitempty"` // CIDR
	Up        bool     `json:"up"`
	VlanAware bool     `json:"vlan_aware,omitempty"`
	Master    string   `json:"master,omitempty"`
	MAC       string   `json:"mac"`
	Index     int      `json:"ifindex"`
}

// Route is a live IPv4 route.
type Route struct {
	Dst string `json:"dst"` // "default" or CIDR
	Via string `json:"via,omitempty"`
	Dev string `json:"dev"`
	Src string `json:"src,omitempty"`
}

// Apt is the package state.
type Apt struct {
	Fetched   []string          `json:"fetched"`   // repo components fetched by the last successful apt-get update
	Installed map[string]string `json:"installed"` // package → version
}

// Cluster is the corosync cluster the node belongs to.
type Cluster struct {
	Name    string    `json:"name"`
	Version int       `json:"version"`
	Link0   string    `json:"link0"`
	Created time.Time `json:"created"`
	NodeID  int       `json:"nodeid"`
	// Members are all nodes of the cluster, this one included.
	Members []Member `json:"members"`
}

// Member is one cluster node.
type Member struct {
	Name   string `json:"name"`
	NodeID int    `json:"nodeid"`
	Addr   string `json:"addr"`
	FP     string `json:"fp"` // its PVE certificate fingerprint
}

// Storage is one entry of /etc/pve/storage.cfg.
type Storage struct {
	ID     string            `json:"id"`
	Type   string            `json:"type"`
	Config map[string]string `json:"config"`
}

// Pool is a ZFS pool.
type Pool struct {
	Name        string            `json:"name"`
	Raid        string            `json:"raid"` // single, mirror, raidz, …
	Devices     []string          `json:"devices"`
	Ashift      int               `json:"ashift"`
	Compression string            `json:"compression"`
	Autotrim    string            `json:"autotrim"`
	Size        int64             `json:"size"`
	Props       map[string]string `json:"props,omitempty"`
}

// Volume is a VM disk image on a storage.
type Volume struct {
	ID      string `json:"id"` // storage:name
	Size    int64  `json:"size"`
	Guest   string `json:"guest,omitempty"` // "opnsense", "nixos" when imported from a lab image
	Version string `json:"version,omitempty"`
	VMID    int    `json:"vmid"`
}

// User is a PVE user (root@pam included).
type User struct {
	ID       string            `json:"userid"`
	Comment  string            `json:"comment,omitempty"`
	Email    string            `json:"email,omitempty"`
	Enable   bool              `json:"enable"`
	Password string            `json:"password,omitempty"` // pve realm only (lab: kept as given)
	Tokens   map[string]*Token `json:"tokens,omitempty"`
}

// Token is an API token; the secret is kept as a SHA-256 hash.
type Token struct {
	SecretHash string `json:"secret_hash"`
	Comment    string `json:"comment,omitempty"`
	Expire     int64  `json:"expire"`
	Privsep    bool   `json:"privsep"`
}

// ACL is one access control entry.
type ACL struct {
	Path      string `json:"path"`
	Type      string `json:"type"` // user, token, group
	UGID      string `json:"ugid"`
	Role      string `json:"roleid"`
	Propagate bool   `json:"propagate"`
}

// VM is a qemu guest.
type VM struct {
	VMID      int               `json:"vmid"`
	Config    map[string]string `json:"config"`
	Running   bool              `json:"running"`
	StartedAt time.Time         `json:"started_at,omitempty"`
	// PID is the QEMU process of the running VM: a start (qm start, or
	// qm reboot, which shuts down and starts again) runs a new process; a
	// reboot inside the guest keeps it.
	PID     int       `json:"pid,omitempty"`
	ReadyAt time.Time `json:"ready_at,omitempty"` // OS (and agent) up
	IP      string    `json:"ip,omitempty"`
	Lock    string    `json:"lock,omitempty"`
	AgentUp bool      `json:"agent_up,omitempty"` // a guest agent started inside (OPNsense's is a plugin)
}

// HAResource is an HA-managed guest.
type HAResource struct {
	SID         string `json:"sid"`
	State       string `json:"state"`
	MaxRestart  int    `json:"max_restart"`
	MaxRelocate int    `json:"max_relocate"`
	Failback    bool   `json:"failback"`
	Comment     string `json:"comment,omitempty"`
}

// Timer is a transient systemd timer (systemd-run --on-active).
type Timer struct {
	Unit    string    `json:"unit"`
	Command string    `json:"command"`
	Due     time.Time `json:"due"`
}

// FileRec is one FS entry in the persisted snapshot.
type FileRec struct {
	Dir  bool        `json:"dir,omitempty"`
	Link string      `json:"link,omitempty"` // a symlink's target
	Mode fs.FileMode `json:"mode"`
	UID  int         `json:"uid,omitempty"`
	GID  int         `json:"gid,omitempty"`
	Data string      `json:"data,omitempty"` // base64
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID returns a random RFC 4122 v4 UUID (token secrets look like this).
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// NewModel builds the state of a freshly installed PVE 9 node.
func NewModel(hostname string) (*Model, error) {
	if hostname == "" {
		hostname = "tappaas1"
	}
	m := &Model{
		Schema:       SchemaVersion,
		Hostname:     hostname,
		RootPassword: "lab-" + randHex(6),
		NodeAddr:     nodeAddrFor(hostname),
		Booted:       time.Now().Add(-10 * time.Minute).UTC().Truncate(time.Second),
		Secret:       randHex(32),
		NextPID:      0x1A2B0,
		NICs: []NIC{
			{Name: "enp1s0", MAC: "bc:24:11:5e:10:01", Speed: 2500, Link: true, Internet: true, Driver: "igc"},
			{Name: "enp2s0", MAC: "bc:24:11:5e:10:02", Speed: 2500, Link: true, Internet: false, Driver: "igc"},
		},
		Disks: []*Disk{
			{Dev: "/dev/sda", Size: 256060514304, Model: "Samsung SSD 870 EVO 250GB", Serial: "S6PENL0T100001", WWN: "0x5002538f00000001", Use: "system"},
			{Dev: "/dev/sdb", Size: 1000204886016, Model: "Samsung SSD 870 EVO 1TB", Serial: "S6PTNM0T200002", WWN: "0x5002538f00000002"},
			{Dev: "/dev/sdc", Size: 1000204886016, Model: "Samsung SSD 870 EVO 1TB", Serial: "S6PTNM0T200003", WWN: "0x5002538f00000003"},
		},
		Apt: Apt{Installed: map[string]string{}},
		Storages: []*Storage{
			{ID: "local", Type: "dir", Config: map[string]string{"path": "/var/lib/vz", "content": "iso,vztmpl,backup,import"}},
			{ID: "local-lvm", Type: "lvmthin", Config: map[string]string{"thinpool": "data", "vgname": "pve", "content": "rootdir,images"}},
		},
		Volumes: map[string]*Volume{},
		Users:   []*User{{ID: "root@pam", Enable: true, Comment: "", Email: "admin@example.com"}},
		VMs:     map[int]*VM{},
		Services: map[string]string{
			"pveproxy": "active", "pvedaemon": "active", "pve-cluster": "active", "sshd": "active",
			"corosync": "inactive", "pve-ha-lrm": "active", "pve-ha-crm": "active", "networking": "active", "chrony": "active",
		},
	}
	for _, p := range basePackages {
		m.Apt.Installed[p[0]] = p[1]
	}
	m.Links = map[string]*Link{}
	if err := genNodeCerts(&m.Certs, hostname, []string{m.NodeAddr, mgmtIP(hostname)}); err != nil {
		return nil, err
	}
	var err error
	if m.Certs.HostKeyPEM, err = genEd25519PEM(); err != nil {
		return nil, err
	}
	if m.Certs.RootKeyPEM, err = genEd25519PEM(); err != nil {
		return nil, err
	}
	if m.Certs.ClientPEM, err = genEd25519PEM(); err != nil {
		return nil, err
	}
	return m, nil
}

func nodeAddrFor(hostname string) string {
	if IsSecondary(hostname) {
		return mgmtIP(hostname)
	}
	return "192.168.1.10"
}

// mgmtIP is 10.0.0.(9+N) for tappaasN (docs/upstream.md#addresses).
func mgmtIP(hostname string) string {
	n := 1
	if i := strings.IndexAny(hostname, "0123456789"); i >= 0 {
		fmt.Sscanf(hostname[i:], "%d", &n)
	}
	if n < 1 || n > 9 {
		n = 1
	}
	return fmt.Sprintf("10.0.0.%d", 9+n)
}

// basePackages are installed on a fresh PVE 9 node (name, version). As on
// a node installed from an ISO, some are older than the repository's
// (aptCatalog): a dist-upgrade has work to do.
var basePackages = [][2]string{
	{"pve-manager", PVEVersion}, {"proxmox-ve", "9.1.0"}, {"qemu-server", "9.1.1"}, {"pve-cluster", "9.0.6"},
	{"proxmox-widget-toolkit", "5.1.1"}, {"ifupdown2", "3.3.0-1+pmx10"}, {"zfsutils-linux", "2.3.4-pve1"},
	{"openssh-server", "1:10.0p1-7"}, {"curl", "8.14.1-2"}, {"wget", "1.25.0-2"}, {"openssl", "3.5.4-1"},
	{"zstd", "1.5.7+dfsg-1"}, {"proxmox-backup-client", "4.0.16-1"}, {"chrony", "4.6.1-3"}, {"systemd", "257.8-1"},
	{"bash", "5.2.37-2"}, {"coreutils", "9.7-3"}, {"iproute2", "6.15.0-1"}, {"apt", "3.0.3"},
}

// secondaryInterfaces is what the PVE installer leaves on tappaasN (N>1): the
// downstream NIC with 10.0.0.(9+N)/24 via the firewall
// (docs/upstream.md#join).
func secondaryInterfaces(ip string) string {
	return "auto lo\niface lo inet loopback\n\niface enp1s0 inet manual\n\niface enp2s0 inet manual\n\nauto vmbr0\niface vmbr0 inet static\n\taddress " + ip + "/24\n\tgateway 10.0.0.1\n\tbridge-ports enp2s0\n\tbridge-stp off\n\tbridge-fd 0\n\nsource /etc/network/interfaces.d/*\n"
}

// IsSecondary reports whether hostname is tappaasN with N > 1.
func IsSecondary(hostname string) bool { return mgmtIP(hostname) != "10.0.0.10" }

// Initial files of a fresh node; $HOST and $IP are substituted.
const initialInterfaces = `auto lo
iface lo inet loopback

iface enp1s0 inet manual

iface enp2s0 inet manual

auto vmbr0
iface vmbr0 inet static
	address 192.168.1.10/24
	gateway 192.168.1.1
	bridge-ports enp1s0
	bridge-stp off
	bridge-fd 0

source /etc/network/interfaces.d/*
`

// Root's authorized keys on a PVE node: RootAuthorizedKeys is a symlink to
// the cluster-wide ClusterAuthorizedKeys (see seedFS).
const (
	RootAuthorizedKeys    = "/root/.ssh/authorized_keys"
	ClusterAuthorizedKeys = "/etc/pve/priv/authorized_keys"
)

// seedFS writes the files of a fresh node into fsys.
func (m *Model) seedFS(fsys shell.FS) error {
	host := m.Hostname
	files := map[string]string{
		"/etc/hostname":                                   host + "\n",
		"/etc/hosts":                                      "127.0.0.1 localhost.localdomain localhost\n192.168.1.10 " + host + ".mgmt.internal " + host + "\n\n::1     ip6-localhost ip6-loopback\n",
		"/etc/resolv.conf":                                "search mgmt.internal\nnameserver 192.168.1.1\n",
		"/etc/network/interfaces":                         initialInterfaces,
		"/etc/os-release":                                 "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"13\"\nVERSION=\"13 (trixie)\"\nVERSION_CODENAME=trixie\nID=debian\n",
		"/etc/debian_version":                             "13.1\n",
		"/etc/apt/sources.list.d/debian.sources":          "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie trixie-updates\nComponents: main contrib non-free-firmware\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://security.debian.org/debian-security\nSuites: trixie-security\nComponents: main contrib non-free-firmware\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
		"/etc/apt/sources.list.d/pve-enterprise.sources":  "Types: deb\nURIs: https://enterprise.proxmox.com/debian/pve\nSuites: trixie\nComponents: pve-enterprise\nSigned-By: /usr/share/keyrings/proxmox-archive-keyring.gpg\n",
		"/etc/apt/sources.list.d/ceph.sources":            "Types: deb\nURIs: https://enterprise.proxmox.com/debian/ceph-squid\nSuites: trixie\nComponents: enterprise\nSigned-By: /usr/share/keyrings/proxmox-archive-keyring.gpg\n",
		"/usr/share/keyrings/proxmox-archive-keyring.gpg": "lab keyring\n",
		"/usr/share/pve-edk2-firmware/OVMF_VARS_4M.fd":    strings.Repeat("\x00", 4096),
		"/etc/pve/pve-root-ca.pem":                        m.Certs.CAPEM,
		"/etc/pve/local/pve-ssl.pem":                      m.Certs.NodePEM,
		"/etc/pve/local/pve-ssl.key":                      m.Certs.NodeKeyPEM,
		"/etc/pve/priv/pve-root-ca.key":                   m.Certs.CAKeyPEM,
		"/root/.ssh/id_ed25519":                           m.Certs.RootKeyPEM,
		"/etc/timezone":                                   "Etc/UTC\n",
	}
	for _, d := range []string{"/etc/network/interfaces.d", "/var/lib/vz/template/iso", "/var/lib/vz/images", "/var/lib/vz/import", "/var/lib/vz/dump", "/tmp", "/run", "/var/log", "/root/tappaas", "/etc/apt/apt.conf.d", "/usr/local/bin", "/usr/local/sbin", "/etc/cron.weekly", "/etc/cron.monthly", "/etc/systemd/system", "/etc/pve/nodes/" + host + "/qemu-server", "/etc/pve/priv/storage", "/var/lib/vz/snippets", "/home"} {
		if err := fsys.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		if err := fsys.MkdirAll(path.Dir(name), 0o755); err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if strings.HasSuffix(name, ".key") || strings.Contains(name, "id_ed25519") {
			mode = 0o600
		}
		if err := fsys.WriteFile(name, []byte(files[name]), mode); err != nil {
			return err
		}
	}
	// pve-cluster keeps root's authorized keys cluster-wide and links
	// root's file to them (proxmox/pve-cluster:src/PVE/Cluster/Setup.pm,
	// sub setup_ssh_keys, run by `pvecm updatecerts` when pve-cluster
	// starts): /root/.ssh/authorized_keys -> /etc/pve/priv/authorized_keys.
	if l, ok := fsys.(shell.Linker); ok {
		if err := fsys.MkdirAll("/root/.ssh", 0o700); err != nil {
			return err
		}
		if err := fsys.WriteFile(ClusterAuthorizedKeys, nil, 0o600); err != nil {
			return err
		}
		if err := l.Symlink(ClusterAuthorizedKeys, RootAuthorizedKeys); err != nil {
			return err
		}
	}
	return m.seedVirtual(fsys)
}

// seedVirtual writes the kernel's virtual files (/proc, /sys), which a
// snapshot does not keep: the kernel makes them at every boot.
func (m *Model) seedVirtual(fsys shell.FS) error {
	if err := fsys.MkdirAll("/proc", 0o555); err != nil {
		return err
	}
	if err := fsys.WriteFile("/proc/cpuinfo", []byte("processor\t: 0\nmodel name\t: Intel(R) N100\n"), 0o444); err != nil {
		return err
	}
	for _, n := range m.NICs {
		dir := "/sys/class/net/" + n.Name
		_ = fsys.MkdirAll(dir+"/device", 0o755)
		state := "down"
		if n.Link {
			state = "up"
		}
		_ = fsys.WriteFile(dir+"/address", []byte(n.MAC+"\n"), 0o444)
		_ = fsys.WriteFile(dir+"/operstate", []byte(state+"\n"), 0o444)
		_ = fsys.WriteFile(dir+"/speed", []byte(fmt.Sprintf("%d\n", n.Speed)), 0o444)
		_ = fsys.WriteFile(dir+"/carrier", []byte(map[bool]string{true: "1\n", false: "0\n"}[n.Link]), 0o444)
	}
	return nil
}

// SnapshotFS copies every file of fsys (except /proc, /sys, /dev).
func SnapshotFS(fsys shell.FS) (map[string]FileRec, error) { return snapshotFS(fsys) }

// RestoreFS writes a snapshot made by SnapshotFS into fsys.
func RestoreFS(fsys shell.FS, files map[string]FileRec) error { return restoreFS(fsys, files) }

// snapshotFS copies every file of fsys into m.Files: contents, modes
// (with setuid/setgid/sticky), owners and symlinks as links.
func snapshotFS(fsys shell.FS) (map[string]FileRec, error) {
	out := map[string]FileRec{}
	linker, _ := fsys.(shell.Linker)
	var walk func(dir string) error
	walk = func(dir string) error {
		names, err := fsys.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, n := range names {
			p := path.Join(dir, n)
			if strings.HasPrefix(p, "/proc") || strings.HasPrefix(p, "/sys") || strings.HasPrefix(p, "/dev") {
				continue
			}
			if linker != nil {
				if st, err := linker.Lstat(p); err == nil && st.Mode&fs.ModeSymlink != 0 {
					if t, err := linker.Readlink(p); err == nil {
						out[p] = FileRec{Link: t, UID: st.UID, GID: st.GID}
					}
					continue
				}
			}
			st, err := fsys.Stat(p)
			if err != nil {
				continue
			}
			mode := st.Mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
			if st.IsDir {
				out[p] = FileRec{Dir: true, Mode: mode, UID: st.UID, GID: st.GID}
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			b, err := fsys.ReadFile(p)
			if err != nil {
				continue
			}
			out[p] = FileRec{Mode: mode, UID: st.UID, GID: st.GID, Data: base64.StdEncoding.EncodeToString(b)}
		}
		return nil
	}
	return out, walk("/")
}

// restoreFS writes a snapshot into fsys (as root; owners are restored
// where fsys keeps them).
func restoreFS(fsys shell.FS, files map[string]FileRec) error {
	names := make([]string, 0, len(files))
	for k := range files {
		names = append(names, k)
	}
	sort.Strings(names)
	chown, _ := fsys.(shell.Chowner)
	for _, n := range names {
		f := files[n]
		if err := fsys.MkdirAll(path.Dir(n), 0o755); err != nil {
			return err
		}
		switch {
		case f.Link != "":
			l, ok := fsys.(shell.Linker)
			if !ok {
				continue
			}
			_ = fsys.Remove(n)
			if err := l.Symlink(f.Link, n); err != nil {
				return err
			}
			if chown != nil {
				if err := chown.Lchown(n, f.UID, f.GID); err != nil {
					return err
				}
			}
			continue
		case f.Dir:
			if err := fsys.MkdirAll(n, f.Mode.Perm()); err != nil {
				return err
			}
		default:
			b, err := base64.StdEncoding.DecodeString(f.Data)
			if err != nil {
				return fmt.Errorf("lab state: file %s: %w", n, err)
			}
			if err := fsys.WriteFile(n, b, f.Mode); err != nil {
				return err
			}
		}
		if err := fsys.Chmod(n, f.Mode); err != nil {
			return err
		}
		if chown != nil {
			if err := chown.Chown(n, f.UID, f.GID); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *Model) user(id string) *User {
	for _, u := range m.Users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

func (m *Model) storage(id string) *Storage {
	for _, s := range m.Storages {
		if s.ID == id {
			return s
		}
	}
	return nil
}

func (m *Model) pool(name string) *Pool {
	for _, p := range m.Pools {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (m *Model) disk(dev string) *Disk {
	if !strings.HasPrefix(dev, "/dev/") {
		dev = "/dev/" + dev
	}
	for _, d := range m.Disks {
		if d.Dev == dev {
			return d
		}
		if id, ok := strings.CutPrefix(dev, ByIDDir); ok && slices.Contains(d.IDs(), id) {
			return d
		}
	}
	return nil
}

// ByIDDir is udev's directory of stable disk names.
const ByIDDir = "/dev/disk/by-id/"

func (m *Model) nic(name string) *NIC {
	for i := range m.NICs {
		if m.NICs[i].Name == name {
			return &m.NICs[i]
		}
	}
	return nil
}

func (m *Model) initialInterfaces() string {
	if IsSecondary(m.Hostname) {
		return secondaryInterfaces(m.NodeAddr)
	}
	return initialInterfaces
}
