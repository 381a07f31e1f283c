package zones

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ApplyOptions tune Apply. The zero value is usable.
type ApplyOptions struct {
	// Out receives one line per change made and per reconfigure (nil = none).
	Out func(string)
	// PingAttempts and PingDelay bound the reachability check made after
	// the filter is applied (defaults 5 and 2 s).
	PingAttempts int
	PingDelay    time.Duration
}

// Apply performs ch against fw with default options (see ApplyWith).
func Apply(ctx context.Context, fw Firewall, ch *Changes, out func(string)) error {
	return ApplyWith(ctx, fw, ch, ApplyOptions{Out: out})
}

// ErrUnreachableAfterApply means the firewall API did not answer after the
// new filter rules went live.
var ErrUnreachableAfterApply = errors.New("firewall API unreachable after applying filter rules")

// ApplyWith performs ch in three phases (doc.go): creates and updates of
// VLANs, interfaces, dnsmasq and DNS (reconfiguring each module once); then
// every rule change under a savepoint, applied with automatic rollback,
// confirmed only after Ping succeeds; then the deletes in reverse dependency
// order. It stops at the first error; a later Plan picks up from there.
func ApplyWith(ctx context.Context, fw Firewall, ch *Changes, o ApplyOptions) error {
	if ch.Empty() {
		return nil
	}
	if o.Out == nil {
		o.Out = func(string) {}
	}
	if o.PingAttempts <= 0 {
		o.PingAttempts = 5
	}
	if o.PingDelay <= 0 {
		o.PingDelay = 2 * time.Second
	}
	a := &applier{fw: fw, o: o, ifaces: map[string]string{}}
	for k, v := range ch.Ifaces {
		a.ifaces[k] = v
	}
	var pre, rules, post []Change
	for _, c := range ch.Changes {
		switch {
		case c.Kind == KindRule:
			rules = append(rules, c)
		case c.Op == Delete:
			post = append(post, c)
		default:
			pre = append(pre, c)
		}
	}
	if err := a.group(ctx, pre); err != nil {
		return err
	}
	if err := a.rules(ctx, rules); err != nil {
		return err
	}
	return a.group(ctx, post)
}

type applier struct {
	fw     Firewall
	o      ApplyOptions
	ifaces map[string]string
	// vlansLive: the VLAN module was reconfigured in this run.
	vlansLive bool
}

func moduleOf(k Kind) Module {
	switch k {
	case KindVLAN:
		return ModuleVLAN
	case KindAssignment:
		return ModuleInterfaces
	case KindListen, KindRange:
		return ModuleDnsmasq
	}
	return ""
}

