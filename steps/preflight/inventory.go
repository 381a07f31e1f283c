// Package preflight holds the read-only checks run before anything is
// changed on a node, and the node inventory (NICs, disks, addresses) the
// wizard and later steps use. Results are three-way: pass, fail, or could
// not check (harvester-installer style); every failure says how to fix it.
package preflight

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/steps/node"
)

// NIC is a physical network port of the node.
type NIC struct {
	Name   string `json:"name"`
	MAC    string `json:"mac"`
	Up     bool   `json:"up"`              // carrier/operstate up
	Speed  int    `json:"speed,omitempty"` // Mb/s, 0 unknown
	Master string `json:"master,omitempty"`
	// Upstream is true for the port carrying the default route (directly or
	// through its bridge): the one that reaches the internet.
	Upstream bool `json:"upstream"`
}

// Disk is a whole disk of the node.
type Disk struct {
	Name   string `json:"name"` // sdb
	Size   int64  `json:"size"`
	Model  string `json:"model,omitempty"`
	System bool   `json:"system"`         // holds / or /boot
	Pool   string `json:"pool,omitempty"` // ZFS pool it belongs to
	// HasData is true when the disk has partitions or a filesystem/RAID
	// signature: wiping it loses data.
	HasData bool `json:"has_data"`
	// IDs are the disk's /dev/disk/by-id names (udev's ata-, scsi-,
	// nvme-, wwn-… links), sorted.
	IDs []string `json:"ids,omitempty"`
}

// Path is how a pool should name the disk: a /dev/disk/by-id path, which
// stays the same across boots while sdX names may not, preferring the
// wwn- link as upstream does (TAPPaaS@f54e4fc:src/foundation/cluster/
// config-storage.sh:315-327, byid_for); /dev/NAME when udev made none.
func (d Disk) Path() string {
	for _, id := range d.IDs {
		if strings.HasPrefix(id, "wwn-") {
			return ByIDDir + id
		}
	}
	if len(d.IDs) > 0 {
		return ByIDDir + d.IDs[0]
	}
	return "/dev/" + d.Name
}

// ByIDDir is where udev links disks by their stable ids.
const ByIDDir = "/dev/disk/by-id/"

// byIDScript lists the by-id links with what they resolve to ("NAME
// /dev/sdb" lines); nothing when the directory is missing or empty.
const byIDScript = `for l in ` + ByIDDir + `*; do if [ -L "$l" ]; then printf '%s %s\n' "${l##*/}" "$(readlink -f "$l")"; fi; done`

// partSuffix is the partition suffix udev appends to by-id links
// (systemd rules.d/60-persistent-storage.rules: "-part%n").
var partSuffix = regexp.MustCompile(`-part[0-9]+$`)

// memberOf returns the disk a vdev path of `zpool status -P` lies on:
// /dev/sdb1, /dev/nvme0n1p1, or a by-id link with or without -partN.
func (inv *Inventory) memberOf(dev string) (int, bool) {
	if id, ok := strings.CutPrefix(dev, ByIDDir); ok {
		id = partSuffix.ReplaceAllString(id, "")
		for i, d := range inv.Disks {
			if slices.Contains(d.IDs, id) {
				return i, true
			}
		}
		return 0, false
	}
	name := strings.TrimPrefix(dev, "/dev/")
	for i, d := range inv.Disks {
		rest, ok := strings.CutPrefix(name, d.Name)
		if !ok {
			continue
		}
		rest = strings.TrimPrefix(rest, "p")
		if _, err := strconv.Atoi(rest); rest == "" || err == nil {
			return i, true
		}
	}
	return 0, false
}

// Inventory is what the node has.
type Inventory struct {
	Hostname   string   `json:"hostname"`
	PVEVersion string   `json:"pve_version"`
	NICs       []NIC    `json:"nics"`
	Disks      []Disk   `json:"disks"`
	Pools      []string `json:"pools"`
	// Layouts maps each pool to its layout (single, stripe, mirror, raidz,
	// raidz2), read from `zpool status`.
	Layouts     map[string]string `json:"layouts,omitempty"`
	DefaultDev  string            `json:"default_dev"`
	Gateway     string            `json:"gateway"`
	InstallCIDR string            `json:"install_cidr"` // the address on the default-route interface
	// Addrs maps interface → IPv4 CIDRs.
	Addrs map[string][]string `json:"addrs"`
}

