package platform

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/firewall"
	"github.com/tappaas/tappaas/steps/node"
)

// Dialer opens an SSH executor to a VM (user@addr), through the node when
// the installer has no route of its own, pinning the VM's host key on
// first use.
type Dialer interface {
	Dial(ctx context.Context, rt *steps.Runtime, user, addr string) (exec.Executor, error)
}

// Paths on tappaas-cicd (bootstrap.md §0, §1 Steps 13-16).
const (
	Home              = "/home/tappaas"
	RepoDir           = Home + "/TAPPaaS"
	CICDDir           = RepoDir + "/src/foundation/tappaas-cicd"
	InstalledMarker   = Home + "/config/.tappaas-cicd-installed"
	Install1Marker    = Home + "/.tappaas-install1.done"
	CredentialsFile   = Home + "/.opnsense-credentials.txt"
	ConfigurationDir  = Home + "/config"
	ConfigurationFile = ConfigurationDir + "/configuration.json"
)

func cicd(ctx context.Context, rt *steps.Runtime, d Dialer) (exec.Executor, string, error) {
	ip, err := steps.MustGet(rt.Facts, FactCICDIP)
	if err != nil {
		return nil, "", err
	}
	e, err := d.Dial(ctx, rt, "tappaas", ip)
	if err != nil {
		return nil, ip, steps.MarkRetryable(fmt.Errorf("ssh tappaas@%s: %w", ip, err))
	}
	return e, ip, nil
}

// waitSSH waits until cicd accepts SSH and cloud-init has finished
// (first-boot races, §6.23).
func waitSSH(ctx context.Context, rt *steps.Runtime, d Dialer, wait time.Duration) (exec.Executor, error) {
	var e exec.Executor
	ip, _ := steps.Get(rt.Facts, FactCICDIP)
	err := node.Poll(ctx, rt, "SSH on tappaas-cicd ("+ip+") with cloud-init finished", wait, 5*time.Second, func(ctx context.Context) (bool, error) {
		x, _, err := cicd(ctx, rt, d)
		if err != nil {
			return false, err
		}
		if _, err := node.Query(ctx, x, "cloud-init status --wait >/dev/null 2>&1 || true; sudo -n true"); err != nil {
			return false, err
		}
		e = x
		return true, nil
	})
	return e, err
}

// Install1 runs upstream's install1 on cicd: clone the repository, generate
// the hardware configuration, nixos-rebuild the tappaas-cicd flake, create
// cicd's own SSH key. Output is streamed.
type Install1 struct {
	Cfg    config.Install
	Dialer Dialer
	Wait   time.Duration
}

// ID implements steps.Step.
func (s *Install1) ID() string { return "platform.install1" }

// Title implements steps.Step.
func (s *Install1) Title() string { return "tappaas-cicd: install1 (clone, nixos-rebuild)" }

// Needs implements steps.Needer.
func (s *Install1) Needs() []string { return []string{"platform.cicd-ip"} }

// Touches implements steps.Toucher.
func (s *Install1) Touches() []string { return []string{"vm:cicd-os"} }

// Describe implements steps.Describer.
func (s *Install1) Describe(*steps.Runtime) []string {
	return []string{"git clone " + s.Cfg.Platform.RepoURL + " (" + s.Cfg.Platform.Branch + ")", "nixos-rebuild switch --flake .#tappaas-cicd"}
}

func (s *Install1) marker() string {
	return s.Cfg.Platform.RepoURL + " " + s.Cfg.Platform.Branch + "\n"
}

// Check implements steps.Step.
func (s *Install1) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	e, _, err := cicd(ctx, rt, s.Dialer)
	if err != nil {
		return steps.NotDone("tappaas-cicd is not reachable: %v", err), nil
	}
	for _, m := range []string{InstalledMarker, Install1Marker} {
		b, ok, err := node.ReadFile(ctx, e, m)
		if err != nil {
			return steps.Status{}, err
		}
		if ok && (m == InstalledMarker || string(b) == s.marker()) {
			return steps.Done("install1 done (%s)", m), nil
		}
	}
	return steps.NotDone("install1 has not run for %s", strings.TrimSpace(s.marker())), nil
}

