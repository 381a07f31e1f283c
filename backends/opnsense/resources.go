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

// Resources of the typed API (reference/apis.md §4.3).
var (
	ResVLAN         = Resource{"interfaces", "vlan_settings", "Item", "vlan"}
	ResRange        = Resource{"dnsmasq", "settings", "Range", "range"}
	ResHost         = Resource{"dnsmasq", "settings", "Host", "host"}
	ResRule         = Resource{"firewall", "filter", "Rule", "rule"}
	ResAlias        = Resource{"firewall", "alias", "Item", "alias"}
	ResHostOverride = Resource{"unbound", "settings", "HostOverride", "host"}
	ResReverseProxy = Resource{"caddy", "reverse_proxy", "ReverseProxy", "reverse"}
	ResHandle       = Resource{"caddy", "reverse_proxy", "Handle", "handle"}
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

// Host is a dnsmasq host entry / DHCP reservation (monad "host").
type Host struct {
	UUID     string
	Host     string
	Domain   string
	IP       string // comma list allowed
	HWAddr   string // comma list allowed
	Descr    string
	Comments string
}

var hostCodec = codec[Host]{
	res: ResHost,
	to: func(v Host) Record {
		return Record{"host": v.Host, "domain": v.Domain, "ip": v.IP, "hwaddr": v.HWAddr, "descr": v.Descr, "comments": v.Comments}
	},
	from: func(id string, r Record) Host {
		return Host{UUID: id, Host: r["host"], Domain: r["domain"], IP: r["ip"], HWAddr: r["hwaddr"], Descr: r["descr"], Comments: r["comments"]}
	},
}

// Hosts lists dnsmasq hosts.
func (c *Client) Hosts(ctx context.Context) ([]Host, error) { return hostCodec.list(ctx, c) }

// AddHost creates a dnsmasq host.
func (c *Client) AddHost(ctx context.Context, v Host) (string, error) {
	return hostCodec.add(ctx, c, v)
}

// SetHost updates a dnsmasq host.
func (c *Client) SetHost(ctx context.Context, uuid string, v Host) error {
	return hostCodec.set(ctx, c, uuid, v)
}

// DelHost deletes a dnsmasq host.
func (c *Client) DelHost(ctx context.Context, uuid string) error { return c.Del(ctx, ResHost, uuid) }

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

// ---- firewall aliases ---------------------------------------------------

// Alias is a firewall alias (/api/firewall/alias, monad "alias").
type Alias struct {
	UUID        string
	Enabled     bool
	Name        string
	Type        string   // host, network, port, url, …
	Content     []string // entries (newline-joined on the wire)
	Proto       string
	Description string
}

var aliasCodec = codec[Alias]{
	res: ResAlias,
	to: func(v Alias) Record {
		return Record{"enabled": b2s(v.Enabled), "name": v.Name, "type": v.Type,
			"content": strings.Join(v.Content, "\n"), "proto": v.Proto, "description": v.Description}
	},
	from: func(id string, r Record) Alias {
		content := r["content"]
		sep := "\n"
		if !strings.Contains(content, "\n") {
			sep = "," // option-map form of a get reply
		}
		return Alias{UUID: id, Enabled: s2b(r["enabled"]), Name: r["name"], Type: r["type"],
			Content: splitList(content, sep), Proto: r["proto"], Description: r["description"]}
	},
}

// Aliases lists firewall aliases.
func (c *Client) Aliases(ctx context.Context) ([]Alias, error) { return aliasCodec.list(ctx, c) }

// AddAlias creates an alias (staged until Reconfigure(ServiceAlias)).
func (c *Client) AddAlias(ctx context.Context, v Alias) (string, error) {
	return aliasCodec.add(ctx, c, v)
}

// SetAlias updates an alias.
func (c *Client) SetAlias(ctx context.Context, uuid string, v Alias) error {
	return aliasCodec.set(ctx, c, uuid, v)
}

// DelAlias deletes an alias; one still referenced by a rule is refused.
func (c *Client) DelAlias(ctx context.Context, uuid string) error { return c.Del(ctx, ResAlias, uuid) }

// AliasUUID returns the uuid of the named alias, ErrNotFound if none.
func (c *Client) AliasUUID(ctx context.Context, name string) (string, error) {
	if err := checkArg("alias name", name); err != nil {
		return "", err
	}
	data, err := c.raw(ctx, "GET", "firewall/alias/getAliasUUID/"+name, nil)
	if err != nil {
		return "", err
	}
	rec, err := ParseRecord(data)
	if err != nil || rec["uuid"] == "" {
		return "", ErrNotFound
	}
	return rec["uuid"], nil
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

// ---- Caddy --------------------------------------------------------------

// ReverseProxy is an os-caddy domain (/api/caddy/reverse_proxy, monad "reverse").
type ReverseProxy struct {
	UUID              string
	Enabled           bool
	FromDomain        string
	FromPort          string
	AccessList        string // uuid(s)
	DNSChallenge      bool
	CustomCertificate string
	DisableTLS        bool
	Description       string
}

var reverseCodec = codec[ReverseProxy]{
	res: ResReverseProxy,
	to: func(v ReverseProxy) Record {
		return Record{"enabled": b2s(v.Enabled), "FromDomain": v.FromDomain, "FromPort": v.FromPort,
			"accesslist": v.AccessList, "DnsChallenge": b2s(v.DNSChallenge), "CustomCertificate": v.CustomCertificate,
			"DisableTls": b2s(v.DisableTLS), "description": v.Description}
	},
	from: func(id string, r Record) ReverseProxy {
		return ReverseProxy{UUID: id, Enabled: s2b(r["enabled"]), FromDomain: r["FromDomain"], FromPort: r["FromPort"],
			AccessList: r["accesslist"], DNSChallenge: s2b(r["DnsChallenge"]), CustomCertificate: r["CustomCertificate"],
			DisableTLS: s2b(r["DisableTls"]), Description: r["description"]}
	},
}

// ReverseProxies lists Caddy domains.
func (c *Client) ReverseProxies(ctx context.Context) ([]ReverseProxy, error) {
	return reverseCodec.list(ctx, c)
}

// AddReverseProxy creates a domain (staged until Reconfigure(ServiceCaddy)).
func (c *Client) AddReverseProxy(ctx context.Context, v ReverseProxy) (string, error) {
	return reverseCodec.add(ctx, c, v)
}

// SetReverseProxy updates a domain.
func (c *Client) SetReverseProxy(ctx context.Context, uuid string, v ReverseProxy) error {
	return reverseCodec.set(ctx, c, uuid, v)
}

// DelReverseProxy deletes a domain; refused while a handle references it.
func (c *Client) DelReverseProxy(ctx context.Context, uuid string) error {
	return c.Del(ctx, ResReverseProxy, uuid)
}

// Handle is an os-caddy handler (monad "handle").
type Handle struct {
	UUID            string
	Enabled         bool
	Reverse         string // uuid of the ReverseProxy
	Subdomain       string
	HandleType      string // handle, handle_path
	HandlePath      string
	HandleDirective string   // reverse_proxy, redir
	ToDomain        []string // upstream hosts
	ToPort          string
	ToPath          string
	HTTPTLS         string // "0" http, "1" https, "2" h2c
	TLSInsecure     bool   // HttpTlsInsecureSkipVerify (of Caddy towards the upstream)
	HTTPVersion     string
	AccessList      string
	ForwardAuth     bool
	Description     string
}

var handleCodec = codec[Handle]{
	res: ResHandle,
	to: func(v Handle) Record {
		return Record{"enabled": b2s(v.Enabled), "reverse": v.Reverse, "subdomain": v.Subdomain,
			"HandleType": v.HandleType, "HandlePath": v.HandlePath, "HandleDirective": v.HandleDirective,
			"ToDomain": strings.Join(v.ToDomain, ","), "ToPort": v.ToPort, "ToPath": v.ToPath,
			"HttpTls": v.HTTPTLS, "HttpTlsInsecureSkipVerify": b2s(v.TLSInsecure), "HttpVersion": v.HTTPVersion,
			"accesslist": v.AccessList, "ForwardAuth": b2s(v.ForwardAuth), "description": v.Description}
	},
	from: func(id string, r Record) Handle {
		return Handle{UUID: id, Enabled: s2b(r["enabled"]), Reverse: r["reverse"], Subdomain: r["subdomain"],
			HandleType: r["HandleType"], HandlePath: r["HandlePath"], HandleDirective: r["HandleDirective"],
			ToDomain: splitList(r["ToDomain"], ","), ToPort: r["ToPort"], ToPath: r["ToPath"], HTTPTLS: r["HttpTls"],
			TLSInsecure: s2b(r["HttpTlsInsecureSkipVerify"]), HTTPVersion: r["HttpVersion"], AccessList: r["accesslist"],
			ForwardAuth: s2b(r["ForwardAuth"]), Description: r["description"]}
	},
}

// Handles lists Caddy handlers.
func (c *Client) Handles(ctx context.Context) ([]Handle, error) { return handleCodec.list(ctx, c) }

// AddHandle creates a handler (staged until Reconfigure(ServiceCaddy)).
func (c *Client) AddHandle(ctx context.Context, v Handle) (string, error) {
	return handleCodec.add(ctx, c, v)
}

// SetHandle updates a handler.
func (c *Client) SetHandle(ctx context.Context, uuid string, v Handle) error {
	return handleCodec.set(ctx, c, uuid, v)
}

// DelHandle deletes a handler.
func (c *Client) DelHandle(ctx context.Context, uuid string) error {
	return c.Del(ctx, ResHandle, uuid)
}

// AccessList is an os-caddy access list (monad "accesslist").
type AccessList struct {
	UUID                string
	Name                string   // accesslistName, e.g. "tappaas-nextcloud"
	ClientIPs           []string // CIDRs or addresses (comma list on the wire)
	Invert              bool
	RequestMatcher      string // remote_ip (default), client_ip
	HTTPResponseCode    string // e.g. "403"
	HTTPResponseMessage string
	Description         string
}

// ResAccessList and ResHeader are further os-caddy collections.
var (
	ResAccessList = Resource{"caddy", "reverse_proxy", "AccessList", "accesslist"}
	ResHeader     = Resource{"caddy", "reverse_proxy", "Header", "header"}
)

var aclCodec = codec[AccessList]{
	res: ResAccessList,
	to: func(v AccessList) Record {
		return Record{"accesslistName": v.Name, "clientIps": strings.Join(v.ClientIPs, ","), "accesslistInvert": b2s(v.Invert),
			"RequestMatcher": v.RequestMatcher, "HttpResponseCode": v.HTTPResponseCode, "HttpResponseMessage": v.HTTPResponseMessage,
			"description": v.Description}
	},
	from: func(id string, r Record) AccessList {
		return AccessList{UUID: id, Name: r["accesslistName"], ClientIPs: splitList(r["clientIps"], ","), Invert: s2b(r["accesslistInvert"]),
			RequestMatcher: r["RequestMatcher"], HTTPResponseCode: r["HttpResponseCode"], HTTPResponseMessage: r["HttpResponseMessage"],
			Description: r["description"]}
	},
}

// AccessLists lists Caddy access lists.
func (c *Client) AccessLists(ctx context.Context) ([]AccessList, error) { return aclCodec.list(ctx, c) }

// AddAccessList creates an access list (staged until Reconfigure(ServiceCaddy)).
func (c *Client) AddAccessList(ctx context.Context, v AccessList) (string, error) {
	return aclCodec.add(ctx, c, v)
}

// SetAccessList updates an access list.
func (c *Client) SetAccessList(ctx context.Context, uuid string, v AccessList) error {
	return aclCodec.set(ctx, c, uuid, v)
}

// DelAccessList deletes an access list; refused while a domain or handle uses it.
func (c *Client) DelAccessList(ctx context.Context, uuid string) error {
	return c.Del(ctx, ResAccessList, uuid)
}

// Header is an os-caddy header rewrite (monad "header").
type Header struct {
	UUID        string
	UpDown      string // header_up, header_down
	Type        string // header name, e.g. "Host"
	Value       string
	Replace     string
	Description string
}

var headerCodec = codec[Header]{
	res: ResHeader,
	to: func(v Header) Record {
		return Record{"HeaderUpDown": v.UpDown, "HeaderType": v.Type, "HeaderValue": v.Value, "HeaderReplace": v.Replace, "description": v.Description}
	},
	from: func(id string, r Record) Header {
		return Header{UUID: id, UpDown: r["HeaderUpDown"], Type: r["HeaderType"], Value: r["HeaderValue"], Replace: r["HeaderReplace"], Description: r["description"]}
	},
}

// Headers lists Caddy header rewrites.
func (c *Client) Headers(ctx context.Context) ([]Header, error) { return headerCodec.list(ctx, c) }

// AddHeader creates a header rewrite.
func (c *Client) AddHeader(ctx context.Context, v Header) (string, error) {
	return headerCodec.add(ctx, c, v)
}

// DelHeader deletes a header rewrite; refused while a handle uses it.
func (c *Client) DelHeader(ctx context.Context, uuid string) error {
	return c.Del(ctx, ResHeader, uuid)
}

// CaddyEnabled reports the os-caddy global switch (caddy.general.enabled).
func (c *Client) CaddyEnabled(ctx context.Context) (bool, error) {
	rec, err := c.settings(ctx, "caddy/general/get", "caddy")
	if err != nil {
		return false, err
	}
	return s2b(rec["general.enabled"]), nil
}

// SetCaddyEnabled sets the os-caddy global switch (staged until
// Reconfigure(ServiceCaddy)).
func (c *Client) SetCaddyEnabled(ctx context.Context, on bool) error {
	release, err := c.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	var rep reply
	body := map[string]any{"caddy": map[string]any{"general": map[string]string{"enabled": b2s(on)}}}
	if err := c.Call(ctx, "POST", "caddy/general/set", body, &rep); err != nil {
		return err
	}
	if rep.Result != "saved" {
		return resultError("POST caddy/general/set", rep)
	}
	return nil
}
