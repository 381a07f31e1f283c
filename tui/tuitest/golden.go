package tuitest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// Golden compares got (ANSI stripped, trailing spaces trimmed per line) with
// testdata/<name>.golden, rewriting the file when update is set. Each test
// package declares its own -update flag and passes it here.
func Golden(t testing.TB, name, got string, update bool) {
	t.Helper()
	got = Plain(got)
	path := filepath.Join("testdata", name+".golden")
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test -update)", path, err)
	}
	if string(want) != got {
		t.Errorf("golden %s differs (run go test -update to accept):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// Plain strips escape sequences and trailing spaces of each line.
func Plain(s string) string {
	lines := strings.Split(ansi.Strip(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n") + "\n"
}
