package config

import (
	"errors"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// FieldError is one invalid value, named by its answers-file key
// ("node.lan_nic", "storage.pools[0].disks").
type FieldError struct {
	Key string
	Err error
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Errors is every problem found at once, in key order of discovery.
type Errors []*FieldError

func (es Errors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems in the answers:", len(es))
	for _, e := range es {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Keys lists the keys that have errors.
func (es Errors) Keys() []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Key
	}
	return out
}

func (es *Errors) add(key string, err error) {
	if err != nil {
		*es = append(*es, &FieldError{Key: key, Err: err})
	}
}

func (es Errors) orNil() error {
	if len(es) == 0 {
		return nil
	}
	return es
}

// ErrRequired is wrapped by validators when a required value is empty.
var ErrRequired = errors.New("required")

func required(what string) error { return fmt.Errorf("%w: %s", ErrRequired, what) }

var (
	labelRe    = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	hostnameRe = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)
	nicRe      = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.:-]{0,14}$`)
	poolRe     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_.:-]{0,63}$`)
	diskRe     = regexp.MustCompile(`^(/dev/)?(disk/by-id/)?[a-zA-Z0-9][a-zA-Z0-9_.:-]{0,127}$`)
	branchRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$`)
	hexRe      = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	timeRe     = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
	fpRe       = regexp.MustCompile(`^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$`)
)

// NormalizeDomain is the domain as certificates and DNS records use it:
// lower case (DNS names are case-insensitive, RFC 4343), no trailing dot.
func NormalizeDomain(s string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
}

// ValidateDomain checks a public DNS domain ("example.org").
func ValidateDomain(s string) error {
	if s == "" {
		return required("a public domain such as example.org")
	}
	if strings.HasPrefix(strings.ToUpper(s), "CHANGE") {
		return fmt.Errorf("%q is a placeholder: give your real domain, e.g. example.org", s)
	}
	if len(s) > 253 {
		return fmt.Errorf("domain is %d characters long; at most 253", len(s))
	}
	labels := strings.Split(strings.ToLower(strings.TrimSuffix(s, ".")), ".")
	if len(labels) < 2 {
		return fmt.Errorf("%q needs at least two labels, e.g. example.org", s)
	}
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return fmt.Errorf("%q: label %q must be 1-63 of a-z, 0-9 and '-', not starting or ending with '-'", s, l)
		}
	}
	return nil
}

// ValidateEmail checks an administrator e-mail address.
func ValidateEmail(s string) error {
	if s == "" {
		return required("an e-mail address you read, e.g. admin@example.org")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return fmt.Errorf("%q is not a plain e-mail address like admin@example.org", s)
	}
	at := strings.LastIndexByte(s, '@')
	if err := ValidateDomain(s[at+1:]); err != nil {
		return fmt.Errorf("%q: the part after @ is not a domain", s)
	}
	return nil
}

// ValidateHostname checks a node's short hostname (tappaas1 … tappaas9).
func ValidateHostname(s string) error {
	if s == "" {
		return required("the node's short hostname, e.g. tappaas1")
	}
	if !hostnameRe.MatchString(s) {
		return fmt.Errorf("%q must be a short lower-case name (a-z, 0-9, '-'), e.g. tappaas1", s)
	}
	_, err := MgmtIPForHostname(s)
	return err
}

// ValidateCIDR checks an address with prefix length ("10.0.0.10/24").
func ValidateCIDR(s string) error {
	if s == "" {
		return required("an IPv4 address with prefix length, e.g. 10.0.0.10/24")
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return fmt.Errorf("%q is not an IPv4 address with prefix length like 10.0.0.10/24", s)
	}
	if p.Bits() < 8 || p.Bits() > 30 {
		return fmt.Errorf("%q: prefix length %d is outside 8..30", s, p.Bits())
	}
	if p.Addr() == p.Masked().Addr() {
		return fmt.Errorf("%q is a network address; give the host's own address, e.g. %s", s, nextAddr(p))
	}
	return nil
}

func nextAddr(p netip.Prefix) string {
	return netip.PrefixFrom(p.Masked().Addr().Next(), p.Bits()).String()
}

// ValidateNetwork checks a network in CIDR form ("192.168.1.0/24").
func ValidateNetwork(s string) error {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return fmt.Errorf("%q is not an IPv4 network like 192.168.1.0/24", s)
	}
	if p.Masked() != p {
		return fmt.Errorf("%q has host bits set; the network is %s", s, p.Masked())
	}
	return nil
}

// ValidateAdminNetwork checks node.admin_network: empty (none), or an IPv4
// network outside the management network.
func ValidateAdminNetwork(s string) error {
	if s == "" {
		return nil
	}
	if err := ValidateNetwork(s); err != nil {
		return err
	}
	if netip.MustParsePrefix(s).Overlaps(netip.MustParsePrefix(MgmtSubnet)) {
		return fmt.Errorf("%q overlaps the management network %s", s, MgmtSubnet)
	}
	return nil
}

// ValidateManagementCIDR checks the node's management address: inside
// 10.0.0.0/24 (the firewall's LAN), not the firewall's own .1.
func ValidateManagementCIDR(s string) error {
	if err := ValidateCIDR(s); err != nil {
		return err
	}
	p := netip.MustParsePrefix(s)
	mgmt := netip.MustParsePrefix(MgmtSubnet)
	if p.Bits() != 24 || !mgmt.Contains(p.Addr()) {
		return fmt.Errorf("%q must be inside the management network %s with prefix /24, e.g. 10.0.0.10/24", s, MgmtSubnet)
	}
	if p.Addr() == netip.MustParseAddr(FirewallLANIP) {
		return fmt.Errorf("%q is the firewall's address; nodes use 10.0.0.10 … 10.0.0.18", s)
	}
	if a := p.Addr().As4(); a[3] >= 100 {
		return fmt.Errorf("%q lies in the firewall's DHCP pool 10.0.0.100-254; nodes use 10.0.0.10 … 10.0.0.18", s)
	}
	return nil
}

// ValidateIP checks a plain IPv4 address.
func ValidateIP(s string) error {
	if s == "" {
		return required("an IPv4 address, e.g. 192.168.1.1")
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return fmt.Errorf("%q is not an IPv4 address like 192.168.1.1", s)
	}
	return nil
}

// ValidateNIC checks a network interface name ("enp1s0").
func ValidateNIC(s string) error {
	if s == "" {
		return required("a physical network port name, e.g. enp1s0 (see `ip link`)")
	}
	if !nicRe.MatchString(s) {
		return fmt.Errorf("%q is not an interface name (letters, digits, '_', '.', '-', at most 15)", s)
	}
	if s == "lo" || s == "lan" || s == "wan" || strings.HasPrefix(s, "vmbr") {
		return fmt.Errorf("%q is not a physical port; name the NIC itself, e.g. enp1s0", s)
	}
	return nil
}

// Pool layouts accepted by the storage step.
var Layouts = []string{"single", "stripe", "mirror", "raidz", "raidz2"}

// ValidatePoolName checks a ZFS pool / PVE storage name.
func ValidatePoolName(s string) error {
	if s == "" {
		return required("a pool name, e.g. tanka1")
	}
	if !poolRe.MatchString(s) {
		return fmt.Errorf("%q must start with a letter and contain only letters, digits, '_', '.', ':', '-'", s)
	}
	switch s {
	case "mirror", "raidz", "raidz1", "raidz2", "raidz3", "spare", "log", "cache", "local", "local-zfs", "local-lvm", "rpool":
		return fmt.Errorf("%q is reserved; choose another name, e.g. tanka1", s)
	}
	return nil
}

// ValidateLayout checks a pool layout for a number of disks.
func ValidateLayout(layout string, disks int) error {
	min := map[string]int{"single": 1, "stripe": 2, "mirror": 2, "raidz": 3, "raidz2": 4}
	n, ok := min[layout]
	if !ok {
		return fmt.Errorf("%q is not a layout; use one of %s", layout, strings.Join(Layouts, ", "))
	}
	if layout == "single" && disks != 1 {
		return fmt.Errorf("layout single takes exactly 1 disk, got %d; use stripe or mirror for more", disks)
	}
	if disks < n {
		return fmt.Errorf("layout %s needs at least %d disks, got %d", layout, n, disks)
	}
	return nil
}

// ValidateDisk checks a disk name ("sdb", "/dev/nvme0n1", "/dev/disk/by-id/…").
func ValidateDisk(s string) error {
	if s == "" {
		return required("a disk name, e.g. sdb")
	}
	if !diskRe.MatchString(s) || strings.Contains(s, "..") {
		return fmt.Errorf("%q is not a disk name like sdb, /dev/nvme0n1 or /dev/disk/by-id/wwn-…", s)
	}
	return nil
}

// ValidatePassword checks a root password given by the operator (empty is
// allowed by callers that generate one).
func ValidatePassword(s string) error {
	if len(s) < 12 {
		return fmt.Errorf("password is %d characters; use at least 12 (or leave empty to generate one)", len(s))
	}
	if strings.ContainsAny(s, "\n\r\x00") {
		return errors.New("password must not contain line breaks or NUL")
	}
	return nil
}

// ValidateImageURL checks an image download URL (http or https).
func ValidateImageURL(s string) error {
	if s == "" {
		return required("an https:// URL of the image")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an http(s) URL", s)
	}
	if !strings.HasSuffix(u.Path, ".qcow2") && !strings.HasSuffix(u.Path, ".qcow2.zst") && !strings.HasSuffix(u.Path, ".img") {
		return fmt.Errorf("%q must name a .qcow2, .qcow2.zst or .img file", s)
	}
	return nil
}

// ValidateSHA256 checks a hex SHA-256 digest.
func ValidateSHA256(s string) error {
	if s == "" {
		return required("the image's SHA-256 (64 hex digits; `sha256sum` prints it)")
	}
	if !hexRe.MatchString(s) {
		return fmt.Errorf("%q is not 64 hex digits", s)
	}
	return nil
}

// ValidateFingerprint checks a TLS fingerprint as PVE prints it (AA:BB:…).
func ValidateFingerprint(s string) error {
	if !fpRe.MatchString(s) {
		return fmt.Errorf("%q is not a SHA-256 fingerprint like AB:CD:…(32 pairs)", s)
	}
	return nil
}

// ValidateBranch checks a git branch name.
func ValidateBranch(s string) error {
	if s == "" {
		return required("a git branch, e.g. main")
	}
	if !branchRe.MatchString(s) || strings.Contains(s, "..") || strings.HasSuffix(s, "/") || strings.HasSuffix(s, ".lock") {
		return fmt.Errorf("%q is not a git branch name", s)
	}
	return nil
}

// ValidateRepoURL checks the git repository URL.
func ValidateRepoURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an https:// git URL", s)
	}
	return nil
}

// ValidateCores checks a vCPU count.
func ValidateCores(n int) error {
	if n < 1 || n > 128 {
		return fmt.Errorf("%d cores: use 1..128 (cicd needs at least 2; 4 is the default)", n)
	}
	return nil
}

// ValidateMemoryMB checks a VM memory size in MiB.
func ValidateMemoryMB(n int) error {
	if n < 2048 || n > 1<<20 {
		return fmt.Errorf("%d MiB: use 2048..1048576 (16384 is the default for cicd)", n)
	}
	return nil
}

// ValidateDiskGB checks a VM disk size in GiB.
func ValidateDiskGB(n int) error {
	if n < 16 || n > 65536 {
		return fmt.Errorf("%d GiB: use 16..65536 (32 is the default for cicd)", n)
	}
	return nil
}

// ValidateDatastore checks a PBS datastore name.
func ValidateDatastore(s string) error {
	if s == "" {
		return required("a datastore name, e.g. tappaas_backup")
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{2,31}$`).MatchString(s) {
		return fmt.Errorf("%q must be 3-32 of letters, digits, '_', '.', '-'", s)
	}
	return nil
}

