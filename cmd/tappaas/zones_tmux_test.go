package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cz "github.com/tappaas/tappaas/config/zones"
)

// zonesTmuxSeq keeps the tmux servers of repeated runs (-count) apart.
var zonesTmuxSeq atomic.Int64

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

// keys sends tmux key names. It does not pause: a key that moves the
// focus is followed by a wait for the focused field (focus), since huh
// moves the focus in a command whose result can reach the program after
// the next key; keys that stay in one field are read in order.
func (s *tmuxSession) keys(keys ...string) {
	for _, k := range keys {
		s.tmux("send-keys", k)
	}
}

func (s *tmuxSession) text(txt string) { s.tmux("send-keys", "-l", txt) }

// tmuxPatience bounds every wait for the screen. It is large: it only
// matters when the program hangs, and a busy machine (CI, parallel
// packages) can take many seconds to draw a frame.
const tmuxPatience = 3 * time.Minute

// wait polls the screen until it shows want.
func (s *tmuxSession) wait(want string) string {
	s.t.Helper()
	deadline := time.Now().Add(tmuxPatience)
	var scr string
	for time.Now().Before(deadline) {
		scr = s.screen()
		if strings.Contains(scr, want) {
			return scr
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("screen never showed %q:\n%s", want, scr)
	return ""
}

// focus waits until the form field titled title has the focus (only the
// focused field carries the ┃ bar).
func (s *tmuxSession) focus(title string) string {
	s.t.Helper()
	return s.wait("┃ " + title)
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
	s := &tmuxSession{t: t, socket: fmt.Sprintf("tappaas-zones-%d-%d", os.Getpid(), zonesTmuxSeq.Add(1))}
	cmd := fmt.Sprintf("%s zones edit --file %s --lab --lab-state %s", bin, file, filepath.Join(dir, "fw.json"))
	s.tmux("new-session", "-d", "-x", "80", "-y", "24", "-e", "NO_COLOR=1", cmd)
	t.Cleanup(func() { exec.Command("tmux", "-L", s.socket, "kill-server").Run() })

	s.wait("5 zones · valid")
	s.keys("a")
	s.focus("Name")
	s.text("guest")
	s.wait("┃ > guest")
	s.keys("Enter")
	s.focus("Type")
	s.keys("Enter") // type Service first: sub-ID 10 collides with srv (VLAN 210)
	s.focus("Sub-ID (0-99)")
	s.text("10")
	s.wait("┃ > 10")
	s.keys("Enter")
	scr := s.wait("already used by zone srv")
	if !strings.Contains(strings.Join(strings.Fields(scr), " "), "expected a unique tag") {
		t.Errorf("the collision's fix hint is cut:\n%s", scr)
	}
	s.keys("BTab") // back to the type, past the error
	s.focus("Type")
	s.keys("Right", "Right", "Right")
	s.wait("Guest (5)")
	s.keys("Enter")
	s.focus("Sub-ID (0-99)")
	s.keys("Enter") // 10 is free for Guest (510)
	s.focus("State")
	s.keys("Enter")
	scr = s.focus("VLAN")
	if !strings.Contains(scr, "Subnet (CIDR)") || strings.Contains(scr, "already used") {
		t.Errorf("the network fields should follow, the fixed collision gone:\n%s", scr)
	}
	if !strings.Contains(scr, "[tagged]") {
		t.Errorf("under NO_COLOR the VLAN toggle shows no selection:\n%s", scr)
	}
	s.keys("Enter")
	s.focus("Subnet (CIDR)")
	s.text("10.3.10.0/24")
	s.wait("┃ > 10.3.10.0/24")
	s.keys("Enter")
	s.wait("overlaps zone private")
	for range len("10.3.10.0/24") {
		s.keys("BSpace")
	}
	s.text("10.5.10.0/24")
	s.wait("┃ > 10.5.10.0/24")
	s.keys("Enter")
	s.focus("DHCP start offset")
	s.keys("Enter")
	s.focus("DHCP end offset")
	s.keys("Enter")
	s.focus("Access to")
	s.keys("Enter")
	s.focus("Description")
	s.text("Visitors")
	s.wait("┃ > Visitors")
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
