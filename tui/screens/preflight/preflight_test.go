package preflight

import (
	"errors"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"

	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

func TestPreflightGatesOnFailures(t *testing.T) {
	t.Parallel()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	req := common.Request{Goal: common.GoalInstall}
	m := New(com, req)
	m.SetSize(80, 21)
	if _, cmd := m.Update(tuitest.KeyMsg("enter")); cmd != nil {
		t.Error("enter while loading must do nothing")
	}
	m.Update(ResultMsg{Checks: []common.Check{
		{Name: "disk sdb", Status: common.CheckFail, Detail: "holds data", Fix: "add it to storage.confirm_wipe"},
		{Name: "dns", Status: common.CheckUnknown, Detail: "no resolver"},
	}})
	if _, cmd := m.Update(tuitest.KeyMsg("enter")); cmd != nil {
		t.Error("enter with a failed check must not continue")
	}
	v := tuitest.Plain(m.View())
	for _, want := range []string{"[FAIL] disk sdb: holds data", "fix: add it to storage.confirm_wipe", "[ ?? ] dns", "1 check(s) failed"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	_, cmd := m.Update(tuitest.KeyMsg("r"))
	if _, ok := cmd().(RecheckMsg); !ok {
		t.Error("r should ask for a recheck")
	}
	m.Update(ResultMsg{Checks: []common.Check{{Name: "dns", Status: common.CheckUnknown}}})
	_, cmd = m.Update(tuitest.KeyMsg("enter"))
	if got, ok := cmd().(ContinueMsg); !ok || got.Req.Goal != common.GoalInstall {
		t.Errorf("could-not-check does not block: got %#v", got)
	}
	m.Update(ResultMsg{Err: errors.New("ssh: connection lost")})
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "Could not run the checks: ssh: connection lost") {
		t.Errorf("error view:\n%s", v)
	}
}
