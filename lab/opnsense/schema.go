package opnsense

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Table names in State.Tables.
const (
	tVLAN     = "vlan"
	tIfaces   = "interfaces" // keyed by ifname
	tRange    = "dnsmasq.range"
	tHost     = "dnsmasq.host"
	tRule     = "filter.rule"
	tAlias    = "alias"
	tOverride = "unbound.host"
)

// Apply groups: the tables a reconfigure/apply makes live.
var services = map[string][]string{
	"vlan":       {tVLAN},
	"assignment": {tIfaces},
	"dnsmasq":    {tRange, tHost},
	"unbound":    {tOverride},
	"alias":      {tAlias},
	"filter":     {tRule},
}

// settingsServices maps whole-model settings to their apply group.
var settingsServices = map[string]string{"dnsmasq": "dnsmasq"}

func collections() []*collection {
	return []*collection{
		{
			table: tVLAN, module: "interfaces", controller: "vlan_settings", thing: "Item", monad: "vlan", service: "vlan",
			fields: []field{
				{name: "if", kind: kText, required: true},
				{name: "tag", kind: kInt, required: true, min: 1, max: 4094},
				{name: "pcp", kind: kOption, def: "0", opts: []string{"0", "1", "2", "3", "4", "5", "6", "7"}},
				{name: "proto", kind: kOption, opts: []string{"", "802.1q", "802.1ad"}},
				{name: "descr", kind: kText},
				{name: "vlanif", kind: kText},
			},
			check:   checkVLAN,
			prepare: prepareVLAN,
			inUse:   vlanInUse,
			display: displayVLAN,
		},
		{
			table: tIfaces, module: "interfaces", controller: "assignment", thing: "Item", monad: "interface", service: "assignment",
			fields: []field{
				{name: "if", kind: kText, required: true},
				{name: "descr", kind: kText},
				// A new assignment is locked unless told otherwise
				// (opnsense/core@26.7.2:src/opnsense/mvc/app/models/OPNsense/Interfaces/NetworkInterface.xml:19-22).
				{name: "lock", kind: kBool, def: "1"},
				{name: "identifier", kind: kText, readonly: true},
				// 27.1 development only (see avail on ipFields below).
				{name: "enable", kind: kBool, def: "1"},
				{name: "type4", kind: kOption, opts: []string{"", "none", "static", "dhcp"}},
				{name: "ipaddr", kind: kText},
				{name: "subnet", kind: kText},
			},
			check: checkAssignment,
			inUse: func(s *Server, id string) string {
				// Lab-only (stricter): the real controller would let an
				// unlocked lan or wan go.
				if id == "lan" || id == "wan" {
					return "Cannot remove the " + id + " interface."
				}
				// opnsense/core@26.7.2:src/opnsense/mvc/app/controllers/OPNsense/Interfaces/Api/AssignmentController.php:86-94
				if s.st.Tables[tIfaces].Rows[id]["lock"] == "1" {
					return "Interface locked, unset lock first before removal"
				}
				return ""
			},
			avail: func(o *Options) bool { return o.dialect().stockAssign },
		},
		{
			table: tRange, module: "dnsmasq", controller: "settings", thing: "Range", monad: "range", service: "dnsmasq",
			fields: []field{
				{name: "interface", kind: kIface},
				{name: "set_tag", kind: kText},
				{name: "start_addr", kind: kIP, required: true},
				{name: "end_addr", kind: kIP},
				{name: "subnet_mask", kind: kIP},
				{name: "constructor", kind: kText},
				{name: "mode", kind: kMulti, opts: []string{"", "static", "ra-only", "slaac", "ra-names", "ra-stateless", "ra-advrouter"}},
				{name: "prefix_len", kind: kInt, min: 1, max: 128},
				{name: "lease_time", kind: kInt, min: 120, max: 31536000},
				{name: "domain_type", kind: kOption, def: "range", opts: []string{"range", "interface"}},
				{name: "domain", kind: kDomain},
				{name: "nosync", kind: kBool, def: "0"},
				{name: "description", kind: kText},
			},
			check: checkRange,
		},
		{
			table: tHost, module: "dnsmasq", controller: "settings", thing: "Host", monad: "host", service: "dnsmasq",
			fields: []field{
				{name: "host", kind: kHostname},
				{name: "domain", kind: kDomain},
				{name: "local", kind: kBool, def: "0"},
				{name: "ip", kind: kIPList},
				{name: "cnames", kind: kText},
				{name: "client_id", kind: kText},
				{name: "hwaddr", kind: kMACList},
				{name: "lease_time", kind: kInt, min: 120, max: 31536000},
				{name: "ignore", kind: kBool, def: "0"},
				{name: "set_tag", kind: kText},
				{name: "descr", kind: kText},
				{name: "comments", kind: kText},
				{name: "aliases", kind: kText},
			},
			check: func(s *Server, id string, r Record, v map[string]string) {
				// Dnsmasq::performValidation (its typo included).
				if r["host"] == "" && r["hwaddr"] == "" {
					v["host"] = "Hostnames my only be omitted when a hardware address is offered."
				}
				if r["hwaddr"] != "" && strings.Contains(r["ip"], ":") {
					v["ip"] = "Only IPv4 reservations are currently supported"
				}
			},
		},
		{
			table: tRule, module: "firewall", controller: "filter", thing: "Rule", monad: "rule", service: "filter", toggle: true,
			fields: []field{
				{name: "enabled", kind: kBool, def: "1"},
				{name: "sequence", kind: kInt, def: "1", min: 1, max: 999999},
				{name: "action", kind: kOption, required: true, def: "pass", opts: []string{"pass", "block", "reject"}},
				{name: "quick", kind: kBool, def: "1"},
				{name: "interface", kind: kIfaces},
				{name: "interfacenot", kind: kBool, def: "0"},
				{name: "direction", kind: kOption, required: true, def: "in", opts: []string{"in", "out"}},
				{name: "ipprotocol", kind: kOption, required: true, def: "inet", opts: []string{"inet", "inet6", "inet46"}},
				{name: "protocol", kind: kOption, required: true, def: "any", opts: []string{"any", "TCP", "UDP", "TCP/UDP", "ICMP", "IPV6-ICMP", "ESP", "AH", "GRE", "IGMP", "OSPF", "CARP", "PFSYNC"}},
				{name: "source_net", kind: kNet, def: "any"},
				{name: "source_not", kind: kBool, def: "0"},
				{name: "source_port", kind: kPort},
				{name: "destination_net", kind: kNet, def: "any"},
				{name: "destination_not", kind: kBool, def: "0"},
				{name: "destination_port", kind: kPort},
				{name: "gateway", kind: kText},
				{name: "log", kind: kBool, def: "0"},
				{name: "statetype", kind: kOption, def: "keep", opts: []string{"keep", "sloppy", "modulate", "synproxy", "none"}},
				{name: "categories", kind: kText},
				{name: "description", kind: kText},
			},
			check: checkRule,
		},
		{
			table: tAlias, module: "firewall", controller: "alias", thing: "Item", monad: "alias", service: "alias", toggle: true,
			fields: []field{
				{name: "enabled", kind: kBool, def: "1"},
				{name: "name", kind: kText, required: true},
				{name: "type", kind: kOption, required: true, opts: []string{"host", "network", "port", "url", "urltable", "urljson", "geoip", "networkgroup", "mac", "asn", "dynipv6host", "authgroup", "internal", "external"}},
				{name: "proto", kind: kMulti, opts: []string{"", "IPv4", "IPv6"}},
				{name: "interface", kind: kText},
				{name: "counters", kind: kBool, def: "0"},
				{name: "updatefreq", kind: kText},
				{name: "content", kind: kLines},
				{name: "categories", kind: kText},
				{name: "description", kind: kText},
			},
			check: checkAlias,
			inUse: aliasInUse,
			saved: renameAlias,
		},
		{
			table: tOverride, module: "unbound", controller: "settings", thing: "HostOverride", monad: "host", service: "unbound", toggle: true,
			fields: []field{
				{name: "enabled", kind: kBool, def: "1"},
				{name: "hostname", kind: kHostname},
				{name: "domain", kind: kDomain, required: true},
				{name: "rr", kind: kOption, required: true, def: "A", opts: []string{"A", "AAAA", "MX", "TXT"}},
				{name: "server", kind: kIP},
				{name: "mxprio", kind: kInt, min: 0, max: 65535},
				{name: "mx", kind: kText},
				{name: "ttl", kind: kInt, min: 0, max: 2147483647},
				{name: "txtdata", kind: kText},
				{name: "addptr", kind: kBool, def: "1"},
				{name: "description", kind: kText},
			},
			check: checkOverride,
		},
	}
}

