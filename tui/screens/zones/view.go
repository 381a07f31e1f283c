package zones

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/x/ansi"

	cz "github.com/tappaas/tappaas/config/zones"
)

// View implements common.Screen.
func (m *Model) View() string {
	switch m.mode {
	case modeForm:
		return m.viewForm()
	case modeMatrix:
		return m.viewMatrix()
	case modePlan, modeConfirmApply:
		return m.viewPlan()
	case modeBusy:
		if m.plan != nil && m.busyLabel == "applying to the firewall…" {
			return m.viewPlan()
		}
	}
	return m.viewTable()
}

func (m *Model) line(s string) string { return ansi.Truncate(s, max(m.width, 20), "…") + "\n" }

func (m *Model) summary() string {
	st := m.com.Styles
	n := len(m.file.Zones)
	var parts []string
	parts = append(parts, fmt.Sprintf("%d zones", n))
	if m.rep.OK() {
		parts = append(parts, st.OK.Render("valid"))
	} else {
		parts = append(parts, st.Error.Render(fmt.Sprintf("%d error(s)", len(m.rep.Errors))))
	}
	if w := len(m.rep.Warnings); w > 0 {
		parts = append(parts, st.Warn.Render(fmt.Sprintf("%d warning(s)", w)))
	}
	if m.dirty {
		parts = append(parts, st.Warn.Render("unsaved"))
	}
	if m.deps.Path != "" {
		parts = append(parts, st.Muted.Render(m.deps.Path))
	}
	return strings.Join(parts, st.Muted.Render(" · "))
}

func (m *Model) statusLine() string {
	st := m.com.Styles
	switch {
	case m.mode == modeBusy:
		return st.Muted.Render("… " + m.busyLabel)
	case m.mode == modeConfirmDelete && m.sel < len(m.file.Zones):
		return st.Warn.Render(fmt.Sprintf("Delete zone %s (and remove it from other zones' access lists)? y/n", m.file.Zones[m.sel].Name))
	case m.mode == modeConfirmApply:
		c, u, d := m.plan.Count()
		return st.Warn.Render(fmt.Sprintf("Apply %d create(s), %d update(s), %d delete(s) to the firewall? y/n", c, u, d))
	case m.status == "":
		return ""
	case m.statusErr:
		return st.Error.Render(m.status)
	}
	return st.OK.Render(m.status)
}

func dhcpText(z *cz.Zone) string {
	if !z.Tagged() || z.Type == "Overlay" {
		return "-"
	}
	s, e := z.DHCPOffsets()
	return fmt.Sprintf("%d-%d", s, e)
}

func (m *Model) viewTable() string {
	st := m.com.Styles
	var b strings.Builder
	b.WriteString(m.line(m.summary()))
	rows := max(m.height-8, 3)
	if m.sel < m.top {
		m.top = m.sel
	}
	if m.sel >= m.top+rows {
		m.top = m.sel - rows + 1
	}
	b.WriteString(m.zoneTable(m.top, min(m.top+rows, len(m.file.Zones))))
	if len(m.file.Zones) == 0 {
		b.WriteString(m.line(st.Muted.Render("  no zones yet: press a to add one")))
	}
	b.WriteString("\n")
	// Findings of the selected zone (and file-wide ones).
	if m.sel < len(m.file.Zones) {
		errs, warns := m.rep.For(m.file.Zones[m.sel].Name)
		shown := 0
		for _, e := range errs {
			if shown < 3 {
				b.WriteString(m.line(st.Error.Render("✗ " + e.Field + ": " + e.Message)))
				shown++
			}
		}
		for _, w := range warns {
			if shown < 3 {
				b.WriteString(m.line(st.Warn.Render("! " + w.Field + ": " + w.Message)))
				shown++
			}
		}
		if more := len(errs) + len(warns) - shown; more > 0 {
			b.WriteString(m.line(st.Muted.Render(fmt.Sprintf("  … %d more (tappaas zones validate lists all)", more))))
		}
	}
	if s := m.statusLine(); s != "" {
		b.WriteString(m.line(s))
	}
	return b.String()
}