// PoolLayout reads a pool's layout from its `zpool status` output: the
// first top-level vdev's type (OpenZFS names grouped vdevs "mirror-0",
// "raidz1-0", "raidz2-0": zpool_vdev_name in lib/libzfs/libzfs_pool.c,
// openzfs/zfs@zfs-2.2.7), else single for one disk and stripe for several.
func PoolLayout(status string) string {
	disks := 0
	for _, l := range strings.Split(status, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.HasPrefix(l, "\t") {
			continue
		}
		name := f[0]
		switch {
		case strings.HasPrefix(name, "mirror-"):
			return "mirror"
		case strings.HasPrefix(name, "raidz2-"):
			return "raidz2"
		case strings.HasPrefix(name, "raidz1-"), strings.HasPrefix(name, "raidz-"):
			return "raidz"
		case strings.HasPrefix(name, "/dev/"):
			disks++
		}
	}
	if disks > 1 {
		return "stripe"
	}
	return "single"
}

// PoolDisks lists the disks of pool (by name, "sdb").
func (inv *Inventory) PoolDisks(pool string) []string {
	var out []string
	for _, d := range inv.Disks {
		if d.Pool == pool {
			out = append(out, d.Name)
		}
	}
	return out
}

// NIC returns the named NIC.
func (inv *Inventory) NIC(name string) (NIC, bool) {
	for _, n := range inv.NICs {
		if n.Name == name {
			return n, true
		}
	}
	return NIC{}, false
}

// Disk returns the named disk ("sdb" or "/dev/sdb").
func (inv *Inventory) Disk(name string) (Disk, bool) {
	name = strings.TrimPrefix(name, "/dev/")
	for _, d := range inv.Disks {
		if d.Name == name {
			return d, true
		}
	}
	return Disk{}, false
}

// HasAddr reports whether any interface has addr.
func (inv *Inventory) HasAddr(addr string) bool {
	for _, as := range inv.Addrs {
		for _, a := range as {
			if p, err := netip.ParsePrefix(a); err == nil && p.Addr().String() == addr {
				return true
			}
		}
	}
	return false
}

var pveVersionRe = regexp.MustCompile(`pve-manager/(\d+)\.(\d+)(?:\.(\d+))?`)

// ParsePVEVersion extracts major, minor from `pveversion` output.
func ParsePVEVersion(out string) (major, minor int, full string, err error) {
	m := pveVersionRe.FindStringSubmatch(out)
	if m == nil {
		return 0, 0, "", fmt.Errorf("pveversion printed %q, expected pve-manager/<version>", strings.TrimSpace(out))
	}
	major, _ = strconv.Atoi(m[1])
	minor, _ = strconv.Atoi(m[2])
	full = strings.TrimPrefix(m[0], "pve-manager/")
	return major, minor, full, nil
}

