// Package done is the summary after a successful run: what was built, URLs,
// where each credential is stored, next steps and the log file.
package done

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/tui/common"
)

// SummaryMsg delivers the backend's summary.
type SummaryMsg struct {
	Summary common.Summary
	Err     error
}

// Model is the done screen.
type Model struct {
	com           *common.Common
	req           common.Request
	sum           *common.Summary
	err           error
	took          time.Duration
	offset        int
	width, height int
}

// New returns the screen, waiting for the summary.
func New(com *common.Common, req common.Request) *Model { return &Model{com: com, req: req} }

// Took records how long the run took (shown when > 0); it returns m.
func (m *Model) Took(d time.Duration) *Model {
	m.took = d
	return m
}

// Init implements common.Screen.
func (m *Model) Init() tea.Cmd { return nil }

// Title implements common.Screen.
func (m *Model) Title() string { return "Done" }

// SetSize implements common.Screen.
func (m *Model) SetSize(w, h int) { m.width, m.height = w, h }

// Update implements common.Screen.
func (m *Model) Update(msg tea.Msg) (common.Screen, tea.Cmd) {
	switch msg := msg.(type) {
	case SummaryMsg:
		m.err = msg.Err
		if msg.Err == nil {
			s := msg.Summary
			m.sum = &s
		}
	case tea.KeyPressMsg:
		switch msg.String() {
		case "enter", "esc", "h":
			return m, common.GoHomeCmd
		case "q":
			return m, tea.Quit
		case "down", "j":
			m.offset = min(m.offset+1, m.maxOffset())
		case "up", "k":
			m.offset = max(m.offset-1, 0)
		case "pgdown", "space":
			m.offset = min(m.offset+max(m.height-1, 1), m.maxOffset())
		case "pgup":
			m.offset = max(m.offset-max(m.height-1, 1), 0)
		case "home", "g":
			m.offset = 0
		case "end", "G":
			m.offset = m.maxOffset()
		}
	}
	return m, nil
}

// maxOffset is the last scroll position: the end of the text on the last
// line (the "more" marker takes one line while there is more below).
func (m *Model) maxOffset() int { return max(len(m.text())-m.height, 0) }

// View implements common.Screen. Text that does not fit ends in a marker
// saying how much more there is below, so the next steps are never missed.
func (m *Model) View() string {
	text := m.text()
	if m.height <= 0 || len(text) <= m.height {
		return strings.Join(text, "\n")
	}
	off := min(m.offset, m.maxOffset())
	end := off + m.height
	if end < len(text) {
		end-- // room for the marker
		more := fmt.Sprintf("↓ %d more lines (↓/j, space)", len(text)-end)
		return strings.Join(append(text[off:end:end], m.com.Styles.Muted.Render(more)), "\n")
	}
	return strings.Join(text[off:end], "\n")
}

// text is the screen's content, one entry per line.
func (m *Model) text() []string {
	st := m.com.Styles
	var lines []string
	add := func(s ...string) { lines = append(lines, s...) }
	what := "TAPPaaS is installed."
	if m.req.Goal == common.GoalJoin {
		what = "The node has joined the cluster."
	}
	if m.took >= time.Second {
		what += " The run took " + steps.ShortDuration(m.took) + "."
	}
	add(st.OK.Render(what), st.Muted.Render("Log file: "+m.com.LogPath))
	switch {
	case m.err != nil:
		add("", st.Warn.Render("Could not read the summary: "+m.err.Error()))
	case m.sum == nil:
		add("", st.Muted.Render("Reading the summary…"))
	default:
		s := m.sum
		if len(s.Built) > 0 {
			add("", st.Subtitle.Render("Built"))
			for _, b := range s.Built {
				add("  • " + b)
			}
		}
		if len(s.URLs) > 0 {
			add("", st.Subtitle.Render("Open"))
			for _, u := range s.URLs {
				l := "  " + padRight(u.Name, 24) + st.Link.Render(u.URL)
				if u.User != "" {
					l = "  " + padRight(u.Name, 24) + st.Link.Render(padRight(u.URL, 24)) + st.Muted.Render("user ") + u.User
				}
				add(l)
			}
		}
		if len(s.Generated) > 0 {
			add("", st.Warn.Render("Generated now, shown only this once: write it down"))
			for _, g := range s.Generated {
				add("  " + padRight(g.Name, 24) + st.Bold.Render(g.Value))
				add("  " + padRight("", 24) + st.Muted.Render("kept in "+g.Where))
			}
		}
		if len(s.Credentials) > 0 {
			add("", st.Subtitle.Render("Credentials (stored, not shown)"))
			for _, c := range s.Credentials {
				if c.Read == "" {
					add("  " + padRight(c.Name, 24) + c.Where)
					continue
				}
				add("  "+padRight(c.Name, 24)+c.Where+", read with:", "    "+st.Muted.Render(c.Read))
			}
		}
		if len(s.Reach) > 0 {
			add("", st.Subtitle.Render("Reaching the 10.0.0.x addresses"))
			for _, r := range s.Reach {
				w := lipgloss.NewStyle().Width(max(m.width-4, 20)).Render(r)
				add("  " + strings.ReplaceAll(w, "\n", "\n  "))
			}
		}
		if len(s.Next) > 0 {
			add("", st.Subtitle.Render("Next steps"))
			for _, n := range s.Next {
				w := lipgloss.NewStyle().Width(max(m.width-6, 20)).Render(n)
				add("  → " + strings.ReplaceAll(w, "\n", "\n    "))
			}
		}
	}
	return strings.Split(strings.Join(lines, "\n"), "\n")
}

func padRight(s string, n int) string {
	if w := lipgloss.Width(s); w < n {
		return s + strings.Repeat(" ", n-w)
	}
	return s + " "
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	home := key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "home"))
	quit := key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit"))
	return []key.Binding{home, m.com.Keys.List.Up, m.com.Keys.List.Down, quit}
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	l := m.com.Keys.List
	return [][]key.Binding{m.ShortHelp(), {l.PageUp, l.PageDown, l.Top, l.Bottom}}
}
