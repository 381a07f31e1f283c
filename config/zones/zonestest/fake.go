// Package zonestest provides an in-memory zones.Firewall (Fake) and the
// planner/applier conformance suite run against it and the OPNsense simulator.
package zonestest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/tappaas/tappaas/config/zones"
)

// ErrNotFound is returned for writes to unknown objects.
var ErrNotFound = errors.New("fake firewall: not found")

// Fake is an in-memory firewall with the OPNsense rules that matter to the
// planner: VLAN tags unique per parent, assigned VLANs cannot be deleted,
// one assignment per device, optN slots numbered max+1, dnsmasq listen
// entries and range interfaces must be assigned interfaces, filter
// savepoint/revert. Saved and live state are not distinguished; every
// Reconfigure is recorded in Calls. Safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	st     zones.Current
	nextID int

	// NoSavepoint makes Savepoint return zones.ErrNoSavepoint.
	NoSavepoint bool
	// PingErr, when set, is returned by Ping.
	PingErr error
	// FailRuleAddsAfter makes AddRule fail once this many adds succeeded
	// (0 = never).
	FailRuleAddsAfter int

	writes     int
	calls      []string
	savepoints map[string][]zones.Rule
	ruleAdds   int
}

// New returns an empty firewall with lan and wan assigned and dnsmasq
// listening on lan.
func New() *Fake {
	f := &Fake{savepoints: map[string][]zones.Rule{}}
	f.st.Assignments = []zones.Assignment{{Ifname: "lan", Device: "vtnet0", Descr: "LAN", Enabled: true}, {Ifname: "wan", Device: "vtnet1", Descr: "WAN", Enabled: true}}
	f.st.DnsmasqInterfaces = []string{"lan"}
	return f
}

// Seed adds objects as they are (foreign objects for ownership tests).
func (f *Fake) Seed(c zones.Current) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range c.VLANs {
		if v.UUID == "" {
			v.UUID = f.id()
		}
		f.st.VLANs = append(f.st.VLANs, v)
	}
	f.st.Assignments = append(f.st.Assignments, c.Assignments...)
	for _, r := range c.Ranges {
		if r.UUID == "" {
			r.UUID = f.id()
		}
		f.st.Ranges = append(f.st.Ranges, r)
	}
	for _, h := range c.HostOverrides {
		if h.UUID == "" {
			h.UUID = f.id()
		}
		f.st.HostOverrides = append(f.st.HostOverrides, h)
	}
	for _, r := range c.Rules {
		if r.UUID == "" {
			r.UUID = f.id()
		}
		f.st.Rules = append(f.st.Rules, r)
	}
	f.st.DnsmasqInterfaces = append(f.st.DnsmasqInterfaces, c.DnsmasqInterfaces...)
}

// State returns a deep copy of the objects.
func (f *Fake) State() zones.Current {
	f.mu.Lock()
	defer f.mu.Unlock()
	return zones.Current{
		VLANs: slices.Clone(f.st.VLANs), Assignments: slices.Clone(f.st.Assignments),
		DnsmasqInterfaces: slices.Clone(f.st.DnsmasqInterfaces), Ranges: slices.Clone(f.st.Ranges),
		HostOverrides: slices.Clone(f.st.HostOverrides), Rules: slices.Clone(f.st.Rules),
	}
}

// Writes counts mutating calls (adds, sets, deletes, assigns).
func (f *Fake) Writes() int { f.mu.Lock(); defer f.mu.Unlock(); return f.writes }

// Calls returns every write and lifecycle call in order ("AddVLAN 210",
// "Reconfigure vlan", "ApplyFilter 1", …).
func (f *Fake) Calls() []string { f.mu.Lock(); defer f.mu.Unlock(); return slices.Clone(f.calls) }

func (f *Fake) id() string {
	f.nextID++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", f.nextID)
}

func (f *Fake) call(write bool, format string, a ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, a...))
	if write {
		f.writes++
	}
}

func (f *Fake) assigned(ifname string) bool {
	return slices.ContainsFunc(f.st.Assignments, func(a zones.Assignment) bool { return a.Ifname == ifname })
}

// VLANs implements zones.Firewall.
func (f *Fake) VLANs(context.Context) ([]zones.VLAN, error) { return f.State().VLANs, nil }

// AddVLAN implements zones.Firewall.
func (f *Fake) AddVLAN(_ context.Context, v zones.VLAN) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkVLAN("", v); err != nil {
		return "", err
	}
	v.UUID = f.id()
	f.st.VLANs = append(f.st.VLANs, v)
	f.call(true, "AddVLAN %d", v.Tag)
	return v.UUID, nil
}

func (f *Fake) checkVLAN(uuid string, v zones.VLAN) error {
	if v.Tag < 1 || v.Tag > 4094 || v.Parent == "" {
		return fmt.Errorf("fake firewall: vlan.tag/if invalid (%d on %q)", v.Tag, v.Parent)
	}
	for _, o := range f.st.VLANs {
		if o.UUID != uuid && o.Parent == v.Parent && o.Tag == v.Tag {
			return fmt.Errorf("fake firewall: vlan.tag: Tag for this device must be unique")
		}
		if o.UUID != uuid && v.Device != "" && o.Device == v.Device {
			return fmt.Errorf("fake firewall: vlan.vlanif: device name must be unique")
		}
	}
	return nil
}

