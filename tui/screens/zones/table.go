package zones

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"charm.land/lipgloss/v2/table"
	"github.com/charmbracelet/x/ansi"
)

// Columns of the zones table, in cells (display width, so CJK and emoji count
// twice). The mark column holds the cursor and the error/warning mark; the
// last two columns share what the terminal leaves.
var zoneCols = []struct {
	head  string
	width int
	right bool
}{
	{"", 3, false}, {"NAME", 12, false}, {"TYPE", 10, false}, {"STATE", 9, false},
	{"VLAN", 4, true}, {"SUBNET", 15, false}, {"DHCP", 7, false},
}

// minDescW is the narrowest DESCRIPTION column worth showing.
const minDescW = 12

// zoneTable renders zones [from, to) as a table as wide as the terminal:
// ACCESS-TO gets what its longest list needs, DESCRIPTION (when at least
// minDescW cells are left) the rest. Every cell is cut by display width.
func (m *Model) zoneTable(from, to int) string {
	st := m.com.Styles
	width := max(m.width, 20)
	// Columns after NAME start with a one-cell gap (PaddingLeft).
	gap := func(col int) int { return min(max(col-1, 0), 1) }
	fixed := 0
	for i, c := range zoneCols {
		fixed += c.width + gap(i)
	}
	access := len("ACCESS-TO")
	for i := from; i < to; i++ {
		access = max(access, lipgloss.Width(joinOr(m.file.Zones[i].AccessTo, "(none)")))
	}
	access = max(min(access, width-fixed-1), 1)
	desc := width - fixed - access - 2
	heads := make([]string, 0, len(zoneCols)+2)
	widths := make([]int, 0, len(zoneCols)+2)
	for i, c := range zoneCols {
		heads = append(heads, c.head)
		widths = append(widths, c.width+gap(i))
	}
	heads = append(heads, "ACCESS-TO")
	if desc >= minDescW {
		heads = append(heads, "DESCRIPTION")
		widths = append(widths, access+1, desc+1)
	} else {
		widths = append(widths, access+1)
	}
	t := table.New().Headers(heads...).BorderTop(false).BorderBottom(false).BorderLeft(false).
		BorderRight(false).BorderHeader(false).BorderColumn(false).BorderRow(false).Wrap(false)
	for i := from; i < to; i++ {
		t.Row(m.zoneRow(i, len(heads))...)
	}
	t.StyleFunc(func(row, col int) lipgloss.Style {
		s := st.Text
		switch {
		case row == table.HeaderRow:
			s = st.Bold
		case from+row == m.sel:
			s = st.Menu.Selected
		}
		if col == 0 {
			s = lipgloss.NewStyle() // the mark carries its own colour
		}
		s = s.Width(widths[col]).MaxWidth(widths[col])
		if gap(col) > 0 {
			s = s.PaddingLeft(1)
		}
		if col < len(zoneCols) && zoneCols[col].right {
			s = s.AlignHorizontal(lipgloss.Right)
		}
		return s
	})
	var b strings.Builder
	for _, l := range strings.Split(t.String(), "\n") {
		b.WriteString(m.line(strings.TrimRight(l, " ")))
	}
	return b.String()
}

// zoneRow is the cells of zone i, n of them (with or without DESCRIPTION).
func (m *Model) zoneRow(i, n int) []string {
	st := m.com.Styles
	z := m.file.Zones[i]
	errs, warns := m.rep.For(z.Name)
	mark := "  "
	switch {
	case len(errs) > 0:
		mark = st.Error.Render("✗ ")
	case len(warns) > 0:
		mark = st.Warn.Render("! ")
	}
	cursor := " "
	if i == m.sel {
		cursor = st.Menu.Selected.Render(">")
	}
	vlan := "-"
	if z.Tagged() {
		vlan = fmt.Sprint(z.VLANTag)
	}
	cells := []string{cursor + mark, z.Name, z.Type, string(z.State), vlan, z.IP, dhcpText(z), joinOr(z.AccessTo, "(none)"), z.Description}
	return cells[:n]
}

// fitCell cuts s to n cells of display width (with "…") and pads it to n.
func fitCell(s string, n int) string {
	s = ansi.Truncate(s, n, "…")
	return s + strings.Repeat(" ", max(n-ansi.StringWidth(s), 0))
}
