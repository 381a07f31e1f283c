package main

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// TestStepTableWideCharacters: a CJK/emoji detail is cut at detailWidth cells
// on a character boundary (never mid-rune), and a wide step column keeps the
// later columns aligned.
func TestStepTableWideCharacters(t *testing.T) {
	var b bytes.Buffer
	writeStepTable(&b, [][]string{
		{"node.hostname", "done", "1", "2026-12-06 08:00:00", strings.Repeat("ノード名🖥", 20)},
		{"ノード.検証", "failed", "2", "2026-12-06 08:01:00", "short"},
	})
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want header and 2 rows:\n%s", b.String())
	}
	at := ansi.StringWidth(lines[0][:strings.Index(lines[0], "STATUS")])
	for _, l := range lines {
		if !utf8.ValidString(l) {
			t.Fatalf("invalid UTF-8 (a character cut in half): %q", l)
		}
		if ansi.Cut(l, at-2, at) != "  " || ansi.Cut(l, at, at+1) == " " {
			t.Errorf("STATUS column not at cell %d:\n%s", at, b.String())
		}
	}
	det := lines[1][strings.Index(lines[1], "08:00:00")+len("08:00:00  "):]
	if w := ansi.StringWidth(det); w > detailWidth || !strings.HasSuffix(det, "…") {
		t.Errorf("detail %d cells (max %d), want it cut with …: %q", w, detailWidth, det)
	}
}
