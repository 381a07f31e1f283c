// Package styles holds every lipgloss style the TUI uses, built once from a
// small palette of semantic colours. Components never hard-code colours.
//
// The package is separate from common only to avoid an import cycle.
package styles

import (
	"image/color"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
)

// Palette is the set of semantic colours styles are built from. A nil colour
// means "the terminal's default".
type Palette struct {
	Primary, Subtle, Muted, OK, Warn, Error, Busy, Accent color.Color
}

// Styles is the one nested struct of styles shared by every screen.
type Styles struct {
	// NoColor is true when styles carry no colour at all (NO_COLOR or a
	// monochrome console); only bold, faint and reverse are used.
	NoColor bool

	App      lipgloss.Style
	Title    lipgloss.Style
	Subtitle lipgloss.Style
	Text     lipgloss.Style
	Muted    lipgloss.Style
	Bold     lipgloss.Style
	Link     lipgloss.Style
	Key      lipgloss.Style
	Error    lipgloss.Style
	Warn     lipgloss.Style
	OK       lipgloss.Style

	Header struct {
		Bar, Name, Info lipgloss.Style
	}
	Footer struct {
		Key, Desc, Sep lipgloss.Style
	}
	Menu struct {
		Item, Selected, Disabled, Desc lipgloss.Style
	}
	Step struct {
		Pending, Running, Done, Skipped, Failed, Interrupted lipgloss.Style
		Selected                                             lipgloss.Style
		Time                                                 lipgloss.Style
	}
	Log struct {
		Title, Line, Stderr, Info, Match, Status lipgloss.Style
	}
	Check struct {
		Pass, Fail, Unknown, Warn, Fix lipgloss.Style
	}
	Dialog struct {
		Box, Title, Body, Button, ButtonActive lipgloss.Style
		Danger                                 lipgloss.Style
	}
	// Icons are the step glyphs (UnicodeIcons unless set otherwise).
	Icons Icons

	Pane  lipgloss.Style
	Rule  lipgloss.Style
	Small lipgloss.Style
}

// ForProfile returns styles suited to a terminal colour profile: no colour at
// all for NoTTY/ASCII (NO_COLOR, dumb consoles), the 16 basic colours for ANSI
// (the Linux VT), a richer palette otherwise (Bubble Tea downsamples it).
func ForProfile(p colorprofile.Profile) *Styles {
	switch p {
	case colorprofile.NoTTY, colorprofile.ASCII:
		return New(Palette{}, true)
	case colorprofile.ANSI:
		return New(Palette{
			Primary: lipgloss.Cyan, Subtle: lipgloss.White, Muted: lipgloss.BrightBlack,
			OK: lipgloss.Green, Warn: lipgloss.Yellow, Error: lipgloss.Red,
			Busy: lipgloss.Magenta, Accent: lipgloss.BrightCyan,
		}, false)
	default:
		return New(Palette{
			Primary: lipgloss.Color("#5FAFD7"), Subtle: lipgloss.Color("#C6C6C6"),
			Muted: lipgloss.Color("#808080"), OK: lipgloss.Color("#5FD787"),
			Warn: lipgloss.Color("#FFD75F"), Error: lipgloss.Color("#FF5F5F"),
			Busy: lipgloss.Color("#D787FF"), Accent: lipgloss.Color("#87D7FF"),
		}, false)
	}
}