// ---- VLAN rules ---------------------------------------------------------

func (s *Server) deviceKnown(dev string) bool {
	if contains(s.opts.NICs, dev) {
		return true
	}
	t := s.st.Tables[tVLAN]
	for _, id := range t.Order {
		if t.Rows[id]["vlanif"] == dev {
			return true
		}
	}
	return false
}

// vlanPrefix is "qinq" when the parent is itself a VLAN, else "vlan"
// (VlanSettingsController::generateVlanIfName).
func vlanPrefix(parent string) string {
	if strings.Contains(parent, "vlan") {
		return "qinq"
	}
	return "vlan"
}

// prepareVLAN names the device like VlanSettingsController: a name given
// by the caller wins; on update a legacy "<if>_vlan<tag>" name or a name of
// the right type is kept; otherwise <prefix>0<max+1>. Renaming a device
// that has QinQ children or is assigned is refused.
func prepareVLAN(s *Server, old Record, in map[string]any) (Record, map[string]any) {
	parent, tag := scalar(in["if"]), scalar(in["tag"])
	if _, ok := in["if"]; !ok && old != nil {
		parent = old["if"]
	}
	if _, ok := in["tag"]; !ok && old != nil {
		tag = old["tag"]
	}
	prefix := vlanPrefix(parent)
	name := scalar(in["vlanif"])
	switch {
	case name != "":
	case old != nil && old["vlanif"] == parent+"_vlan"+tag:
		name = old["vlanif"]
	case old != nil && !strings.Contains(old["vlanif"], "_vlan") && strings.HasPrefix(old["vlanif"], prefix):
		name = old["vlanif"]
	default:
		max := 0
		t := s.st.Tables[tVLAN]
		for _, id := range t.Order {
			v := t.Rows[id]["vlanif"]
			if n, err := strconv.Atoi(strings.TrimPrefix(v, prefix)); err == nil && strings.HasPrefix(v, prefix) && n > max {
				max = n
			}
		}
		name = fmt.Sprintf("%s0%d", prefix, max+1)
	}
	if old != nil && old["vlanif"] != name {
		t := s.st.Tables[tVLAN]
		for _, id := range t.Order {
			if t.Rows[id]["if"] == old["vlanif"] {
				return nil, map[string]any{"vlan.vlanif": "This VLAN cannot be deleted because it is used in QinQ interfaces."}
			}
		}
		if s.assignedTo(old["vlanif"]) != "" {
			if tag != old["tag"] {
				return nil, map[string]any{"vlan.tag": "Interface is assigned and you cannot change the VLAN tag while assigned."}
			}
			return nil, map[string]any{"vlan.vlanif": "Interface is assigned and you cannot change the device name while assigned."}
		}
	}
	return Record{"vlanif": name}, nil
}

