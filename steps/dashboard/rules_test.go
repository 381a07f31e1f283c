package dashboard

import (
	"strings"
	"testing"
	"time"
)

func TestRules(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	type tc struct {
		name   string
		level  Level
		reason string
		got    func() (Level, string)
	}
	cases := []tc{
		{"cluster quorate", Green, "", func() (Level, string) { return Judge(ClusterRules, Cluster{Name: "c", Quorate: true}) }},
		{"cluster without quorum", Red, "no quorum", func() (Level, string) { return Judge(ClusterRules, Cluster{Name: "c"}) }},
		{"single node (no cluster)", Green, "", func() (Level, string) { return Judge(ClusterRules, Cluster{}) }},
		{"node ok", Green, "", func() (Level, string) {
			return Judge(NodeRules, Node{Online: true, CPU: 0.2, MemUsed: 1, MemTotal: 4, DiskUsed: 1, DiskTotal: 4})
		}},
		{"node offline", Red, "offline", func() (Level, string) { return Judge(NodeRules, Node{}) }},
		{"node memory full", Amber, "memory 95%", func() (Level, string) {
			return Judge(NodeRules, Node{Online: true, MemUsed: 95, MemTotal: 100})
		}},
		{"node disk and cpu hot", Amber, "CPU 90%, root disk 99%", func() (Level, string) {
			return Judge(NodeRules, Node{Online: true, CPU: 0.9, DiskUsed: 99, DiskTotal: 100})
		}},
		{"vm running", Green, "", func() (Level, string) { return Judge(VMRules, VM{Status: "running"}) }},
		{"vm stopped", Red, "stopped", func() (Level, string) { return Judge(VMRules, VM{Status: "stopped"}) }},
		{"vm stopped, HA wants it", Red, "stopped, HA requests started", func() (Level, string) {
			return Judge(VMRules, VM{Status: "stopped", HAState: "stopped", HARequest: "started"})
		}},
		{"template stopped", Green, "", func() (Level, string) { return Judge(VMRules, VM{Status: "stopped", Template: true}) }},
		{"vm HA error", Red, "HA error", func() (Level, string) { return Judge(VMRules, VM{Status: "running", HAState: "error"}) }},
		{"vm HA migrating", Amber, "HA migrate", func() (Level, string) { return Judge(VMRules, VM{Status: "running", HAState: "migrate"}) }},
		{"backup fresh", Green, "", func() (Level, string) {
			return Judge(BackupRules, Backup{Result: "OK", LastOK: now, Age: time.Hour})
		}},
		{"backup failed", Red, "last backup failed: job errors", func() (Level, string) {
			return Judge(BackupRules, Backup{Result: "job errors", LastOK: now, Age: time.Hour})
		}},
		{"backup running", Green, "", func() (Level, string) {
			return Judge(BackupRules, Backup{Result: "running", LastOK: now, Age: time.Hour})
		}},
		{"no backup", Amber, "no backup recorded", func() (Level, string) { return Judge(BackupRules, Backup{}) }},
		{"backup 2 days old", Amber, "last good backup 2d ago", func() (Level, string) {
			return Judge(BackupRules, Backup{Result: "OK", LastOK: now, Age: 49 * time.Hour})
		}},
		{"backup 9 days old", Red, "last good backup 9d ago", func() (Level, string) {
			return Judge(BackupRules, Backup{Result: "OK", LastOK: now, Age: 9 * 24 * time.Hour})
		}},
		{"zones in sync", Green, "", func() (Level, string) { return Judge(ZoneRules, Zones{}) }},
		{"zones drift", Amber, "drift: 2 change(s)", func() (Level, string) { return Judge(ZoneRules, Zones{Changes: []string{"a", "b"}}) }},
	}
	for _, c := range cases {
		l, why := c.got()
		if l != c.level || (c.reason == "") != (why == "") || !strings.Contains(why, c.reason) {
			t.Errorf("%s: %s %q, want %s %q", c.name, l, why, c.level, c.reason)
		}
	}
}

func TestWorstAndRulesText(t *testing.T) {
	t.Parallel()
	if Worst(Green, Amber) != Amber || Worst(Red, Amber) != Red || Worst(Amber, Green) != Amber {
		t.Error("Worst does not order green < amber < red")
	}
	txt := RulesText()
	for _, w := range []string{"node     red    the node is offline", "vm       red    the VM is not running", "zones    amber", "stale since"} {
		if !strings.Contains(txt, w) {
			t.Errorf("RulesText lacks %q:\n%s", w, txt)
		}
	}
}

func TestStaleText(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 6, 8, 12, 3, 0, time.UTC)
	if got := (Source{Stale: true, LastOK: at, Error: "no answer within 2s"}).StaleText(); got != "stale since 08:12:03: no answer within 2s" {
		t.Errorf("StaleText = %q", got)
	}
	if got := (Source{Stale: true, Error: "x"}).StaleText(); got != "never read: x" {
		t.Errorf("StaleText never = %q", got)
	}
	if got := (Source{LastOK: at}).StaleText(); got != "" {
		t.Errorf("fresh source StaleText = %q", got)
	}
}
