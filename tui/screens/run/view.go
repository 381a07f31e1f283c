package run

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tappaas/tappaas/steps"
)

// wide is the width from which the step list and log sit side by side.
const wide = 100

func (m *Model) listWidth() int {
	if m.width < wide {
		return m.width
	}
	return min(max(m.width*2/5, 36), 56)
}

// listHeight is the number of step rows shown.
func (m *Model) listHeight() int {
	avail := m.height - 2 // status line + bottom line
	if m.width >= wide {
		return max(avail, 1)
	}
	return max(min(len(m.rows), avail/2-1), 3)
}

func (m *Model) layoutLog() {
	avail := m.height - 2
	if m.width >= wide {
		m.log.SetSize(m.width-m.listWidth()-3, avail)
		return
	}
	m.log.SetSize(m.width, max(avail-m.listHeight()-1, 3))
}

func (m *Model) stateText() string {
	if m.ask != nil && m.state == StateRunning {
		return "a step failed: waiting for you"
	}
	switch m.state {
	case StateStarting:
		return "starting"
	case StateRunning:
		return "running"
	case StatePausing:
		return "pausing after the running step"
	case StateStopping:
		return "stopping"
	case StateDone:
		return "done"
	case StateFailed:
		return "failed"
	case StatePaused:
		return "stopped; checkpoint saved"
	}
	return ""
}

func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return ""
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func (m *Model) elapsed() time.Duration {
	if m.started.IsZero() {
		return 0
	}
	if !m.ended.IsZero() {
		return m.ended.Sub(m.started)
	}
	return m.com.Now().Sub(m.started)
}

func (m *Model) counts() (done, total int) {
	for _, r := range m.rows {
		if r.status == Done || r.status == Skipped {
			done++
		}
	}
	return done, len(m.rows)
}

// View implements common.Screen.
func (m *Model) View() string {
	if m.width <= 0 || m.height <= 0 {
		return ""
	}
	st := m.com.Styles
	done, total := m.counts()
	head := fmt.Sprintf("%s · %d/%d steps", m.stateText(), done, total)
	if m.Running() && m.ask == nil { // while it waits for the operator, time says nothing
		est := m.est.Estimate(m.com.Now())
		head += fmt.Sprintf(" · %d%% · elapsed %s · ETA %s", int(est.Fraction*100), fmtDur(m.elapsed()), fmtDur(est.Left))
	} else {
		head += " · elapsed " + fmtDur(m.elapsed())
	}
	if m.state == StateFailed {
		head += " · log: " + m.com.LogPath
	}
	hs := st.Bold
	switch m.state {
	case StateFailed:
		hs = st.Error
	case StateDone:
		hs = st.OK
	case StatePaused, StatePausing, StateStopping:
		hs = st.Warn
	}
	var b strings.Builder
	b.WriteString(ansi.Truncate(hs.Render(head), m.width, "…"))
	b.WriteByte('\n')
	list := m.listView()
	logv := m.log.View()
	if m.width >= wide {
		sep := strings.Repeat(st.Rule.Render("│")+"\n", m.height-2)
		b.WriteString(lipgloss.JoinHorizontal(lipgloss.Top,
			lipgloss.NewStyle().Width(m.listWidth()).Render(list), " ", strings.TrimSuffix(sep, "\n"), " ", logv))
	} else {
		b.WriteString(list)
		b.WriteByte('\n')
		b.WriteString(st.Rule.Render(strings.Repeat("─", m.width)))
		b.WriteByte('\n')
		b.WriteString(logv)
	}
	b.WriteByte('\n')
	b.WriteString(m.bottomLine())
	return b.String()
}

func (m *Model) bottomLine() string {
	st := m.com.Styles
	var s string
	switch {
	case m.ask != nil:
		s = st.Error.Render("waiting for you: r retry · a abort") + st.Muted.Render(m.skipHint())
	case m.state == StateFailed:
		msg := "failed"
		if m.runErr != nil {
			msg += ": " + m.runErr.Error()
		}
		s = st.Error.Render(msg) + st.Muted.Render(" · r retry")
	case m.state == StatePaused:
		s = st.Warn.Render("stopped at a safe point; checkpoint saved") + st.Muted.Render(" · r resume · q home")
	case len(m.warnings) > 0 && m.state != StateDone:
		s = st.Warn.Render("warning: " + strings.Join(m.warnings, "; "))
	case m.dropped > 0:
		s = st.Muted.Render(fmt.Sprintf("%d output lines shown only in the log file (%s)", m.dropped, m.com.LogPath))
	case m.state == StateDone:
		s = st.OK.Render("all steps done") + st.Muted.Render(" · enter: summary")
	default:
		now := m.com.Now()
		if stalls := m.est.Stalled(now); len(stalls) > 0 {
			s = st.Warn.Render(stalls[0].Text(now))
		} else if r := m.current(); r != nil {
			s = st.Muted.Render(activity(r, now))
		}
	}
	return ansi.Truncate(s, m.width, "…")
}