func checkVLAN(s *Server, id string, r Record, v map[string]string) {
	if p := r["if"]; p != "" && !s.deviceKnown(p) {
		v["if"] = "Option not in list."
	}
	t := s.st.Tables[tVLAN]
	for _, o := range t.Order {
		if o == id {
			continue
		}
		x := t.Rows[o]
		if x["if"] == r["if"] && x["tag"] == r["tag"] {
			v["tag"] = "Tag for this device must be unique."
		}
		if x["vlanif"] == r["vlanif"] {
			v["vlanif"] = "The device name must be unique."
		}
	}
	// Vlan::performValidation.
	prefix := vlanPrefix(r["if"])
	name := r["vlanif"]
	switch {
	case name == r["if"]+"_vlan"+r["tag"]: // legacy device name
	case !strings.HasPrefix(name, prefix):
		v["vlanif"] = fmt.Sprintf("Device name does not match type (e.g. %s0XXX).", prefix)
	case !regexp.MustCompile(`^` + prefix + `0[0-9.]{1,10}$`).MatchString(name):
		v["vlanif"] = fmt.Sprintf("A maximum of 16 characters is allowed starting with %s0 combined with numeric characters and dots[.], e.g. (%s.1.104)", prefix, prefix)
	}
}

func vlanInUse(s *Server, id string) string {
	r, ok := s.st.Tables[tVLAN].Rows[id]
	if !ok {
		return ""
	}
	t := s.st.Tables[tVLAN]
	for _, o := range t.Order {
		if t.Rows[o]["if"] == r["vlanif"] {
			return "This VLAN cannot be deleted because it is used in QinQ interfaces."
		}
	}
	if s.assignedTo(r["vlanif"]) != "" {
		return "This VLAN cannot be deleted because it is assigned as an interface."
	}
	return ""
}

