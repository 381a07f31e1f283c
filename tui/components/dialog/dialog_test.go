package dialog

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

// run executes a dialog's Cmd (a Sequence of close + result) and returns the
// messages it produced.
func run(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	var out []tea.Msg
	var walk func(m tea.Msg)
	walk = func(m tea.Msg) {
		switch m := m.(type) {
		case nil:
		case tea.BatchMsg:
			for _, c := range m {
				if c != nil {
					walk(c())
				}
			}
		default:
			// tea.Sequence is an unexported []Cmd: use the driver's trick
			if cs, ok := asCmds(m); ok {
				for _, c := range cs {
					if c != nil {
						walk(c())
					}
				}
				return
			}
			out = append(out, m)
		}
	}
	walk(cmd())
	return out
}

func newCom() *common.Common { return common.New(styles.ForProfile(colorprofile.ASCII), nil, nil) }

func TestChoiceShortcutsArrowsAndCancel(t *testing.T) {
	t.Parallel()
	opts := []Option{{Key: "r", Label: "Retry", Value: "retry"}, {Key: "a", Label: "Abort", Value: "abort"}}
	d := New(newCom(), "ask", "A step failed", []string{"boom"}, opts, nil).WithCancel("abort")
	_, cmd := d.Update(tuitest.KeyMsg("a"))
	msgs := run(cmd)
	if len(msgs) != 2 || msgs[0] != (common.CloseDialogMsg{ID: "ask"}) || msgs[1] != (ChosenMsg{ID: "ask", Value: "abort"}) {
		t.Errorf("shortcut a: %#v", msgs)
	}
	d.Update(tuitest.KeyMsg("right")) // from abort (last) wraps to retry
	if d.Selected() != "retry" {
		t.Errorf("right wraps: %s", d.Selected())
	}
	_, cmd = d.Update(tuitest.KeyMsg("esc"))
	if msgs := run(cmd); len(msgs) != 2 || msgs[1] != (ChosenMsg{ID: "ask", Value: "abort"}) {
		t.Errorf("esc: %#v", msgs)
	}
}

func TestTypedConfirmationGuardsDangerousOption(t *testing.T) {
	t.Parallel()
	opts := []Option{{Key: "w", Label: "Wipe", Value: "wipe", Danger: true}, {Key: "c", Label: "Cancel", Value: "cancel"}}
	d := New(newCom(), "wipe", "Wipe disks?", []string{"sdb holds data"}, opts, nil).WithTyped("WIPE sdb")
	if _, cmd := d.Update(tuitest.KeyMsg("enter")); cmd != nil {
		t.Error("danger option chosen without the typed text")
	}
	if v := tuitest.Plain(d.View(80, 24)); !strings.Contains(v, "type exactly: WIPE sdb") {
		t.Errorf("no hint:\n%s", v)
	}
	for _, r := range "WIPE sdb" {
		d.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	_, cmd := d.Update(tuitest.KeyMsg("enter"))
	if msgs := run(cmd); len(msgs) != 2 || msgs[1] != (ChosenMsg{ID: "wipe", Value: "wipe"}) {
		t.Errorf("after typing: %#v", msgs)
	}
}
