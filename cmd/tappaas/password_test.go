package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A generated firewall root password is shown exactly once, by the first
// text-mode run that ends after it exists — even when the run that
// generated it did not show it (stopped, killed, or JSON output).
func TestGeneratedPasswordShownOnceAcrossRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const banner = "Generated firewall root password"
	text := func(o *installOptions) { o.output = "text" }
	// JSON output never prints the password.
	code, out, err := labInstall(t, ctx, dir, true, nil)
	if code != 0 || strings.Contains(out, banner) {
		t.Fatalf("first run: exit %d %v, banner printed=%v", code, err, strings.Contains(out, banner))
	}
	code, out, err = labInstall(t, ctx, dir, false, nil, text)
	if code != 0 || !strings.Contains(out, banner) {
		t.Fatalf("second run: exit %d %v: the unshown password was not shown\n%s", code, err, tail(out, 10))
	}
	code, out, err = labInstall(t, ctx, dir, false, nil, text)
	if code != 0 || strings.Contains(out, banner) {
		t.Fatalf("third run: exit %d %v: password shown twice", code, err)
	}
}
