// Package golden compares test output with files in testdata: the one
// golden-file helper of the project's tests (tui/tuitest.Golden wraps it
// for screens).
package golden

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Check compares got with testdata/<name>, rewriting the file when update
// is set (each test package declares its own -update flag).
func Check(t testing.TB, name string, got []byte, update bool) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test -update)", path, err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("golden %s differs (run go test -update to accept):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}
