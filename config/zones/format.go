package zones

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

func opSign(o Op) string {
	switch o {
	case Create:
		return "+"
	case Update:
		return "~"
	}
	return "-"
}

// label is a short name of the object for errors and update headers.
func (c Change) label() string {
	if c.Kind == KindListen {
		return "listen interfaces"
	}
	return c.ID
}

func ifaceText(iface, zone string) string {
	if iface == "" && zone != "" {
		return "<" + zone + ">"
	}
	return iface
}

// Summary describes the object in one line.
func (c Change) Summary() string {
	switch c.Kind {
	case KindVLAN:
		if c.VLAN != nil {
			return fmt.Sprintf("%s on %s tag %d", c.VLAN.Device, c.VLAN.Parent, c.VLAN.Tag)
		}
	case KindAssignment:
		if a := c.Assignment; a != nil {
			s := fmt.Sprintf("%s as %q %s", a.Device, a.Descr, prefixString(a.IPv4))
			if a.Ifname != "" {
				s += " (" + a.Ifname + ")"
			}
			return s
		}
	case KindListen:
		list := make([]string, len(c.Listen))
		for i, e := range c.Listen {
			if z, ok := strings.CutPrefix(e, "@"); ok {
				e = "<" + z + ">"
			}
			list[i] = e
		}
		return "listen on " + strings.Join(list, ",")
	case KindRange:
		if r := c.Range; r != nil {
			return fmt.Sprintf("%s-%s on %s domain %s", r.StartAddr, r.EndAddr, ifaceText(r.Interface, c.IfaceZone), r.Domain)
		}
	case KindRule:
		if r := c.Rule; r != nil {
			dst := r.DestinationNet
			if r.DestinationPort != "" {
				dst += " port " + r.DestinationPort
			}
			proto := ""
			if r.Protocol != "" && !strings.EqualFold(r.Protocol, "any") {
				proto = r.Protocol + " "
			}
			return fmt.Sprintf("%d %s %s%s -> %s on %s (%s)", r.Sequence, r.Action, proto, r.SourceNet, dst, ifaceText(r.Interface, c.IfaceZone), c.label())
		}
	}
	return c.ID
}

// Line is the change as one diff line ("+ vlan  vlan0.210 on vtnet0 tag 210"),
// with updated fields appended.
func (c Change) Line() string {
	s := fmt.Sprintf("%s %-9s %s", opSign(c.Op), c.Kind, c.Summary())
	if c.Op == Update && len(c.Fields) > 0 {
		parts := make([]string, len(c.Fields))
		for i, f := range c.Fields {
			parts[i] = fmt.Sprintf("%s %q → %q", f.Field, f.From, f.To)
		}
		s += " [" + strings.Join(parts, ", ") + "]"
	}
	return s
}

// Text renders the plan as a readable diff grouped by zone (file order;
// zones gone from the file after; firewall-wide changes last) and a count.
func (c *Changes) Text() string {
	var b strings.Builder
	if c.Empty() {
		b.WriteString("No changes: the firewall matches the zones.\n")
	} else {
		groups := map[string][]Change{}
		var extra []string
		known := map[string]bool{}
		for _, z := range c.ZoneOrder {
			known[z] = true
		}
		for _, ch := range c.Changes {
			if _, seen := groups[ch.Zone]; !seen && !known[ch.Zone] && ch.Zone != "" {
				extra = append(extra, ch.Zone)
			}
			groups[ch.Zone] = append(groups[ch.Zone], ch)
		}
		order := append(append([]string{}, c.ZoneOrder...), extra...)
		order = append(order, "")
		for _, z := range order {
			cs := groups[z]
			if len(cs) == 0 {
				continue
			}
			if z == "" {
				b.WriteString("firewall:\n")
			} else {
				suffix := ""
				if !known[z] {
					suffix = " (not in zones file)"
				}
				fmt.Fprintf(&b, "zone %s%s:\n", z, suffix)
			}
			for _, ch := range cs {
				b.WriteString("  " + ch.Line() + "\n")
			}
		}
		cr, up, de := c.Count()
		fmt.Fprintf(&b, "Plan: %d to create, %d to update, %d to delete.\n", cr, up, de)
	}
	for _, w := range c.Warnings {
		b.WriteString("warning: " + w + "\n")
	}
	return b.String()
}

// JSON renders the plan for --output json.
func (c *Changes) JSON() ([]byte, error) {
	cr, up, de := 0, 0, 0
	changes := []Change{}
	var warnings []string
	if c != nil {
		cr, up, de = c.Count()
		changes = c.Changes
		warnings = c.Warnings
	}
	if warnings == nil {
		warnings = []string{}
	}
	return MarshalJSON(struct {
		Create   int      `json:"create"`
		Update   int      `json:"update"`
		Delete   int      `json:"delete"`
		Changes  []Change `json:"changes"`
		Warnings []string `json:"warnings"`
	}{cr, up, de, changes, warnings})
}

// MarshalJSON is json.MarshalIndent (two spaces) without HTML escaping, so
// "->" and "<HOME_SSID>" stay readable.
func MarshalJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