func displayVLAN(s *Server, id string, r Record, row map[string]any) {
	if ifn := s.assignedTo(r["vlanif"]); ifn != "" {
		label := s.st.Tables[tIfaces].Rows[ifn]["descr"]
		if label == "" {
			label = strings.ToUpper(ifn)
		}
		row["vlanif"] = fmt.Sprintf("%s [%s]", r["vlanif"], label)
	}
}

// assignedTo returns the ifname a device is assigned to, "" if none.
func (s *Server) assignedTo(dev string) string {
	if dev == "" {
		return ""
	}
	t := s.st.Tables[tIfaces]
	for _, ifn := range t.Order {
		if t.Rows[ifn]["if"] == dev {
			return ifn
		}
	}
	return ""
}

// ---- assignment (stock 26.7+) -------------------------------------------

func checkAssignment(s *Server, id string, r Record, v map[string]string) {
	if d := r["if"]; d != "" {
		if !s.deviceKnown(d) {
			v["if"] = "Option not in list."
		} else if o := s.assignedTo(d); o != "" && o != id {
			v["if"] = "Can not assign a device to more interfaces."
		}
	}
	if !s.opts.dialect().assignIP {
		return
	}
	if r["type4"] == "static" {
		if _, err := netip.ParseAddr(r["ipaddr"]); err != nil {
			v["ipaddr"] = "A valid IPv4 address must be specified."
		}
		if n, err := strconv.Atoi(r["subnet"]); err != nil || n < 1 || n > 32 {
			v["subnet"] = "A valid subnet bit count must be specified."
		}
	}
}

// ---- dnsmasq ------------------------------------------------------------

// checkRange follows Dnsmasq::performValidation; the start ≤ end check is
// the lab's own (dnsmasq itself refuses such a range when it starts).
func checkRange(s *Server, id string, r Record, v map[string]string) {
	inet := func(a string) string {
		if strings.Contains(a, ":") {
			return "inet6"
		}
		return "inet"
	}
	if r["domain"] != "" && r["end_addr"] == "" {
		v["domain"] = "Can only configure a domain when a full range (including end) is specified."
	}
	if r["end_addr"] != "" && inet(r["start_addr"]) != inet(r["end_addr"]) {
		v["end_addr"] = "Protocol family doesn't match."
		return
	}
	if r["prefix_len"] != "" && inet(r["start_addr"]) != "inet6" {
		v["prefix_len"] = "Prefix length can only be used for IPv6."
	}
	a, errA := netip.ParseAddr(r["start_addr"])
	b, errB := netip.ParseAddr(r["end_addr"])
	if errA == nil && errB == nil && b.Less(a) {
		v["end_addr"] = "End address must not be lower than the start address (lab check)."
	}
}

// ---- filter rules -------------------------------------------------------

func checkRule(s *Server, id string, r Record, v map[string]string) {
	hasPorts := r["source_port"] != "" || r["destination_port"] != ""
	if hasPorts && r["protocol"] != "TCP" && r["protocol"] != "UDP" && r["protocol"] != "TCP/UDP" {
		v["protocol"] = "Ports are only valid for TCP or UDP type rules."
	}
}

// ---- aliases ------------------------------------------------------------

