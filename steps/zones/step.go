package zones

import (
	"context"
	"fmt"

	"github.com/tappaas/tappaas/backends/exec"
	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
)

// StepID is the checkpoint key of the zones step.
const StepID = "zones.apply"

// Step plans the zones of File against the firewall and applies the plan.
// Check is "the plan is empty". Apply converges: it re-plans after applying
// (an interface that had to be re-assigned moves its rules and ranges in a
// second round) and stops when the plan is empty.
type Step struct {
	// File is the desired zone set; it must validate without errors.
	File *cz.File
	// Firewall returns the target when the step runs (the plan is built
	// before the firewall exists); FromOPNsense(client) in the product.
	Firewall func(context.Context) (cz.Firewall, error)
	// After lists step IDs that must run first (e.g. the firewall's API key
	// step). Optional.
	After []string
	// Apply options (ping attempts/delay); Out is set to the runtime's log.
	Options cz.ApplyOptions
	// Node, when set, is the PVE node: the step seeds the platform's live
	// zones.json there (cz.NodeFile) when it is absent, as upstream's node
	// install does, so upstream's tools and later edits use this file.
	Node exec.Executor
}

func (s *Step) ID() string { return StepID }

func (s *Step) Title() string { return "Apply network zones to the firewall" }

func (s *Step) Needs() []string { return s.After }

func (s *Step) Touches() []string { return []string{"opnsense"} }

// Describe implements steps.Describer without contacting the firewall.
func (s *Step) Describe(*steps.Runtime) []string {
	if s.File == nil {
		return nil
	}
	n := 0
	for _, z := range s.File.Zones {
		if z.State.Enabled() {
			n++
		}
	}
	return []string{fmt.Sprintf("reconcile %d enabled zones (VLAN, interface, DHCP, rules, as zone-manager names them); tear down Inactive/Disabled ones", n)}
}

func (s *Step) plan(ctx context.Context) (*cz.Changes, error) {
	fw, err := s.firewall(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.File.Validate().Err(); err != nil {
		return nil, fmt.Errorf("zones file: %w", err)
	}
	cur, err := cz.Snapshot(ctx, fw)
	if err != nil {
		return nil, fmt.Errorf("read firewall: %w", err)
	}
	return cz.Plan(s.File, cur), nil
}

func (s *Step) firewall(ctx context.Context) (cz.Firewall, error) {
	if s.File == nil || s.Firewall == nil {
		return nil, fmt.Errorf("zones step: no zones file or firewall configured")
	}
	return s.Firewall(ctx)
}

// Check implements steps.Step: done when the plan is empty.
func (s *Step) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	ch, err := s.plan(ctx)
	if err != nil {
		return steps.Status{}, err
	}
	if ch.Empty() {
		if ok, err := s.seeded(ctx); err != nil || !ok {
			return steps.NotDone("%s is not on the node yet", cz.NodeFile), err
		}
		return steps.Done("firewall matches the %d zones", len(s.File.Zones)), nil
	}
	c, u, d := ch.Count()
	return steps.NotDone("%d to create, %d to update, %d to delete", c, u, d), nil
}

func (s *Step) Apply(ctx context.Context, rt *steps.Runtime) error {
	o := s.Options
	o.Out = func(line string) { rt.Printf("%s", line) }
	for round := 0; round < 3; round++ {
		ch, err := s.plan(ctx)
		if err != nil {
			return err
		}
		for _, w := range ch.Warnings {
			rt.Printf("warning: %s", w)
		}
		if ch.Empty() {
			return s.seed(ctx, rt)
		}
		if err := ch.Guard(nil); err != nil {
			return fmt.Errorf("%w (the install does not delete most of the firewall's zones; run tappaas zones apply --confirm-delete to do it)", err)
		}
		fw, err := s.firewall(ctx)
		if err != nil {
			return err
		}
		if err := cz.ApplyWith(ctx, fw, ch, o); err != nil {
			return err
		}
	}
	return fmt.Errorf("zones did not converge after 3 rounds; run again and report the plan")
}

// seeded reports whether the node has its live zones.json (true without a
// node).
func (s *Step) seeded(ctx context.Context) (bool, error) {
	if s.Node == nil {
		return true, nil
	}
	return node.QueryOK(ctx, s.Node, "test -f "+cz.NodeFile)
}

// seed writes the zones file as the node's live copy when it has none; an
// existing one (an operator's edits) is never overwritten.
func (s *Step) seed(ctx context.Context, rt *steps.Runtime) error {
	ok, err := s.seeded(ctx)
	if err != nil || ok {
		return err
	}
	if _, err := node.Run(ctx, rt, s.Node, "mkdir -p /root/tappaas"); err != nil {
		return err
	}
	if err := node.Write(ctx, s.Node, cz.NodeFile, s.File.Bytes(), 0o644); err != nil {
		return fmt.Errorf("seed the live zones file: %w", err)
	}
	rt.Printf("wrote %s (the platform's live zones file)", cz.NodeFile)
	return nil
}

var _ steps.Step = (*Step)(nil)
