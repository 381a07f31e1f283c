package tuitest

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// focusModel moves its focus in a Cmd, as huh's next-field does, and
// records which field each typed rune reached.
type focusModel struct {
	focus int
	typed []int
}

type nextFieldMsg struct{}

func (m *focusModel) Init() tea.Cmd  { return nil }
func (m *focusModel) View() tea.View { return tea.NewView("") }
func (m *focusModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case nextFieldMsg:
		m.focus++
	case tea.KeyPressMsg:
		if msg.Code == tea.KeyEnter {
			return m, func() tea.Msg { return nextFieldMsg{} }
		}
		m.typed = append(m.typed, m.focus)
	}
	return m, nil
}

// TestSettleWaitsForACmdNotYetScheduled: a busy machine may start a Cmd's
// goroutine long after the Cmd was issued; Settle still waits for its
// message, so the next key reaches the field the focus moved to.
func TestSettleWaitsForACmdNotYetScheduled(t *testing.T) {
	scheduled = func() { time.Sleep(10 * settleGrace) }
	t.Cleanup(func() { scheduled = nil })
	m := &focusModel{}
	d := NewDriver(t, m, 80, 24)
	d.Key("enter")
	d.Type("x")
	if len(m.typed) != 1 || m.typed[0] != 1 {
		t.Fatalf("the typed key reached field %v, want field 1 (after the focus moved)", m.typed)
	}
}
