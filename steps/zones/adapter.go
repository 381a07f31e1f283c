package zones

import (
	"context"
	"errors"
	"strings"

	"github.com/tappaas/tappaas/backends/opnsense"
	cz "github.com/tappaas/tappaas/config/zones"
)

// OPNsense is the part of the OPNsense client the zones adapter uses;
// *opnsense.Client implements it.
type OPNsense interface {
	opnsense.VLANs
	opnsense.Assigner
	opnsense.DHCP
	opnsense.Filter
	Reconfigure(ctx context.Context, s opnsense.Service) error
	FirmwareStatus(ctx context.Context) (opnsense.FirmwareStatus, error)
}

// FromOPNsense adapts an OPNsense client to the zones.Firewall the planner
// and applier use. Deleting an absent object succeeds; a firmware without
// the savepoint API reports zones.ErrNoSavepoint.
func FromOPNsense(c OPNsense) cz.Firewall { return &adapter{c: c} }

type adapter struct{ c OPNsense }

func absentOK(err error) error {
	if errors.Is(err, opnsense.ErrNotFound) {
		return nil
	}
	return err
}

func (a *adapter) VLANs(ctx context.Context) ([]cz.VLAN, error) {
	vs, err := a.c.VLANs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]cz.VLAN, len(vs))
	for i, v := range vs {
		out[i] = cz.VLAN{UUID: v.UUID, Parent: v.Parent, Tag: v.Tag, Device: v.Device, Descr: v.Descr}
	}
	return out, nil
}

func toVLAN(v cz.VLAN) opnsense.VLAN {
	return opnsense.VLAN{Parent: v.Parent, Tag: v.Tag, Device: v.Device, Descr: v.Descr}
}

func (a *adapter) AddVLAN(ctx context.Context, v cz.VLAN) (string, error) {
	return a.c.AddVLAN(ctx, toVLAN(v))
}
func (a *adapter) SetVLAN(ctx context.Context, uuid string, v cz.VLAN) error {
	return a.c.SetVLAN(ctx, uuid, toVLAN(v))
}
func (a *adapter) DelVLAN(ctx context.Context, uuid string) error {
	return absentOK(a.c.DelVLAN(ctx, uuid))
}

func (a *adapter) Assignments(ctx context.Context) ([]cz.Assignment, error) {
	as, err := a.c.Assignments(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]cz.Assignment, len(as))
	for i, x := range as {
		out[i] = cz.Assignment{Ifname: x.Ifname, Device: x.Device, Descr: x.Descr, Enabled: x.Enabled, IPv4: x.IPv4}
	}
	return out, nil
}

func (a *adapter) Assign(ctx context.Context, x cz.Assignment) (string, error) {
	return a.c.Assign(ctx, opnsense.Assignment{Device: x.Device, Descr: x.Descr, Enabled: x.Enabled, IPv4: x.IPv4})
}
func (a *adapter) Unassign(ctx context.Context, ifname string) error {
	return absentOK(a.c.Unassign(ctx, ifname))
}

func (a *adapter) DnsmasqInterfaces(ctx context.Context) ([]string, error) {
	return a.c.DnsmasqInterfaces(ctx)
}
func (a *adapter) SetDnsmasqInterfaces(ctx context.Context, l []string) error {
	return a.c.SetDnsmasqInterfaces(ctx, l)
}

func (a *adapter) Ranges(ctx context.Context) ([]cz.Range, error) {
	rs, err := a.c.Ranges(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]cz.Range, len(rs))
	for i, r := range rs {
		out[i] = cz.Range{UUID: r.UUID, Interface: r.Interface, Start: r.StartAddr, End: r.EndAddr, Domain: r.Domain, LeaseTime: r.LeaseTime, Description: r.Description}
	}
	return out, nil
}

func toRange(r cz.Range) opnsense.Range {
	return opnsense.Range{Interface: r.Interface, StartAddr: r.Start, EndAddr: r.End, Domain: r.Domain, LeaseTime: r.LeaseTime, Description: r.Description}
}

func (a *adapter) AddRange(ctx context.Context, r cz.Range) (string, error) {
	return a.c.AddRange(ctx, toRange(r))
}
func (a *adapter) SetRange(ctx context.Context, uuid string, r cz.Range) error {
	return a.c.SetRange(ctx, uuid, toRange(r))
}
func (a *adapter) DelRange(ctx context.Context, uuid string) error {
	return absentOK(a.c.DelRange(ctx, uuid))
}

func (a *adapter) Rules(ctx context.Context) ([]cz.Rule, error) {
	rs, err := a.c.Rules(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]cz.Rule, len(rs))
	for i, r := range rs {
		out[i] = cz.Rule{UUID: r.UUID, Enabled: r.Enabled, Sequence: r.Sequence, Action: r.Action, Quick: r.Quick,
			Interface: strings.Join(r.Interface, ","), Direction: r.Direction, IPProtocol: r.IPProtocol, Protocol: r.Protocol,
			SourceNet: r.SourceNet, DestinationNet: r.DestinationNet, DestinationPort: r.DestinationPort, Log: r.Log, Description: r.Description}
	}
	return out, nil
}

func toRule(r cz.Rule) opnsense.Rule {
	var ifs []string
	if r.Interface != "" {
		ifs = strings.Split(r.Interface, ",")
	}
	return opnsense.Rule{Enabled: r.Enabled, Sequence: r.Sequence, Action: r.Action, Quick: r.Quick, Interface: ifs,
		Direction: r.Direction, IPProtocol: r.IPProtocol, Protocol: r.Protocol, SourceNet: r.SourceNet,
		DestinationNet: r.DestinationNet, DestinationPort: r.DestinationPort, Log: r.Log, Description: r.Description}
}

func (a *adapter) AddRule(ctx context.Context, r cz.Rule) (string, error) {
	return a.c.AddRule(ctx, toRule(r))
}
func (a *adapter) SetRule(ctx context.Context, uuid string, r cz.Rule) error {
	return a.c.SetRule(ctx, uuid, toRule(r))
}
func (a *adapter) DelRule(ctx context.Context, uuid string) error {
	return absentOK(a.c.DelRule(ctx, uuid))
}

func (a *adapter) Reconfigure(ctx context.Context, m cz.Module) error {
	switch m {
	case cz.ModuleVLAN:
		return a.c.Reconfigure(ctx, opnsense.ServiceVLAN)
	case cz.ModuleInterfaces:
		return a.c.ApplyAssignments(ctx)
	case cz.ModuleDnsmasq:
		return a.c.Reconfigure(ctx, opnsense.ServiceDnsmasq)
	}
	return errors.New("unknown module " + string(m))
}

func noSavepoint(err error) error {
	if errors.Is(err, opnsense.ErrUnsupported) || errors.Is(err, opnsense.ErrEndpointNotFound) {
		return cz.ErrNoSavepoint
	}
	return err
}

func (a *adapter) Savepoint(ctx context.Context) (string, error) {
	rev, err := a.c.Savepoint(ctx)
	return rev, noSavepoint(err)
}
func (a *adapter) ApplyFilter(ctx context.Context, rev string) error { return a.c.Apply(ctx, rev) }
func (a *adapter) CancelRollback(ctx context.Context, rev string) error {
	return a.c.CancelRollback(ctx, rev)
}
func (a *adapter) Revert(ctx context.Context, rev string) error { return a.c.Revert(ctx, rev) }

func (a *adapter) Ping(ctx context.Context) error {
	_, err := a.c.FirmwareStatus(ctx)
	return err
}