// New builds Styles from a palette. With noColor every colour is dropped.
func New(p Palette, noColor bool) *Styles {
	fg := func(c color.Color) lipgloss.Style {
		s := lipgloss.NewStyle()
		if noColor || c == nil {
			return s
		}
		return s.Foreground(c)
	}
	border := func(s lipgloss.Style, c color.Color) lipgloss.Style {
		if noColor || c == nil {
			return s
		}
		return s.BorderForeground(c)
	}
	s := &Styles{NoColor: noColor, Icons: UnicodeIcons()}
	s.App = lipgloss.NewStyle()
	s.Title = fg(p.Primary).Bold(true)
	s.Subtitle = fg(p.Subtle).Bold(true)
	s.Text = lipgloss.NewStyle()
	s.Muted = fg(p.Muted)
	if noColor {
		s.Muted = s.Muted.Faint(true)
	}
	s.Bold = lipgloss.NewStyle().Bold(true)
	s.Link = fg(p.Accent).Underline(true)
	s.Key = fg(p.Accent).Bold(true)
	s.Error = fg(p.Error).Bold(true)
	s.Warn = fg(p.Warn)
	s.OK = fg(p.OK)

	s.Header.Bar = lipgloss.NewStyle().Bold(true)
	s.Header.Name = fg(p.Primary).Bold(true)
	s.Header.Info = s.Muted

	s.Footer.Key = fg(p.Accent).Bold(true)
	s.Footer.Desc = s.Muted
	s.Footer.Sep = s.Muted

	s.Menu.Item = lipgloss.NewStyle()
	s.Menu.Selected = fg(p.Primary).Bold(true)
	if noColor {
		s.Menu.Selected = s.Menu.Selected.Reverse(true)
	}
	s.Menu.Disabled = s.Muted
	s.Menu.Desc = s.Muted

	s.Step.Pending = s.Muted
	s.Step.Running = fg(p.Busy).Bold(true)
	s.Step.Done = fg(p.OK)
	s.Step.Skipped = fg(p.Muted)
	s.Step.Failed = fg(p.Error).Bold(true)
	s.Step.Interrupted = fg(p.Warn)
	s.Step.Selected = lipgloss.NewStyle().Reverse(true)
	s.Step.Time = s.Muted

	s.Log.Title = fg(p.Subtle).Bold(true)
	s.Log.Line = lipgloss.NewStyle()
	s.Log.Stderr = fg(p.Warn)
	s.Log.Info = fg(p.Accent)
	s.Log.Match = lipgloss.NewStyle().Reverse(true)
	s.Log.Status = s.Muted

	s.Check.Pass = fg(p.OK).Bold(true)
	s.Check.Fail = fg(p.Error).Bold(true)
	s.Check.Unknown = fg(p.Warn).Bold(true)
	s.Check.Warn = fg(p.Warn)
	s.Check.Fix = s.Muted

	s.Dialog.Box = border(lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1), p.Primary)
	s.Dialog.Title = fg(p.Primary).Bold(true)
	s.Dialog.Body = lipgloss.NewStyle()
	s.Dialog.Button = lipgloss.NewStyle().Padding(0, 1)
	s.Dialog.ButtonActive = lipgloss.NewStyle().Padding(0, 1).Reverse(true).Bold(true)
	s.Dialog.Danger = fg(p.Error).Bold(true)

	s.Pane = border(lipgloss.NewStyle().Border(lipgloss.NormalBorder()), p.Muted)
	s.Rule = s.Muted
	s.Small = fg(p.Warn).Bold(true)
	return s
}

// Icons are the glyphs of step states and the spinner.
type Icons struct {
	Pending, Done, Skipped, Failed, Interrupted, Paused string
	Spinner                                             []string
}

// UnicodeIcons suit xterm.js, SSH sessions and modern terminals.
func UnicodeIcons() Icons {
	return Icons{Pending: "·", Done: "✓", Skipped: "↷", Failed: "✗", Interrupted: "‖", Paused: "‖",
		Spinner: []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}}
}

// ASCIIIcons suit the Linux VT console, whose fonts lack most symbols.
func ASCIIIcons() Icons {
	return Icons{Pending: ".", Done: "+", Skipped: "=", Failed: "x", Interrupted: "!", Paused: "!",
		Spinner: []string{"|", "/", "-", "\\"}}
}

// TextInput returns text input styles: the bubbles defaults with colour, and
// plain ones (faint placeholder, default cursor) without.
func (s *Styles) TextInput() textinput.Styles {
	if !s.NoColor {
		return textinput.DefaultStyles(true)
	}
	plain := lipgloss.NewStyle()
	st := textinput.StyleState{Placeholder: plain.Faint(true), Suggestion: plain.Faint(true), Prompt: plain, Text: plain}
	return textinput.Styles{Focused: st, Blurred: st,
		Cursor: textinput.CursorStyle{Shape: tea.CursorBlock, Blink: true}}
}
