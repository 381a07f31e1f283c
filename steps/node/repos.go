package node

import (
	"context"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/steps"
)

// Paths of the apt source files the repos step owns
// (docs/upstream.md#apt-repositories).
const (
	EnterpriseSources = "/etc/apt/sources.list.d/pve-enterprise.sources"
	EnterpriseList    = "/etc/apt/sources.list.d/pve-enterprise.list"
	CephSources       = "/etc/apt/sources.list.d/ceph.sources"
	ProxmoxSources    = "/etc/apt/sources.list.d/proxmox.sources"
)

const keyring = "Signed-By: /usr/share/keyrings/proxmox-archive-keyring.gpg\n"

// RepoFiles returns the apt source files the node must have for suite
// (PVE 9: "trixie"): enterprise repositories disabled, no-subscription on.
func RepoFiles(suite string) map[string]string {
	return map[string]string{
		EnterpriseSources: "Types: deb\nURIs: https://enterprise.proxmox.com/debian/pve\nSuites: " + suite + "\nComponents: pve-enterprise\n" + keyring + "Enabled: false\n",
		CephSources: "Types: deb\nURIs: https://enterprise.proxmox.com/debian/ceph-squid\nSuites: " + suite + "\nComponents: enterprise\n" + keyring + "Enabled: false\n\n" +
			"Types: deb\nURIs: http://download.proxmox.com/debian/ceph-squid\nSuites: " + suite + "\nComponents: no-subscription\n" + keyring + "Enabled: false\n",
		ProxmoxSources: "Types: deb\nURIs: http://download.proxmox.com/debian/pve\nSuites: " + suite + "\nComponents: pve-no-subscription\n" + keyring + "Enabled: true\n",
	}
}

// Repos turns the enterprise repositories off and pve-no-subscription on.
type Repos struct {
	Node  exec.Executor
	Suite string // "trixie"
}

func (s *Repos) ID() string { return "node.repos" }

func (s *Repos) Title() string { return "Package repositories (no-subscription)" }

func (s *Repos) Needs() []string { return []string{"preflight.checks"} }

func (s *Repos) Touches() []string { return []string{"node:apt"} }

func (s *Repos) Describe(*steps.Runtime) []string {
	return []string{"disable pve-enterprise and ceph enterprise repositories", "enable pve-no-subscription (" + s.suite() + ")"}
}

func (s *Repos) suite() string {
	if s.Suite == "" {
		return "trixie"
	}
	return s.Suite
}

func (s *Repos) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	var missing []string
	for path, want := range RepoFiles(s.suite()) {
		ok, err := FileIs(ctx, s.Node, path, []byte(want))
		if err != nil {
			return steps.Status{}, err
		}
		if !ok {
			missing = append(missing, path)
		}
	}
	_, legacy, err := ReadFile(ctx, s.Node, EnterpriseList)
	if err != nil {
		return steps.Status{}, err
	}
	if legacy {
		missing = append(missing, EnterpriseList+" (to remove)")
	}
	if len(missing) > 0 {
		return steps.NotDone("apt sources differ: %s", strings.Join(sorted(missing), ", ")), nil
	}
	return steps.Done("no-subscription repository on, enterprise off"), nil
}

func (s *Repos) Apply(ctx context.Context, rt *steps.Runtime) error {
	files := RepoFiles(s.suite())
	for _, path := range sorted(keys(files)) {
		if _, err := WriteIfChanged(ctx, rt, s.Node, path, []byte(files[path]), 0o644); err != nil {
			return err
		}
	}
	_, err := Run(ctx, rt, s.Node, "rm -f "+exec.Quote(EnterpriseList))
	return err
}
