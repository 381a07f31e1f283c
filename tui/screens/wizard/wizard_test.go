package wizard

import (
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

type host struct {
	s   *Model
	got []SubmitMsg
}

func (h *host) Init() tea.Cmd  { return h.s.Init() }
func (h *host) View() tea.View { return tea.NewView(h.s.View()) }
func (h *host) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		h.s.SetSize(msg.Width, msg.Height)
	case SubmitMsg:
		h.got = append(h.got, msg)
		return h, nil
	}
	s, cmd := h.s.Update(msg)
	h.s = s.(*Model)
	return h, cmd
}

func detected() common.Detected {
	in := config.Defaults()
	in.Node.WANNIC, in.Node.LANNIC = "enp1s0", "enp2s0"
	in.Storage.Pools = []config.Pool{{Name: "tanka1", Layout: "single", Disks: []string{"sdb"}}}
	return common.Detected{Install: in,
		NICs:  []common.NIC{{Name: "enp1s0", MAC: "aa", Link: true, Internet: true}, {Name: "enp2s0", MAC: "bb", Link: true}},
		Disks: []common.Disk{{Name: "sdb", SizeBytes: 1e12}}}
}

// The image checksums are asked only when detection could not fill them,
// validated by config.ValidateSHA256; the answers are submitted as a valid
// config.Install.
func TestWizardAsksForMissingChecksums(t *testing.T) {
	t.Parallel()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	h := &host{s: New(com, detected())}
	d := tuitest.NewDriver(t, h, 80, 21)
	d.Type("example.org")
	d.Key("enter")
	d.Type("admin@example.org")
	for i := 0; i < 7; i++ { // email, hostname, mgmt, wan, lan, disks, layout
		d.Key("enter")
	}
	d.Type("WIPE sdb")
	d.Key("enter")
	d.Key("left") // "I will type one"
	d.Key("enter")
	d.Type("correct horse battery")
	d.Key("enter")
	d.Type("correct horse battery")
	d.Key("enter")
	d.Key("enter") // branch
	d.Key("enter") // size
	if !strings.Contains(h.s.View(), "SHA-256 of the firewall image") {
		t.Fatalf("checksums not asked:\n%s", tuitest.Plain(h.s.View()))
	}
	d.Type("nothex")
	d.Key("enter")
	if v := tuitest.Plain(h.s.View()); !strings.Contains(v, "64 hex digits") {
		t.Errorf("bad checksum not rejected inline:\n%s", v)
	}
	for i := 0; i < 6; i++ {
		d.Key("backspace")
	}
	d.Type(strings.Repeat("ab", 32))
	d.Key("enter")
	d.Type(strings.Repeat("cd", 32))
	d.Key("enter")
	if !d.WaitFor(func() bool { return len(h.got) == 1 }, 2*time.Second) {
		t.Fatalf("not submitted:\n%s", tuitest.Plain(h.s.View()))
	}
	in := h.got[0].Install
	if err := in.Validate(); err != nil {
		t.Errorf("submitted answers do not validate: %v", err)
	}
	if in.Firewall.RootPassword != "correct horse battery" || in.Storage.ConfirmWipe[0] != "sdb" || in.Platform.CICDCores != 4 {
		t.Errorf("answers: pw=%q wipe=%v cores=%d", in.Firewall.RootPassword, in.Storage.ConfirmWipe, in.Platform.CICDCores)
	}
}

// Over --host the wizard asks for node.admin_network, offering the
// operator's address; at the console it does not ask.
func TestWizardAsksAdminNetworkOverHost(t *testing.T) {
	t.Parallel()
	det := detected()
	det.OperatorAddr = "192.168.1.50"
	det.Install.Node.AdminNetwork = "192.168.1.50/32" // the backend's default
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	h := &host{s: New(com, det)}
	d := tuitest.NewDriver(t, h, 100, 30)
	d.Type("example.org")
	d.Key("enter")
	d.Type("admin@example.org")
	for i := 0; i < 5; i++ { // email, hostname, mgmt, wan, lan
		d.Key("enter")
	}
	v := tuitest.Plain(h.s.View())
	if !strings.Contains(v, "Admin network") || !strings.Contains(v, "You connect from 192.168.1.50") || !strings.Contains(v, "192.168.1.50/32") {
		t.Fatalf("admin network not asked with the operator's address as default:\n%s", v)
	}
	for range len("192.168.1.50/32") {
		d.Key("backspace")
	}
	d.Type("10.0.0.0/16")
	d.Key("enter")
	if v := tuitest.Plain(h.s.View()); !strings.Contains(v, "overlaps the management network") {
		t.Fatalf("an admin network overlapping 10.0.0.0/24 must be refused inline:\n%s", v)
	}
}

