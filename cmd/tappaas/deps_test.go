package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLinksNoTestCode: the shipped binary's dependencies hold neither
// the standard testing package nor the TUI's test helpers; the fake backend
// is only in binaries built with -tags tuifake (which the check must see, or
// it proves nothing).
func TestBinaryLinksNoTestCode(t *testing.T) {
	deps := func(tags string) map[string]bool {
		t.Helper()
		out, err := exec.Command("go", "list", "-tags", tags, "-deps", ".").CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps: %v\n%s", err, out)
		}
		m := map[string]bool{}
		for _, p := range strings.Fields(string(out)) {
			m[p] = true
		}
		return m
	}
	const tuitest = "github.com/tappaas/tappaas/tui/tuitest"
	shipped := deps("")
	for _, p := range []string{"testing", tuitest} {
		if shipped[p] {
			t.Errorf("cmd/tappaas links %s", p)
		}
	}
	if tagged := deps("tuifake"); !tagged[tuitest] || !tagged["testing"] {
		t.Errorf("-tags tuifake should link %s and testing (the check above would prove nothing)", tuitest)
	}
}
