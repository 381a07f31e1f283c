package opnsense

import (
	"context"
	"strings"
)

// codec converts one typed resource to and from its Record.
type codec[T any] struct {
	res  Resource
	to   func(T) Record
	from func(uuid string, r Record) T
}

func (k codec[T]) list(ctx context.Context, c *Client) ([]T, error) {
	rows, err := c.Search(ctx, k.res)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(rows))
	for _, r := range rows {
		out = append(out, k.from(r["uuid"], r))
	}
	return out, nil
}

func (k codec[T]) get(ctx context.Context, c *Client, uuid string) (T, error) {
	r, err := c.Get(ctx, k.res, uuid)
	if err != nil {
		var zero T
		return zero, err
	}
	return k.from(uuid, r), nil
}

func (k codec[T]) add(ctx context.Context, c *Client, v T) (string, error) {
	return c.Add(ctx, k.res, k.to(v))
}

func (k codec[T]) set(ctx context.Context, c *Client, uuid string, v T) error {
	return c.Set(ctx, k.res, uuid, k.to(v))
}

// Resources of the typed API (docs/opnsense-api.md#endpoints).
var (
	ResVLAN         = Resource{"interfaces", "vlan_settings", "Item", "vlan"}
	ResRange        = Resource{"dnsmasq", "settings", "Range", "range"}
	ResRule         = Resource{"firewall", "filter", "Rule", "rule"}
	ResHostOverride = Resource{"unbound", "settings", "HostOverride", "host"}
)

// ---- VLAN devices -------------------------------------------------------

var vlanCodec = codec[VLAN]{
	res: ResVLAN,
	to: func(v VLAN) Record {
		r := Record{"if": v.Parent, "tag": i2s(v.Tag), "pcp": i2s(v.PCP), "proto": v.Proto, "descr": v.Descr}
		if v.Device != "" {
			r["vlanif"] = v.Device
		}
		return r
	},
	from: func(id string, r Record) VLAN {
		dev := r["vlanif"]
		if i := strings.IndexByte(dev, ' '); i >= 0 { // search shows "vlan01 [DESCR]"
			dev = dev[:i]
		}
		return VLAN{UUID: id, Parent: r["if"], Tag: s2i(r["tag"]), PCP: s2i(r["pcp"]), Proto: r["proto"], Device: dev, Descr: r["descr"]}
	},
}

// VLANs lists VLAN devices.
func (c *Client) VLANs(ctx context.Context) ([]VLAN, error) { return vlanCodec.list(ctx, c) }

// VLAN reads one VLAN device.
func (c *Client) VLAN(ctx context.Context, uuid string) (VLAN, error) {
	return vlanCodec.get(ctx, c, uuid)
}

// AddVLAN creates a VLAN device (staged until Reconfigure(ServiceVLAN)).
func (c *Client) AddVLAN(ctx context.Context, v VLAN) (string, error) {
	return vlanCodec.add(ctx, c, v)
}

// SetVLAN updates a VLAN device.
func (c *Client) SetVLAN(ctx context.Context, uuid string, v VLAN) error {
	return vlanCodec.set(ctx, c, uuid, v)
}

// DelVLAN deletes a VLAN device; an assigned one is refused (*APIError 500).
func (c *Client) DelVLAN(ctx context.Context, uuid string) error { return c.Del(ctx, ResVLAN, uuid) }

// ---- dnsmasq ------------------------------------------------------------

var rangeCodec = codec[Range]{
	res: ResRange,
	to: func(v Range) Record {
		return Record{"interface": v.Interface, "start_addr": v.StartAddr, "end_addr": v.EndAddr,
			"subnet_mask": v.SubnetMask, "domain": v.Domain, "lease_time": v.LeaseTime,
			"set_tag": v.SetTag, "description": v.Description}
	},
	from: func(id string, r Record) Range {
		return Range{UUID: id, Interface: r["interface"], StartAddr: r["start_addr"], EndAddr: r["end_addr"],
			SubnetMask: r["subnet_mask"], Domain: r["domain"], LeaseTime: r["lease_time"], SetTag: r["set_tag"],
			Description: r["description"]}
	},
}

