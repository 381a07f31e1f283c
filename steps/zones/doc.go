// Package zones holds the zones.apply step and the adapter from the OPNsense
// client to config/zones.Firewall.
//
// The step is idempotent: Check plans the zones file against the firewall and
// reports done when nothing would change; Apply applies the plan (VLAN →
// interface → dnsmasq → DNS → rules, deletes in reverse, rules under a
// savepoint confirmed only after the API answers again) and re-plans until
// empty. Objects tappaas does not own (description without the
// "tappaas:zone:" prefix) are never changed. It touches the "opnsense"
// resource, so the runner never runs it concurrently with another firewall
// step. A failure leaves a partial state that the next run converges from.
package zones
