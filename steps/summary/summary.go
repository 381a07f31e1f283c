// Package summary writes what was built, where each credential is kept and
// what to do next, to the node (/root/tappaas/SUMMARY.txt) and the step's
// log. It never prints a secret.
package summary

import (
	"context"
	"fmt"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
	"github.com/tappaas/tappaas/steps/platform"
)

// File is where the summary is kept on the node.
const File = "/root/tappaas/SUMMARY.txt"

// Report writes the summary.
type Report struct {
	Node exec.Executor
	Cfg  config.Install
	// SecretsPath is where the secrets file lives on the node.
	SecretsPath string
	// After lists the steps the summary follows (the plan's leaves).
	After []string
}

func (s *Report) ID() string { return "summary.report" }

func (s *Report) Title() string { return "Summary" }

func (s *Report) Needs() []string { return s.After }

func (s *Report) Describe(*steps.Runtime) []string { return []string{"write " + File} }

// Text renders the summary from the answers and the facts.
func Text(cfg config.Install, rt *steps.Runtime, secretsPath string) string {
	mgmt := cfg.MgmtPrefix().Addr().String()
	cicd, _ := steps.Get(rt.Facts, platform.FactCICDIP)
	if cicd == "" {
		cicd = "(unknown)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "TAPPaaS foundation on %s (%s)\n\n", cfg.Node.Hostname, cfg.Site.Domain)
	b.WriteString("URLs\n")
	fmt.Fprintf(&b, "  Proxmox VE     https://%s:8006\n", mgmt)
	if cfg.BackupEnabled() {
		fmt.Fprintf(&b, "  Backup (PBS)   https://%s:8007  datastore %s\n", mgmt, cfg.Backup.Datastore)
	}
	fmt.Fprintf(&b, "  Firewall       https://%s  (firewall.mgmt.internal)\n", config.FirewallLANIP)
	fmt.Fprintf(&b, "  tappaas-cicd   ssh tappaas@%s\n\n", cicd)
	b.WriteString("Credentials (never printed here)\n")
	fmt.Fprintf(&b, "  secrets file   %s on %s (0600), names:\n", secretsPath, cfg.Node.Hostname)
	b.WriteString("    firewall.root_password, firewall.api_key, firewall.api_secret, pbs.token, ssh.installer_key\n")
	fmt.Fprintf(&b, "  firewall API   also on tappaas-cicd: %s (0600)\n\n", platform.CredentialsFile)
	b.WriteString("Next steps\n")
	b.WriteString("  1. tappaas status                      — check every step\n")
	b.WriteString("  2. tappaas join (on tappaas2..9)        — grow the cluster\n")
	b.WriteString("  3. on tappaas-cicd: acme-setup.sh       — TLS certificates for " + cfg.Site.Domain + "\n")
	b.WriteString("  4. tappaas zones edit                   — network zones (modules: not built yet)\n")
	return b.String()
}

func (s *Report) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	ok, err := node.FileIs(ctx, s.Node, File, []byte(Text(s.Cfg, rt, s.SecretsPath)))
	if err != nil {
		return steps.Status{}, err
	}
	if !ok {
		return steps.NotDone("%s is missing or out of date", File), nil
	}
	return steps.Done("%s is current", File), nil
}

func (s *Report) Apply(ctx context.Context, rt *steps.Runtime) error {
	t := Text(s.Cfg, rt, s.SecretsPath)
	for _, l := range strings.Split(strings.TrimRight(t, "\n"), "\n") {
		rt.Printf("%s", l)
	}
	_, err := node.WriteIfChanged(ctx, rt, s.Node, File, []byte(t), 0o600)
	return err
}
