// Package wizard is the install wizard: huh forms grouped by site, node and
// NIC roles, storage, firewall and platform, with back/forward, defaults from
// detection and inline validation.
package wizard

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"

	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/tui/common"
)

// SubmitMsg carries the completed answers.
type SubmitMsg struct{ Install config.Install }

// Model is the wizard screen.
type Model struct {
	com           *common.Common
	in            *config.Install
	x             *Extra
	errs          error
	form          *huh.Form
	submitted     bool
	width, height int
}

// New returns the wizard with defaults from det.
func New(com *common.Common, det common.Detected) *Model {
	in := det.Install
	in.Storage.Pools = append([]config.Pool(nil), in.Storage.Pools...)
	m := &Model{com: com, in: &in, x: NewExtra(&in)}
	m.x.KeepPool(det.Pool)
	m.form = Form(m.in, m.x, det, Theme(com.Styles))
	return m
}

// Input returns the answers so far.
func (m *Model) Input() config.Install {
	in := *m.in
	m.x.Apply(&in)
	return in
}

// Form returns the embedded form (tests).
func (m *Model) Form() *huh.Form { return m.form }

// Init implements common.Screen.
func (m *Model) Init() tea.Cmd { return m.form.Init() }

// Title implements common.Screen.
func (m *Model) Title() string { return "Install" }

// Capturing implements common.Capturer: the form takes every key.
func (m *Model) Capturing() bool { return true }

// SetSize implements common.Screen.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.form = m.form.WithWidth(w).WithHeight(max(h-3, 5))
}

// Update implements common.Screen.
func (m *Model) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "esc" && !FormTakesEsc(m.form) {
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
			in := m.Input()
			// The whole-config check catches what no single field can
			// (e.g. backup pool); it uses the same validators.
			if err := in.Validate(); err != nil {
				m.errs = err
				return m, cmd
			}
			return m, tea.Batch(cmd, common.MsgCmd(SubmitMsg{Install: in}))
		}
	case huh.StateAborted:
		return m, common.GoHomeCmd
	}
	return m, cmd
}

// Section is the index of the current section in Sections.
func (m *Model) Section() int {
	if f := m.form.GetFocusedField(); f != nil {
		return groupOf(f.GetKey())
	}
	return 0
}

// View implements common.Screen.
func (m *Model) View() string {
	st := m.com.Styles
	cur := m.Section()
	var crumbs []string
	for i, s := range Sections {
		switch {
		case i == cur:
			crumbs = append(crumbs, st.Title.Render(s))
		case i < cur:
			crumbs = append(crumbs, st.Text.Render(s))
		default:
			crumbs = append(crumbs, st.Muted.Render(s))
		}
	}
	head := strings.Join(crumbs, st.Muted.Render(" › ")) + "\n" + common.FieldError(st, m.form, m.width) + "\n"
	if m.errs != nil {
		return head + st.Error.Render("The answers are not complete:") + "\n" +
			lipgloss.NewStyle().Width(max(m.width-2, 20)).Render(m.errs.Error()) + "\n\n" +
			st.Muted.Render("Press esc to go back home and start again; the log file has details.")
	}
	return head + m.form.View()
}

// FormTakesEsc reports whether the focused field uses esc itself (closing
// a list filter being typed): then esc is the field's, not "leave the
// wizard".
func FormTakesEsc(f *huh.Form) bool {
	for _, b := range f.KeyBinds() {
		if !b.Enabled() {
			continue
		}
		for _, k := range b.Keys() {
			if k == "esc" {
				return true
			}
		}
	}
	return false
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	next := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next"))
	prev := key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "back"))
	cancel := key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "home"))
	bs := []key.Binding{next, prev}
	for _, b := range m.form.KeyBinds() {
		switch b.Help().Key {
		case "enter", "shift+tab", "tab":
			continue
		}
		bs = append(bs, b)
	}
	if FormTakesEsc(m.form) {
		return bs
	}
	return append(bs, cancel)
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
