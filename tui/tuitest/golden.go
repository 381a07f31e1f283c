package tuitest

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/tappaas/tappaas/internal/golden"
)

// Golden compares got (ANSI stripped, trailing spaces trimmed per line) with
// testdata/<name>.golden, rewriting the file when update is set. Each test
// package declares its own -update flag and passes it here.
func Golden(t testing.TB, name, got string, update bool) {
	t.Helper()
	golden.Check(t, name+".golden", []byte(Plain(got)), update)
}

// Plain strips escape sequences and trailing spaces of each line.
func Plain(s string) string {
	lines := strings.Split(ansi.Strip(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}
