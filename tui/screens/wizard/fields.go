package wizard

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"charm.land/huh/v2"

	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/tui/common"
)

// NICOptions lists NICs for a role picker: name, MAC, link, speed and which
// one reaches the internet.
func NICOptions(nics []common.NIC) []huh.Option[string] {
	var opts []huh.Option[string]
	for _, n := range nics {
		link := "no link"
		if n.Link {
			link = "link up"
			if n.SpeedMbps > 0 {
				link = fmt.Sprintf("%d Mb/s", n.SpeedMbps)
				if n.SpeedMbps >= 1000 && n.SpeedMbps%1000 == 0 {
					link = fmt.Sprintf("%d Gb/s", n.SpeedMbps/1000)
				}
			}
		}
		label := fmt.Sprintf("%-8s %s  %-9s", n.Name, n.MAC, link)
		if n.Internet {
			label += "  reaches the internet"
		}
		opts = append(opts, huh.NewOption(label, n.Name))
	}
	return opts
}

// HumanSize formats bytes as GB/TB.
func HumanSize(b uint64) string {
	const gb = 1e9
	if float64(b) >= 1000*gb {
		return fmt.Sprintf("%.1f TB", float64(b)/(1000*gb))
	}
	return fmt.Sprintf("%.0f GB", float64(b)/gb)
}

// DiskOptions lists the disks a wizard offers, with size, model and what
// is on them; disks that are not offered are left out (see NotOffered).
func DiskOptions(disks []common.Disk) []huh.Option[string] {
	var opts []huh.Option[string]
	for _, d := range disks {
		if d.NotOffered != "" {
			continue
		}
		label := fmt.Sprintf("%-8s %8s  %s", d.Name, HumanSize(d.SizeBytes), d.Model)
		if d.InUse != "" {
			label += "  ! " + d.InUse
		}
		opts = append(opts, huh.NewOption(label, d.Name))
	}
	return opts
}

