package node

import (
	"context"
	"fmt"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/steps"
)

// Installed returns which of pkgs are installed on e (dpkg's view).
func Installed(ctx context.Context, e exec.Executor, pkgs ...string) (map[string]bool, error) {
	out, err := Query(ctx, e, "dpkg-query -W -f='${Package} ${Status}\\n' "+exec.Join(pkgs...)+" 2>/dev/null || true")
	if err != nil {
		return nil, err
	}
	got := map[string]bool{}
	for _, l := range Lines(out) {
		f := strings.Fields(l)
		if len(f) >= 4 && f[len(f)-1] == "installed" {
			got[f[0]] = true
		}
	}
	return got, nil
}

// Packages installs the packages the node needs (apt-get update is fatal on
// failure, like upstream; nothing else is upgraded behind the operator's back).
type Packages struct {
	Node     exec.Executor
	Packages []string // default: DefaultPackages
}

// DefaultPackages are installed on every node: zstd for image
// decompression, smartmontools for disk health, chrony for time sync.
var DefaultPackages = []string{"zstd", "curl", "smartmontools", "chrony"}

func (s *Packages) pkgs() []string {
	if len(s.Packages) == 0 {
		return DefaultPackages
	}
	return s.Packages
}

func (s *Packages) ID() string { return "node.packages" }

func (s *Packages) Title() string { return "Node packages" }

func (s *Packages) Needs() []string { return []string{"node.repos"} }

func (s *Packages) Touches() []string { return []string{"node:apt"} }

func (s *Packages) Describe(*steps.Runtime) []string {
	return []string{"apt-get update; install " + strings.Join(s.pkgs(), ", ")}
}

func (s *Packages) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	got, err := Installed(ctx, s.Node, s.pkgs()...)
	if err != nil {
		return steps.Status{}, err
	}
	var missing []string
	for _, p := range s.pkgs() {
		if !got[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return steps.NotDone("not installed: %s", strings.Join(missing, ", ")), nil
	}
	return steps.Done("installed: %s", strings.Join(s.pkgs(), ", ")), nil
}

func (s *Packages) Apply(ctx context.Context, rt *steps.Runtime) error {
	if _, err := Run(ctx, rt, s.Node, "DEBIAN_FRONTEND=noninteractive apt-get update -q"); err != nil {
		return fmt.Errorf("apt-get update failed (check the node's DNS and internet access, then run again): %w", err)
	}
	got, err := Installed(ctx, s.Node, s.pkgs()...)
	if err != nil {
		return err
	}
	var missing []string
	for _, p := range s.pkgs() {
		if !got[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = Run(ctx, rt, s.Node, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q "+exec.Join(missing...))
	return err
}
