// Package status shows what is installed on the node and the last run.
package status

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/tappaas/tappaas/tui/common"
)

// Model is the status screen.
type Model struct {
	com           *common.Common
	info          *common.NodeInfo
	width, height int
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
		}
	}
	return m, nil
}

// View implements common.Screen.
func (m *Model) View() string {
	st := m.com.Styles
	var b strings.Builder
	row := func(k, v string) { fmt.Fprintf(&b, "%s %s\n", st.Muted.Render(fmt.Sprintf("%-14s", k)), v) }
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
	b.WriteString("\n" + st.Muted.Render("The full dashboard (VMs, zones, modules, backups) is not built yet."))
	return b.String()
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding { return []key.Binding{m.com.Keys.Global.Back} }

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
