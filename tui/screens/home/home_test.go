package home

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

func msgOf(t *testing.T, cmd tea.Cmd) tea.Msg {
	t.Helper()
	if cmd == nil {
		return nil
	}
	return cmd()
}

func TestHomeKeysChooseActions(t *testing.T) {
	t.Parallel()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	m := New(com, true)
	m.SetSize(80, 21)
	m.SetInfo(common.NodeInfo{Hostname: "tappaas1"}, nil)
	for _, tc := range []struct {
		keys []string
		want Action
	}{
		{[]string{"enter"}, ActInstall},
		{[]string{"down", "enter"}, ActJoin},
		{[]string{"down", "down", "enter"}, ActZones},
		{[]string{"up", "enter"}, ActQuit},
		{[]string{"q"}, ActQuit},
		{[]string{"down", "q"}, ActQuit},
		{[]string{"end", "up", "enter"}, ActStatus},
	} {
		m.sel = 0
		var cmd tea.Cmd
		for _, k := range tc.keys {
			_, cmd = m.Update(tuitest.KeyMsg(k))
		}
		got, ok := msgOf(t, cmd).(ActionMsg)
		if !ok || got.Action != tc.want {
			t.Errorf("%v: got %#v, want %v", tc.keys, got, tc.want)
		}
	}
	// modules is not built: choosing it does nothing
	m.sel = 3
	if _, cmd := m.Update(tuitest.KeyMsg("enter")); cmd != nil {
		t.Errorf("modules (not built) produced %v", msgOf(t, cmd))
	}
}

func TestHomeOffersResumeFirstWithCheckpoint(t *testing.T) {
	t.Parallel()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	m := New(com, false)
	m.SetSize(80, 21)
	m.SetInfo(common.NodeInfo{Hostname: "tappaas1", Checkpoint: &common.Checkpoint{Goal: common.GoalInstall, Step: 3, Total: 9,
		StepTitle: "Cluster TAPPaaS", By: "root@tappaas1", At: time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)}}, nil)
	_, cmd := m.Update(tuitest.KeyMsg("enter"))
	if got, _ := msgOf(t, cmd).(ActionMsg); got.Action != ActResume {
		t.Errorf("enter with a checkpoint = %v, want resume", got.Action)
	}
	v := tuitest.Plain(m.View())
	for _, want := range []string{"resume at step 3 of 9 (Cluster TAPPaaS)", "root@tappaas1 at 2026-01-02 03:04"} {
		if !contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	// zones not built here: disabled
	m.sel = 3
	if _, cmd := m.Update(tuitest.KeyMsg("enter")); cmd != nil {
		t.Error("zones (not built) should be disabled")
	}
}

func TestHomeShowsNodeInfoError(t *testing.T) {
	t.Parallel()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	m := New(com, false)
	m.SetSize(80, 21)
	m.SetInfo(common.NodeInfo{}, errTest("ssh: connect to 192.168.1.10:22: connection refused"))
	if v := tuitest.Plain(m.View()); !contains(v, "could not read node info: ssh: connect") {
		t.Errorf("error not shown:\n%s", v)
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }

func contains(s, sub string) bool { return len(sub) == 0 || indexOf(s, sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}
