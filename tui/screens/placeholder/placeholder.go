// Package placeholder is an honest "not built yet" screen.
package placeholder

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/tappaas/tappaas/tui/common"
)

// Model shows a message and goes back on esc, q or enter.
type Model struct {
	com           *common.Common
	title, text   string
	width, height int
}

// New returns the screen.
func New(com *common.Common, title, text string) *Model {
	return &Model{com: com, title: title, text: text}
}

// Init implements common.Screen.
func (m *Model) Init() tea.Cmd { return nil }

// Title implements common.Screen.
func (m *Model) Title() string { return m.title }

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
	return "\n" + lipgloss.NewStyle().Width(m.width).Render(m.text) + "\n\n" +
		m.com.Styles.Muted.Render("Press esc to go back.")
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding { return []key.Binding{m.com.Keys.Global.Back} }

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }
