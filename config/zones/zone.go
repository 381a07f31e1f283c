package zones

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"

	"github.com/tappaas/tappaas/config/jsonnode"
)

// State is a zone's activation state (Zone.is_enabled/is_manual,
// TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/opnsense-controller/src/opnsense_controller/zone_manager.py:182-195).
type State string

// The five states upstream documents. Anything else is a validation error
// (upstream's zone-manager silently tears such a zone down).
const (
	Active    State = "Active"    // created and reconciled
	Mandatory State = "Mandatory" // like Active; must stay enabled
	Inactive  State = "Inactive"  // torn down if present
	Disabled  State = "Disabled"  // like Inactive
	Manual    State = "Manual"    // never created nor removed by tappaas
)

// States lists the valid states in display order.
var States = []State{Active, Mandatory, Inactive, Disabled, Manual}

// Enabled reports whether tappaas creates and reconciles the zone.
func (s State) Enabled() bool { return s == Active || s == Mandatory }

// Types maps the zone types to their typeId (zones-fields.json, plus
// upstream's "Test" = 8 that the schema omits).
var Types = map[string]int{
	"Management": 0,
	"Service":    2,
	"Client":     3,
	"IoT":        4,
	"Guest":      5,
	"DMZ":        6,
	"Overlay":    7,
	"Test":       8,
}

// TypeNames lists the zone types in typeId order.
var TypeNames = []string{"Management", "Service", "Client", "IoT", "Guest", "DMZ", "Overlay", "Test"}

// Bridges are the bridge names zones-fields.json allows.
var Bridges = []string{"lan", "wan", "opt1", "opt2"}

// Keywords usable in access-to besides zone names.
const (
	KeywordInternet = "internet"
	KeywordAll      = "all"
)

// DHCP offsets used when a zone sets none (zones-fields.json defaults).
const (
	DefaultDHCPStart = 50
	DefaultDHCPEnd   = 250
)

// Zone is one zone of zones.json. Field names follow upstream's JSON keys
// (TAPPaaS@f54e4fc:src/foundation/zones-fields.json). Unknown keys of the zone object are kept by the File and written
// back in place.
type Zone struct {
	Name               string   // the key in zones.json (camelCase)
	Type               string   // "type"
	State              State    // "state"
	TypeID             int      // "typeId" (upstream stores it as a string)
	SubID              int      // "subId" (upstream stores it as a string)
	VLANTag            int      // "vlantag"; 0 = untagged
	IP                 string   // "ip", a CIDR such as 10.2.10.0/24
	Bridge             string   // "bridge"
	AccessTo           []string // "access-to"
	PinholeAllowedFrom []string // "pinhole-allowed-from"
	DHCPStart          *int     // "DHCP-start" offset; nil = default 50
	DHCPEnd            *int     // "DHCP-end" offset; nil = default 250
	SSID               string   // "SSID" (omitted when empty)
	Isolated           bool     // "isolated": tappaas extension, see doc.go
	Parent             string   // "parent" (variant zones)
	Variant            string   // "variant"
	Comment            string   // "_comment"
	Description        string   // "description"

	// How typeId, subId and vlantag were stored (true = JSON string), so a
	// write keeps upstream's types. New zones use upstream's convention:
	// strings for typeId/subId, a number for vlantag.
	typeIDString, subIDString, vlanTagString bool
	// raw holds the original value of fields that failed to decode; they are
	// written back unchanged until the zone is replaced with SetZone.
	raw map[string]*jsonnode.Node
	// typo maps an absent known field to the unknown key that looks like a
	// misspelling of it ("access-to" → "acess-to"): validation reports the
	// key, not the field's absence.
	typo map[string]string
}

// NewZone returns a zone with upstream's conventions for a new entry:
// derived tag, subnet and bridge lan, state Inactive.
func NewZone(name, typ string, subID int) *Zone {
	tid := Types[typ]
	z := &Zone{
		Name: name, Type: typ, State: Inactive, TypeID: tid, SubID: subID,
		Bridge: "lan", AccessTo: []string{}, PinholeAllowedFrom: []string{},
		typeIDString: true, subIDString: true,
	}
	z.VLANTag = tid*100 + subID
	z.IP = fmt.Sprintf("10.%d.%d.0/24", tid, subID)
	return z
}

// Clone returns a deep copy.
func (z *Zone) Clone() *Zone {
	c := *z
	c.AccessTo = slices.Clone(z.AccessTo)
	c.PinholeAllowedFrom = slices.Clone(z.PinholeAllowedFrom)
	if z.DHCPStart != nil {
		v := *z.DHCPStart
		c.DHCPStart = &v
	}
	if z.DHCPEnd != nil {
		v := *z.DHCPEnd
		c.DHCPEnd = &v
	}
	if z.typo != nil {
		c.typo = maps.Clone(z.typo)
	}
	if z.raw != nil {
		c.raw = make(map[string]*jsonnode.Node, len(z.raw))
		for k, v := range z.raw {
			c.raw[k] = v.Clone()
		}
	}
	return &c
}

// Prefix parses IP; ok is false when it is not a valid IPv4 CIDR.
func (z *Zone) Prefix() (netip.Prefix, bool) {
	p, err := netip.ParsePrefix(z.IP)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, false
	}
	return p, true
}

// Gateway is the zone's firewall address: the first host of IP.
func (z *Zone) Gateway() (netip.Addr, bool) {
	p, ok := z.Prefix()
	if !ok || p.Bits() > 30 {
		return netip.Addr{}, false
	}
	return p.Masked().Addr().Next(), true
}

// DHCPOffsets returns the pool offsets with the defaults applied.
func (z *Zone) DHCPOffsets() (start, end int) {
	start, end = DefaultDHCPStart, DefaultDHCPEnd
	if z.DHCPStart != nil {
		start = *z.DHCPStart
	}
	if z.DHCPEnd != nil {
		end = *z.DHCPEnd
	}
	return start, end
}

// DHCPRange returns the pool's first and last address (network address plus
// the offsets). ok is false when IP is invalid or an offset leaves the subnet.
func (z *Zone) DHCPRange() (first, last netip.Addr, ok bool) {
	p, ok := z.Prefix()
	if !ok {
		return first, last, false
	}
	s, e := z.DHCPOffsets()
	first, ok1 := addOffset(p, s)
	last, ok2 := addOffset(p, e)
	return first, last, ok1 && ok2
}

// addOffset returns network+off if it is a usable host of p (not the
// network or broadcast address).
func addOffset(p netip.Prefix, off int) (netip.Addr, bool) {
	p = p.Masked()
	size := uint64(1) << (32 - p.Bits())
	if off <= 0 || uint64(off) >= size-1 {
		return netip.Addr{}, false
	}
	b := p.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(off)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// Domain is the zone's DHCP/DNS domain, "<zone>.internal" (Zone.domain,
// TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/opnsense-controller/src/opnsense_controller/zone_manager.py:227).
func (z *Zone) Domain() string { return z.Name + ".internal" }

// Tagged reports whether the zone is a VLAN (vlantag > 0).
func (z *Zone) Tagged() bool { return z.VLANTag > 0 }

// VLANDevice is the OPNsense VLAN device name, vlan0.<tag> (create_vlan,
// TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/opnsense-controller/src/opnsense_controller/vlan_manager.py:341).
func (z *Zone) VLANDevice() string { return "vlan0." + strconv.Itoa(z.VLANTag) }

// HasAccess reports whether access-to contains s.
func (z *Zone) HasAccess(s string) bool { return slices.Contains(z.AccessTo, s) }
