// Package config holds tappaas's desired state: what the operator chose in the
// install wizard or wrote in an answers file. One type (Install) is fed by the
// TUI or by TOML answers and validated once, by the same exported field
// validators, so both faces reject the same input with the same words.
//
// Zones live in the sub-package config/zones.
package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
)

// Fixed addresses of a TAPPaaS management network (docs/upstream.md#addresses).
const (
	// MgmtSubnet is the management network, untagged on the lan bridge.
	MgmtSubnet = "10.0.0.0/24"
	// FirewallLANIP is the firewall's LAN address (hard-coded in the
	// firewall config template).
	FirewallLANIP = "10.0.0.1"
	// ClusterName is the PVE cluster name.
	ClusterName = "TAPPaaS"
)

// Default VM IDs (firewall.json, tappaas-nixos.json, tappaas-cicd.json).
const (
	FirewallVMID = 110
	TemplateVMID = 8080
	CICDVMID     = 130
)

// Default image locations (docs/upstream.md#images).
const (
	DefaultFirewallImageURL = "https://github.com/TAPPaaS/TAPPaaS/releases/download/opnsense-firewall-v1.1/tappaas-firewall.qcow2.zst"
	DefaultTemplateImageURL = "https://github.com/TAPPaaS/TAPPaaS/releases/download/nixos-template-v1.2/tappaas-nixos.qcow2.zst"
	DefaultRepoURL          = "https://github.com/TAPPaaS/TAPPaaS.git"
)

// Install is everything the first-node install (and a join) needs to know.
// TOML keys are the `toml` tags; every wizard field has one.
type Install struct {
	Site     Site     `toml:"site"`
	Node     Node     `toml:"node"`
	Storage  Storage  `toml:"storage"`
	Firewall Firewall `toml:"firewall"`
	Platform Platform `toml:"platform"`
	Backup   Backup   `toml:"backup"`
	Zones    Zones    `toml:"zones"`
	Join     Join     `toml:"join"`
}

// Site is about the installation as a whole.
type Site struct {
	// Domain is the public domain (Caddy, certificates), e.g. "example.org".
	Domain string `toml:"domain"`
	// AdminEmail receives certificate and system notices.
	AdminEmail string `toml:"admin_email"`
}

// Node is the PVE node being installed.
type Node struct {
	// Hostname is the short host name: tappaas1 … tappaas9.
	Hostname string `toml:"hostname"`
	// ManagementCIDR is the node's address on the management network
	// (lan bridge), e.g. "10.0.0.10/24". Empty: derived from the hostname
	// (10.0.0.(9+N)/24, docs/upstream.md#addresses).
	ManagementCIDR string `toml:"management_cidr"`
	// Gateway is the upstream router the node uses until the gateway
	// cutover (empty: the node's current default gateway).
	Gateway string `toml:"gateway"`
	// WANAddress is the node's upstream address kept on the wan bridge
	// (CIDR; empty: the address the node has now).
	WANAddress string `toml:"wan_address"`
	// LANNIC is the physical port cabled to the downstream (LAN) switch.
	LANNIC string `toml:"lan_nic"`
	// WANNIC is the physical port cabled to the upstream router.
	WANNIC string `toml:"wan_nic"`
	// AdminNetwork, when set, is a CIDR kept routed via the old gateway
	// after the cutover so the operator is not locked out
	// (docs/upstream.md#lockout).
	AdminNetwork string `toml:"admin_network"`
}

// Storage is the ZFS layout.
type Storage struct {
	// Pools to create (skipped when a pool of that name exists).
	Pools []Pool `toml:"pools"`
	// ConfirmWipe names, one by one, the disks that may be wiped. A chosen
	// disk that holds data and is not named here stops the install.
	ConfirmWipe []string `toml:"confirm_wipe"`
	// VMPool is the pool VMs are created on (default "tanka1").
	VMPool string `toml:"vm_pool"`
}

// Pool is one ZFS pool.
type Pool struct {
	Name string `toml:"name"`
	// Layout is single, stripe, mirror, raidz or raidz2.
	Layout string   `toml:"layout"`
	Disks  []string `toml:"disks"`
}

// Firewall is the OPNsense VM.
type Firewall struct {
	// RootPassword is the OPNsense root password; empty means generate one
	// (shown once, stored 0600 in the secrets file).
	RootPassword string `toml:"root_password"`
	// ImageURL is the prebuilt firewall image (.qcow2 or .qcow2.zst).
	ImageURL string `toml:"image_url"`
	// ImageSHA256 is the image's SHA-256 (hex). Required: nothing unverified
	// is booted.
	ImageSHA256 string `toml:"image_sha256"`
	// VMID of the firewall VM (default 110).
	VMID int `toml:"vmid"`
}

// Platform is the NixOS template and the tappaas-cicd VM.
type Platform struct {
	// Branch of the TAPPaaS repository installed on cicd.
	Branch string `toml:"branch"`
	// RepoURL is the git repository cloned on cicd.
	RepoURL string `toml:"repo_url"`
	// TemplateImageURL and TemplateImageSHA256 are the NixOS template image.
	TemplateImageURL    string `toml:"template_image_url"`
	TemplateImageSHA256 string `toml:"template_image_sha256"`
	// CICDCores, CICDMemoryMB, CICDDiskGB size the tappaas-cicd VM.
	CICDCores    int `toml:"cicd_cores"`
	CICDMemoryMB int `toml:"cicd_memory_mb"`
	CICDDiskGB   int `toml:"cicd_disk_gb"`
}