// Ranges lists dnsmasq DHCP ranges.
func (c *Client) Ranges(ctx context.Context) ([]Range, error) { return rangeCodec.list(ctx, c) }

// AddRange creates a DHCP range (staged until Reconfigure(ServiceDnsmasq)).
func (c *Client) AddRange(ctx context.Context, v Range) (string, error) {
	return rangeCodec.add(ctx, c, v)
}

// SetRange updates a DHCP range.
func (c *Client) SetRange(ctx context.Context, uuid string, v Range) error {
	return rangeCodec.set(ctx, c, uuid, v)
}

// DelRange deletes a DHCP range.
func (c *Client) DelRange(ctx context.Context, uuid string) error { return c.Del(ctx, ResRange, uuid) }

// DnsmasqInterfaces returns the listen interfaces (dnsmasq.interface).
func (c *Client) DnsmasqInterfaces(ctx context.Context) ([]string, error) {
	rec, err := c.settings(ctx, "dnsmasq/settings/get", "dnsmasq")
	if err != nil {
		return nil, err
	}
	return splitList(rec["interface"], ","), nil
}

// SetDnsmasqInterfaces replaces the listen interfaces (staged until
// Reconfigure(ServiceDnsmasq)). Unknown interface ids are refused.
func (c *Client) SetDnsmasqInterfaces(ctx context.Context, ifaces []string) error {
	_, err := c.write(ctx, "dnsmasq/settings/set", "dnsmasq", Record{"interface": strings.Join(ifaces, ",")})
	return err
}

// settings reads a whole-model get reply {"<model>":{…}}.
func (c *Client) settings(ctx context.Context, path, model string) (Record, error) {
	data, err := c.raw(ctx, "GET", path, nil)
	if err != nil {
		return nil, err
	}
	return ParseGet(data, model)
}

// ---- Unbound ------------------------------------------------------------

// HostOverride is an Unbound host override (/api/unbound/settings, monad "host").
type HostOverride struct {
	UUID        string
	Enabled     bool
	Hostname    string // "*" allowed
	Domain      string
	RR          string // A, AAAA, MX, TXT
	Server      string // the address for A/AAAA
	MXPrio      string
	MX          string
	Description string
}

var overrideCodec = codec[HostOverride]{
	res: ResHostOverride,
	to: func(v HostOverride) Record {
		return Record{"enabled": b2s(v.Enabled), "hostname": v.Hostname, "domain": v.Domain, "rr": v.RR,
			"server": v.Server, "mxprio": v.MXPrio, "mx": v.MX, "description": v.Description}
	},
	from: func(id string, r Record) HostOverride {
		return HostOverride{UUID: id, Enabled: s2b(r["enabled"]), Hostname: r["hostname"], Domain: r["domain"],
			RR: r["rr"], Server: r["server"], MXPrio: r["mxprio"], MX: r["mx"], Description: r["description"]}
	},
}

// HostOverrides lists Unbound host overrides.
func (c *Client) HostOverrides(ctx context.Context) ([]HostOverride, error) {
	return overrideCodec.list(ctx, c)
}

// AddHostOverride creates one (staged until Reconfigure(ServiceUnbound)).
func (c *Client) AddHostOverride(ctx context.Context, v HostOverride) (string, error) {
	return overrideCodec.add(ctx, c, v)
}

// SetHostOverride updates one.
func (c *Client) SetHostOverride(ctx context.Context, uuid string, v HostOverride) error {
	return overrideCodec.set(ctx, c, uuid, v)
}

// DelHostOverride deletes one.
func (c *Client) DelHostOverride(ctx context.Context, uuid string) error {
	return c.Del(ctx, ResHostOverride, uuid)
}
