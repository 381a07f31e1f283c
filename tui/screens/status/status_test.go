package status

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

// The step list scrolls to its last step and no further: one key up after
// holding down always moves back.
func TestStatusScrollStopsAtTheEnd(t *testing.T) {
	t.Parallel()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	info := &common.NodeInfo{Hostname: "tappaas1", Installed: true}
	for i := 1; i <= 30; i++ {
		info.Steps = append(info.Steps, common.StepState{ID: fmt.Sprint(i), Title: fmt.Sprintf("step %02d", i), Status: "done"})
	}
	m := New(com, info)
	m.SetSize(80, 20)
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "step 01") || !strings.Contains(v, "more") {
		t.Fatalf("first page:\n%s", v)
	}
	for i := 0; i < 100; i++ {
		m.Update(tuitest.KeyMsg("down"))
		m.View()
	}
	bottom := tuitest.Plain(m.View())
	if !strings.Contains(bottom, "step 30") || strings.Contains(bottom, "↓") {
		t.Fatalf("bottom should show the last step:\n%s", bottom)
	}
	m.Update(tuitest.KeyMsg("up"))
	if v := tuitest.Plain(m.View()); v == bottom || !strings.Contains(v, "↓ 1 more") {
		t.Errorf("one key up should move back one line:\n%s", v)
	}
}

// A long hostname in CJK/emoji is cut to the screen's width in cells, not
// in runes (which would leave it twice as wide as the screen).
func TestStatusWideHostnameFits(t *testing.T) {
	t.Parallel()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	m := New(com, &common.NodeInfo{Hostname: strings.Repeat("東京ノード🖥", 10), Installed: true})
	m.SetSize(40, 20)
	v := tuitest.Plain(m.View())
	for _, l := range strings.Split(v, "\n") {
		if w := ansi.StringWidth(l); w > 40 {
			t.Errorf("line %d cells wide on a 40-cell screen: %q", w, l)
		}
	}
	if !strings.Contains(v, "Node           東京ノード🖥東京") {
		t.Errorf("hostname not shown:\n%s", v)
	}
}
