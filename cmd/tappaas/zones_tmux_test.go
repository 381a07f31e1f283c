package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cz "github.com/tappaas/tappaas/config/zones"
)

// tmuxSession drives the real binary in a detached tmux session at 80x24.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.tmux("capture-pane", "-p") }

// keys sends tmux key names one by one with a pause, like a person typing.
func (s *tmuxSession) keys(keys ...string) {
	for _, k := range keys {
		s.tmux("send-keys", k)
		time.Sleep(60 * time.Millisecond)
	}
}

func (s *tmuxSession) text(txt string) {
	s.tmux("send-keys", "-l", txt)
	time.Sleep(100 * time.Millisecond)
}

func (s *tmuxSession) wait(want string) string {
	s.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var scr string
	for time.Now().Before(deadline) {
		scr = s.screen()
		if strings.Contains(scr, want) {
			return scr
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("screen never showed %q:\n%s", want, scr)
	return ""
}

// TestZonesEditInTmux: add a zone, see the overlapping-subnet error, fix it,
// save, plan — in the real binary on a real terminal (tmux).
func TestZonesEditInTmux(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and drives tmux")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed (make deps installs it)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "tappaas")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	file := filepath.Join(dir, "zones.json")
	s := &tmuxSession{t: t, socket: fmt.Sprintf("tappaas-zones-%d", os.Getpid())}
	cmd := fmt.Sprintf("%s zones edit --file %s --lab --lab-state %s", bin, file, filepath.Join(dir, "fw.json"))
	s.tmux("new-session", "-d", "-x", "80", "-y", "24", "-e", "NO_COLOR=1", cmd)
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })

	s.wait("5 zones · valid")
	s.keys("a")
	s.wait("New zone")
	s.text("guest")
	s.keys("Enter", "Enter") // type Service first: sub-ID 10 collides with srv (VLAN 210)
	s.text("10")
	s.keys("Enter")
	scr := s.wait("already used by zone srv")
	if !strings.Contains(strings.Join(strings.Fields(scr), " "), "expected a unique tag") {
		t.Errorf("the collision's fix hint is cut:\n%s", scr)
	}
	s.keys("BTab") // back to the type, past the error
	s.keys("Right", "Right", "Right", "Enter")
	s.wait("Sub-ID (0-99)")
	s.keys("Enter") // 10 is free for Guest (510)
	s.keys("Enter")
	scr = s.wait("Subnet (CIDR)")
	if strings.Contains(scr, "already used") {
		t.Errorf("the fixed collision stays on screen:\n%s", scr)
	}
	if !strings.Contains(scr, "[tagged]") {
		t.Errorf("under NO_COLOR the VLAN toggle shows no selection:\n%s", scr)
	}
	s.keys("Enter")
	s.text("10.3.10.0/24")
	s.keys("Enter")
	s.wait("overlaps zone private")
	for range len("10.3.10.0/24") {
		s.keys("BSpace")
	}
	s.text("10.5.10.0/24")
	s.keys("Enter", "Enter", "Enter")
	s.wait("Access to")
	s.keys("Enter")
	s.text("Visitors")
	s.keys("Enter")
	s.wait("added zone guest")
	scr = s.wait("510 10.5.10.0/24")
	if !strings.Contains(scr, "6 zones · valid") {
		t.Fatalf("after add:\n%s", scr)
	}
	s.keys("s")
	s.wait("saved " + file)
	f, err := cz.LoadFile(file)
	if err != nil || f.Zone("guest") == nil || !f.Validate().OK() {
		t.Fatalf("saved file: %v", err)
	}
	s.keys("p")
	s.wait("Plan against the firewall")
	s.wait("53 to create, 1 to update")
}
