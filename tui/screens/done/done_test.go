package done

import (
	"strings"
	"testing"

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
