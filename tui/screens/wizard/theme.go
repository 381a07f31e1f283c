package wizard

import (
	"charm.land/bubbles/v2/help"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"

	"github.com/tappaas/tappaas/tui/styles"
)

// Theme returns the huh theme matching st: the base-16 theme when colour is
// available, a colourless one (reverse video, bold, faint) otherwise.
func Theme(st *styles.Styles) huh.Theme {
	if !st.NoColor {
		return huh.ThemeFunc(huh.ThemeBase16)
	}
	return huh.ThemeFunc(func(bool) *huh.Styles {
		t := huh.ThemeBase(false)
		button := lipgloss.NewStyle().Padding(0, 2).MarginRight(1)
		t.Focused.FocusedButton = button.Reverse(true).Bold(true)
		t.Focused.BlurredButton = button
		t.Focused.Title = lipgloss.NewStyle().Bold(true)
		t.Focused.TextInput.Placeholder = lipgloss.NewStyle().Faint(true)
		t.Focused.SelectedOption = lipgloss.NewStyle().Bold(true)
		t.Focused.Description = lipgloss.NewStyle().Faint(true)
		t.Help = help.Styles{}
		t.Blurred = t.Focused
		t.Blurred.Base = t.Blurred.Base.BorderStyle(lipgloss.HiddenBorder())
		t.Blurred.Card = t.Blurred.Base
		t.Blurred.MultiSelectSelector = lipgloss.NewStyle().SetString("  ")
		t.Blurred.NextIndicator = lipgloss.NewStyle()
		t.Blurred.PrevIndicator = lipgloss.NewStyle()
		return t
	})
}