// NotOffered says which disks are not offered and why, for the disk
// picker's description ("" when every disk is offered).
func NotOffered(disks []common.Disk) string {
	var out []string
	for _, d := range disks {
		if d.NotOffered != "" {
			out = append(out, d.Name+" ("+d.NotOffered+")")
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "Not offered: " + strings.Join(out, ", ") + "."
}

func inUse(disks []common.Disk, chosen []string) []string {
	var out []string
	for _, d := range disks {
		if d.InUse != "" && slices.Contains(chosen, d.Name) {
			out = append(out, d.Name+" ("+d.InUse+")")
		}
	}
	return out
}

// Sizes are the tappaas-cicd presets offered by the wizard.
var Sizes = map[string][3]int{ // cores, memory MB, disk GB
	"small":  {2, 8192, 32},
	"medium": {4, 16384, 32},
	"large":  {8, 32768, 64},
}

// SizeOptions lists the tappaas-cicd presets for a picker.
func SizeOptions() []huh.Option[string] {
	return []huh.Option[string]{huh.NewOption("small  (2 cores, 8 GB RAM, 32 GB disk)", "small"),
		huh.NewOption("medium (4 cores, 16 GB RAM, 32 GB disk)", "medium"),
		huh.NewOption("large  (8 cores, 32 GB RAM, 64 GB disk)", "large")}
}

// LayoutOptions lists the pool layouts for a picker.
func LayoutOptions() []huh.Option[string] {
	return []huh.Option[string]{huh.NewOption("single disk", "single"), huh.NewOption("stripe (no redundancy)", "stripe"),
		huh.NewOption("mirror (2+ disks)", "mirror"), huh.NewOption("raidz (3+ disks)", "raidz"),
		huh.NewOption("raidz2 (4+ disks)", "raidz2")}
}

// Extra holds wizard answers that are not fields of config.Install as such
// (they are folded into it by Apply).
type Extra struct {
	// Existing is the install's pool when it exists on the node: kept
	// as it is (no disk picker, no wipe).
	Existing *config.Pool
	Keep     string
	Disks    []string
	Layout   string
	Wipe     string
	Generate bool
	Repeat   string
	Size     string
}

// NewExtra derives the wizard's extra answers from defaults.
func NewExtra(in *config.Install) *Extra {
	x := &Extra{Layout: "single", Generate: in.Firewall.RootPassword == "", Size: "medium"}
	if len(in.Storage.Pools) > 0 {
		x.Disks = append(x.Disks, in.Storage.Pools[0].Disks...)
		x.Layout = in.Storage.Pools[0].Layout
	}
	for name, s := range Sizes {
		if s[0] == in.Platform.CICDCores && s[1] == in.Platform.CICDMemoryMB {
			x.Size = name
		}
	}
	return x
}

// Keep starts the answers from the pool that exists on the node (its real
// layout and disks) instead of the earlier answers.
func (x *Extra) KeepPool(p *config.Pool) {
	if p == nil {
		return
	}
	x.Existing = p
	x.Disks = append([]string(nil), p.Disks...)
	x.Layout = p.Layout
}

// Apply folds the extra answers into in.
func (x *Extra) Apply(in *config.Install) {
	in.Site.Domain = config.NormalizeDomain(in.Site.Domain)
	name := in.Storage.VMPool
	if name == "" {
		name = "tanka1"
	}
	if x.Existing != nil {
		name = x.Existing.Name
	}
	in.Storage.Pools = []config.Pool{{Name: name, Layout: x.Layout, Disks: append([]string(nil), x.Disks...)}}
	in.Storage.ConfirmWipe = append([]string(nil), x.Disks...)
	if x.Existing != nil {
		in.Storage.ConfirmWipe = nil // nothing is erased
	}
	if in.BackupEnabled() {
		in.Backup.Pool = name
	}
	if x.Generate {
		in.Firewall.RootPassword = ""
	}
	if s, ok := Sizes[x.Size]; ok {
		in.Platform.CICDCores, in.Platform.CICDMemoryMB, in.Platform.CICDDiskGB = s[0], s[1], s[2]
	}
}

// StorageGroup is the disk picker, pool layout and typed wipe confirmation,
// shared by the install and join wizards. optional allows no disks. When
// the install's pool exists on the node it is kept as it is: the group says
// so (and how the earlier answers differ) instead of asking.
func StorageGroup(x *Extra, det common.Detected, optional bool, asked []config.Pool) *huh.Group {
	if p := x.Existing; p != nil {
		desc := fmt.Sprintf("It is kept as it is and nothing is erased: tappaas never reshapes or destroys a pool. "+
			"For other disks or another layout, destroy it by hand first (zpool destroy %s) and open the wizard again.", p.Name)
		for _, a := range asked {
			if a.Name == p.Name && (a.Layout != p.Layout || !sameDisks(a.Disks, p.Disks)) {
				desc = fmt.Sprintf("Your earlier answers asked for %s on %s; the node has %s on %s. ",
					a.Layout, strings.Join(a.Disks, ", "), p.Layout, strings.Join(p.Disks, ", ")) + desc
			}
		}
		return huh.NewGroup(
			huh.NewSelect[string]().Key("keeppool").
				Title(fmt.Sprintf("Storage pool %s exists: %s on %s", p.Name, p.Layout, strings.Join(p.Disks, ", "))).
				Description(desc).
				Options(huh.NewOption("Keep "+p.Name+" as it is", "keep")).Value(&x.Keep),
		).Title("Storage")
	}
	return huh.NewGroup(
		huh.NewMultiSelect[string]().Key("disks").Title("Disks for the storage pool").
			Description(strings.TrimSpace("Everything on the chosen disks will be erased. "+NotOffered(det.Disks))).
			Options(DiskOptions(det.Disks)...).Value(&x.Disks).Height(len(det.Disks)+2).
			Validate(DisksValidator(optional)),
		huh.NewSelect[string]().Key("layout").Title("Pool layout").Inline(true).
			Options(LayoutOptions()...).
			Value(&x.Layout).
			Validate(x.LayoutValidator(optional)),
		huh.NewInput().Key("wipe").
			TitleFunc(func() string {
				if len(x.Disks) == 0 {
					return "No disks chosen: nothing will be wiped (press enter)"
				}
				return "Type " + common.WipeWord(x.Disks) + " to confirm"
			}, &x.Disks).
			DescriptionFunc(func() string {
				if u := inUse(det.Disks, x.Disks); len(u) > 0 {
					return "WARNING, in use: " + strings.Join(u, ", ")
				}
				return "This erases the chosen disks."
			}, &x.Disks).
			Value(&x.Wipe).
			Validate(x.ValidateWipe),
	).Title("Storage")
}

// The wizards' validators beyond config's single-field ones, shared by the
// forms and accessible mode (tui/accessible.go): one copy of each rule.

// DisksValidator checks a disk choice; optional allows none (join).
func DisksValidator(optional bool) func([]string) error {
	return func(d []string) error {
		if len(d) == 0 && !optional {
			return errors.New("choose at least one disk: the VMs need a pool")
		}
		for _, n := range d {
			if err := config.ValidateDisk(n); err != nil {
				return err
			}
		}
		return nil
	}
}

// LayoutValidator checks a pool layout against the chosen disks.
func (x *Extra) LayoutValidator(optional bool) func(string) error {
	return func(l string) error {
		if len(x.Disks) == 0 && optional {
			return nil
		}
		return config.ValidateLayout(l, len(x.Disks))
	}
}

// ValidateWipe checks the typed wipe confirmation for the chosen disks.
func (x *Extra) ValidateWipe(s string) error {
	if len(x.Disks) > 0 && strings.TrimSpace(s) != common.WipeWord(x.Disks) {
		return fmt.Errorf("type exactly: %s", common.WipeWord(x.Disks))
	}
	return nil
}

// LANValidator checks the LAN port: a NIC name other than the WAN port.
func LANValidator(in *config.Install) func(string) error {
	return func(s string) error {
		if err := config.ValidateNIC(s); err != nil {
			return err
		}
		if s == in.Node.WANNIC {
			return errors.New("LAN and WAN must be different ports")
		}
		return nil
	}
}

// ValidatePassword checks a typed firewall root password (none is needed
// when one is generated).
func (x *Extra) ValidatePassword(s string) error {
	if x.Generate {
		return nil
	}
	return config.ValidatePassword(s)
}

// RepeatValidator checks the repeated firewall root password.
func (x *Extra) RepeatValidator(in *config.Install) func(string) error {
	return func(s string) error {
		if !x.Generate && s != in.Firewall.RootPassword {
			return errors.New("the passwords differ")
		}
		return nil
	}
}

// NodeGroup is hostname, management address and the NIC role pickers; over
// --host also the admin network that keeps the operator's session alive
// through the gateway cutover.
func NodeGroup(in *config.Install, det common.Detected) *huh.Group {
	fields := []huh.Field{
		huh.NewInput().Key("hostname").Title("Hostname").Value(&in.Node.Hostname).Validate(config.ValidateHostname),
		huh.NewInput().Key("mgmtip").Title("Management address").
			Description("On the lan bridge, in 10.0.0.0/24.").Value(&in.Node.ManagementCIDR).
			Validate(config.ValidateManagementCIDR),
		huh.NewSelect[string]().Key("wan").Title("WAN port (to your router)").
			Options(NICOptions(det.NICs)...).Value(&in.Node.WANNIC).Validate(config.ValidateNIC),
		huh.NewSelect[string]().Key("lan").Title("LAN port (trunk to your switch)").
			Options(NICOptions(det.NICs)...).Value(&in.Node.LANNIC).
			Validate(LANValidator(in)),
	}
	if det.OperatorAddr != "" {
		fields = append(fields, huh.NewInput().Key("admin").Title("Admin network (kept reachable after the cutover)").
			Description("You connect from "+det.OperatorAddr+". Once the firewall is the node's gateway, this network\nstays routed via your router, so your session survives. Empty: none.").
			Value(&in.Node.AdminNetwork).Validate(config.ValidateAdminNetwork))
	}
	return huh.NewGroup(fields...).Title("Node")
}

// Form builds the install wizard's form bound to in and x. The same form
// runs embedded in the TUI; accessible mode asks the same questions with
// the same validators (tui/accessible.go).
func Form(in *config.Install, x *Extra, det common.Detected, theme huh.Theme) *huh.Form {
	site := huh.NewGroup(
		huh.NewInput().Key("domain").Title("Public domain").
			Description("Your services will be reachable under this domain.").
			Placeholder("e.g. example.org").Value(&in.Site.Domain).Validate(config.ValidateDomain),
		huh.NewInput().Key("email").Title("Administrator e-mail").
			Description("Used for certificates and alerts.").
			Placeholder("e.g. admin@example.org").Value(&in.Site.AdminEmail).Validate(config.ValidateEmail),
	).Title("Site")

	firewall := huh.NewGroup(
		huh.NewNote().Title("Firewall (OPNsense)").
			Description("The firewall's API key is always generated and stored 0600 on the node."),
		huh.NewConfirm().Key("genpw").Title("Root password").
			Affirmative("Generate one").Negative("I will type one").Value(&x.Generate),
	).Title("Firewall")

	fwpw := huh.NewGroup(
		huh.NewInput().Key("fwpw").Title("Firewall root password").EchoMode(huh.EchoModePassword).
			Description("At least 12 characters.").Value(&in.Firewall.RootPassword).
			Validate(x.ValidatePassword),
		huh.NewInput().Key("fwpw2").Title("Repeat the password").EchoMode(huh.EchoModePassword).
			Value(&x.Repeat).Validate(x.RepeatValidator(in)),
	).Title("Firewall password").WithHideFunc(func() bool { return x.Generate })

	var pf []huh.Field
	if note := ImagesNote(det.Images); note != "" {
		// A note takes no focus: the keys through the wizard stay the same.
		pf = append(pf, huh.NewNote().Title("Image checksums (verified after download)").Description(note))
	}
	pf = append(pf,
		huh.NewInput().Key("branch").Title("TAPPaaS branch").Value(&in.Platform.Branch).Validate(config.ValidateBranch),
		huh.NewSelect[string]().Key("cicd").Title("tappaas-cicd size").
			Options(SizeOptions()...).
			Value(&x.Size))
	platform := huh.NewGroup(pf...).Title("Platform")

	// Image checksums: nothing unverified is booted. Asked only when the
	// backend found none published (see det.Images for why).
	groups := []*huh.Group{site, NodeGroup(in, det), StorageGroup(x, det, false, in.Storage.Pools), firewall, fwpw, platform}
	if in.Firewall.ImageSHA256 == "" || in.Platform.TemplateImageSHA256 == "" {
		groups = append(groups, huh.NewGroup(
			huh.NewInput().Key("fwsha").Title("SHA-256 of the firewall image").
				Description(sumHint(det.Images, 0, in.Firewall.ImageURL)).Value(&in.Firewall.ImageSHA256).Validate(config.ValidateSHA256),
			huh.NewInput().Key("tplsha").Title("SHA-256 of the NixOS template image").
				Description(sumHint(det.Images, 1, in.Platform.TemplateImageURL)).Value(&in.Platform.TemplateImageSHA256).Validate(config.ValidateSHA256),
		).Title("Images"))
	}
	return huh.NewForm(groups...).
		WithTheme(theme).WithShowHelp(false).WithShowErrors(false)
}

// ImagesNote says, per image, which checksum will be verified and where it
// came from ("" when nothing is known yet).
func ImagesNote(imgs []common.ImageSum) string {
	var ls []string
	for _, im := range imgs {
		if im.SHA256 == "" {
			continue
		}
		ls = append(ls, fmt.Sprintf("%s: sha256 %s…%s\n  from %s", im.What, im.SHA256[:min(12, len(im.SHA256))], im.SHA256[max(len(im.SHA256)-4, 0):], im.Source))
	}
	if len(ls) == 0 {
		return ""
	}
	return strings.Join(ls, "\n") + "\nTo verify against other values: tappaas install --answers FILE with\nimage_sha256 / template_image_sha256."
}

// sumHint is the description under a checksum the wizard asks for: the URL
// and why nothing published was found.
func sumHint(imgs []common.ImageSum, i int, url string) string {
	d := url
	if i < len(imgs) && imgs[i].SHA256 == "" && imgs[i].Source != "" {
		d += "\nNot taken from the publisher: " + imgs[i].Source + "." +
			"\nPaste the sha256 its publisher lists next to the download."
	}
	return d
}

// groupOf maps a field key to its wizard section.
func groupOf(key string) int {
	switch key {
	case "domain", "email":
		return 0
	case "hostname", "mgmtip", "wan", "lan", "admin":
		return 1
	case "disks", "layout", "wipe", "keeppool":
		return 2
	case "genpw", "fwpw", "fwpw2", "":
		return 3
	}
	return 4
}

// Sections are the wizard's steps, shown as breadcrumbs.
var Sections = []string{"Site", "Node", "Storage", "Firewall", "Platform"}

// sameDisks reports whether a and b name the same disks ("/dev/sdb" = "sdb").
func sameDisks(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, config.DiskName(x)) {
			return false
		}
	}
	return true
}
