package zones

import (
	"context"
	"errors"
	"fmt"

	"github.com/tappaas/tappaas/backends/opnsense"
	cz "github.com/tappaas/tappaas/config/zones"
)

// FromOPNsense is the OPNsense client as the planner's cz.Firewall. The
// records are shared (config/zones), so the client's own methods serve;
// only these differ in contract: deleting an absent object succeeds, the
// modules map to their apply endpoints, a firmware without the savepoint
// API reports cz.ErrNoSavepoint.
func FromOPNsense(c *opnsense.Client) cz.Firewall { return firewall{c} }

type firewall struct{ *opnsense.Client }

func absentOK(err error) error {
	if errors.Is(err, opnsense.ErrNotFound) {
		return nil
	}
	return err
}

func (f firewall) DelVLAN(ctx context.Context, uuid string) error {
	return absentOK(f.Client.DelVLAN(ctx, uuid))
}

func (f firewall) Unassign(ctx context.Context, ifname string) error {
	return absentOK(f.Client.Unassign(ctx, ifname))
}

func (f firewall) DelRange(ctx context.Context, uuid string) error {
	return absentOK(f.Client.DelRange(ctx, uuid))
}

func (f firewall) DelRule(ctx context.Context, uuid string) error {
	return absentOK(f.Client.DelRule(ctx, uuid))
}

func (f firewall) Reconfigure(ctx context.Context, m cz.Module) error {
	switch m {
	case cz.ModuleVLAN:
		return f.Client.Reconfigure(ctx, opnsense.ServiceVLAN)
	case cz.ModuleInterfaces:
		return f.ApplyAssignments(ctx)
	case cz.ModuleDnsmasq:
		return f.Client.Reconfigure(ctx, opnsense.ServiceDnsmasq)
	}
	return fmt.Errorf("unknown module %q", m)
}

func (f firewall) Savepoint(ctx context.Context) (string, error) {
	rev, err := f.Client.Savepoint(ctx)
	if errors.Is(err, opnsense.ErrUnsupported) || errors.Is(err, opnsense.ErrEndpointNotFound) {
		return "", cz.ErrNoSavepoint
	}
	return rev, err
}

func (f firewall) ApplyFilter(ctx context.Context, rev string) error { return f.Apply(ctx, rev) }