// Apply implements steps.Step.
func (s *Install1) Apply(ctx context.Context, rt *steps.Runtime) error {
	wait := s.Wait
	if wait <= 0 {
		wait = 10 * time.Minute
	}
	e, err := waitSSH(ctx, rt, s.Dialer, wait)
	if err != nil {
		return err
	}
	p := s.Cfg.Platform
	cmds := []string{
		"cd " + Home + " && { test -d TAPPaaS/.git || git clone " + exec.Quote(p.RepoURL) + " TAPPaaS; }",
		"cd " + RepoDir + " && git fetch --quiet origin && git checkout -f " + exec.Quote(p.Branch) + " && { git pull --ff-only --quiet || true; }",
		"test -f /etc/nixos/hardware-configuration.nix || sudo -n nixos-generate-config --show-hardware-config | sudo -n tee /etc/nixos/hardware-configuration.nix >/dev/null",
		"cd " + CICDDir + " && sudo -n nixos-rebuild switch --flake .#tappaas-cicd --impure",
		"test -f " + Home + "/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -f " + Home + "/.ssh/id_ed25519 -N '' -C tappaas-cicd",
	}
	for _, c := range cmds {
		if _, err := node.Run(ctx, rt, e, c); err != nil {
			return fmt.Errorf("install1 on tappaas-cicd: %w", err)
		}
	}
	return e.WriteFile(ctx, Install1Marker, []byte(s.marker()), 0o644)
}

// Install2 reboots cicd into its rebuilt system, gives it the firewall API
// credentials (0600; upstream also copied the node's root private key —
// we do not, §6.17) and runs upstream's install2 with output streamed.
type Install2 struct {
	Node   exec.Executor
	Cfg    config.Install
	Dialer Dialer
	VMID   int
	Wait   time.Duration
}

// ID implements steps.Step.
func (s *Install2) ID() string { return "platform.install2" }

// Title implements steps.Step.
func (s *Install2) Title() string { return "tappaas-cicd: reboot, install2" }

// Needs implements steps.Needer.
func (s *Install2) Needs() []string { return []string{"platform.install1", "firewall.verify"} }

// Touches implements steps.Toucher.
func (s *Install2) Touches() []string { return []string{"vm:cicd-os", "vm:" + strconv.Itoa(s.VMID)} }

// Describe implements steps.Describer.
func (s *Install2) Describe(*steps.Runtime) []string {
	return []string{fmt.Sprintf("qm reboot %d; wait for SSH", s.VMID), "firewall API credentials to " + CredentialsFile + " (0600)", "./install2.sh --branch " + s.Cfg.Platform.Branch + " --domain " + s.Cfg.Site.Domain}
}

// Check implements steps.Step.
func (s *Install2) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	e, _, err := cicd(ctx, rt, s.Dialer)
	if err != nil {
		return steps.NotDone("tappaas-cicd is not reachable: %v", err), nil
	}
	ok, err := node.QueryOK(ctx, e, "test -f "+InstalledMarker)
	if err != nil {
		return steps.Status{}, err
	}
	if !ok {
		return steps.NotDone("%s does not exist", InstalledMarker), nil
	}
	return steps.Done("tappaas-cicd installed (%s)", InstalledMarker), nil
}

// Apply implements steps.Step.
func (s *Install2) Apply(ctx context.Context, rt *steps.Runtime) error {
	wait := s.Wait
	if wait <= 0 {
		wait = 10 * time.Minute
	}
	if _, err := node.Run(ctx, rt, s.Node, fmt.Sprintf("qm reboot %d", s.VMID)); err != nil {
		return err
	}
	// The guest leaves and comes back: wait for the agent, then SSH.
	err := node.Poll(ctx, rt, "tappaas-cicd to come back after the reboot", wait, 5*time.Second, func(ctx context.Context) (bool, error) {
		ip, err := GuestIP(ctx, s.Node, s.VMID)
		if err != nil {
			return false, err
		}
		return true, steps.Set(rt.Facts, FactCICDIP, ip)
	})
	if err != nil {
		return err
	}
	e, err := waitSSH(ctx, rt, s.Dialer, wait)
	if err != nil {
		return err
	}
	key, _ := rt.Secrets.Secret(firewall.SecretAPIKey)
	secret, _ := rt.Secrets.Secret(firewall.SecretAPISecret)
	if key == "" || secret == "" {
		return fmt.Errorf("the firewall API credentials are not in the secrets file: run step firewall.config again")
	}
	if err := e.WriteFile(ctx, CredentialsFile, []byte("key="+key+"\nsecret="+secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("copy the firewall credentials to tappaas-cicd: %w", err)
	}
	_, err = node.Run(ctx, rt, e, "cd "+CICDDir+" && ./install2.sh --branch "+exec.Quote(s.Cfg.Platform.Branch)+" --domain "+exec.Quote(s.Cfg.Site.Domain))
	if err != nil {
		return fmt.Errorf("install2 on tappaas-cicd: %w", err)
	}
	return nil
}

// Configuration is /home/tappaas/config/configuration.json (schema:
// configuration-fields.json, bootstrap.md §2.1).
type Configuration struct {
	Comment1 string        `json:"-comment1"`
	Comment2 string        `json:"-comment2"`
	TAPPaaS  ConfigTAPPaaS `json:"tappaas"`
	Nodes    []ConfigNode  `json:"tappaas-nodes"`
}

// ConfigTAPPaaS is the "tappaas" section.
type ConfigTAPPaaS struct {
	Version           string                   `json:"version"`
	Domain            string                   `json:"domain"`
	Email             string                   `json:"email"`
	NodeCount         int                      `json:"nodeCount"`
	Variants          map[string]ConfigVariant `json:"variants"`
	Repositories      []ConfigRepo             `json:"repositories"`
	UpdateSchedule    []any                    `json:"updateSchedule"`
	AutomaticReboot   bool                     `json:"automaticReboot"`
	SnapshotRetention int                      `json:"snapshotRetention"`
}

// ConfigVariant is one variant (ADR-005).
type ConfigVariant struct {
	Domain       string `json:"domain"`
	TLSCertRefid string `json:"tlsCertRefid"`
	DNSMode      string `json:"dnsMode"`
	Description  string `json:"description"`
}

// ConfigRepo is one module repository.
type ConfigRepo struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	Branch  string `json:"branch"`
	Path    string `json:"path"`
	Managed string `json:"managed"`
	Catalog string `json:"catalog"`
}

