// Package status shows what is installed on the node and the last run.
package status

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tappaas/tappaas/tui/common"
)

// Model is the status screen.
type Model struct {
	com           *common.Common
	info          *common.NodeInfo
	offset        int
	width, height int
	// maxOffset is the last scroll position, found by View.
	maxOffset int
}

// New returns the screen for info (nil: unknown).
func New(com *common.Common, info *common.NodeInfo) *Model { return &Model{com: com, info: info} }

// Init implements common.Screen.
func (m *Model) Init() tea.Cmd { return nil }

// Title implements common.Screen.
func (m *Model) Title() string { return "Status" }

// SetSize implements common.Screen.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// Update implements common.Screen.
func (m *Model) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "esc", "q", "enter":
			return m, common.GoHomeCmd
		case "down", "j":
			m.offset = min(m.offset+1, m.maxOffset)
		case "up", "k":
			m.offset = max(m.offset-1, 0)
		case "pgdown", "space":
			m.offset = min(m.offset+max(m.height/2, 1), m.maxOffset)
		case "pgup":
			m.offset = max(m.offset-max(m.height/2, 1), 0)
		case "home", "g":
			m.offset = 0
		case "end", "G":
			m.offset = m.maxOffset
		}
	}
	return m, nil
}

// View implements common.Screen.
func (m *Model) View() string {
	st := m.com.Styles
	var b strings.Builder
	// Values are cut by display width: a hostname or version in CJK or with
	// emoji takes two cells a character.
	row := func(k, v string) {
		b.WriteString(ansi.Truncate(st.Muted.Render(fmt.Sprintf("%-14s", k))+" "+v, m.width, "…") + "\n")
	}
	if m.info == nil {
		return st.Muted.Render("Node information is not available; see the log file: " + m.com.LogPath)
	}
	in := m.info
	row("Node", in.Hostname)
	row("Proxmox VE", in.PVEVersion)
	row("Address", in.Address)
	row("Reached via", in.Target)
	switch {
	case in.Checkpoint != nil:
		c := in.Checkpoint
		row("TAPPaaS", st.Warn.Render(fmt.Sprintf("unfinished %s: %d of %d steps done", c.Goal, c.Step-1, c.Total)))
		row("Next step", c.StepTitle)
		if c.By != "" {
			row("Last run by", c.By)
		}
		if !c.At.IsZero() {
			row("Last run at", c.At.Format("2006-01-02 15:04:05"))
		}
	case in.Installed:
		row("TAPPaaS", st.OK.Render("installed"))
	default:
		row("TAPPaaS", "not installed")
	}
	row("Log file", m.com.LogPath)
	ran := false
	for _, s := range in.Steps {
		ran = ran || s.Status != ""
	}
	if ran {
		b.WriteString("\n" + st.Subtitle.Render("Steps of the last run") + "\n")
		ic := st.Icons
		var lines []string
		for _, s := range in.Steps {
			mark, when := st.Step.Pending.Render(ic.Pending), ""
			switch s.Status {
			case "done":
				mark = st.Step.Done.Render(ic.Done)
			case "skipped":
				mark = st.Step.Skipped.Render(ic.Skipped)
			case "failed":
				mark = st.Step.Failed.Render(ic.Failed)
			case "interrupted", "running":
				mark = st.Step.Interrupted.Render(ic.Interrupted)
			}
			if !s.Finished.IsZero() {
				when = s.Finished.Format("01-02 15:04")
			}
			line := fmt.Sprintf("%s %-11s %s", mark, when, s.Title)
			if s.Status == "failed" && s.Detail != "" {
				line += st.Error.Render(": " + s.Detail)
			}
			lines = append(lines, ansi.Truncate(line, m.width, "…"))
		}
		room := max(m.height-strings.Count(b.String(), "\n")-2, 1)
		// Kept for Update: scrolling stops at the last line.
		m.maxOffset = max(len(lines)-room, 0)
		off := min(m.offset, m.maxOffset)
		end := min(off+room, len(lines))
		b.WriteString(strings.Join(lines[off:end], "\n"))
		if end < len(lines) {
			b.WriteString("\n" + st.Muted.Render(fmt.Sprintf("↓ %d more", len(lines)-end)))
		}
	}
	b.WriteString("\n" + ansi.Truncate(st.Muted.Render("The full dashboard (VMs, zones, modules, backups) is not built yet."), m.width, "…"))
	return b.String()
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	return []key.Binding{m.com.Keys.List.Up, m.com.Keys.List.Down, m.com.Keys.Global.Back}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	l := m.com.Keys.List
	return [][]key.Binding{m.ShortHelp(), {l.PageUp, l.PageDown, l.Top, l.Bottom}}
}
