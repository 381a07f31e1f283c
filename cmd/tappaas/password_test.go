package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A generated firewall root password is shown exactly once, by the first
// text-mode run on a terminal that ends after it exists — even when the run
// that generated it did not show it (stopped, killed, JSON output, or
// output that is not a terminal, which say where it is kept instead).
func TestGeneratedPasswordShownOnceAcrossRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("end to end")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const banner = "Generated firewall root password"
	read := `grep -o '"firewall.root_password":"[^"]*"' /var/lib/tappaas/secrets.json`
	text := func(o *installOptions) { o.output, o.tty = "text", true }
	// JSON output never prints the password: it says where it is kept
	// and how to read it.
	code, out, err := labInstall(t, ctx, dir, true, nil)
	if code != 0 || strings.Contains(out, banner) || !strings.Contains(out, `"event":"secret"`) || !strings.Contains(out, `"read":"grep -o`) {
		t.Fatalf("first run: exit %d %v, banner printed=%v\n%s", code, err, strings.Contains(out, banner), tail(out, 5))
	}
	// Text output that is not a terminal (a CI log) does not print it.
	code, out, err = labInstall(t, ctx, dir, false, nil, func(o *installOptions) { o.output = "text" })
	if code != 0 || strings.Contains(out, banner) || !strings.Contains(out, "not printed: the output is not a terminal") || !strings.Contains(out, read) {
		t.Fatalf("not a terminal: exit %d %v:\n%s", code, err, tail(out, 8))
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