// An empty field's placeholder must not read as a filled value: it starts
// with "e.g." and is drawn italic (dim in colour, faint without), unlike the
// typed value that replaces it.
func TestWizardPlaceholderIsNotAValue(t *testing.T) {
	t.Parallel()
	italic := regexp.MustCompile(`\x1b\[[0-9;:]*\b3(;[0-9;:]*)?m[^\x1b]*xample\.org`)
	for _, p := range []colorprofile.Profile{colorprofile.ANSI256, colorprofile.NoTTY} {
		com := common.New(styles.ForProfile(p), nil, nil)
		h := &host{s: New(com, detected())}
		d := tuitest.NewDriver(t, h, 80, 21)
		d.Settle()
		raw := h.s.View()
		v := tuitest.Plain(raw)
		if !strings.Contains(v, "> e.g. example.org") || !strings.Contains(v, "> e.g. admin@example.org") {
			t.Errorf("%v: placeholders should start with e.g.:\n%s", p, v)
		}
		if !italic.MatchString(raw) {
			t.Errorf("%v: the placeholder is not drawn italic: %q", p, raw)
		}
		d.Type("mylab.example.net")
		raw = h.s.View()
		if v := tuitest.Plain(raw); !strings.Contains(v, "> mylab.example.net") || strings.Contains(v, "e.g. example.org") {
			t.Errorf("%v: the typed value should replace the placeholder:\n%s", p, v)
		}
	}
}

// walkToPlatform fills the wizard up to the Platform page (generated root
// password).
func walkToPlatform(d *tuitest.Driver) {
	d.Type("example.org")
	d.Key("enter")
	d.Type("admin@example.org")
	for i := 0; i < 7; i++ { // email, hostname, mgmt, wan, lan, disks, layout
		d.Key("enter")
	}
	d.Type("WIPE sdb")
	d.Key("enter")
	d.Key("enter") // generate the root password
}

// Published checksums are shown on the Platform page with where they were
// read; nothing is pasted, and the keys through the wizard stay the same.
func TestWizardShowsPublishedChecksumsWithTheirSource(t *testing.T) {
	t.Parallel()
	det := detected()
	fw, tpl := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	det.Install.Firewall.ImageSHA256, det.Install.Platform.TemplateImageSHA256 = fw, tpl
	det.Images = []common.ImageSum{
		{What: "firewall image", URL: det.Install.Firewall.ImageURL, SHA256: fw, Source: "GitHub release opnsense-firewall-v1.1 of TAPPaaS/TAPPaaS, asset digest"},
		{What: "NixOS template image", URL: det.Install.Platform.TemplateImageURL, SHA256: tpl, Source: "GitHub release nixos-template-v1.2 of TAPPaaS/TAPPaaS, asset digest"},
	}
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	h := &host{s: New(com, det)}
	d := tuitest.NewDriver(t, h, 80, 30)
	walkToPlatform(d)
	v := tuitest.Plain(h.s.View())
	for _, want := range []string{"firewall image: sha256 abababababab…abab", "from GitHub release opnsense-firewall-v1.1 of TAPPaaS/TAPPaaS", "NixOS template image: sha256 cdcdcdcdcdcd…cdcd"} {
		if !strings.Contains(v, want) {
			t.Errorf("platform page lacks %q:\n%s", want, v)
		}
	}
	d.Key("enter") // branch
	d.Key("enter") // size: the last question
	if !d.WaitFor(func() bool { return len(h.got) == 1 }, 2*time.Second) {
		t.Fatalf("not submitted after the platform page:\n%s", tuitest.Plain(h.s.View()))
	}
	if in := h.got[0].Install; in.Firewall.ImageSHA256 != fw || in.Platform.TemplateImageSHA256 != tpl {
		t.Errorf("submitted checksums %q %q", in.Firewall.ImageSHA256, in.Platform.TemplateImageSHA256)
	}
}

// When nothing is published the Images page says why and what to paste.
func TestWizardSaysWhyAChecksumIsAsked(t *testing.T) {
	t.Parallel()
	det := detected()
	det.Images = []common.ImageSum{
		{What: "firewall image", URL: det.Install.Firewall.ImageURL, Source: `no published checksum: GitHub has no release "opnsense-firewall-v1.1" in TAPPaaS/TAPPaaS`},
		{What: "NixOS template image", URL: det.Install.Platform.TemplateImageURL, Source: "no published checksum: x"},
	}
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	h := &host{s: New(com, det)}
	d := tuitest.NewDriver(t, h, 100, 30)
	walkToPlatform(d)
	d.Key("enter")
	d.Key("enter")
	v := tuitest.Plain(h.s.View())
	v = strings.NewReplacer("\n┃ ", "", "\n", "").Replace(v) // undo the wrapping
	if !strings.Contains(v, "SHA-256 of the firewall image") || !strings.Contains(v, `GitHub has no release "opnsense-firewall-v1.1"`) || !strings.Contains(v, "Paste the sha256") {
		t.Errorf("images page does not say why:\n%s", v)
	}
}

// TestWizardLowercasesDomain: an upper-case domain is submitted in lower
// case (certificates and DNS records use it so).
func TestWizardLowercasesDomain(t *testing.T) {
	t.Parallel()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	h := &host{s: New(com, detected())}
	d := tuitest.NewDriver(t, h, 80, 21)
	d.Type("Example.ORG")
	d.Key("enter")
	if got := h.s.Input().Site.Domain; got != "example.org" {
		t.Errorf("domain %q, want example.org", got)
	}
}
