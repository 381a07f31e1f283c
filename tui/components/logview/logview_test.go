package logview

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/tui/styles"
)

func TestRingKeepsTheNewestLines(t *testing.T) {
	t.Parallel()
	r := NewRing(3)
	for i := 0; i < 10; i++ {
		r.Append(steps.StreamStdout, fmt.Sprint(i))
	}
	if r.Len() != 3 || r.Total() != 10 || r.First() != 7 {
		t.Fatalf("len=%d total=%d first=%d", r.Len(), r.Total(), r.First())
	}
	var got []string
	for i := 0; i < r.Len(); i++ {
		got = append(got, r.At(i).Text)
	}
	if strings.Join(got, ",") != "7,8,9" {
		t.Errorf("lines = %v", got)
	}
}

func TestCleanStripsEscapes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":                     "plain",
		"\x1b[31mred\x1b[0m":        "red",
		"a\tb":                      "a    b",
		"\x1b]0;title\x07x":         "x",
		"bell\x07 and \x1b[2Jclear": "bell and clear",
		"cr\rlf":                    "crlf",
	} {
		if got := Clean(in); got != want {
			t.Errorf("Clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func newView(lines int) (Model, *Ring) {
	m := New(styles.ForProfile(colorprofile.ASCII))
	m.SetSize(40, 7) // 5 body lines
	r := NewRing(100)
	for i := 1; i <= lines; i++ {
		r.Append(steps.StreamStdout, fmt.Sprintf("line %d", i))
	}
	m.SetRing(r, "step")
	return m, r
}

func TestFollowScrollAndSearch(t *testing.T) {
	t.Parallel()
	m, r := newView(20)
	if m.Top() != 15 {
		t.Fatalf("following: top = %d, want 15", m.Top())
	}
	m.Scroll(-3)
	if m.Following() || m.Top() != 12 {
		t.Fatalf("after scroll up: follow=%v top=%d", m.Following(), m.Top())
	}
	r.Append(steps.StreamStdout, "line 21")
	if m.Top() != 12 {
		t.Errorf("scrolled view moved on new output: top=%d", m.Top())
	}
	m.Scroll(100)
	if !m.Following() {
		t.Error("scrolling to the end should follow again")
	}
	m.GotoTop()
	if m.Top() != 0 {
		t.Errorf("top = %d", m.Top())
	}
	m.query = "line 1"
	m.Next(true) // from top 0 (line 1) forward: line 10
	if m.Top() != 9 {
		t.Errorf("next match top = %d, want 9 (line 10)", m.Top())
	}
	m.Next(false)
	if m.Top() != 0 {
		t.Errorf("prev match top = %d, want 0", m.Top())
	}
	v := ansi.Strip(m.View())
	if !strings.Contains(v, "/line 1") || !strings.Contains(v, "lines 1–5 of 21") {
		t.Errorf("status line:\n%s", v)
	}
	m.query = "nope"
	m.Next(true)
	if !strings.Contains(ansi.Strip(m.View()), `"nope" not found`) {
		t.Errorf("not found not shown:\n%s", m.View())
	}
}

func TestSearchPromptTakesKeys(t *testing.T) {
	t.Parallel()
	m, _ := newView(30)
	m.GotoTop()
	m.StartSearch()
	for _, r := range "line 2" {
		m.Update(keyRune(r))
	}
	m.Update(keyEnter())
	if m.Searching() || m.Query() != "line 2" {
		t.Fatalf("searching=%v query=%q", m.Searching(), m.Query())
	}
	if m.Top() != 1 {
		t.Errorf("top = %d, want 1 (line 2; search starts after the current top)", m.Top())
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[31mred\x1b[0m", "\x1b]8;;http://x\x07link\x1b]8;;\x07", "a\tb\r\n", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Clean(s)
		for _, r := range out {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("Clean(%q) = %q keeps control character %U", s, out, r)
			}
		}
	})
}
