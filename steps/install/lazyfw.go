package install

import (
	"context"

	cz "github.com/tappaas/tappaas/config/zones"
)

// lazyFirewall builds the OPNsense client on first use: the plan is built
// before the firewall exists, the zones step runs after the takeover.
type lazyFirewall struct{ t *Targets }

func (l *lazyFirewall) VLANs(ctx context.Context) ([]cz.VLAN, error) {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return nil, err
	}
	return f.VLANs(ctx)
}

func (l *lazyFirewall) AddVLAN(ctx context.Context, v cz.VLAN) (string, error) {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return "", err
	}
	return f.AddVLAN(ctx, v)
}

func (l *lazyFirewall) SetVLAN(ctx context.Context, uuid string, v cz.VLAN) error {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return err
	}
	return f.SetVLAN(ctx, uuid, v)
}

func (l *lazyFirewall) DelVLAN(ctx context.Context, uuid string) error {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return err
	}
	return f.DelVLAN(ctx, uuid)
}

func (l *lazyFirewall) Assignments(ctx context.Context) ([]cz.Assignment, error) {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return nil, err
	}
	return f.Assignments(ctx)
}

func (l *lazyFirewall) Assign(ctx context.Context, a cz.Assignment) (string, error) {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return "", err
	}
	return f.Assign(ctx, a)
}

func (l *lazyFirewall) Unassign(ctx context.Context, ifname string) error {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return err
	}
	return f.Unassign(ctx, ifname)
}

func (l *lazyFirewall) DnsmasqInterfaces(ctx context.Context) ([]string, error) {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return nil, err
	}
	return f.DnsmasqInterfaces(ctx)
}

func (l *lazyFirewall) SetDnsmasqInterfaces(ctx context.Context, ifaces []string) error {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return err
	}
	return f.SetDnsmasqInterfaces(ctx, ifaces)
}

func (l *lazyFirewall) Ranges(ctx context.Context) ([]cz.Range, error) {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return nil, err
	}
	return f.Ranges(ctx)
}

func (l *lazyFirewall) AddRange(ctx context.Context, r cz.Range) (string, error) {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return "", err
	}
	return f.AddRange(ctx, r)
}

func (l *lazyFirewall) SetRange(ctx context.Context, uuid string, r cz.Range) error {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return err
	}
	return f.SetRange(ctx, uuid, r)
}

func (l *lazyFirewall) DelRange(ctx context.Context, uuid string) error {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return err
	}
	return f.DelRange(ctx, uuid)
}

func (l *lazyFirewall) Rules(ctx context.Context) ([]cz.Rule, error) {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return nil, err
	}
	return f.Rules(ctx)
}

func (l *lazyFirewall) AddRule(ctx context.Context, r cz.Rule) (string, error) {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return "", err
	}
	return f.AddRule(ctx, r)
}

func (l *lazyFirewall) SetRule(ctx context.Context, uuid string, r cz.Rule) error {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return err
	}
	return f.SetRule(ctx, uuid, r)
}

func (l *lazyFirewall) DelRule(ctx context.Context, uuid string) error {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return err
	}
	return f.DelRule(ctx, uuid)
}

func (l *lazyFirewall) Reconfigure(ctx context.Context, m cz.Module) error {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return err
	}
	return f.Reconfigure(ctx, m)
}

func (l *lazyFirewall) Savepoint(ctx context.Context) (string, error) {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return "", err
	}
	return f.Savepoint(ctx)
}

func (l *lazyFirewall) ApplyFilter(ctx context.Context, revision string) error {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return err
	}
	return f.ApplyFilter(ctx, revision)
}

func (l *lazyFirewall) CancelRollback(ctx context.Context, revision string) error {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return err
	}
	return f.CancelRollback(ctx, revision)
}

func (l *lazyFirewall) Revert(ctx context.Context, revision string) error {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return err
	}
	return f.Revert(ctx, revision)
}

func (l *lazyFirewall) Ping(ctx context.Context) error {
	f, err := l.t.zfw(ctx)
	if err != nil {
		return err
	}
	return f.Ping(ctx)
}

var _ cz.Firewall = (*lazyFirewall)(nil)
