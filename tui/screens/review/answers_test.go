package review

import (
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"

	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

// A fresh install's review opens on a one-page summary of the answers,
// above the steps; every line fits 80 columns.
func TestReviewOpensOnTheAnswers(t *testing.T) {
	t.Parallel()
	in := config.Defaults()
	in.Site.Domain, in.Site.AdminEmail = "example.org", "admin@example.org"
	in.Node.WANNIC, in.Node.LANNIC = "enp1s0", "enp2s0"
	in.Storage.Pools = []config.Pool{{Name: "tanka1", Layout: "mirror", Disks: []string{"sdb", "sdc"}}}
	in.Firewall.ImageSHA256, in.Platform.TemplateImageSHA256 = strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	com := common.New(styles.ForProfile(colorprofile.ASCII), nil, nil)
	m := New(com, common.Request{Goal: common.GoalInstall, Install: &in})
	m.SetSize(80, 22)
	m.Update(PlanMsg{Job: fresh{job{n: 3}}})
	v := tuitest.Plain(m.View())
	for _, want := range []string{"Your answers", "Site          example.org · admin@example.org",
		"Node          tappaas1 · 10.0.0.10/24 · WAN enp1s0 · LAN enp2s0", "Storage       pool tanka1 (mirror: sdb, sdc)",
		"Firewall      VM 110 at 10.0.0.1 · root password: generated", "Backup        PBS datastore tappaas_backup · daily at 21:00",
		"Images        sha256 firewall abababababab…, template cdcdcdcdcdcd…", "Steps", "Step A"} {
		if !strings.Contains(v, want) {
			t.Errorf("review lacks %q:\n%s", want, v)
		}
	}
	for _, l := range strings.Split(v, "\n") {
		if n := len([]rune(l)); n >= 80 {
			t.Errorf("a line fills 80 columns (cut?): %q", l)
		}
	}
	// A resume carries no answers (they are on the node): steps only.
	r := New(com, common.Request{Goal: common.GoalResume})
	r.SetSize(80, 22)
	r.Update(PlanMsg{Job: job{n: 3}})
	if v := tuitest.Plain(r.View()); strings.Contains(v, "Your answers") {
		t.Errorf("resume shows answers it does not have:\n%s", v)
	}
}

// fresh is a job none of whose steps ran before.
type fresh struct{ job }

func (f fresh) Steps() []steps.StepInfo {
	s := f.job.Steps()
	for i := range s {
		s[i].Checkpoint = ""
	}
	return s
}
