// Package zones is the zone editor screen: a table of the zones of
// zones.json, an add/edit form validated inline by config/zones' own
// validators, the access matrix, the firewall plan diff and apply with
// confirmation. All IO (save, plan, apply) runs in Cmds through the injected
// Deps; Update only changes state.
package zones

import (
	"context"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/tui/common"
)

// Deps are the screen's side effects, injected by the app.
type Deps struct {
	// Path is where Save writes zones.json.
	Path string
	// Save writes f to path; nil means f.WriteFileAtomic (temp file +
	// rename, refused when invalid).
	Save func(path string, f *cz.File) error
	// Plan reads the firewall and plans f against it; nil disables plan and
	// apply ("no firewall configured").
	Plan func(ctx context.Context, f *cz.File) (*cz.Changes, error)
	// Apply applies a plan, reporting progress lines.
	Apply func(ctx context.Context, ch *cz.Changes, out func(string)) error
}

// SavedMsg reports the end of a save.
type SavedMsg struct{ Err error }

// PlanMsg carries a computed plan.
type PlanMsg struct {
	Changes *cz.Changes
	Err     error
}

// AppliedMsg reports the end of an apply with its progress lines.
type AppliedMsg struct {
	Lines []string
	Err   error
}

type mode int

const (
	modeTable mode = iota
	modeForm
	modeMatrix
	modePlan
	modeConfirmDelete
	modeConfirmApply
	modeBusy
)

// Model is the zone editor.
type Model struct {
	com  *common.Common
	deps Deps
	file *cz.File
	rep  cz.Report

	mode          mode
	sel, top      int
	width, height int
	dirty         bool
	confirmLeave  bool
	status        string
	statusErr     bool

	// form state
	form     *huh.Form
	fv       *formValues
	editing  string // zone being edited ("" = new)
	formErrs []cz.Issue

	// plan state
	plan      *cz.Changes
	planTop   int
	applyLog  []string
	applied   bool
	busyLabel string
}

// New returns the editor for f (edited in place; Save writes it).
func New(com *common.Common, f *cz.File, d Deps) *Model {
	m := &Model{com: com, deps: d, file: f}
	m.revalidate()
	return m
}

// File returns the zones being edited.
func (m *Model) File() *cz.File { return m.file }

func (m *Model) revalidate() { m.rep = m.file.Validate() }

// Init implements common.Screen.
func (m *Model) Init() tea.Cmd { return nil }

// Title implements common.Screen.
func (m *Model) Title() string { return "Zones" }

// Capturing implements common.Capturer: the form takes every key.
func (m *Model) Capturing() bool { return m.mode == modeForm }

// SetSize implements common.Screen.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	if m.form != nil {
		m.form = m.form.WithWidth(w).WithHeight(max(h-4, 6))
	}
}

func (m *Model) setStatus(err bool, format string, a ...any) {
	m.status, m.statusErr = fmt.Sprintf(format, a...), err
}

// Update implements common.Screen.
func (m *Model) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case SavedMsg:
		m.mode = modeTable
		if msg.Err != nil {
			m.setStatus(true, "not saved: %v", msg.Err)
		} else {
			m.dirty = false
			m.setStatus(false, "saved %s", m.deps.Path)
		}
		return m, nil
	case PlanMsg:
		if msg.Err != nil {
			m.mode = modeTable
			m.setStatus(true, "plan failed: %v", msg.Err)
			return m, nil
		}
		m.mode, m.plan, m.planTop, m.applyLog, m.applied = modePlan, msg.Changes, 0, nil, false
		return m, nil
	case AppliedMsg:
		m.mode, m.applyLog, m.applied = modePlan, msg.Lines, msg.Err == nil
		if msg.Err != nil {
			m.setStatus(true, "apply failed: %v", msg.Err)
		} else {
			m.setStatus(false, "applied %d change(s); press p to plan again", len(m.plan.Changes))
		}
		return m, nil
	}
	if m.mode == modeForm {
		return m.updateForm(msg)
	}
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	switch m.mode {
	case modeTable:
		return m.updateTable(k)
	case modeMatrix:
		if k.String() == "esc" || k.String() == "m" {
			m.mode = modeTable
		}
	case modePlan:
		return m.updatePlan(k)
	case modeConfirmDelete:
		if k.String() == "y" {
			m.deleteSelected()
		}
		m.mode = modeTable
	case modeConfirmApply:
		if k.String() == "y" && m.deps.Apply != nil {
			m.mode, m.busyLabel = modeBusy, "applying to the firewall…"
			return m, applyCmd(m.deps.Apply, m.plan)
		}
		m.mode = modePlan
	}
	return m, nil
}

var (
	keyAdd    = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "add"))
	keyEdit   = key.NewBinding(key.WithKeys("e", "enter"), key.WithHelp("e/enter", "edit"))
	keyDelete = key.NewBinding(key.WithKeys("d", "delete"), key.WithHelp("d", "delete"))
	keyMatrix = key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "access matrix"))
	keyPlan   = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "plan"))
	keySave   = key.NewBinding(key.WithKeys("s", "ctrl+s"), key.WithHelp("s", "save"))
	keyApply  = key.NewBinding(key.WithKeys("A"), key.WithHelp("A", "apply"))
	keyBack   = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))
)