func checkAlias(s *Server, id string, r Record, v map[string]string) {
	name := r["name"]
	if name != "" {
		if !reAliasName.MatchString(name) {
			v["name"] = "The name must be less than 32 characters long and may only consist of the following characters: a-z, A-Z, 0-9, _"
		} else if o, ok := s.aliasNamed(name); ok && o != id {
			v["name"] = "An alias with this name already exists."
		} else if name == "any" || s.ifaceKnown(name) {
			v["name"] = "Reserved name."
		}
	}
	for _, e := range strings.Split(r["content"], "\n") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		bad := false
		switch r["type"] {
		case "host":
			_, err := netip.ParseAddr(e)
			_, err2 := netip.ParsePrefix(e)
			_, isAlias := s.aliasNamed(e)
			bad = err != nil && err2 != nil && !isAlias && !reDomain.MatchString(e)
		case "network":
			_, err := netip.ParsePrefix(e)
			_, err2 := netip.ParseAddr(e)
			_, isAlias := s.aliasNamed(e)
			bad = err != nil && err2 != nil && !isAlias
		case "port":
			bad = !s.validPort(e)
		}
		if bad {
			v["content"] = fmt.Sprintf("Entry \"%s\" is not a valid %s.", e, map[string]string{"host": "hostname or IP address", "network": "network", "port": "port number or range"}[r["type"]])
			return
		}
	}
}

// aliasInUse mirrors AliasController::delItemAction / Alias::whereUsed.
func aliasInUse(s *Server, id string) string {
	name := s.st.Tables[tAlias].Rows[id]["name"]
	var uses []string
	t := s.st.Tables[tRule]
	for _, o := range t.Order {
		x := t.Rows[o]
		for _, f := range []string{"source_net", "destination_net", "source_port", "destination_port"} {
			if x[f] == name {
				uses = append(uses, fmt.Sprintf("\n[filter.rules.rule.%s] %s", o, x["description"]))
				break
			}
		}
	}
	a := s.st.Tables[tAlias]
	for _, o := range a.Order {
		if o != id && contains(strings.Split(a.Rows[o]["content"], "\n"), name) {
			uses = append(uses, fmt.Sprintf("\n[aliases.alias.%s] %s", o, a.Rows[o]["name"]))
		}
	}
	if len(uses) == 0 {
		return ""
	}
	return "Cannot delete alias. Currently in use by " + strings.Join(uses, "")
}

// renameAlias renames references when an alias is renamed (Alias::refactor).
func renameAlias(s *Server, old, rec Record) {
	if old == nil || old["name"] == rec["name"] {
		return
	}
	from, to := old["name"], rec["name"]
	t := s.st.Tables[tRule]
	for _, o := range t.Order {
		for _, f := range []string{"source_net", "destination_net", "source_port", "destination_port"} {
			if t.Rows[o][f] == from {
				t.Rows[o][f] = to
			}
		}
	}
	a := s.st.Tables[tAlias]
	for _, o := range a.Order {
		parts := strings.Split(a.Rows[o]["content"], "\n")
		for i, p := range parts {
			if p == from {
				parts[i] = to
			}
		}
		a.Rows[o]["content"] = strings.Join(parts, "\n")
	}
}

// ---- unbound ------------------------------------------------------------

// checkOverride follows Unbound.xml (hosts.host): the address is required
// for A/AAAA, MX needs priority and host. That an A record carries an IPv4
// address (AAAA an IPv6 one) is the lab's own check.
func checkOverride(s *Server, id string, r Record, v map[string]string) {
	switch r["rr"] {
	case "A", "AAAA":
		if r["server"] == "" {
			v["server"] = "The field IP address is required."
			return
		}
		ip, err := netip.ParseAddr(r["server"])
		switch {
		case err != nil:
			v["server"] = "Please specify a valid network segment or IP address."
		case r["rr"] == "A" && !ip.Is4():
			v["server"] = "An A record needs an IPv4 address (lab check)."
		case r["rr"] == "AAAA" && ip.Is4():
			v["server"] = "An AAAA record needs an IPv6 address (lab check)."
		}
	case "MX":
		if r["mxprio"] == "" {
			v["mxprio"] = "The field MX Priority is required."
		}
		if r["mx"] == "" {
			v["mx"] = "The field MX Host is required."
		}
	case "TXT":
		if r["txtdata"] == "" {
			v["txtdata"] = "TXT data must be specified."
		}
	}
}
