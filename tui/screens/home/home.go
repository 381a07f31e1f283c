// Package home is the first screen: what this node is and what to do.
package home

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tappaas/tappaas/tui/common"
)

// Action is a home menu entry.
type Action int

// Actions.
const (
	ActInstall Action = iota
	ActResume
	ActJoin
	ActZones
	ActModules
	ActStatus
	ActQuit
)

// ActionMsg says the operator chose an action.
type ActionMsg struct{ Action Action }

type item struct {
	act      Action
	label    string
	desc     string
	disabled bool
}

// Model is the home screen.
type Model struct {
	com           *common.Common
	info          *common.NodeInfo
	err           error
	items         []item
	sel           int
	width, height int
	// ZonesBuilt says whether the zone editor exists in this build.
	zonesBuilt bool
}

// New returns the home screen (node info still loading).
func New(com *common.Common, zonesBuilt bool) *Model {
	m := &Model{com: com, zonesBuilt: zonesBuilt}
	m.buildItems()
	return m
}

// SetInfo sets what the backend said about the node.
func (m *Model) SetInfo(info common.NodeInfo, err error) {
	m.err = err
	if err == nil {
		m.info = &info
	}
	prev := m.selected()
	m.buildItems()
	// Resume is the natural default when there is a checkpoint.
	m.sel = 0
	for i, it := range m.items {
		if it.act == prev && it.act != ActInstall {
			m.sel = i
		}
	}
}

// Info returns the node info (nil while loading or on error).
func (m *Model) Info() *common.NodeInfo { return m.info }

func (m *Model) selected() Action {
	if m.sel < len(m.items) {
		return m.items[m.sel].act
	}
	return ActInstall
}

func (m *Model) buildItems() {
	var items []item
	cp := m.info != nil && m.info.Checkpoint != nil
	if cp {
		c := m.info.Checkpoint
		items = append(items, item{act: ActResume, label: "Resume the unfinished " + c.Goal.String(),
			desc: fmt.Sprintf("continue at step %d of %d", c.Step, c.Total)})
	}
	installDesc := "set up the first node: network, storage, firewall, platform"
	if m.info != nil && m.info.Installed {
		installDesc = "re-run the install: checks every step, changes only what drifted"
	}
	items = append(items,
		item{act: ActInstall, label: "Install TAPPaaS on this node", desc: installDesc},
		item{act: ActJoin, label: "Join this node to a cluster", desc: "add this node to an existing TAPPaaS cluster"},
		item{act: ActZones, label: "Zones", desc: "network segments: VLANs, subnets, access rules"},
		item{act: ActModules, label: "Modules", desc: "add applications to the platform"},
		item{act: ActStatus, label: "Status", desc: "what is installed and the last run"},
		item{act: ActQuit, label: "Quit", desc: ""},
	)
	for i := range items {
		if items[i].act == ActModules || (items[i].act == ActZones && !m.zonesBuilt) {
			items[i].desc = "not built yet in this version"
			items[i].disabled = true
		}
	}
	m.items = items
}

// Init implements common.Screen.
func (m *Model) Init() tea.Cmd { return nil }

// Title implements common.Screen.
func (m *Model) Title() string { return "Home" }

// SetSize implements common.Screen.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// Update implements common.Screen.
func (m *Model) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	km := m.com.Keys.List
	switch {
	case key.Matches(k, km.Up):
		m.sel = (m.sel + len(m.items) - 1) % len(m.items)
	case key.Matches(k, km.Down):
		m.sel = (m.sel + 1) % len(m.items)
	case key.Matches(k, km.Top):
		m.sel = 0
	case key.Matches(k, km.Bottom):
		m.sel = len(m.items) - 1
	case key.Matches(k, km.Select):
		it := m.items[m.sel]
		if it.disabled {
			return m, nil
		}
		return m, common.MsgCmd(ActionMsg{Action: it.act})
	case key.Matches(k, m.com.Keys.Global.Quit):
		// q leaves from home like the Quit item: an operator's first try.
		return m, common.MsgCmd(ActionMsg{Action: ActQuit})
	}
	return m, nil
}

// View implements common.Screen.
func (m *Model) View() string {
	st := m.com.Styles
	var b strings.Builder
	label := func(s string) string { return st.Muted.Render(fmt.Sprintf("%-8s", s)) }
	switch {
	case m.err != nil:
		b.WriteString(label("Node") + st.Error.Render("could not read node info: "+m.err.Error()) + "\n")
		b.WriteString(label("") + st.Muted.Render("check the connection and the log file; install still runs its own checks") + "\n")
	case m.info == nil:
		b.WriteString(label("Node") + st.Muted.Render("reading node info…") + "\n\n")
	default:
		in := m.info
		node := st.Bold.Render(in.Hostname)
		if in.PVEVersion != "" {
			node += " · Proxmox VE " + in.PVEVersion
		}
		if in.Address != "" {
			node += " · " + in.Address
		}
		b.WriteString(label("Node") + node + "\n")
		if in.Target != "" {
			b.WriteString(label("Via") + in.Target + "\n")
		}
		state := lipgloss.NewStyle().Width(max(m.width-8, 20)).Render(m.state())
		b.WriteString(label("State") + strings.ReplaceAll(state, "\n", "\n"+label("")) + "\n")
	}
	b.WriteString("\n")
	for i, it := range m.items {
		cursor := "  "
		lst := st.Menu.Item
		if it.disabled {
			lst = st.Menu.Disabled
		}
		if i == m.sel {
			cursor = st.Menu.Selected.Render("> ")
			if !it.disabled {
				lst = st.Menu.Selected
			}
		}
		line := cursor + lst.Render(fmt.Sprintf("%-30s", it.label))
		if it.desc != "" && m.width >= 60 {
			line += " " + st.Menu.Desc.Render(it.desc)
		}
		b.WriteString(ansi.Truncate(line, m.width, "…") + "\n")
	}
	return b.String()
}

func (m *Model) state() string {
	st := m.com.Styles
	in := m.info
	if c := in.Checkpoint; c != nil {
		s := fmt.Sprintf("unfinished %s: resume at step %d of %d", c.Goal, c.Step, c.Total)
		if c.StepTitle != "" {
			s += " (" + c.StepTitle + ")"
		}
		if c.By != "" || !c.At.IsZero() {
			s += ", last run"
			if c.By != "" {
				s += " by " + c.By
			}
			if !c.At.IsZero() {
				s += " at " + c.At.Format("2006-01-02 15:04")
			}
		}
		if c.Failed {
			return st.Warn.Render(s + "; it stopped on an error")
		}
		return st.Warn.Render(s)
	}
	if in.Installed {
		return st.OK.Render("TAPPaaS is installed")
	}
	return "no TAPPaaS install yet"
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	km := m.com.Keys.List
	return []key.Binding{km.Up, km.Down, km.Select, m.com.Keys.Global.Quit}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	km := m.com.Keys.List
	return [][]key.Binding{{km.Up, km.Down, km.Top, km.Bottom, km.Select, m.com.Keys.Global.Quit}}
}
