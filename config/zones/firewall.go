package zones

import (
	"context"
	"errors"
	"net/netip"
)

// The firewall records: the one set of types the planner, the OPNsense
// client (backends/opnsense aliases them), the fake and the simulator's
// clients share. Fields are the OPNsense model's; the JSON names are the
// plan's --output json.

// VLAN is a VLAN device (/api/interfaces/vlan_settings, monad "vlan").
type VLAN struct {
	UUID   string `json:"uuid,omitempty"`
	Parent string `json:"parent"`          // "if": the parent device, "vtnet0"
	Tag    int    `json:"tag"`             // 1–4094, unique per parent
	PCP    int    `json:"pcp,omitempty"`   // 0–7
	Proto  string `json:"proto,omitempty"` // "" (auto), "802.1q", "802.1ad"
	Device string `json:"device"`          // "vlanif": "vlan0.210"; "" lets the firewall name it
	Descr  string `json:"descr"`
}

// Assignment is a device assigned to an interface slot ("lan", "opt3"),
// as interfaces/overview/interfacesInfo lists it.
type Assignment struct {
	Ifname  string       `json:"ifname,omitempty"`  // identifier: "lan", "wan", "optN"; set by the firewall
	Device  string       `json:"device"`            // "vtnet0", "vlan0.210"
	Descr   string       `json:"descr"`             // the interface's label (a zone's: the zone name)
	Enabled bool         `json:"enabled"`           //
	IPv4    netip.Prefix `json:"ipv4"`              // static address with prefix length; zero when none
	VLANTag int          `json:"vlanTag,omitempty"` // from the overview, 0 when not a VLAN
}

// Range is a dnsmasq DHCP range (/api/dnsmasq/settings, monad "range").
type Range struct {
	UUID        string `json:"uuid,omitempty"`
	Interface   string `json:"interface"` // "lan", "opt1"; "" = any
	StartAddr   string `json:"start"`
	EndAddr     string `json:"end"`
	SubnetMask  string `json:"subnetMask,omitempty"`
	Domain      string `json:"domain"`
	LeaseTime   string `json:"leaseTime"` // seconds; "" = default
	SetTag      string `json:"setTag,omitempty"`
	Description string `json:"description"`
}

// Rule is a filter ("automation") rule (/api/firewall/filter, monad
// "rule"). Interface is comma-joined when the rule is on several.
type Rule struct {
	UUID            string `json:"uuid,omitempty"`
	Enabled         bool   `json:"enabled"`
	Sequence        int    `json:"sequence"`
	Action          string `json:"action"` // pass, block, reject
	Quick           bool   `json:"quick"`  // first match wins
	Interface       string `json:"interface"`
	Direction       string `json:"direction"`  // in, out
	IPProtocol      string `json:"ipprotocol"` // inet, inet6, inet46
	Protocol        string `json:"protocol"`   // any, TCP, UDP, TCP/UDP, ICMP, …
	SourceNet       string `json:"source"`     // any, CIDR, alias, network keyword
	SourceNot       bool   `json:"sourceNot,omitempty"`
	SourcePort      string `json:"sourcePort,omitempty"`
	DestinationNet  string `json:"destination"`
	DestinationNot  bool   `json:"destinationNot,omitempty"`
	DestinationPort string `json:"destinationPort,omitempty"`
	Gateway         string `json:"gateway,omitempty"`
	Log             bool   `json:"log"`
	Description     string `json:"description"`
}

// Current is a snapshot of the firewall objects the planner compares with.
type Current struct {
	VLANs             []VLAN       `json:"vlans"`
	Assignments       []Assignment `json:"assignments"`
	DnsmasqInterfaces []string     `json:"dnsmasqInterfaces"`
	Ranges            []Range      `json:"ranges"`
	Rules             []Rule       `json:"rules"`
}

// Module names a firewall module that must be reconfigured after writes.
type Module string

// Modules reconfigured by Apply (the filter is applied with ApplyFilter).
const (
	ModuleVLAN       Module = "vlan"
	ModuleInterfaces Module = "interfaces"
	ModuleDnsmasq    Module = "dnsmasq"
)

// ErrNoSavepoint is returned by Firewall.Savepoint when the firmware has no
// filter savepoint/rollback API (OPNsense 26.7 and later).
var ErrNoSavepoint = errors.New("firewall has no savepoint/rollback API")

// Firewall is what Plan's input and Apply need from a firewall. Writes are
// staged until the module's Reconfigure (or ApplyFilter for rules). Deleting
// an absent object must succeed (converging to "absent").
type Firewall interface {
	VLANs(ctx context.Context) ([]VLAN, error)
	AddVLAN(ctx context.Context, v VLAN) (uuid string, err error)
	SetVLAN(ctx context.Context, uuid string, v VLAN) error
	DelVLAN(ctx context.Context, uuid string) error

	Assignments(ctx context.Context) ([]Assignment, error)
	// Assign assigns a.Device to a new interface slot with a.Descr and the
	// static address a.IPv4 and returns the slot's ifname.
	Assign(ctx context.Context, a Assignment) (ifname string, err error)
	Unassign(ctx context.Context, ifname string) error

	DnsmasqInterfaces(ctx context.Context) ([]string, error)
	SetDnsmasqInterfaces(ctx context.Context, ifaces []string) error
	Ranges(ctx context.Context) ([]Range, error)
	AddRange(ctx context.Context, r Range) (uuid string, err error)
	SetRange(ctx context.Context, uuid string, r Range) error
	DelRange(ctx context.Context, uuid string) error

	Rules(ctx context.Context) ([]Rule, error)
	AddRule(ctx context.Context, r Rule) (uuid string, err error)
	SetRule(ctx context.Context, uuid string, r Rule) error
	DelRule(ctx context.Context, uuid string) error

	// Reconfigure makes a module's saved configuration live.
	Reconfigure(ctx context.Context, m Module) error
	// Savepoint records the filter configuration; ErrNoSavepoint when the
	// firmware has none.
	Savepoint(ctx context.Context) (revision string, err error)
	// ApplyFilter makes the saved rules live; with a revision it arms the
	// firewall's automatic rollback to that savepoint.
	ApplyFilter(ctx context.Context, revision string) error
	// CancelRollback confirms an ApplyFilter(revision).
	CancelRollback(ctx context.Context, revision string) error
	// Revert restores a savepoint at once.
	Revert(ctx context.Context, revision string) error
	// Ping checks the API is still reachable and authenticates (a cheap read).
	Ping(ctx context.Context) error
}

// Snapshot reads everything Plan compares.
func Snapshot(ctx context.Context, fw Firewall) (Current, error) {
	var c Current
	var err error
	if c.VLANs, err = fw.VLANs(ctx); err != nil {
		return c, err
	}
	if c.Assignments, err = fw.Assignments(ctx); err != nil {
		return c, err
	}
	if c.DnsmasqInterfaces, err = fw.DnsmasqInterfaces(ctx); err != nil {
		return c, err
	}
	if c.Ranges, err = fw.Ranges(ctx); err != nil {
		return c, err
	}
	if c.Rules, err = fw.Rules(ctx); err != nil {
		return c, err
	}
	return c, nil
}
