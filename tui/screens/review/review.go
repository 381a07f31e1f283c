// Package review is the plan review: every step with what it will change,
// what is already done, and a single confirmation.
package review

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tappaas/tappaas/tui/common"
)

// PlanMsg delivers the built plan.
type PlanMsg struct{ Job common.Job }

// ConfirmMsg says the operator confirmed: run the job.
type ConfirmMsg struct {
	Req common.Request
	Job common.Job
}

// Model is the plan review screen.
type Model struct {
	com           *common.Common
	req           common.Request
	job           common.Job
	lines         []string
	offset        int
	width, height int
	// firstPending is the line of the first step not done in an earlier run.
	firstPending int
}

// New returns the screen, waiting for the plan.
func New(com *common.Common, req common.Request) *Model { return &Model{com: com, req: req} }

// Init implements common.Screen.
func (m *Model) Init() tea.Cmd { return nil }

// Title implements common.Screen.
func (m *Model) Title() string { return "Review the plan" }

// SetSize implements common.Screen.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.build()
}

func (m *Model) build() {
	if m.job == nil {
		return
	}
	st := m.com.Styles
	ic := st.Icons
	m.lines = m.lines[:0]
	m.firstPending = -1
	if a := answers(m.req); len(a) > 0 {
		m.lines = append(m.lines, st.Subtitle.Render("Your answers"))
		for _, kv := range a {
			m.lines = append(m.lines, ansi.Truncate(fmt.Sprintf("  %-14s%s", kv[0], kv[1]), m.width, "…"))
		}
		m.lines = append(m.lines, "", st.Subtitle.Render("Steps"))
	}
	firstStep := len(m.lines)
	for i, s := range m.job.Steps() {
		if m.firstPending < 0 && s.Checkpoint != "done" && s.Checkpoint != "skipped" {
			m.firstPending = len(m.lines)
		}
		mark := st.Step.Pending.Render(ic.Pending)
		note := ""
		switch s.Checkpoint {
		case "done", "skipped":
			mark = st.Step.Done.Render(ic.Done)
			note = st.Muted.Render(" (done in an earlier run; re-checked first)")
		case "failed":
			mark = st.Step.Failed.Render(ic.Failed)
			note = st.Warn.Render(" (failed last time)")
		case "interrupted", "running":
			mark = st.Step.Interrupted.Render(ic.Interrupted)
			note = st.Warn.Render(" (interrupted last time)")
		}
		if s.Optional {
			note += st.Muted.Render(" optional")
		}
		m.lines = append(m.lines, ansi.Truncate(fmt.Sprintf("%s %2d. %s", mark, i+1, st.Bold.Render(s.Title))+note, m.width, "…"))
		for _, c := range s.Changes {
			m.lines = append(m.lines, ansi.Truncate("       "+c, m.width, "…"))
		}
	}
	if m.firstPending < 0 || m.firstPending == firstStep {
		m.firstPending = 0 // nothing done before: open at the answers
	}
}

func (m *Model) bodyHeight() int { return max(m.height-2, 1) }

// Update implements common.Screen.
func (m *Model) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case PlanMsg:
		m.job = msg.Job
		m.build()
		// A resumed plan opens at the first step still to do; the steps
		// done earlier are above (↑).
		m.offset = min(m.firstPending, max(len(m.lines)-m.bodyHeight(), 0))
	case tea.KeyPressMsg:
		maxOff := max(len(m.lines)-m.bodyHeight(), 0)
		switch msg.String() {
		case "enter", "y":
			if m.job != nil {
				return m, common.MsgCmd(ConfirmMsg{Req: m.req, Job: m.job})
			}
		case "esc", "q":
			return m, common.GoHomeCmd
		case "down", "j":
			m.offset = min(m.offset+1, maxOff)
		case "up", "k":
			m.offset = max(m.offset-1, 0)
		case "pgdown", "space":
			m.offset = min(m.offset+m.bodyHeight(), maxOff)
		case "pgup":
			m.offset = max(m.offset-m.bodyHeight(), 0)
		case "home", "g":
			m.offset = 0
		case "end", "G":
			m.offset = maxOff
		}
	}
	return m, nil
}

// View implements common.Screen.
func (m *Model) View() string {
	st := m.com.Styles
	if m.job == nil {
		return st.Muted.Render("Building the plan and checking what is already done…")
	}
	body := m.bodyHeight()
	off := min(m.offset, max(len(m.lines)-body, 0))
	end := min(off+body, len(m.lines))
	var b strings.Builder
	b.WriteString(strings.Join(m.lines[off:end], "\n"))
	b.WriteString(strings.Repeat("\n", body-(end-off)+1))
	n := len(m.job.Steps())
	more := ""
	switch {
	case off > 0 && end < len(m.lines):
		more = st.Muted.Render(fmt.Sprintf(" (↑ %d ↓ %d more lines)", off, len(m.lines)-end))
	case off > 0:
		more = st.Muted.Render(fmt.Sprintf(" (↑ %d more lines)", off))
	case end < len(m.lines):
		more = st.Muted.Render(fmt.Sprintf(" (↓ %d more lines)", len(m.lines)-end))
	}
	b.WriteString(ansi.Truncate(st.Bold.Render(fmt.Sprintf("%d steps.", n))+" Press enter to run them, esc to go back."+more, m.width, "…"))
	return b.String()
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	k := m.com.Keys
	run := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "run the plan"))
	run.SetEnabled(m.job != nil)
	return []key.Binding{run, k.List.Up, k.List.Down, k.Global.Back}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	l := m.com.Keys.List
	return [][]key.Binding{m.ShortHelp(), {l.PageUp, l.PageDown, l.Top, l.Bottom}}
}
