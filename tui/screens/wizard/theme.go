package wizard

import (
	"charm.land/bubbles/v2/help"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"

	"github.com/tappaas/tappaas/tui/styles"
)

// Theme returns the huh theme matching st: the base-16 theme when colour is
// available, a colourless one (reverse video, bold, faint) otherwise. In both
// a placeholder is italic and dim so it never reads as a typed value (the
// placeholders also start with "e.g.").
func Theme(st *styles.Styles) huh.Theme {
	if !st.NoColor {
		return huh.ThemeFunc(func(isDark bool) *huh.Styles {
			t := huh.ThemeBase16(isDark)
			ph := lipgloss.NewStyle().Foreground(lipgloss.Color("8")).Italic(true)
			t.Focused.TextInput.Placeholder = ph
			t.Blurred.TextInput.Placeholder = ph
			return t
		})
	}
	return huh.ThemeFunc(func(bool) *huh.Styles {
		t := huh.ThemeBase(false)
		button := lipgloss.NewStyle().Padding(0, 2).MarginRight(1)
		t.Focused.FocusedButton = button.Reverse(true).Bold(true)
		t.Focused.BlurredButton = button
		t.Focused.Title = lipgloss.NewStyle().Bold(true)
		t.Focused.TextInput.Placeholder = lipgloss.NewStyle().Faint(true).Italic(true)
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
