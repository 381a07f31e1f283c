// Package zonestest provides an in-memory zones.Firewall (Fake), the
// planner/applier conformance suite run against it and the OPNsense
// simulator, and a replay of upstream's zone-manager (ZoneManager).
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
// entries and range/rule interfaces must be assigned interfaces, filter
// savepoint/revert. Saved and live state are not distinguished; every
// Reconfigure is recorded in Calls. Safe for concurrent use.
type Fake struct {
	mu     sync.Mutex
	vlans  table[zones.VLAN]
	ranges table[zones.Range]
	rules  table[zones.Rule]
	asgs   []zones.Assignment
	listen []string
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

// table is one kind of uuid-keyed record: the same CRUD for every kind.
type table[T any] struct {
	kind  string           // "VLAN", "Range", "Rule" (for Calls)
	uuid  func(*T) *string // the record's uuid field
	label func(*T) string  // what Calls shows of a record
	rows  []T
}

func (t *table[T]) index(uuid string) int {
	return slices.IndexFunc(t.rows, func(r T) bool { return *t.uuid(&r) == uuid })
}

func (t *table[T]) add(f *Fake, v T) string {
	id := f.id()
	*t.uuid(&v) = id
	t.rows = append(t.rows, v)
	f.call(true, "Add%s %s", t.kind, t.label(&v))
	return id
}

func (t *table[T]) set(f *Fake, uuid string, v T) error {
	i := t.index(uuid)
	if i < 0 {
		return ErrNotFound
	}
	*t.uuid(&v) = uuid
	t.rows[i] = v
	f.call(true, "Set%s %s", t.kind, t.label(&v))
	return nil
}

// del deletes a record; an absent one is not an error (zones.Firewall).
func (t *table[T]) del(f *Fake, uuid string) {
	if i := t.index(uuid); i >= 0 {
		f.call(true, "Del%s %s", t.kind, t.label(&t.rows[i]))
		t.rows = slices.Delete(t.rows, i, i+1)
	}
}

// New returns an empty firewall with lan and wan assigned and dnsmasq
// listening on lan.
func New() *Fake {
	return &Fake{
		vlans: table[zones.VLAN]{kind: "VLAN", uuid: func(v *zones.VLAN) *string { return &v.UUID },
			label: func(v *zones.VLAN) string { return strconv.Itoa(v.Tag) }},
		ranges: table[zones.Range]{kind: "Range", uuid: func(r *zones.Range) *string { return &r.UUID },
			label: func(r *zones.Range) string { return r.Description }},
		rules: table[zones.Rule]{kind: "Rule", uuid: func(r *zones.Rule) *string { return &r.UUID },
			label: func(r *zones.Rule) string { return r.Description }},
		asgs: []zones.Assignment{{Ifname: "lan", Device: "vtnet0", Descr: "LAN", Enabled: true},
			{Ifname: "wan", Device: "vtnet1", Descr: "WAN", Enabled: true}},
		listen:     []string{"lan"},
		savepoints: map[string][]zones.Rule{},
	}
}

// Seed adds objects as they are (objects made by others); records without
// a uuid get one.
func (f *Fake) Seed(c zones.Current) {
	f.mu.Lock()
	defer f.mu.Unlock()
	seed := func(uuid *string) {
		if *uuid == "" {
			*uuid = f.id()
		}
	}
	for _, v := range c.VLANs {
		seed(&v.UUID)
		f.vlans.rows = append(f.vlans.rows, v)
	}
	for _, r := range c.Ranges {
		seed(&r.UUID)
		f.ranges.rows = append(f.ranges.rows, r)
	}
	for _, r := range c.Rules {
		seed(&r.UUID)
		f.rules.rows = append(f.rules.rows, r)
	}
	f.asgs = append(f.asgs, c.Assignments...)
	for _, i := range c.DnsmasqInterfaces {
		if !slices.Contains(f.listen, i) {
			f.listen = append(f.listen, i)
		}
	}
}

// State returns a deep copy of the objects.
func (f *Fake) State() zones.Current {
	f.mu.Lock()
	defer f.mu.Unlock()
	return zones.Current{
		VLANs: slices.Clone(f.vlans.rows), Assignments: slices.Clone(f.asgs),
		DnsmasqInterfaces: slices.Clone(f.listen), Ranges: slices.Clone(f.ranges.rows),
		Rules: slices.Clone(f.rules.rows),
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
	return slices.ContainsFunc(f.asgs, func(a zones.Assignment) bool { return a.Ifname == ifname })
}

func (f *Fake) assignedDevice(dev string) bool {
	return slices.ContainsFunc(f.asgs, func(a zones.Assignment) bool { return a.Device == dev })
}

// checkVLAN applies the VLAN model's rules: tag 1–4094 on a parent, unique
// per parent, unique device names; an assigned VLAN keeps its tag and device.
func (f *Fake) checkVLAN(uuid string, v zones.VLAN) error {
	if v.Tag < 1 || v.Tag > 4094 || v.Parent == "" {
		return fmt.Errorf("fake firewall: vlan.tag/if invalid (%d on %q)", v.Tag, v.Parent)
	}
	for _, o := range f.vlans.rows {
		if o.UUID == uuid {
			if (o.Tag != v.Tag || o.Device != v.Device) && f.assignedDevice(o.Device) {
				return errors.New("fake firewall: cannot change the tag or device of an assigned VLAN")
			}
			continue
		}
		if o.Parent == v.Parent && o.Tag == v.Tag {
			return errors.New("fake firewall: vlan.tag: Tag for this device must be unique")
		}
		if v.Device != "" && o.Device == v.Device {
			return errors.New("fake firewall: vlan.vlanif: device name must be unique")
		}
	}
	return nil
}

func (f *Fake) checkIface(what, ifname string) error {
	if ifname != "" && !f.assigned(ifname) {
		return fmt.Errorf("fake firewall: %s.interface: unknown interface %q", what, ifname)
	}
	return nil
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
	return f.vlans.add(f, v), nil
}

// SetVLAN implements zones.Firewall.
func (f *Fake) SetVLAN(_ context.Context, uuid string, v zones.VLAN) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkVLAN(uuid, v); err != nil {
		return err
	}
	return f.vlans.set(f, uuid, v)
}

// DelVLAN implements zones.Firewall.
func (f *Fake) DelVLAN(_ context.Context, uuid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i := f.vlans.index(uuid); i >= 0 && f.assignedDevice(f.vlans.rows[i].Device) {
		return errors.New("fake firewall: This VLAN cannot be deleted because it is assigned as an interface")
	}
	f.vlans.del(f, uuid)
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
	if !slices.ContainsFunc(f.vlans.rows, func(v zones.VLAN) bool { return v.Device == a.Device }) {
		return "", fmt.Errorf("fake firewall: device %s does not exist", a.Device)
	}
	top := 0
	for _, o := range f.asgs {
		if o.Device == a.Device {
			return "", fmt.Errorf("fake firewall: Device '%s' is already assigned to interface '%s'", a.Device, o.Ifname)
		}
		if n, ok := strings.CutPrefix(o.Ifname, "opt"); ok {
			if i, err := strconv.Atoi(n); err == nil && i > top {
				top = i
			}
		}
	}
	if !a.IPv4.IsValid() {
		return "", errors.New("fake firewall: address required")
	}
	a.Ifname = "opt" + strconv.Itoa(top+1)
	f.asgs = append(f.asgs, a)
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
	if i := slices.IndexFunc(f.asgs, func(a zones.Assignment) bool { return a.Ifname == ifname }); i >= 0 {
		f.asgs = slices.Delete(f.asgs, i, i+1)
		f.call(true, "Unassign %s", ifname)
	}
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
	f.listen = slices.Clone(l)
	f.call(true, "SetDnsmasqInterfaces %s", strings.Join(l, ","))
	return nil
}

// Ranges implements zones.Firewall.
func (f *Fake) Ranges(context.Context) ([]zones.Range, error) { return f.State().Ranges, nil }

// AddRange implements zones.Firewall.
func (f *Fake) AddRange(_ context.Context, r zones.Range) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkIface("range", r.Interface); err != nil {
		return "", err
	}
	return f.ranges.add(f, r), nil
}

