package done

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"

	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

func TestDoneShowsSummaryNeverSecrets(t *testing.T) {
	t.Parallel()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	com.LogPath = "/var/log/tappaas/tappaas.log"
	m := New(com, common.Request{Goal: common.GoalInstall})
	m.SetSize(80, 21)
	if v := tuitest.Plain(m.View()); !strings.Contains(v, "Reading the summary") || !strings.Contains(v, com.LogPath) {
		t.Errorf("loading view:\n%s", v)
	}
	m.Update(SummaryMsg{Summary: common.Summary{
		URLs:        []common.Link{{Name: "Proxmox VE", URL: "https://10.0.0.10:8006"}},
		Credentials: []common.Credential{{Name: "Firewall root password", Where: "/var/lib/tappaas/secrets.json (0600)"}},
		Next:        []string{"tappaas status"},
		Generated:   []common.Secret{{Name: "Firewall root password", Value: "aRqXLKNTP4o3XMPe", Where: "/var/lib/tappaas/secrets.json"}},
	}})
	v := tuitest.Plain(m.View())
	for _, want := range []string{"TAPPaaS is installed.", "https://10.0.0.10:8006", "Firewall root password  /var/lib/tappaas/secrets.json", "→ tappaas status", "Log file: /var/log/tappaas/tappaas.log",
		"shown only this once", "Firewall root password  aRqXLKNTP4o3XMPe"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	if _, cmd := m.Update(tuitest.KeyMsg("enter")); cmd == nil {
		t.Error("enter should go home")
	} else if _, ok := cmd().(common.GoHomeMsg); !ok {
		t.Error("enter should go home")
	}
}

// A summary taller than the screen says how much more is below, scrolls to
// its last line and no further (one key up always moves back).
func TestDoneScrollsWithMoreMarker(t *testing.T) {
	t.Parallel()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	m := New(com, common.Request{Goal: common.GoalInstall})
	m.SetSize(80, 10)
	var next []string
	for i := 1; i <= 8; i++ {
		next = append(next, fmt.Sprintf("next step %d", i))
	}
	m.Update(SummaryMsg{Summary: common.Summary{
		URLs: []common.Link{{Name: "Proxmox VE", URL: "https://10.0.0.10:8006"}},
		Next: next,
	}})
	lines := func() []string { return strings.Split(strings.TrimSuffix(tuitest.Plain(m.View()), "\n"), "\n") }
	v := lines()
	if len(v) != 10 || !strings.HasPrefix(v[9], "↓ ") || !strings.Contains(v[9], "more lines") {
		t.Fatalf("first page should be 10 lines ending in a more marker:\n%s", strings.Join(v, "\n"))
	}
	for i := 0; i < 50; i++ {
		m.Update(tuitest.KeyMsg("down"))
	}
	v = lines()
	if len(v) != 10 || v[9] != "  → next step 8" {
		t.Fatalf("bottom should end at the last step, no marker:\n%s", strings.Join(v, "\n"))
	}
	m.Update(tuitest.KeyMsg("up"))
	if up := lines(); up[9] == v[9] {
		t.Errorf("one key up after scrolling past the end should move:\n%s", strings.Join(up, "\n"))
	}
	m.Update(tuitest.KeyMsg("pgup"))
	m.Update(tuitest.KeyMsg("pgup"))
	if top := lines(); top[0] != "TAPPaaS is installed." {
		t.Errorf("pgup should reach the top:\n%s", strings.Join(top, "\n"))
	}
}

// The done screen names the user to log in as beside each URL, says which
// network reaches the 10.0.0.x addresses, and how long the run took.
func TestDoneShowsUsersReachAndTime(t *testing.T) {
	t.Parallel()
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	m := New(com, common.Request{Goal: common.GoalInstall}).Took(27*time.Minute + 4*time.Second)
	m.SetSize(100, 40)
	m.Update(SummaryMsg{Summary: common.Summary{
		URLs: []common.Link{{Name: "Proxmox VE", URL: "https://10.0.0.10:8006", User: common.UserPVE},
			{Name: "Firewall", URL: "https://10.0.0.1", User: common.UserFirewall}},
		Reach: common.ManagementReach("enp2s0", "192.168.1.10", "10.0.0.10"),
	}})
	v := tuitest.Plain(m.View())
	for _, want := range []string{"TAPPaaS is installed. The run took 27m04s.",
		"Proxmox VE              https://10.0.0.10:8006  user root@pam", "Firewall                https://10.0.0.1        user root",
		"10.0.0.x is the management network: plug a machine into the LAN switch behind enp2s0",
		"ssh -L 8006:10.0.0.10:8006 -L 8443:10.0.0.1:443 root@192.168.1.10"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
}