// ValidateSchedule checks a daily "HH:MM" time.
func ValidateSchedule(s string) error {
	if !timeRe.MatchString(s) {
		return fmt.Errorf("%q is not a time like 21:00", s)
	}
	return nil
}

// ValidatePeer checks a join peer address (IPv4 or host name).
func ValidatePeer(s string) error {
	if s == "" {
		return required("an existing cluster member, e.g. 10.0.0.10")
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	for _, l := range strings.Split(s, ".") {
		if !labelRe.MatchString(l) {
			return fmt.Errorf("%q is neither an IPv4 address nor a host name", s)
		}
	}
	return nil
}

// Validate checks every field and returns Errors (all problems at once) or
// nil. Call ApplyDefaults first.
func (i *Install) Validate() error {
	var es Errors
	es.add("site.domain", ValidateDomain(i.Site.Domain))
	es.add("site.admin_email", ValidateEmail(i.Site.AdminEmail))

	es.add("node.hostname", ValidateHostname(i.Node.Hostname))
	es.add("node.management_cidr", ValidateManagementCIDR(i.Node.ManagementCIDR))
	if i.Node.Gateway != "" {
		es.add("node.gateway", ValidateIP(i.Node.Gateway))
	}
	if i.Node.WANAddress != "" {
		err := ValidateCIDR(i.Node.WANAddress)
		if err == nil {
			p := netip.MustParsePrefix(i.Node.WANAddress)
			// Upstream then mistakes the first node for a secondary one and
			// collides with the firewall LAN (docs/upstream.md#upstream-in-mgmt).
			if p.Overlaps(netip.MustParsePrefix(MgmtSubnet)) {
				err = fmt.Errorf("%q overlaps the management network %s; the upstream network must differ", i.Node.WANAddress, MgmtSubnet)
			}
		}
		es.add("node.wan_address", err)
	}
	es.add("node.lan_nic", ValidateNIC(i.Node.LANNIC))
	es.add("node.wan_nic", ValidateNIC(i.Node.WANNIC))
	if i.Node.LANNIC != "" && i.Node.LANNIC == i.Node.WANNIC {
		es.add("node.wan_nic", fmt.Errorf("%q is also node.lan_nic; lan and wan need two different ports", i.Node.WANNIC))
	}
	if i.Node.AdminNetwork != "" {
		es.add("node.admin_network", ValidateAdminNetwork(i.Node.AdminNetwork))
	}

	i.validateStorage(&es)

	if i.Firewall.RootPassword != "" {
		es.add("firewall.root_password", ValidatePassword(i.Firewall.RootPassword))
	}
	es.add("firewall.image_url", ValidateImageURL(i.Firewall.ImageURL))
	es.add("firewall.image_sha256", ValidateSHA256(i.Firewall.ImageSHA256))
	if i.Firewall.VMID < 100 || i.Firewall.VMID > 999999999 {
		es.add("firewall.vmid", fmt.Errorf("%d is not a VM ID (100..999999999; default 110)", i.Firewall.VMID))
	}

	es.add("platform.branch", ValidateBranch(i.Platform.Branch))
	es.add("platform.repo_url", ValidateRepoURL(i.Platform.RepoURL))
	es.add("platform.template_image_url", ValidateImageURL(i.Platform.TemplateImageURL))
	es.add("platform.template_image_sha256", ValidateSHA256(i.Platform.TemplateImageSHA256))
	es.add("platform.cicd_cores", ValidateCores(i.Platform.CICDCores))
	es.add("platform.cicd_memory_mb", ValidateMemoryMB(i.Platform.CICDMemoryMB))
	es.add("platform.cicd_disk_gb", ValidateDiskGB(i.Platform.CICDDiskGB))

	if i.BackupEnabled() {
		es.add("backup.datastore", ValidateDatastore(i.Backup.Datastore))
		es.add("backup.schedule", ValidateSchedule(i.Backup.Schedule))
		if i.Backup.Pool == "" {
			es.add("backup.pool", required("the pool holding the datastore (one of storage.pools)"))
		} else if _, ok := i.PoolByName(i.Backup.Pool); !ok {
			es.add("backup.pool", fmt.Errorf("%q is not one of storage.pools (%s)", i.Backup.Pool, strings.Join(i.PoolNames(), ", ")))
		}
	}
	if i.Join.Peer != "" {
		es.add("join.peer", ValidatePeer(i.Join.Peer))
	}
	if i.Join.PeerFingerprint != "" {
		es.add("join.peer_fingerprint", ValidateFingerprint(i.Join.PeerFingerprint))
	}
	return es.orNil()
}

func (i *Install) validateStorage(es *Errors) {
	if len(i.Storage.Pools) == 0 {
		es.add("storage.pools", required("at least one pool (the VMs need one; see storage.vm_pool)"))
	}
	seenPool := map[string]bool{}
	seenDisk := map[string]string{}
	for n, p := range i.Storage.Pools {
		key := fmt.Sprintf("storage.pools[%d]", n)
		if err := ValidatePoolName(p.Name); err != nil {
			es.add(key+".name", err)
		} else if seenPool[p.Name] {
			es.add(key+".name", fmt.Errorf("%q is configured twice", p.Name))
		}
		seenPool[p.Name] = true
		es.add(key+".layout", ValidateLayout(p.Layout, len(p.Disks)))
		if len(p.Disks) == 0 {
			es.add(key+".disks", required("the disks of this pool, e.g. [\"sdb\", \"sdc\"]"))
		}
		for _, d := range p.Disks {
			if err := ValidateDisk(d); err != nil {
				es.add(key+".disks", err)
				continue
			}
			if other, dup := seenDisk[DiskName(d)]; dup {
				es.add(key+".disks", fmt.Errorf("disk %q is already used by pool %q", d, other))
			}
			seenDisk[DiskName(d)] = p.Name
		}
	}
	var unknown []string
	for _, d := range i.Storage.ConfirmWipe {
		if err := ValidateDisk(d); err != nil {
			es.add("storage.confirm_wipe", err)
			continue
		}
		if _, ok := seenDisk[DiskName(d)]; !ok {
			unknown = append(unknown, d)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		es.add("storage.confirm_wipe", fmt.Errorf("%s not in any pool; only disks of storage.pools may be named here", strings.Join(unknown, ", ")))
	}
	if i.Storage.VMPool == "" {
		es.add("storage.vm_pool", required("the pool VMs are created on"))
	} else if len(i.Storage.Pools) > 0 {
		if _, ok := i.PoolByName(i.Storage.VMPool); !ok {
			es.add("storage.vm_pool", fmt.Errorf("%q is not one of storage.pools (%s)", i.Storage.VMPool, strings.Join(i.PoolNames(), ", ")))
		}
	}
}