// SetVLAN implements zones.Firewall.
func (f *Fake) SetVLAN(_ context.Context, uuid string, v zones.VLAN) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.st.VLANs, func(o zones.VLAN) bool { return o.UUID == uuid })
	if i < 0 {
		return ErrNotFound
	}
	if err := f.checkVLAN(uuid, v); err != nil {
		return err
	}
	o := f.st.VLANs[i]
	if (o.Tag != v.Tag || o.Device != v.Device) && slices.ContainsFunc(f.st.Assignments, func(a zones.Assignment) bool { return a.Device == o.Device }) {
		return fmt.Errorf("fake firewall: cannot change the tag or device of an assigned VLAN")
	}
	v.UUID = uuid
	f.st.VLANs[i] = v
	f.call(true, "SetVLAN %d", v.Tag)
	return nil
}

// DelVLAN implements zones.Firewall.
func (f *Fake) DelVLAN(_ context.Context, uuid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.st.VLANs, func(o zones.VLAN) bool { return o.UUID == uuid })
	if i < 0 {
		return nil
	}
	if slices.ContainsFunc(f.st.Assignments, func(a zones.Assignment) bool { return a.Device == f.st.VLANs[i].Device }) {
		return fmt.Errorf("fake firewall: This VLAN cannot be deleted because it is assigned as an interface")
	}
	f.call(true, "DelVLAN %d", f.st.VLANs[i].Tag)
	f.st.VLANs = slices.Delete(f.st.VLANs, i, i+1)
	return nil
}

// Assignments implements zones.Firewall.
func (f *Fake) Assignments(context.Context) ([]zones.Assignment, error) {
	return f.State().Assignments, nil
}

// Assign implements zones.Firewall (TAPPaaS patch semantics: max+1).
func (f *Fake) Assign(_ context.Context, a zones.Assignment) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.ContainsFunc(f.st.VLANs, func(v zones.VLAN) bool { return v.Device == a.Device }) {
		return "", fmt.Errorf("fake firewall: device %s does not exist", a.Device)
	}
	max := 0
	for _, o := range f.st.Assignments {
		if o.Device == a.Device {
			return "", fmt.Errorf("fake firewall: Device '%s' is already assigned to interface '%s'", a.Device, o.Ifname)
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(o.Ifname, "opt")); err == nil && strings.HasPrefix(o.Ifname, "opt") && n > max {
			max = n
		}
	}
	if !a.IPv4.IsValid() {
		return "", fmt.Errorf("fake firewall: address required")
	}
	a.Ifname = "opt" + strconv.Itoa(max+1)
	f.st.Assignments = append(f.st.Assignments, a)
	f.call(true, "Assign %s %s", a.Device, a.Ifname)
	return a.Ifname, nil
}

// Unassign implements zones.Firewall.
func (f *Fake) Unassign(_ context.Context, ifname string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ifname == "lan" || ifname == "wan" {
		return fmt.Errorf("fake firewall: refusing to unassign %s", ifname)
	}
	i := slices.IndexFunc(f.st.Assignments, func(a zones.Assignment) bool { return a.Ifname == ifname })
	if i < 0 {
		return nil
	}
	f.st.Assignments = slices.Delete(f.st.Assignments, i, i+1)
	f.call(true, "Unassign %s", ifname)
	return nil
}

// DnsmasqInterfaces implements zones.Firewall.
func (f *Fake) DnsmasqInterfaces(context.Context) ([]string, error) {
	return f.State().DnsmasqInterfaces, nil
}

// SetDnsmasqInterfaces implements zones.Firewall.
func (f *Fake) SetDnsmasqInterfaces(_ context.Context, l []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, i := range l {
		if !f.assigned(i) {
			return fmt.Errorf("fake firewall: dnsmasq.interface: unknown interface %q", i)
		}
	}
	f.st.DnsmasqInterfaces = slices.Clone(l)
	f.call(true, "SetDnsmasqInterfaces %s", strings.Join(l, ","))
	return nil
}

// Ranges implements zones.Firewall.
func (f *Fake) Ranges(context.Context) ([]zones.Range, error) { return f.State().Ranges, nil }

// AddRange implements zones.Firewall.
func (f *Fake) AddRange(_ context.Context, r zones.Range) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Interface != "" && !f.assigned(r.Interface) {
		return "", fmt.Errorf("fake firewall: range.interface: unknown interface %q", r.Interface)
	}
	r.UUID = f.id()
	f.st.Ranges = append(f.st.Ranges, r)
	f.call(true, "AddRange %s", r.Description)
	return r.UUID, nil
}

// SetRange implements zones.Firewall.
func (f *Fake) SetRange(_ context.Context, uuid string, r zones.Range) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.st.Ranges, func(o zones.Range) bool { return o.UUID == uuid })
	if i < 0 {
		return ErrNotFound
	}
	r.UUID = uuid
	f.st.Ranges[i] = r
	f.call(true, "SetRange %s", r.Description)
	return nil
}

