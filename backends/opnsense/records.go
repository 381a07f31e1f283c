package opnsense

import "github.com/tappaas/tappaas/config/zones"

// The records of the zone objects are config/zones' types, shared with the
// planner (config is at the bottom: backends import it, not the reverse).
type (
	// VLAN is a VLAN device (/api/interfaces/vlan_settings, monad "vlan").
	VLAN = zones.VLAN
	// Assignment is a device assigned to an interface slot.
	Assignment = zones.Assignment
	// Range is a dnsmasq DHCP range (/api/dnsmasq/settings, monad "range").
	Range = zones.Range
	// Rule is a filter ("automation") rule (/api/firewall/filter, monad "rule").
	Rule = zones.Rule
)