type ipAddr struct {
	IfName    string `json:"ifname"`
	OperState string `json:"operstate"`
	Master    string `json:"master"`
	Address   string `json:"address"`
	AddrInfo  []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

type ipRoute struct {
	Dst     string `json:"dst"`
	Gateway string `json:"gateway"`
	Dev     string `json:"dev"`
}

type lsblkDev struct {
	Name       string     `json:"name"`
	Size       any        `json:"size"`
	Type       string     `json:"type"`
	FSType     *string    `json:"fstype"`
	Mountpoint *string    `json:"mountpoint"`
	Model      *string    `json:"model"`
	Children   []lsblkDev `json:"children"`
}

func (d lsblkDev) size() int64 {
	switch v := d.Size.(type) {
	case float64:
		return int64(v)
	case string:
		n, _ := strconv.ParseInt(v, 10, 64)
		return n
	}
	return 0
}

// virtualName reports interface names that are never physical ports.
func virtualName(n string) bool {
	if n == "lo" || n == "lan" || n == "wan" || strings.Contains(n, ".") {
		return true
	}
	for _, p := range []string{"vmbr", "tap", "veth", "fwbr", "fwpr", "fwln", "bond", "vlan", "docker", "virbr"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// ErrNotPVE says the target is not a Proxmox VE node at all: nothing else
// is checked, since every later command (zpool, qm, pvesh) would fail with
// a misleading "not found".
var ErrNotPVE = errors.New("this is not a Proxmox VE 9 node")

// NotPVEError is ErrNotPVE with what was found.
type NotPVEError struct {
	Target string
	Detail string // what was found instead ("pveversion: command not found")
}

func (e *NotPVEError) Error() string {
	return fmt.Sprintf("%s is not a Proxmox VE 9 node (%s): install Proxmox VE 9 on it first, or point --host at a PVE node", e.Target, e.Detail)
}

// Is makes errors.Is(err, ErrNotPVE) true.
func (e *NotPVEError) Is(target error) bool { return target == ErrNotPVE }

// Identify says whether e is a Proxmox VE node and returns its version
// ("9.1.4"). A PVE node identifies itself with `pveversion`, shipped by the
// pve-manager package (proxmox pve-manager: bin/pveversion), which prints
// "pve-manager/<version>/<repoid> (running kernel: …)". A missing command
// (exit 127) or other output is a *NotPVEError (matching ErrNotPVE); a
// transport failure is returned as it is. The major version is not judged
// here (the preflight "pve version" check does, with its fix).
func Identify(ctx context.Context, e exec.Executor) (string, error) {
	out, err := node.Query(ctx, e, "pveversion")
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			d := fmt.Sprintf("pveversion exited %d", ee.Code)
			if ee.Code == 127 {
				d = "pveversion: command not found"
			}
			return "", &NotPVEError{Target: e.Target(), Detail: d}
		}
		return "", fmt.Errorf("run pveversion on %s: %w", e.Target(), err)
	}
	_, _, full, perr := ParsePVEVersion(out)
	if perr != nil {
		return "", &NotPVEError{Target: e.Target(), Detail: perr.Error()}
	}
	return full, nil
}

// Gather reads the node's inventory over e. Read-only. It first makes sure
// e is a PVE node (Identify) and returns its *NotPVEError otherwise.
func Gather(ctx context.Context, e exec.Executor) (*Inventory, error) {
	inv := &Inventory{Addrs: map[string][]string{}}
	ver, err := Identify(ctx, e)
	if err != nil {
		return nil, err
	}
	inv.PVEVersion = ver
	host, err := node.Query(ctx, e, "hostname")
	if err != nil {
		return nil, fmt.Errorf("read hostname: %w", err)
	}
	inv.Hostname = strings.TrimSpace(host)

	out, err := node.Query(ctx, e, "ip -j addr show")
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var links []ipAddr
	if err := json.Unmarshal([]byte(out), &links); err != nil {
		return nil, fmt.Errorf("ip -j addr: unexpected output: %w", err)
	}
	out, err = node.Query(ctx, e, "ip -j route show default")
	if err != nil {
		return nil, fmt.Errorf("read default route: %w", err)
	}
	var routes []ipRoute
	if strings.TrimSpace(out) != "" {
		if err := json.Unmarshal([]byte(out), &routes); err != nil {
			return nil, fmt.Errorf("ip -j route: unexpected output: %w", err)
		}
	}
	for _, r := range routes {
		if r.Dst == "default" || r.Dst == "" {
			inv.DefaultDev, inv.Gateway = r.Dev, r.Gateway
			break
		}
	}
	physical := map[string]bool{}
	if phys, err := node.Query(ctx, e, "ls /sys/class/net"); err == nil {
		for _, n := range strings.Fields(phys) {
			ok, err := node.QueryOK(ctx, e, "test -e "+exec.Quote("/sys/class/net/"+n+"/device"))
			if err != nil {
				return nil, err
			}
			physical[n] = ok
		}
	} else {
		// No sysfs view: fall back to the names of virtual interfaces.
		for _, l := range links {
			physical[l.IfName] = !virtualName(l.IfName)
		}
	}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a.Family == "inet" {
				inv.Addrs[l.IfName] = append(inv.Addrs[l.IfName], fmt.Sprintf("%s/%d", a.Local, a.PrefixLen))
			}
		}
		if !physical[l.IfName] {
			continue
		}
		n := NIC{Name: l.IfName, MAC: l.Address, Up: strings.EqualFold(l.OperState, "up"), Master: l.Master}
		if b, ok, _ := node.ReadFile(ctx, e, "/sys/class/net/"+l.IfName+"/speed"); ok {
			n.Speed, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		n.Upstream = inv.DefaultDev != "" && (n.Name == inv.DefaultDev || n.Master == inv.DefaultDev)
		inv.NICs = append(inv.NICs, n)
	}
	if as := inv.Addrs[inv.DefaultDev]; len(as) > 0 {
		inv.InstallCIDR = as[0]
	}
	// The upstream address survives on wan after the network step.
	if inv.InstallCIDR == "" || strings.HasPrefix(inv.InstallCIDR, "10.0.0.") {
		for _, dev := range []string{"wan", "vmbr0"} {
			if as := inv.Addrs[dev]; len(as) > 0 {
				inv.InstallCIDR = as[0]
				break
			}
		}
	}

	out, err = node.Query(ctx, e, "lsblk -J -b -o NAME,SIZE,TYPE,FSTYPE,MOUNTPOINT,MODEL")
	if err != nil {
		return nil, fmt.Errorf("list disks: %w", err)
	}
	var bl struct {
		Blockdevices []lsblkDev `json:"blockdevices"`
	}
	if err := json.Unmarshal([]byte(out), &bl); err != nil {
		return nil, fmt.Errorf("lsblk -J: unexpected output: %w", err)
	}
	for _, d := range bl.Blockdevices {
		if d.Type != "disk" || strings.HasPrefix(d.Name, "zd") || strings.HasPrefix(d.Name, "loop") {
			continue
		}
		disk := Disk{Name: d.Name, Size: d.size()}
		if d.Model != nil {
			disk.Model = strings.TrimSpace(*d.Model)
		}
		var walk func(x lsblkDev)
		walk = func(x lsblkDev) {
			if x.Mountpoint != nil {
				switch *x.Mountpoint {
				case "/", "/boot", "/boot/efi", "[SWAP]":
					disk.System = true
				}
			}
			if x.FSType != nil && *x.FSType != "" {
				disk.HasData = true
			}
			for _, c := range x.Children {
				disk.HasData = true
				walk(c)
			}
		}
		walk(d)
		inv.Disks = append(inv.Disks, disk)
	}
	out, err = node.Query(ctx, e, byIDScript)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", ByIDDir, err)
	}
	for _, l := range node.Lines(out) {
		id, target, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		for i := range inv.Disks {
			if target == "/dev/"+inv.Disks[i].Name {
				inv.Disks[i].IDs = append(inv.Disks[i].IDs, id)
			}
		}
	}
	for i := range inv.Disks {
		slices.Sort(inv.Disks[i].IDs)
	}
	out, err = node.Query(ctx, e, "zpool list -H -o name")
	if err != nil {
		return nil, fmt.Errorf("list zfs pools: %w", err)
	}
	inv.Pools = node.Lines(out)
	inv.Layouts = map[string]string{}
	for _, p := range inv.Pools {
		st, err := node.Query(ctx, e, "zpool status -P "+exec.Quote(p))
		if err != nil {
			continue
		}
		inv.Layouts[p] = PoolLayout(st)
		for _, l := range node.Lines(st) {
			f := strings.Fields(l)
			if len(f) == 0 || !strings.HasPrefix(f[0], "/dev/") {
				continue
			}
			if i, ok := inv.memberOf(f[0]); ok {
				inv.Disks[i].Pool = p
				inv.Disks[i].HasData = true
			}
		}
	}
	return inv, nil
}