// group applies non-rule changes in order, reconfiguring a module when the
// next change belongs to another module and at the end.
//
// A VLAN saved by an earlier run whose reconfigure never ran (its reply
// lost, the run stopped) is in the configuration but has no device, and
// the plan sees nothing to do for it; assigning it would fail with "device
// does not exist". So the VLAN module is reconfigured once before the first
// new assignment when this run has not done so (reconfigure_vlans only
// creates what is missing: opnsense/core@26.1.11:src/opnsense/scripts/interfaces/reconfigure_vlans.php).
func (a *applier) group(ctx context.Context, cs []Change) error {
	var pending Module
	flush := func() error {
		if pending == "" {
			return nil
		}
		m := pending
		pending = ""
		if err := a.fw.Reconfigure(ctx, m); err != nil {
			return fmt.Errorf("reconfigure %s: %w", m, err)
		}
		if m == ModuleVLAN {
			a.vlansLive = true
		}
		a.o.Out(fmt.Sprintf("reconfigured %s", m))
		return nil
	}
	for _, c := range cs {
		if m := moduleOf(c.Kind); m != pending {
			if err := flush(); err != nil {
				return err
			}
		}
		if c.Kind == KindAssignment && c.Op == Create && !a.vlansLive {
			pending = ModuleVLAN
			if err := flush(); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := a.one(ctx, c); err != nil {
			return fmt.Errorf("%s %s %s: %w", c.Op, c.Kind, c.label(), err)
		}
		a.o.Out(c.Line())
		pending = moduleOf(c.Kind)
	}
	return flush()
}

func (a *applier) iface(c Change, fixed string) (string, error) {
	if c.IfaceZone == "" {
		return fixed, nil
	}
	i := a.ifaces[c.IfaceZone]
	if i == "" {
		return "", fmt.Errorf("zone %s has no interface yet (its assignment was not made)", c.IfaceZone)
	}
	return i, nil
}

func (a *applier) one(ctx context.Context, c Change) error {
	fw := a.fw
	switch c.Kind {
	case KindVLAN:
		switch c.Op {
		case Create:
			_, err := fw.AddVLAN(ctx, *c.VLAN)
			return err
		case Update:
			return fw.SetVLAN(ctx, c.Key, *c.VLAN)
		case Delete:
			return fw.DelVLAN(ctx, c.Key)
		}
	case KindAssignment:
		switch c.Op {
		case Create:
			ifname, err := fw.Assign(ctx, *c.Assignment)
			if err != nil {
				return err
			}
			a.ifaces[c.Zone] = ifname
			return nil
		case Update:
			// No API edits an assignment's address in place: re-assign.
			if err := fw.Unassign(ctx, c.Key); err != nil {
				return err
			}
			ifname, err := fw.Assign(ctx, *c.Assignment)
			if err != nil {
				return err
			}
			a.ifaces[c.Zone] = ifname
			return nil
		case Delete:
			return fw.Unassign(ctx, c.Key)
		}
	case KindListen:
		list := make([]string, 0, len(c.Listen))
		for _, e := range c.Listen {
			if z, ok := strings.CutPrefix(e, "@"); ok {
				i := a.ifaces[z]
				if i == "" {
					return fmt.Errorf("zone %s has no interface yet (its assignment was not made)", z)
				}
				e = i
			}
			if !slices.Contains(list, e) {
				list = append(list, e)
			}
		}
		return fw.SetDnsmasqInterfaces(ctx, list)
	case KindRange:
		if c.Op == Delete {
			return fw.DelRange(ctx, c.Key)
		}
		r := *c.Range
		var err error
		if r.Interface, err = a.iface(c, r.Interface); err != nil {
			return err
		}
		if c.Op == Create {
			_, err = fw.AddRange(ctx, r)
			return err
		}
		return fw.SetRange(ctx, c.Key, r)
	case KindRule:
		if c.Op == Delete {
			return fw.DelRule(ctx, c.Key)
		}
		r := *c.Rule
		var err error
		if r.Interface, err = a.iface(c, r.Interface); err != nil {
			return err
		}
		if c.Op == Create {
			_, err = fw.AddRule(ctx, r)
			return err
		}
		return fw.SetRule(ctx, c.Key, r)
	}
	return fmt.Errorf("unknown change %s %s", c.Op, c.Kind)
}

// rules makes every rule change under a savepoint and confirms only after
// the API answered again.
func (a *applier) rules(ctx context.Context, cs []Change) error {
	if len(cs) == 0 {
		return nil
	}
	fw := a.fw
	rev, err := fw.Savepoint(ctx)
	switch {
	case errors.Is(err, ErrNoSavepoint):
		rev = ""
		a.o.Out("firewall has no savepoint API: rules are applied without automatic rollback")
	case err != nil:
		return fmt.Errorf("filter savepoint: %w", err)
	default:
		a.o.Out("filter savepoint " + rev)
	}
	revert := func(cause error) error {
		if rev == "" {
			return cause
		}
		// A fresh context: the caller's may be the reason we are here.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := fw.Revert(rctx, rev); err != nil {
			return fmt.Errorf("%w (and reverting to savepoint %s failed: %v)", cause, rev, err)
		}
		a.o.Out("reverted filter to savepoint " + rev)
		return fmt.Errorf("%w (filter reverted to savepoint %s)", cause, rev)
	}
	for _, c := range cs {
		if err := ctx.Err(); err != nil {
			return revert(err)
		}
		if err := a.one(ctx, c); err != nil {
			return revert(fmt.Errorf("%s rule %s: %w", c.Op, c.label(), err))
		}
		a.o.Out(c.Line())
	}
	if err := fw.ApplyFilter(ctx, rev); err != nil {
		return revert(fmt.Errorf("apply filter: %w", err))
	}
	if rev != "" {
		a.o.Out("applied filter with automatic rollback armed")
	} else {
		a.o.Out("applied filter")
	}
	var perr error
	for i := range a.o.PingAttempts {
		if perr = fw.Ping(ctx); perr == nil {
			break
		}
		if i < a.o.PingAttempts-1 {
			select {
			case <-ctx.Done():
				perr = ctx.Err()
			case <-time.After(a.o.PingDelay):
			}
		}
		if ctx.Err() != nil {
			break
		}
	}
	if perr != nil {
		if rev != "" {
			return fmt.Errorf("%w: %v; not confirming, the firewall rolls back to savepoint %s by itself within 60 s", ErrUnreachableAfterApply, perr, rev)
		}
		return fmt.Errorf("%w: %v; this firmware has no automatic rollback, check the firewall console", ErrUnreachableAfterApply, perr)
	}
	if rev != "" {
		if err := fw.CancelRollback(ctx, rev); err != nil {
			return fmt.Errorf("confirm filter (cancel rollback %s): %w", rev, err)
		}
		// The firewall's answer does not say whether a timer was
		// cancelled (OPNsense answers the same with or without one): read
		// the rules back, a rollback that already ran shows there.
		if err := a.confirmRules(ctx, cs); err != nil {
			return fmt.Errorf("confirm filter (savepoint %s): %w", rev, err)
		}
		a.o.Out("API reachable: confirmed, rollback cancelled")
	}
	return nil
}

// ErrRolledBack means the firewall restored its savepoint before the rule
// changes were confirmed.
var ErrRolledBack = errors.New("the firewall rolled the rules back to the savepoint before they were confirmed")

// confirmRules checks the rule changes just applied are still there:
// created rules by description, deleted ones absent, updated ones present.
func (a *applier) confirmRules(ctx context.Context, cs []Change) error {
	cur, err := a.fw.Rules(ctx)
	if err != nil {
		return fmt.Errorf("read the rules back: %w", err)
	}
	byKey := map[string]bool{}
	byDescr := map[string]bool{}
	for _, r := range cur {
		byKey[r.UUID] = true
		byDescr[r.Description] = true
	}
	for _, c := range cs {
		ok := true
		switch {
		case c.Op == Create:
			ok = byDescr[c.Rule.Description]
		case c.Op == Delete:
			ok = !byKey[c.Key]
		default:
			ok = byKey[c.Key]
		}
		if !ok {
			return fmt.Errorf("%w (%s rule %s is not there; run again)", ErrRolledBack, c.Op, c.label())
		}
	}
	return nil
}
