// Package footer renders the help line gathered from the active screen (and
// dialog) plus global bindings.
package footer

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/tappaas/tappaas/tui/styles"
)

// Render lays out enabled bindings on as many lines as needed (at most
// maxLines), each at most width cells wide.
func Render(st *styles.Styles, width, maxLines int, bindings ...key.Binding) string {
	var items []string
	for _, b := range bindings {
		if !b.Enabled() || b.Help().Key == "" {
			continue
		}
		items = append(items, st.Footer.Key.Render(b.Help().Key)+" "+st.Footer.Desc.Render(b.Help().Desc))
	}
	sep := st.Footer.Sep.Render(" · ")
	var lines []string
	cur := ""
	for _, it := range items {
		switch {
		case cur == "":
			cur = it
		case lipgloss.Width(cur)+lipgloss.Width(sep)+lipgloss.Width(it) <= width:
			cur += sep + it
		default:
			lines = append(lines, cur)
			cur = it
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	if maxLines > 0 && len(lines) > maxLines {
		lines = lines[:maxLines]
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, width, "…")
	}
	return strings.Join(lines, "\n")
}
