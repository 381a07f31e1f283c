package install

import (
	"strings"
	"time"

	"github.com/tappaas/tappaas/steps"
)

// expected is how long each step of the install and join plans usually
// takes when it applies, by step ID (a trailing "." matches a prefix: the
// per-pool steps). The figures are a lab install at --lab-speed 1, whose
// latency model gives each command, task, download and boot its real
// duration (lab/pve, lab/vm); the run view calibrates them with the
// speed it observes, so only their proportions need to be right.
var expected = map[string]time.Duration{
	"preflight.checks":         2 * time.Second,
	"node.repos":               1 * time.Second,
	"node.packages":            15 * time.Second,
	"node.subscription-notice": 1 * time.Second,
	"node.ha-services":         1 * time.Second,
	"node.upgrade":             21 * time.Second,
	"node.snippets":            1 * time.Second,
	"network.bridges":          2 * time.Second,
	"cluster.create":           6 * time.Second,
	"join.cluster":             30 * time.Second,
	"join.repin":               2 * time.Second,
	"join.ha":                  5 * time.Second,
	"storage.pool.":            1 * time.Second,
	"storage.register.":        1 * time.Second,
	"firewall.image":           30 * time.Second,
	"platform.template-image":  30 * time.Second,
	"firewall.vm":              3 * time.Second,
	"platform.template":        3 * time.Second,
	"firewall.start":           2 * time.Second,
	"platform.cicd":            9 * time.Second,
	"pbs.install":              45 * time.Second,
	"firewall.config":          55 * time.Second,
	"firewall.reboot":          47 * time.Second,
	"firewall.verify":          2 * time.Second,
	"platform.cicd-start":      2 * time.Second,
	"network.cutover":          2 * time.Second,
	"network.sanity":           2 * time.Second,
	"platform.cicd-ip":         32 * time.Second,
	"platform.install1":        4 * time.Second,
	"firewall.assign-patch":    1 * time.Second,
	"zones.apply":              1 * time.Second,
	"platform.install2":        130 * time.Second,
}

// withExpected records the expected durations of p's steps.
func withExpected(p *steps.Plan, err error) (*steps.Plan, error) {
	if err != nil {
		return nil, err
	}
	m := map[string]time.Duration{}
	for _, s := range p.Steps() {
		id := s.ID()
		if d, ok := expected[id]; ok {
			m[id] = d
			continue
		}
		for k, d := range expected {
			if strings.HasSuffix(k, ".") && strings.HasPrefix(id, k) {
				m[id] = d
			}
		}
	}
	return p.Expect(m), nil
}
