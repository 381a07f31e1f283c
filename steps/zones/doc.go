// Package zones holds the zones.apply step and the adapter from the OPNsense
// client to config/zones.Firewall.
//
// The step is idempotent: Check plans the zones file against the firewall and
// reports done when nothing would change and the node has its live
// zones.json; Apply applies the plan (VLAN → interface → dnsmasq → DHCP →
// rules, deletes in reverse, rules under a savepoint confirmed only after the
// API answers again), re-plans until empty and seeds the node's live
// zones.json when absent. Only objects named as upstream's zone-manager names
// a zone's objects are touched (config/zones doc, "Ownership"), and a plan
// deleting most of them is refused (zones.Changes.Guard). It touches the
// "opnsense" resource, so the runner never runs it concurrently with another
// firewall step. A failure leaves a partial state that the next run
// converges from.
package zones
