package dashboard

import (
	"fmt"
	"strings"
	"time"
)

// Level is a row's colour.
type Level string

// The levels, from best to worst.
const (
	Green Level = "green"
	Amber Level = "amber"
	Red   Level = "red"
)

func (l Level) rank() int {
	switch l {
	case Red:
		return 2
	case Amber:
		return 1
	}
	return 0
}

// Worst returns the worse of a and b.
func Worst(a, b Level) Level {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Rule is one red/amber condition of a panel's row. Rules of a panel are
// tried in order; the first that matches sets the row's level and reason.
// A row no rule matches is green.
type Rule[T any] struct {
	Level Level
	// When is the condition as the help prints it.
	When string
	// Match reports whether the rule applies and, when it does, the reason
	// shown next to the row.
	Match func(T) (string, bool)
}

// The thresholds the rules use.
const (
	// UseAmber is the fraction of CPU, memory or root disk in use that
	// turns a node amber.
	UseAmber = 0.90
	// BackupAmberAge is the age of the newest successful backup that turns
	// a VM's backup row amber (a daily job missed once more than a day).
	BackupAmberAge = 36 * time.Hour
	// BackupRedAge is the age that turns it red (a week of missed jobs).
	BackupRedAge = 8 * 24 * time.Hour
)

// The rules, one table per panel: the single place the dashboard's colours
// are decided (RulesText prints them for the help).
//
//	panel    level  when
//	cluster  red    the cluster is not quorate
//	node     red    the node is offline
//	node     amber  CPU, memory or root disk use is at or above 90%
//	vm       red    the VM is not running (HA request or not)
//	vm       red    HA reports the service in error or fence state
//	vm       amber  HA is moving or recovering the service
//	backup   red    the last vzdump task of the VM failed
//	backup   red    the newest successful backup is older than 8 days
//	backup   amber  no backup task recorded for the VM
//	backup   amber  the newest successful backup is older than 36 hours
//	zones    amber  the firewall differs from the live zones.json (drift)
//	source   amber  a source failed: its panel shows the last data, stale
var (
	ClusterRules = []Rule[Cluster]{
		{Red, "the cluster is not quorate", func(c Cluster) (string, bool) {
			return "cluster " + c.Name + " has no quorum", c.Name != "" && !c.Quorate
		}},
	}
	NodeRules = []Rule[Node]{
		{Red, "the node is offline", func(n Node) (string, bool) { return "offline", !n.Online }},
		{Amber, "CPU, memory or root disk use is at or above 90%", func(n Node) (string, bool) {
			var hot []string
			if n.CPU >= UseAmber {
				hot = append(hot, fmt.Sprintf("CPU %.0f%%", n.CPU*100))
			}
			if f := frac(n.MemUsed, n.MemTotal); f >= UseAmber {
				hot = append(hot, fmt.Sprintf("memory %.0f%%", f*100))
			}
			if f := frac(n.DiskUsed, n.DiskTotal); f >= UseAmber {
				hot = append(hot, fmt.Sprintf("root disk %.0f%%", f*100))
			}
			return strings.Join(hot, ", "), len(hot) > 0
		}},
	}
	VMRules = []Rule[VM]{
		{Red, "the VM is not running", func(v VM) (string, bool) {
			if v.Template || v.Status == "running" {
				return "", false
			}
			r := v.Status
			if v.HARequest == "started" {
				r += ", HA requests started"
			}
			return r, true
		}},
		{Red, "HA reports the service in error or fence state", func(v VM) (string, bool) {
			return "HA " + v.HAState, v.HAState == "error" || v.HAState == "fence"
		}},
		{Amber, "HA is moving or recovering the service", func(v VM) (string, bool) {
			switch v.HAState {
			case "migrate", "relocate", "recovery", "freeze", "request_stop":
				return "HA " + v.HAState, true
			}
			return "", false
		}},
	}
	BackupRules = []Rule[Backup]{
		{Red, "the last vzdump task of the VM failed", func(b Backup) (string, bool) {
			return "last backup failed: " + b.Result, b.Result != "" && b.Result != "OK" && b.Result != "running"
		}},
		{Amber, "no backup task recorded for the VM", func(b Backup) (string, bool) {
			return "no backup recorded", b.LastOK.IsZero()
		}},
		{Red, "the newest successful backup is older than 8 days", func(b Backup) (string, bool) {
			return "last good backup " + age(b.Age), b.Age > BackupRedAge
		}},
		{Amber, "the newest successful backup is older than 36 hours", func(b Backup) (string, bool) {
			return "last good backup " + age(b.Age), b.Age > BackupAmberAge
		}},
	}
	ZoneRules = []Rule[Zones]{
		{Amber, "the firewall differs from the live zones.json (drift)", func(z Zones) (string, bool) {
			return fmt.Sprintf("drift: %d change(s) pending (tappaas zones plan)", len(z.Changes)), len(z.Changes) > 0
		}},
	}
)

// Judge applies rules to a row.
func Judge[T any](rules []Rule[T], row T) (Level, string) {
	for _, r := range rules {
		if why, ok := r.Match(row); ok {
			return r.Level, why
		}
	}
	return Green, ""
}

// RulesText is the rule table as the help prints it.
func RulesText() string {
	var b strings.Builder
	p := func(panel string, l Level, when string) { fmt.Fprintf(&b, "  %-8s %-6s %s\n", panel, l, when) }
	for _, r := range ClusterRules {
		p("cluster", r.Level, r.When)
	}
	for _, r := range NodeRules {
		p("node", r.Level, r.When)
	}
	for _, r := range VMRules {
		p("vm", r.Level, r.When)
	}
	for _, r := range BackupRules {
		p("backup", r.Level, r.When)
	}
	for _, r := range ZoneRules {
		p("zones", r.Level, r.When)
	}
	p("source", Amber, "a source failed or timed out: its panel shows \"stale since …\" and the error")
	return b.String()
}

func frac(used, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return float64(used) / float64(total)
}

func age(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd ago", int(d.Hours()/24))
	case d >= time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dm ago", int(d.Minutes()))
}