// DelRange implements zones.Firewall.
func (f *Fake) DelRange(_ context.Context, uuid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.st.Ranges, func(o zones.Range) bool { return o.UUID == uuid })
	if i >= 0 {
		f.call(true, "DelRange %s", f.st.Ranges[i].Description)
		f.st.Ranges = slices.Delete(f.st.Ranges, i, i+1)
	}
	return nil
}

// HostOverrides implements zones.Firewall.
func (f *Fake) HostOverrides(context.Context) ([]zones.HostOverride, error) {
	return f.State().HostOverrides, nil
}

// AddHostOverride implements zones.Firewall.
func (f *Fake) AddHostOverride(_ context.Context, h zones.HostOverride) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h.UUID = f.id()
	f.st.HostOverrides = append(f.st.HostOverrides, h)
	f.call(true, "AddHostOverride %s.%s", h.Hostname, h.Domain)
	return h.UUID, nil
}

// SetHostOverride implements zones.Firewall.
func (f *Fake) SetHostOverride(_ context.Context, uuid string, h zones.HostOverride) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.st.HostOverrides, func(o zones.HostOverride) bool { return o.UUID == uuid })
	if i < 0 {
		return ErrNotFound
	}
	h.UUID = uuid
	f.st.HostOverrides[i] = h
	f.call(true, "SetHostOverride %s.%s", h.Hostname, h.Domain)
	return nil
}

// DelHostOverride implements zones.Firewall.
func (f *Fake) DelHostOverride(_ context.Context, uuid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.st.HostOverrides, func(o zones.HostOverride) bool { return o.UUID == uuid })
	if i >= 0 {
		f.call(true, "DelHostOverride %s.%s", f.st.HostOverrides[i].Hostname, f.st.HostOverrides[i].Domain)
		f.st.HostOverrides = slices.Delete(f.st.HostOverrides, i, i+1)
	}
	return nil
}

// Rules implements zones.Firewall.
func (f *Fake) Rules(context.Context) ([]zones.Rule, error) { return f.State().Rules, nil }

// AddRule implements zones.Firewall.
func (f *Fake) AddRule(_ context.Context, r zones.Rule) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailRuleAddsAfter > 0 && f.ruleAdds >= f.FailRuleAddsAfter {
		return "", fmt.Errorf("fake firewall: injected AddRule failure")
	}
	if !f.assigned(r.Interface) {
		return "", fmt.Errorf("fake firewall: rule.interface: unknown interface %q", r.Interface)
	}
	f.ruleAdds++
	r.UUID = f.id()
	f.st.Rules = append(f.st.Rules, r)
	f.call(true, "AddRule %s", r.Description)
	return r.UUID, nil
}

// SetRule implements zones.Firewall.
func (f *Fake) SetRule(_ context.Context, uuid string, r zones.Rule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.st.Rules, func(o zones.Rule) bool { return o.UUID == uuid })
	if i < 0 {
		return ErrNotFound
	}
	r.UUID = uuid
	f.st.Rules[i] = r
	f.call(true, "SetRule %s", r.Description)
	return nil
}

// DelRule implements zones.Firewall.
func (f *Fake) DelRule(_ context.Context, uuid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.IndexFunc(f.st.Rules, func(o zones.Rule) bool { return o.UUID == uuid })
	if i >= 0 {
		f.call(true, "DelRule %s", f.st.Rules[i].Description)
		f.st.Rules = slices.Delete(f.st.Rules, i, i+1)
	}
	return nil
}

// Reconfigure implements zones.Firewall.
func (f *Fake) Reconfigure(_ context.Context, m zones.Module) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call(false, "Reconfigure %s", m)
	return nil
}

// Savepoint implements zones.Firewall.
func (f *Fake) Savepoint(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.NoSavepoint {
		return "", zones.ErrNoSavepoint
	}
	rev := strconv.Itoa(len(f.savepoints) + 1)
	f.savepoints[rev] = slices.Clone(f.st.Rules)
	f.call(false, "Savepoint %s", rev)
	return rev, nil
}

// ApplyFilter implements zones.Firewall.
func (f *Fake) ApplyFilter(_ context.Context, rev string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call(false, "ApplyFilter %s", rev)
	return nil
}

// CancelRollback implements zones.Firewall.
func (f *Fake) CancelRollback(_ context.Context, rev string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call(false, "CancelRollback %s", rev)
	return nil
}

// Revert implements zones.Firewall.
func (f *Fake) Revert(_ context.Context, rev string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	rules, ok := f.savepoints[rev]
	if !ok {
		return fmt.Errorf("fake firewall: unknown (or removed) savepoint")
	}
	f.st.Rules = slices.Clone(rules)
	f.call(false, "Revert %s", rev)
	return nil
}

// Ping implements zones.Firewall.
func (f *Fake) Ping(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.call(false, "Ping")
	return f.PingErr
}

var _ zones.Firewall = (*Fake)(nil)