// activity is the running step's line: bytes and rate of a download, what
// a wait waits for and when it gives up, or what it reported.
func activity(r *row, now time.Time) string {
	switch {
	case r.done > 0 || r.total > 0:
		s := r.what + " · " + steps.Bytes(r.done)
		if r.total > 0 {
			s += " of " + steps.Bytes(r.total)
		}
		if r.rate > 0 {
			s += " · " + steps.Bytes(int64(r.rate)) + "/s"
		}
		return s
	case !r.deadline.IsZero():
		return fmt.Sprintf("gives up in %s · waiting for %s", steps.ShortDuration(max(r.deadline.Sub(now), 0)), r.what)
	}
	return r.what
}

func (m *Model) skipHint() string {
	if m.ask != nil && offers(m.ask, steps.ChoiceSkip) {
		return " · s skip"
	}
	return ""
}

func (m *Model) current() *row {
	for i := range m.rows {
		if m.rows[i].status == Running {
			return &m.rows[i]
		}
	}
	return nil
}

func (m *Model) icon(r row) string {
	st := m.com.Styles
	ic := st.Icons
	switch r.status {
	case Running:
		return st.Step.Running.Render(ic.Spinner[m.frame%len(ic.Spinner)])
	case Done:
		return st.Step.Done.Render(ic.Done)
	case Skipped:
		return st.Step.Skipped.Render(ic.Skipped)
	case Failed:
		return st.Step.Failed.Render(ic.Failed)
	case Interrupted:
		return st.Step.Interrupted.Render(ic.Interrupted)
	}
	if r.info.Checkpoint == "done" {
		return st.Step.Skipped.Render(ic.Pending)
	}
	return st.Step.Pending.Render(ic.Pending)
}

func (m *Model) rowTime(r row) string {
	switch r.status {
	case Running:
		d := m.com.Now().Sub(r.started)
		if r.progress > 0 && r.progress <= 1 {
			return fmt.Sprintf("%3d%% %s", int(r.progress*100), fmtDur(d))
		}
		return fmtDur(d)
	case Done, Failed, Interrupted:
		return fmtDur(r.dur)
	case Skipped:
		switch {
		case strings.Contains(r.reason, "operator"):
			return "skipped"
		case len(r.info.Changes) > 0 && strings.HasPrefix(r.info.Changes[0], "read-only"):
			return "checked" // a check step runs fresh every time
		case r.info.Checkpoint == "done" || r.info.Checkpoint == "skipped":
			return "done before" // by an earlier run, re-checked now
		}
		return "already set" // this run's check found it on the node
	}
	return ""
}

func (m *Model) listView() string {
	st := m.com.Styles
	w := m.listWidth()
	h := m.listHeight()
	first := 0
	if len(m.rows) > h {
		first = min(max(m.sel-h/2, 0), len(m.rows)-h)
	}
	var lines []string
	for i := first; i < len(m.rows) && len(lines) < h; i++ {
		r := m.rows[i]
		t := m.rowTime(r)
		// cursor (2) + icon (1) + space (1) + title + at least 1 space + time
		titleW := max(w-5-lipgloss.Width(t), 4)
		title := ansi.Truncate(r.info.Title, titleW, "…")
		pad := max(w-4-lipgloss.Width(title)-lipgloss.Width(t), 1)
		text := title + strings.Repeat(" ", pad) + st.Step.Time.Render(t)
		cursor := "  "
		if i == m.sel {
			cursor = "> "
			if !m.logFocus {
				text = st.Step.Selected.Render(ansi.Strip(text))
			}
		}
		lines = append(lines, ansi.Truncate(cursor+m.icon(r)+" "+text, w, "…"))
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// ShortHelp implements help.KeyMap.
func (m *Model) ShortHelp() []key.Binding {
	k := m.com.Keys
	if m.log.Searching() {
		return []key.Binding{k.Dialog.Confirm, k.Dialog.Cancel}
	}
	var bs []key.Binding
	switch {
	case m.ask != nil:
		bs = append(bs, k.Run.Retry)
		if offers(m.ask, steps.ChoiceSkip) {
			bs = append(bs, k.Run.Skip)
		}
	case m.state == StateRunning:
		bs = append(bs, k.Run.Pause)
	case m.state == StateFailed || m.state == StatePaused:
		bs = append(bs, k.Run.Retry)
	case m.state == StateDone:
		bs = append(bs, k.Run.Continue)
	}
	bs = append(bs, k.Run.Quit, k.Run.Focus, k.List.Up, k.List.Down, k.Run.Search, k.Run.Follow)
	return bs
}

// FullHelp implements help.KeyMap.
func (m *Model) FullHelp() [][]key.Binding {
	k := m.com.Keys
	return [][]key.Binding{m.ShortHelp(), {k.Run.Next, k.Run.Prev, k.Run.PageUp, k.Run.PageDown, k.Run.Top, k.Run.Bottom}}
}
