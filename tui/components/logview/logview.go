package logview

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/tui/styles"
)

// Model is the log pane. It shows one Ring at a time.
type Model struct {
	st    *styles.Styles
	ring  *Ring
	title string

	// top is the absolute line number shown first when not following.
	top    int64
	follow bool

	width, height int

	searching bool
	input     textinput.Model
	query     string
	// notFound is set when the last search step found nothing.
	notFound bool
}

// New returns a log pane in follow mode.
func New(st *styles.Styles) Model {
	ti := textinput.New()
	ti.SetStyles(st.TextInput())
	ti.Prompt = "/"
	ti.CharLimit = 200
	return Model{st: st, follow: true, input: ti}
}

// SetRing shows another ring (another step); keeps follow mode.
func (m *Model) SetRing(r *Ring, title string) {
	if m.ring != r {
		m.ring = r
		m.top = 0
		if r != nil && !m.follow {
			m.top = r.First()
		}
	}
	m.title = title
}

// SetSize sets the pane size (including its title and status lines).
func (m *Model) SetSize(w, h int) {
	m.width, m.height = w, h
	m.input.SetWidth(max(w-4, 1))
}

// Following reports whether the pane follows new lines.
func (m Model) Following() bool { return m.follow }

// Searching reports whether the search prompt is open.
func (m Model) Searching() bool { return m.searching }

// Query is the active search query.
func (m Model) Query() string { return m.query }

// Top is the absolute number of the first visible line.
func (m Model) Top() int64 { return m.visibleTop() }

func (m Model) bodyHeight() int { return max(m.height-2, 1) }

func (m Model) visibleTop() int64 {
	if m.ring == nil {
		return 0
	}
	first, total := m.ring.First(), m.ring.Total()
	last := max(total-int64(m.bodyHeight()), first)
	if m.follow {
		return last
	}
	return min(max(m.top, first), last)
}

// SetFollow turns follow mode on or off.
func (m *Model) SetFollow(on bool) {
	if !on && m.follow {
		m.top = m.visibleTop()
	}
	m.follow = on
}

// Scroll moves the view by n lines (negative: up). Scrolling up leaves
// follow mode; reaching the end re-enters it.
func (m *Model) Scroll(n int) {
	if m.ring == nil {
		return
	}
	t := m.visibleTop() + int64(n)
	m.follow = false
	m.top = t
	if m.top >= m.ring.Total()-int64(m.bodyHeight()) {
		m.follow = true
	}
}

// PageUp and PageDown scroll by a page.
func (m *Model) PageUp()   { m.Scroll(-m.bodyHeight()) }
func (m *Model) PageDown() { m.Scroll(m.bodyHeight()) }

// GotoTop shows the oldest line held.
func (m *Model) GotoTop() {
	if m.ring == nil {
		return
	}
	m.follow = false
	m.top = m.ring.First()
}

// GotoBottom shows the newest lines and follows.
func (m *Model) GotoBottom() { m.follow = true }

// StartSearch opens the search prompt.
func (m *Model) StartSearch() tea.Cmd {
	m.searching = true
	m.input.SetValue(m.query)
	m.input.CursorEnd()
	return m.input.Focus()
}

// Update handles keys while the search prompt is open. It returns true when
// it consumed the message.
func (m *Model) Update(msg tea.Msg) (bool, tea.Cmd) {
	if !m.searching {
		return false, nil
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "enter":
			m.searching = false
			m.input.Blur()
			m.query = m.input.Value()
			m.Next(true)
			return true, nil
		case "esc":
			m.searching = false
			m.input.Blur()
			return true, nil
		}
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(msg)
	return true, cmd
}

// Next jumps to the next (forward) or previous match of the query, wrapping.
func (m *Model) Next(forward bool) {
	m.notFound = false
	if m.ring == nil || m.query == "" {
		return
	}
	q := strings.ToLower(m.query)
	n := m.ring.Len()
	if n == 0 {
		m.notFound = true
		return
	}
	cur := int(m.visibleTop() - m.ring.First())
	for i := 1; i <= n; i++ {
		var j int
		if forward {
			j = (cur + i) % n
		} else {
			j = ((cur-i)%n + n) % n
		}
		if strings.Contains(strings.ToLower(m.ring.At(j).Text), q) {
			m.follow = false
			m.top = m.ring.First() + int64(j)
			return
		}
	}
	m.notFound = true
}

// View renders the pane: a title line, the lines, a status line.
func (m Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	var b strings.Builder
	mode := "follow"
	if !m.follow {
		mode = "scroll"
	}
	b.WriteString(ansi.Truncate(m.st.Log.Title.Render("Log: "+m.title)+m.st.Muted.Render(" ("+mode+")"), m.width, "…"))
	body := m.bodyHeight()
	top := m.visibleTop()
	q := strings.ToLower(m.query)
	shown := 0
	if m.ring != nil {
		first := m.ring.First()
		for i := 0; i < body; i++ {
			idx := top + int64(i) - first
			if idx < 0 || idx >= int64(m.ring.Len()) {
				break
			}
			l := m.ring.At(int(idx))
			b.WriteByte('\n')
			b.WriteString(m.renderLine(l, q))
			shown++
		}
	}
	for ; shown < body; shown++ {
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(m.status(top))
	return b.String()
}

func (m Model) renderLine(l Line, q string) string {
	text := ansi.Truncate(l.Text, m.width, "…")
	st := m.st.Log.Line
	switch l.Stream {
	case steps.StreamStderr:
		st = m.st.Log.Stderr
	case steps.StreamInfo:
		st = m.st.Log.Info
	}
	if q == "" {
		return st.Render(text)
	}
	lower := strings.ToLower(text)
	var b strings.Builder
	i := 0
	for {
		j := strings.Index(lower[i:], q)
		if j < 0 || len(lower) != len(text) {
			b.WriteString(st.Render(text[i:]))
			break
		}
		b.WriteString(st.Render(text[i : i+j]))
		b.WriteString(m.st.Log.Match.Render(text[i+j : i+j+len(q)]))
		i += j + len(q)
	}
	return b.String()
}

func (m Model) status(top int64) string {
	if m.searching {
		return ansi.Truncate(m.input.View(), m.width, "…")
	}
	if m.ring == nil || m.ring.Total() == 0 {
		return m.st.Log.Status.Render("no output yet")
	}
	end := min(top+int64(m.bodyHeight()), m.ring.Total())
	s := fmt.Sprintf("lines %d–%d of %d", top+1, end, m.ring.Total())
	if m.ring.First() > 0 {
		s += fmt.Sprintf(" (first %d in the log file only)", m.ring.First())
	}
	if m.query != "" {
		if m.notFound {
			s += fmt.Sprintf(" · %q not found", m.query)
		} else {
			s += fmt.Sprintf(" · /%s", m.query)
		}
	}
	return ansi.Truncate(m.st.Log.Status.Render(s), m.width, "…")
}
