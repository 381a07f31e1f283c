// Package zones is tappaas' model of TAPPaaS network zones (zones.json): load
// and write the file, validate it, plan the OPNsense objects a zone set needs
// against what the firewall has, and apply that plan.
//
// Facts are from shared/reference/zones-and-modules.md (cited as §n).
//
// # The file (§1)
//
// zones.json is one JSON object keyed by zone name. Keys starting with '_'
// are documentation and never zones. Load keeps everything: key order,
// unknown keys of a zone, documentation blocks, the indentation unit, and
// how typeId/subId/vlantag were typed (upstream stores typeId and subId as
// strings, vlantag as a number). Writing an unchanged File reproduces
// upstream's jq-formatted file byte for byte; edited zones keep their key
// order, new keys go to their canonical place, new zones go last.
// Load fails only for input that is not a zones document (ErrSyntax); fields
// of the wrong type are validation errors naming zone and field.
//
// tappaas adds one optional field, "isolated": true, marking a zone that may
// appear in no access-to but mgmt's. Upstream states that invariant only in
// prose (_README.isolation_invariant.rule names iotCams and iotUntrust), so
// the zones named in parentheses in that text are treated as isolated too.
//
// # Validation (§1.6)
//
// Validate returns every finding at once. Errors: names (camelCase), type ↔
// typeId, subId 0–99, vlantag = typeId×100+subId (0 = untagged), valid IPv4
// CIDR, no overlapping subnets, DHCP range inside the subnet with start <
// end, access-to / pinhole-allowed-from naming existing zones (or internet /
// all), state one of the five (case-sensitive), known bridge, unique tags, one
// untagged zone per bridge, the isolation invariant. Warnings: what upstream
// tolerates — subnets off the 10.typeId.subId.0/24 pattern, type Test,
// SSID placeholders, duplicate descriptions, access to a torn-down zone.
//
// # Ownership
//
// tappaas owns exactly the firewall objects whose description starts with
// "tappaas:zone:<zone>:" (the identity; a human part may follow after " | ",
// like rules-manager's "identity | text" convention, §2.6). Interface
// assignments carry no free description (their label is the zone name), so an
// assignment is owned when its device is an owned VLAN. Objects without the
// prefix are never changed or deleted; an owned object whose zone is gone from
// the file, or is Inactive/Disabled, is deleted. Manual zones are not touched
// at all (their objects are neither created nor removed).
//
// # Plan
//
// Plan compares the desired objects of every Active/Mandatory zone with a
// Current snapshot and returns Changes: creates, updates and deletes, sorted
// deterministically — creates and updates in dependency order (VLAN →
// interface assignment → DHCP range → DNS host override → filter rule), deletes
// in the reverse order, each group by zone in file order, then by identity.
// Unlike upstream (§5 items 4–6) it prunes stale rules when access-to shrinks,
// updates changed DHCP ranges and interface addresses, and removes rules before
// the interface they sit on.
//
// Per enabled, tagged zone z with gateway g and prefix length n:
//   - VLAN vlan0.<tag> on the bridge's parent (lan→vtnet0, wan→vtnet1,
//     opt1→vtnet2, opt2→vtnet3), description "tappaas:zone:z:vlan | <description>";
//   - interface assignment of that device, label z, static g/n;
//   - dnsmasq range network+DHCP-start … network+DHCP-end, lease 86400,
//     domain z.internal, description "tappaas:zone:z:dhcp";
//   - Unbound host override firewall.z.internal → g ("tappaas:zone:z:dns");
//   - filter rules (§2.5, band 5, base = 30000 + 100·(sha256(z)[0:8] mod 100)):
//     access-to all → one pass to any at base; otherwise pass to the gateway
//     at base, pass to each listed zone's subnet at base+1, with internet the
//     three RFC 1918 blocks at base+90..92 and pass to any at base+99. A zone
//     with an empty access-to gets no rules. All rules are "in", inet, quick,
//     logged, on the zone's interface. Every target rule shares base+1
//     (they pass to disjoint subnets, so their order is irrelevant), which
//     keeps sequences stable when access-to changes and removes upstream's
//     88-target limit.
//   - Caddy reach (§2.5, 990/991): zones with internet or all in access-to,
//     except dmz, may reach the DMZ gateway on TCP 443 and 80. Unlike upstream
//     the source is the zone's subnet, not 10.0.0.0/8. Manual zones with an
//     interface get these two rules too, as upstream does.
//
// Untagged enabled zones get only their rules, on the bridge interface (lan).
//
// # Apply
//
// Apply performs the changes in the plan's order, reconfiguring each module
// once after its writes (VLANs, interfaces, dnsmasq, Unbound, filter). Filter
// changes are made under a savepoint when the firewall has one (OPNsense ≤
// 26.1): apply with the revision arms the firewall's 60 s automatic rollback,
// tappaas then checks that it still reaches the API and only then cancels the
// rollback; if the check fails the firewall rolls itself back. Any error
// during filter changes reverts to the savepoint. Apply is idempotent: a
// re-plan after a successful Apply is empty. Apply is not safe for concurrent
// use against the same firewall; callers serialise (the steps runner holds a
// lock).
package zones
