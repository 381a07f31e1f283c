package platform

import (
	"context"
	"fmt"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
)

// Where TAPPaaS' interface assignment patch comes from (upstream's checkout
// on tappaas-cicd) and where it goes on the firewall: the same files and
// paths as pre-update.sh, which runs them from CICDDir
// (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/pre-update.sh:214-225).
const (
	PatchController    = CICDDir + "/opnsense-patch/InterfaceAssignController.php"
	PatchACL           = CICDDir + "/opnsense-patch/ACL.xml"
	FirewallController = "/usr/local/opnsense/mvc/app/controllers/OPNsense/Interfaces/Api/InterfaceAssignController.php"
	FirewallACL        = "/usr/local/opnsense/mvc/app/models/OPNsense/Interfaces/ACL/ACL.xml"
)

// PatchProber tells whether the firewall serves the interface_assign API
// (opnsense.Client.HasAssignPatch): true, false when it answers 404, an
// error when it could not tell.
type PatchProber interface {
	HasAssignPatch(ctx context.Context) (bool, error)
}

// AssignPatch puts TAPPaaS' InterfaceAssignController (and its ACL) on the
// firewall. The TAPPaaS firewall image is stock OPNsense with only
// /conf/config.xml injected, so the interface_assign API the zones step
// needs does not exist until upstream's pre-update.sh copies the patch
// during install2, which runs after the zones. This step copies the same
// two files from upstream's checkout on tappaas-cicd to the same paths on
// the firewall, the same way (scp as root with cicd's key, which the
// takeover authorized), then waits until the API answers. Check asks the
// API, so a firewall that lost the patch gets it again on the next run.
type AssignPatch struct {
	Dialer Dialer
	Probe  PatchProber
	// Wait bounds the wait for the API to serve the copied controller
	// (default 2 min).
	Wait time.Duration
}

// AssignPatchID is the step's checkpoint key.
const AssignPatchID = "firewall.assign-patch"

func (s *AssignPatch) ID() string { return AssignPatchID }

func (s *AssignPatch) Title() string { return "Firewall: TAPPaaS interface assignment API" }

// Needs implements steps.Needer: upstream's checkout on cicd, our firewall.
func (s *AssignPatch) Needs() []string { return []string{"platform.install1", "firewall.verify"} }

// Touches implements steps.Toucher: the firewall, and cicd's system (not
// while install2 reboots it).
func (s *AssignPatch) Touches() []string { return []string{"opnsense", "vm:cicd-os"} }

func (s *AssignPatch) Describe(*steps.Runtime) []string {
	return []string{"from tappaas-cicd: scp opnsense-patch/InterfaceAssignController.php and ACL.xml to the firewall (as pre-update.sh does)",
		"check /api/interfaces/interface_assign answers"}
}

func (s *AssignPatch) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	ok, err := s.Probe.HasAssignPatch(ctx)
	if err != nil {
		return steps.Status{}, fmt.Errorf("ask the firewall for the interface_assign API: %w", err)
	}
	if !ok {
		return steps.NotDone("the firewall answers 404 for /api/interfaces/interface_assign"), nil
	}
	return steps.Done("the firewall serves /api/interfaces/interface_assign"), nil
}

func (s *AssignPatch) Apply(ctx context.Context, rt *steps.Runtime) error {
	e, _, err := cicd(ctx, rt, s.Dialer)
	if err != nil {
		return err
	}
	// cicd knows the firewall's host key from install2 on at the
	// earliest; it accepts it on first use as install2 does
	// (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/install2.sh:46).
	fw := "root@" + config.FirewallLANIP
	opts := "-o BatchMode=yes -o StrictHostKeyChecking=accept-new"
	script := "cd " + exec.Quote(CICDDir) +
		" && test -f " + exec.Quote(PatchController) + " -a -f " + exec.Quote(PatchACL) +
		" && scp " + opts + " " + exec.Quote(PatchController) + " " + fw + ":" + FirewallController +
		" && scp " + opts + " " + exec.Quote(PatchACL) + " " + fw + ":" + FirewallACL
	if _, err := node.Run(ctx, rt, e, script); err != nil {
		return fmt.Errorf("copy the interface assignment patch from tappaas-cicd (%s) to the firewall: %w", CICDDir+"/opnsense-patch", err)
	}
	rt.Printf("copied InterfaceAssignController.php and ACL.xml to the firewall")
	wait := s.Wait
	if wait <= 0 {
		wait = 2 * time.Minute
	}
	return node.Poll(ctx, rt, "the firewall to serve /api/interfaces/interface_assign", wait, 2*time.Second, func(ctx context.Context) (bool, error) {
		return s.Probe.HasAssignPatch(ctx)
	})
}

var _ steps.Step = (*AssignPatch)(nil)
