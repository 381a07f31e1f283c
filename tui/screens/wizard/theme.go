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

// PlainTheme has no styling at all: accessible mode writes plain text that
// screen readers and braille displays read without escape sequences.
func PlainTheme() huh.Theme {
	return huh.ThemeFunc(func(bool) *huh.Styles {
		var t huh.Styles
		plain := lipgloss.NewStyle()
		t.Form.Base, t.Group.Base, t.Group.Title, t.Group.Description = plain, plain, plain, plain
		t.FieldSeparator = plain.SetString("\n\n")
		f := huh.FieldStyles{Base: plain, Title: plain, Description: plain, ErrorIndicator: plain.SetString(" *"),
			ErrorMessage: plain.SetString(" *"), SelectSelector: plain.SetString("> "), Option: plain,
			MultiSelectSelector: plain.SetString("> "), SelectedOption: plain, SelectedPrefix: plain.SetString("[x] "),
			UnselectedOption: plain, UnselectedPrefix: plain.SetString("[ ] "), FocusedButton: plain, BlurredButton: plain,
			Card: plain, NoteTitle: plain, Next: plain, NextIndicator: plain, PrevIndicator: plain, Directory: plain, File: plain}
		t.Focused, t.Blurred = f, f
		return &t
	})
}
