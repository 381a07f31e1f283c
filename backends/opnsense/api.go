package opnsense

import "context"

// The narrow interfaces below are what planners and steps depend on; *Client
// implements all of them (and API). Each write is staged on the firewall
// until the matching Reconfigure/Apply.

// VLANs manages VLAN devices.
type VLANs interface {
	VLANs(ctx context.Context) ([]VLAN, error)
	AddVLAN(ctx context.Context, v VLAN) (uuid string, err error)
	SetVLAN(ctx context.Context, uuid string, v VLAN) error
	DelVLAN(ctx context.Context, uuid string) error
}

// Assigner manages interface assignments.
type Assigner interface {
	Assignments(ctx context.Context) ([]Assignment, error)
	Assign(ctx context.Context, a Assignment) (ifname string, err error)
	Unassign(ctx context.Context, ifname string) error
	ApplyAssignments(ctx context.Context) error
}

// DHCP manages dnsmasq listen interfaces and ranges.
type DHCP interface {
	DnsmasqInterfaces(ctx context.Context) ([]string, error)
	SetDnsmasqInterfaces(ctx context.Context, ifaces []string) error
	Ranges(ctx context.Context) ([]Range, error)
	AddRange(ctx context.Context, v Range) (uuid string, err error)
	SetRange(ctx context.Context, uuid string, v Range) error
	DelRange(ctx context.Context, uuid string) error
}

// Filter manages filter rules and their apply/rollback lifecycle.
type Filter interface {
	Rules(ctx context.Context) ([]Rule, error)
	AddRule(ctx context.Context, v Rule) (uuid string, err error)
	SetRule(ctx context.Context, uuid string, v Rule) error
	DelRule(ctx context.Context, uuid string) error
	Savepoint(ctx context.Context) (revision string, err error)
	Apply(ctx context.Context, revision string) error
	CancelRollback(ctx context.Context, revision string) error
	Revert(ctx context.Context, revision string) error
}

// DNS manages Unbound host overrides.
type DNS interface {
	HostOverrides(ctx context.Context) ([]HostOverride, error)
	AddHostOverride(ctx context.Context, v HostOverride) (uuid string, err error)
	SetHostOverride(ctx context.Context, uuid string, v HostOverride) error
	DelHostOverride(ctx context.Context, uuid string) error
}

// System reads firmware and health information.
type System interface {
	Ping(ctx context.Context) error
	Dialect(ctx context.Context) (Dialect, error)
	FirmwareStatus(ctx context.Context) (FirmwareStatus, error)
	FirmwareInfo(ctx context.Context) (FirmwareInfo, error)
	SystemStatus(ctx context.Context) (SystemStatus, error)
}

// Applier applies staged changes and serialises batches.
type Applier interface {
	Reconfigure(ctx context.Context, s Service) error
	Locked(ctx context.Context, fn func(ctx context.Context) error) error
}

// API is everything tappaas needs from a firewall.
type API interface {
	VLANs
	Assigner
	DHCP
	Filter
	DNS
	System
	Applier
}

var _ API = (*Client)(nil)