// Backup is the Proxmox Backup Server installed alongside PVE.
type Backup struct {
	// Enabled installs PBS (default true).
	Enabled *bool `toml:"enabled"`
	// Datastore name (default "tappaas_backup"); also the PVE storage ID.
	Datastore string `toml:"datastore"`
	// Pool holding the datastore (default: the last configured pool).
	Pool string `toml:"pool"`
	// Schedule of the daily backup job, "HH:MM" (default "21:00").
	Schedule string `toml:"schedule"`
}

// Zones points at the zones file pushed to the firewall.
type Zones struct {
	// File is a zones.json path on the operator's machine; empty means the
	// embedded default set.
	File string `toml:"file"`
}

// Join is what a joining node needs.
type Join struct {
	// Peer is an existing cluster member ("10.0.0.10" or a host name).
	Peer string `toml:"peer"`
	// PeerFingerprint is the member's PVE certificate SHA-256 (as PVE
	// prints it). Empty: learned over SSH from the member.
	PeerFingerprint string `toml:"peer_fingerprint"`
}

// BackupEnabled reports whether PBS is installed.
func (i *Install) BackupEnabled() bool { return i.Backup.Enabled == nil || *i.Backup.Enabled }

// Defaults returns an Install with every defaultable field filled.
func Defaults() Install {
	var i Install
	i.ApplyDefaults()
	return i
}

// ApplyDefaults fills empty fields with their defaults. Fields the operator
// set are kept.
func (i *Install) ApplyDefaults() {
	i.Site.Domain = NormalizeDomain(i.Site.Domain)
	if i.Node.Hostname == "" {
		i.Node.Hostname = "tappaas1"
	}
	if i.Node.ManagementCIDR == "" {
		if ip, err := MgmtIPForHostname(i.Node.Hostname); err == nil {
			i.Node.ManagementCIDR = ip.String() + "/24"
		}
	}
	if i.Storage.VMPool == "" {
		i.Storage.VMPool = "tanka1"
	}
	if i.Firewall.ImageURL == "" {
		i.Firewall.ImageURL = DefaultFirewallImageURL
	}
	if i.Firewall.VMID == 0 {
		i.Firewall.VMID = FirewallVMID
	}
	if i.Platform.Branch == "" {
		i.Platform.Branch = "main"
	}
	if i.Platform.RepoURL == "" {
		i.Platform.RepoURL = DefaultRepoURL
	}
	if i.Platform.TemplateImageURL == "" {
		i.Platform.TemplateImageURL = DefaultTemplateImageURL
	}
	if i.Platform.CICDCores == 0 {
		i.Platform.CICDCores = 4
	}
	if i.Platform.CICDMemoryMB == 0 {
		i.Platform.CICDMemoryMB = 16384
	}
	if i.Platform.CICDDiskGB == 0 {
		i.Platform.CICDDiskGB = 32
	}
	if i.Backup.Datastore == "" {
		i.Backup.Datastore = "tappaas_backup"
	}
	if i.Backup.Pool == "" && len(i.Storage.Pools) > 0 {
		i.Backup.Pool = i.Storage.Pools[len(i.Storage.Pools)-1].Name
	}
	if i.Backup.Schedule == "" {
		i.Backup.Schedule = "21:00"
	}
}

var trailingDigits = regexp.MustCompile(`([0-9]+)$`)

// MgmtIPForHostname derives the management address of a node from its
// hostname the way upstream does: tappaasN → 10.0.0.(9+N), no digits → .10,
// N outside 1..9 is refused (docs/upstream.md#addresses).
func MgmtIPForHostname(hostname string) (netip.Addr, error) {
	n := 1
	if m := trailingDigits.FindString(hostname); m != "" {
		v, err := strconv.Atoi(m)
		if err != nil || v < 1 || v > 9 {
			return netip.Addr{}, fmt.Errorf("hostname %q: the node number must be 1..9 (tappaas1 … tappaas9)", hostname)
		}
		n = v
	}
	return netip.AddrFrom4([4]byte{10, 0, 0, byte(9 + n)}), nil
}

// MgmtPrefix returns the node's management address as a prefix. It assumes
// Validate passed.
func (i *Install) MgmtPrefix() netip.Prefix {
	p, _ := netip.ParsePrefix(i.Node.ManagementCIDR)
	return p
}

// PoolNames lists the configured pool names in order.
func (i *Install) PoolNames() []string {
	out := make([]string, 0, len(i.Storage.Pools))
	for _, p := range i.Storage.Pools {
		out = append(out, p.Name)
	}
	return out
}

// PoolByName returns the named pool.
func (i *Install) PoolByName(name string) (Pool, bool) {
	for _, p := range i.Storage.Pools {
		if p.Name == name {
			return p, true
		}
	}
	return Pool{}, false
}

// WipeConfirmed reports whether disk was named in storage.confirm_wipe.
func (i *Install) WipeConfirmed(disk string) bool {
	d := DiskName(disk)
	for _, c := range i.Storage.ConfirmWipe {
		if DiskName(c) == d {
			return true
		}
	}
	return false
}

// DiskName normalises "/dev/sdb" and "sdb" to "sdb" (by-id paths keep their
// last element).
func DiskName(d string) string {
	for i := len(d) - 1; i >= 0; i-- {
		if d[i] == '/' {
			return d[i+1:]
		}
	}
	return d
}