func (m *Model) viewMatrix() string {
	st := m.com.Styles
	var b strings.Builder
	b.WriteString(m.line(st.Title.Render("Access matrix") + st.Muted.Render("  rows may reach columns (access-to); · = no")))
	cols := []string{cz.KeywordInternet}
	cols = append(cols, m.file.Names()...)
	const nameW, cellW = 12, 6
	fit := max((max(m.width, 40)-nameW-1)/cellW, 1)
	shown := cols
	if len(shown) > fit {
		shown = shown[:fit]
	}
	hdr := fitCell("from \\ to", nameW) + " "
	for _, c := range shown {
		hdr += fitCell(c, cellW-1) + " "
	}
	b.WriteString(m.line(st.Bold.Render(hdr)))
	iso := map[string]bool{}
	for _, n := range m.file.IsolatedZones() {
		iso[n] = true
	}
	rows := max(m.height-6, 3)
	for i, z := range m.file.Zones {
		if i >= rows {
			b.WriteString(m.line(st.Muted.Render(fmt.Sprintf("… %d more zones", len(m.file.Zones)-rows))))
			break
		}
		row := fitCell(z.Name, nameW) + " "
		all := z.HasAccess(cz.KeywordAll)
		for _, c := range shown {
			cell := "·"
			switch {
			case c == z.Name:
				cell = "="
			case all || z.HasAccess(c):
				cell = "✓"
			}
			row += fitCell(cell, cellW)
		}
		if !z.State.Enabled() {
			row += st.Muted.Render(" (" + string(z.State) + ")")
		}
		b.WriteString(m.line(row))
	}
	b.WriteString("\n")
	note := "= same zone"
	if len(iso) > 0 {
		names := make([]string, 0, len(iso))
		for _, z := range m.file.Zones {
			if iso[z.Name] {
				names = append(names, z.Name)
			}
		}
		note += " · isolated (only mgmt may list them): " + strings.Join(names, ", ")
	}
	if len(cols) > len(shown) {
		note += fmt.Sprintf(" · %d of %d columns shown (widen the terminal)", len(shown), len(cols))
	}
	b.WriteString(m.line(st.Muted.Render(note)))
	return b.String()
}

func (m *Model) viewPlan() string {
	st := m.com.Styles
	var b strings.Builder
	head := st.Title.Render("Plan against the firewall")
	if m.plan != nil {
		c, u, d := m.plan.Count()
		head += st.Muted.Render(fmt.Sprintf("  %d to create, %d to update, %d to delete", c, u, d))
	}
	b.WriteString(m.line(head))
	var lines []string
	if m.plan != nil {
		lines = strings.Split(strings.TrimRight(m.plan.Text(), "\n"), "\n")
	}
	if len(m.applyLog) > 0 {
		lines = append(lines, "", "Apply log:")
		lines = append(lines, m.applyLog...)
	}
	h := max(m.height-4, 3)
	m.planTop = min(m.planTop, max(len(lines)-h, 0))
	end := min(m.planTop+h, len(lines))
	for _, l := range lines[m.planTop:end] {
		switch {
		case strings.HasPrefix(strings.TrimSpace(l), "+ "):
			l = st.OK.Render(l)
		case strings.HasPrefix(strings.TrimSpace(l), "- "):
			l = st.Error.Render(l)
		case strings.HasPrefix(strings.TrimSpace(l), "~ "):
			l = st.Warn.Render(l)
		case strings.HasPrefix(l, "warning:"):
			l = st.Warn.Render(l)
		}
		b.WriteString(m.line(l))
	}
	if end < len(lines) {
		b.WriteString(m.line(st.Muted.Render(fmt.Sprintf("… %d more lines (↓/pgdn)", len(lines)-end))))
	}
	if s := m.statusLine(); s != "" {
		b.WriteString(m.line(s))
	}
	return b.String()
}