func (m *Model) updateTable(k tea.KeyPressMsg) (common.Screen, tea.Cmd) {
	km := m.com.Keys.List
	n := len(m.file.Zones)
	if k.String() != "esc" {
		m.confirmLeave = false
	}
	switch {
	case key.Matches(k, km.Up):
		if n > 0 {
			m.sel = (m.sel + n - 1) % n
		}
	case key.Matches(k, km.Down):
		if n > 0 {
			m.sel = (m.sel + 1) % n
		}
	case key.Matches(k, km.Top):
		m.sel = 0
	case key.Matches(k, km.Bottom):
		m.sel = max(n-1, 0)
	case key.Matches(k, keyAdd):
		return m, m.openForm(nil)
	case key.Matches(k, keyEdit):
		if n > 0 {
			return m, m.openForm(m.file.Zones[m.sel])
		}
	case key.Matches(k, keyDelete):
		if n > 0 {
			m.mode = modeConfirmDelete
		}
	case key.Matches(k, keyMatrix):
		m.mode = modeMatrix
	case key.Matches(k, keySave):
		if !m.rep.OK() {
			m.setStatus(true, "not saved: %d error(s) — fix them first (zones.json is unchanged)", len(m.rep.Errors))
			return m, nil
		}
		m.mode, m.busyLabel = modeBusy, "saving…"
		return m, saveCmd(m.deps, m.file.Clone())
	case key.Matches(k, keyPlan):
		return m, m.startPlan()
	case k.String() == "esc":
		if m.dirty && !m.confirmLeave {
			m.confirmLeave = true
			m.setStatus(true, "unsaved changes: press s to save, esc again to leave without saving")
			return m, nil
		}
		return m, common.GoHomeCmd
	}
	return m, nil
}

func (m *Model) startPlan() tea.Cmd {
	if m.deps.Plan == nil {
		m.setStatus(true, "no firewall configured: plan and apply are not available here")
		return nil
	}
	if !m.rep.OK() {
		m.setStatus(true, "cannot plan: %d error(s) in the zones", len(m.rep.Errors))
		return nil
	}
	m.mode, m.busyLabel = modeBusy, "reading the firewall and planning…"
	return planCmd(m.deps.Plan, m.file.Clone())
}

func (m *Model) updatePlan(k tea.KeyPressMsg) (common.Screen, tea.Cmd) {
	switch k.String() {
	case "esc":
		m.mode = modeTable
	case "up", "k":
		m.planTop = max(m.planTop-1, 0)
	case "down", "j":
		m.planTop++
	case "pgup":
		m.planTop = max(m.planTop-m.bodyHeight(), 0)
	case "pgdown", "space":
		m.planTop += m.bodyHeight()
	case "p":
		return m, m.startPlan()
	case "A":
		if m.plan.Empty() {
			m.setStatus(false, "nothing to apply")
			return m, nil
		}
		if m.deps.Apply == nil {
			m.setStatus(true, "no firewall configured")
			return m, nil
		}
		m.mode = modeConfirmApply
	}
	return m, nil
}

func (m *Model) deleteSelected() {
	if m.sel >= len(m.file.Zones) {
		return
	}
	name := m.file.Zones[m.sel].Name
	m.file.DeleteZone(name)
	// Drop references so the file stays valid.
	refs := 0
	for _, z := range m.file.Zones {
		c := z.Clone()
		before := len(c.AccessTo) + len(c.PinholeAllowedFrom)
		c.AccessTo = remove(c.AccessTo, name)
		c.PinholeAllowedFrom = remove(c.PinholeAllowedFrom, name)
		if len(c.AccessTo)+len(c.PinholeAllowedFrom) != before {
			m.file.SetZone(z.Name, c)
			refs++
		}
	}
	m.sel = min(m.sel, max(len(m.file.Zones)-1, 0))
	m.dirty = true
	m.revalidate()
	m.setStatus(false, "deleted zone %s (references removed from %d zone(s)); press s to save", name, refs)
}

func remove(list []string, s string) []string {
	out := list[:0:0]
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	if list != nil && out == nil {
		out = []string{}
	}
	return out
}

func saveCmd(d Deps, f *cz.File) tea.Cmd {
	save := d.Save
	if save == nil {
		save = func(path string, f *cz.File) error { return f.WriteFileAtomic(path) }
	}
	path := d.Path
	return func() tea.Msg { return SavedMsg{Err: save(path, f)} }
}

func planCmd(plan func(context.Context, *cz.File) (*cz.Changes, error), f *cz.File) tea.Cmd {
	return func() tea.Msg {
		ch, err := plan(context.Background(), f)
		return PlanMsg{Changes: ch, Err: err}
	}
}

func applyCmd(apply func(context.Context, *cz.Changes, func(string)) error, ch *cz.Changes) tea.Cmd {
	return func() tea.Msg {
		var lines []string
		err := apply(context.Background(), ch, func(s string) { lines = append(lines, s) })
		return AppliedMsg{Lines: lines, Err: err}
	}
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	switch m.mode {
	case modeForm:
		return []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "next")),
			key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "back")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		}
	case modeMatrix:
		return []key.Binding{keyBack}
	case modePlan:
		return []key.Binding{m.com.Keys.List.Up, m.com.Keys.List.Down, keyApply, keyPlan, keyBack}
	case modeConfirmDelete, modeConfirmApply:
		return []key.Binding{
			key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
			key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "no")),
		}
	case modeBusy:
		return nil
	}
	return []key.Binding{keyAdd, keyEdit, keyDelete, keyMatrix, keyPlan, keySave, keyBack}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

func (m *Model) bodyHeight() int { return max(m.height-6, 3) }

var _ common.Screen = (*Model)(nil)

func joinOr(list []string, empty string) string {
	if len(list) == 0 {
		return empty
	}
	return strings.Join(list, ",")
}
