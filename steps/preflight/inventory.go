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
}

// Inventory is what the node has.
type Inventory struct {
	Hostname    string   `json:"hostname"`
	PVEVersion  string   `json:"pve_version"`
	NICs        []NIC    `json:"nics"`
	Disks       []Disk   `json:"disks"`
	Pools       []string `json:"pools"`
	DefaultDev  string   `json:"default_dev"`
	Gateway     string   `json:"gateway"`
	InstallCIDR string   `json:"install_cidr"` // the address on the default-route interface
	// Addrs maps interface → IPv4 CIDRs.
	Addrs map[string][]string `json:"addrs"`
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
	out, err = node.Query(ctx, e, "zpool list -H -o name")
	if err != nil {
		return nil, fmt.Errorf("list zfs pools: %w", err)
	}
	inv.Pools = node.Lines(out)
	for _, p := range inv.Pools {
		st, err := node.Query(ctx, e, "zpool status -P "+exec.Quote(p))
		if err != nil {
			continue
		}
		for i := range inv.Disks {
			if strings.Contains(st, "/dev/"+inv.Disks[i].Name+" ") || strings.Contains(st, "/dev/"+inv.Disks[i].Name+"\t") ||
				strings.Contains(st, "/dev/"+inv.Disks[i].Name+"\n") || strings.Contains(st, "/dev/"+inv.Disks[i].Name+"1") {
				inv.Disks[i].Pool = p
				inv.Disks[i].HasData = true
			}
		}
	}
	return inv, nil
}