// SetRange implements zones.Firewall.
func (f *Fake) SetRange(_ context.Context, uuid string, r zones.Range) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkIface("range", r.Interface); err != nil {
		return err
	}
	return f.ranges.set(f, uuid, r)
}

// DelRange implements zones.Firewall.
func (f *Fake) DelRange(_ context.Context, uuid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ranges.del(f, uuid)
	return nil
}

// Rules implements zones.Firewall.
func (f *Fake) Rules(context.Context) ([]zones.Rule, error) { return f.State().Rules, nil }

// AddRule implements zones.Firewall.
func (f *Fake) AddRule(_ context.Context, r zones.Rule) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.FailRuleAddsAfter > 0 && f.ruleAdds >= f.FailRuleAddsAfter {
		return "", errors.New("fake firewall: injected AddRule failure")
	}
	if err := f.checkIface("rule", r.Interface); err != nil || r.Interface == "" {
		return "", fmt.Errorf("fake firewall: rule.interface: unknown interface %q", r.Interface)
	}
	f.ruleAdds++
	return f.rules.add(f, r), nil
}

// SetRule implements zones.Firewall.
func (f *Fake) SetRule(_ context.Context, uuid string, r zones.Rule) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkIface("rule", r.Interface); err != nil {
		return err
	}
	return f.rules.set(f, uuid, r)
}

// DelRule implements zones.Firewall.
func (f *Fake) DelRule(_ context.Context, uuid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules.del(f, uuid)
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
	f.savepoints[rev] = slices.Clone(f.rules.rows)
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
		return errors.New("fake firewall: unknown (or removed) savepoint")
	}
	f.rules.rows = slices.Clone(rules)
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
