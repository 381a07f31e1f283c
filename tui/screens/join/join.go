// Package join is the join-node wizard: the existing cluster node, this
// node's address and NIC roles, and its storage.
package join

import (
	"errors"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/screens/wizard"
)

// SubmitMsg carries the completed answers.
type SubmitMsg struct {
	Install      config.Install
	PeerPassword string
}

// Model is the join wizard screen.
type Model struct {
	com           *common.Common
	in            *config.Install
	x             *wizard.Extra
	peerPW        string
	form          *huh.Form
	submitted     bool
	width, height int
}

// Form builds the join form bound to in, x and peerPW.
func Form(in *config.Install, x *wizard.Extra, peerPW *string, det common.Detected, theme huh.Theme) *huh.Form {
	return huh.NewForm(
		huh.NewGroup(
			huh.NewInput().Key("peer").Title("Existing cluster node").
				Description("Address of a node already in the TAPPaaS cluster.").
				Placeholder("e.g. 10.0.0.10").Value(&in.Join.Peer).Validate(config.ValidatePeer),
			huh.NewInput().Key("peerpw").Title("Its root password").EchoMode(huh.EchoModePassword).
				Description("Used once for the join; never stored.").Value(peerPW).
				Validate(ValidatePeerPassword),
		).Title("Cluster"),
		wizard.NodeGroup(in, det),
		wizard.StorageGroup(x, det, true, in.Storage.Pools),
	).WithTheme(theme).WithShowHelp(false).WithShowErrors(false)
}

// New returns the join wizard with defaults from det.
func New(com *common.Common, det common.Detected) *Model {
	in := Defaults(det)
	m := &Model{com: com, in: &in, x: wizard.NewExtra(&in)}
	m.x.KeepPool(det.Pool)
	m.form = Form(m.in, m.x, &m.peerPW, det, wizard.Theme(com.Styles))
	return m
}

// Init implements common.Screen.
func (m *Model) Init() tea.Cmd { return m.form.Init() }

// Title implements common.Screen.
func (m *Model) Title() string { return "Join a cluster" }

// Capturing implements common.Capturer.
func (m *Model) Capturing() bool { return true }

// Input returns the answers so far.
func (m *Model) Input() config.Install {
	return Answers(*m.in, m.x)
}

// Defaults are the join wizard's starting answers: a second node's name
// and address unless detection found others.
func Defaults(det common.Detected) config.Install {
	in := det.Install
	if in.Node.Hostname == "tappaas1" {
		in.Node.Hostname = "tappaas2"
		in.Node.ManagementCIDR = "10.0.0.11/24"
	}
	return in
}

// Answers folds the storage answers into in: no disks, no pool.
func Answers(in config.Install, x *wizard.Extra) config.Install {
	if len(x.Disks) > 0 {
		x.Apply(&in)
	} else {
		in.Storage.Pools = nil
	}
	return in
}

// SetSize implements common.Screen.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.form = m.form.WithWidth(w).WithHeight(max(h-3, 5))
}

// Update implements common.Screen.
func (m *Model) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "esc" && !wizard.FormTakesEsc(m.form) {
		return m, common.GoHomeCmd
	}
	f, cmd := m.form.Update(msg)
	if ff, ok := f.(*huh.Form); ok {
		m.form = ff
	}
	switch m.form.State {
	case huh.StateCompleted:
		if !m.submitted {
			m.submitted = true
			return m, tea.Batch(cmd, common.MsgCmd(SubmitMsg{Install: m.Input(), PeerPassword: m.peerPW}))
		}
	case huh.StateAborted:
		return m, common.GoHomeCmd
	}
	return m, cmd
}

// View implements common.Screen.
func (m *Model) View() string {
	return m.com.Styles.Muted.Render("Add this node to an existing TAPPaaS cluster.") + "\n" +
		common.FieldError(m.com.Styles, m.form, m.width) + "\n" + m.form.View()
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	next := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next"))
	prev := key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "back"))
	cancel := key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))
	return []key.Binding{next, prev, cancel}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// ValidatePeerPassword checks the join peer's root password (the form's and
// accessible mode's rule).
func ValidatePeerPassword(s string) error {
	if s == "" {
		return errors.New("the peer's root password is needed to join")
	}
	return nil
}
