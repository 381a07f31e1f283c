// Package preflight shows the read-only checks as a checklist: pass, fail or
// could not check, with the fix for each failure.
package preflight

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/tappaas/tappaas/tui/common"
)

// ResultMsg carries the backend's preflight result.
type ResultMsg struct {
	Checks []common.Check
	Err    error
}

// ContinueMsg says the operator continues to the plan.
type ContinueMsg struct{ Req common.Request }

// RecheckMsg asks the root to run the checks again.
type RecheckMsg struct{ Req common.Request }

// Model is the preflight screen.
type Model struct {
	com           *common.Common
	req           common.Request
	checks        []common.Check
	err           error
	loading       bool
	offset        int
	width, height int
}

// New returns the screen, waiting for results.
func New(com *common.Common, req common.Request) *Model {
	return &Model{com: com, req: req, loading: true}
}

// Init implements common.Screen.
func (m *Model) Init() tea.Cmd { return nil }

// Title implements common.Screen.
func (m *Model) Title() string { return "Preflight checks" }

// SetSize implements common.Screen.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// Failed is the number of failed checks.
func (m *Model) Failed() int {
	n := 0
	for _, c := range m.checks {
		if c.Status == common.CheckFail {
			n++
		}
	}
	return n
}

func (m *Model) canContinue() bool { return !m.loading && m.err == nil && m.Failed() == 0 }

// Update implements common.Screen.
func (m *Model) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case ResultMsg:
		m.loading = false
		m.checks, m.err = msg.Checks, msg.Err
		m.offset = 0
	case tea.KeyPressMsg:
		switch msg.String() {
		case "enter", "c":
			if m.canContinue() {
				return m, common.MsgCmd(ContinueMsg{Req: m.req})
			}
		case "r":
			if !m.loading {
				m.loading = true
				return m, common.MsgCmd(RecheckMsg{Req: m.req})
			}
		case "esc", "q":
			return m, common.GoHomeCmd
		case "down", "j":
			m.offset++
		case "up", "k":
			m.offset = max(m.offset-1, 0)
		}
	}
	return m, nil
}

// View implements common.Screen.
func (m *Model) View() string {
	st := m.com.Styles
	if m.loading {
		return st.Muted.Render("Checking the node (read-only)…")
	}
	if m.err != nil {
		return st.Error.Render("Could not run the checks: "+m.err.Error()) + "\n\n" +
			st.Muted.Render("r to try again · esc back · log: "+m.com.LogPath)
	}
	var lines []string
	for _, c := range m.checks {
		var mark string
		switch c.Status {
		case common.CheckPass:
			mark = st.Check.Pass.Render("[pass]")
		case common.CheckFail:
			mark = st.Check.Fail.Render("[FAIL]")
		case common.CheckWarn:
			mark = st.Check.Warn.Render("[warn]")
		default:
			mark = st.Check.Unknown.Render("[ ?? ]")
		}
		text := c.Name
		if c.Detail != "" {
			text += ": " + c.Detail
		}
		wrapped := lipgloss.NewStyle().Width(max(m.width-8, 20)).Render(text)
		for i, l := range strings.Split(wrapped, "\n") {
			if i == 0 {
				lines = append(lines, mark+" "+l)
			} else {
				lines = append(lines, "       "+l)
			}
		}
		if c.Fix != "" && c.Status != common.CheckPass {
			fix := lipgloss.NewStyle().Width(max(m.width-12, 20)).Render("fix: " + c.Fix)
			for _, l := range strings.Split(fix, "\n") {
				lines = append(lines, "       "+st.Check.Fix.Render(l))
			}
		}
	}
	body := max(m.height-2, 1)
	off := min(m.offset, max(len(lines)-body, 0))
	end := min(off+body, len(lines))
	var summary string
	switch f := m.Failed(); {
	case f > 0:
		summary = st.Error.Render(fmt.Sprintf("%d check(s) failed: fix them, then press r to check again.", f))
	default:
		summary = st.OK.Render("Ready.") + " Press enter to review the plan."
	}
	return strings.Join(lines[off:end], "\n") + strings.Repeat("\n", body-(end-off)+1) + summary
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	k := m.com.Keys
	cont := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "review plan"))
	cont.SetEnabled(m.canContinue())
	recheck := key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "check again"))
	return []key.Binding{cont, recheck, k.List.Up, k.List.Down, k.Global.Back}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