// ConfigNode is one node.
type ConfigNode struct {
	Hostname string `json:"hostname"`
	IP       string `json:"ip"`
}

// RenderConfiguration builds configuration.json for the installed cluster.
func RenderConfiguration(cfg config.Install, nodes []ConfigNode) ([]byte, error) {
	url := strings.TrimSuffix(strings.TrimPrefix(cfg.Platform.RepoURL, "https://"), ".git")
	c := Configuration{
		Comment1: "TAPPaaS central configuration, written by tappaas install",
		Comment2: "Edit this file at " + ConfigurationFile + " on tappaas-cicd",
		TAPPaaS: ConfigTAPPaaS{
			Version: "0.5", Domain: cfg.Site.Domain, Email: cfg.Site.AdminEmail, NodeCount: len(nodes),
			Variants:          map[string]ConfigVariant{"": {Domain: cfg.Site.Domain, DNSMode: "wildcard", Description: "Default (no variant)"}},
			Repositories:      []ConfigRepo{{Name: "TAPPaaS", URL: url, Branch: cfg.Platform.Branch, Path: RepoDir, Managed: "full", Catalog: "src/module-catalog.json"}},
			UpdateSchedule:    []any{"weekly", "Tuesday", 2},
			AutomaticReboot:   true,
			SnapshotRetention: 5,
		},
		Nodes: nodes,
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// WriteConfiguration writes configuration.json on cicd.
type WriteConfiguration struct {
	Cfg    config.Install
	Dialer Dialer
}

// ID implements steps.Step.
func (s *WriteConfiguration) ID() string { return "platform.configuration" }

// Title implements steps.Step.
func (s *WriteConfiguration) Title() string { return "configuration.json on tappaas-cicd" }

// Needs implements steps.Needer.
func (s *WriteConfiguration) Needs() []string { return []string{"platform.install2"} }

// Touches implements steps.Toucher.
func (s *WriteConfiguration) Touches() []string { return []string{"vm:cicd-os"} }

// Describe implements steps.Describer.
func (s *WriteConfiguration) Describe(*steps.Runtime) []string {
	return []string{"write " + ConfigurationFile + " (domain " + s.Cfg.Site.Domain + ", email " + s.Cfg.Site.AdminEmail + ")"}
}

func (s *WriteConfiguration) want() ([]byte, error) {
	return RenderConfiguration(s.Cfg, []ConfigNode{{Hostname: s.Cfg.Node.Hostname, IP: s.Cfg.MgmtPrefix().Addr().String()}})
}

// Check implements steps.Step.
func (s *WriteConfiguration) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	e, _, err := cicd(ctx, rt, s.Dialer)
	if err != nil {
		return steps.NotDone("tappaas-cicd is not reachable: %v", err), nil
	}
	want, err := s.want()
	if err != nil {
		return steps.Status{}, err
	}
	ok, err := node.FileIs(ctx, e, ConfigurationFile, want)
	if err != nil {
		return steps.Status{}, err
	}
	if !ok {
		return steps.NotDone("%s differs", ConfigurationFile), nil
	}
	return steps.Done("%s is current", ConfigurationFile), nil
}

// Apply implements steps.Step.
func (s *WriteConfiguration) Apply(ctx context.Context, rt *steps.Runtime) error {
	e, _, err := cicd(ctx, rt, s.Dialer)
	if err != nil {
		return err
	}
	want, err := s.want()
	if err != nil {
		return err
	}
	_, err = node.WriteIfChanged(ctx, rt, e, ConfigurationFile, want, 0o644)
	return err
}
