package common

import (
	"strings"

	"charm.land/huh/v2"

	"github.com/tappaas/tappaas/tui/styles"
)

// WipeWord is what the operator must type to confirm wiping disks.
func WipeWord(disks []string) string { return "WIPE " + strings.Join(disks, " ") }

// FieldError renders the focused group's first validation error, wrapped
// to width so its fix hint is never cut off; empty when the group is valid,
// so a fixed error disappears. The one validation style of the wizards and
// the zone editor (forms built WithShowErrors(false)).
func FieldError(st *styles.Styles, f *huh.Form, width int) string {
	errs := f.Errors()
	if len(errs) == 0 {
		return ""
	}
	return st.Error.Width(max(width, 20)).Render("✗ " + errs[0].Error())
}
