// Package zones is tappaas' model of TAPPaaS network zones (zones.json): load
// and write the file, validate it, plan the OPNsense objects a zone set needs
// against what the firewall has, and apply that plan.
//
// # The file
//
// zones.json is one JSON object keyed by zone name
// (TAPPaaS@f54e4fc:src/foundation/firewall/zones.json, fields:
// src/foundation/zones-fields.json). Keys starting with '_' are
// documentation and never zones. Load keeps everything: key order,
// unknown keys of a zone, documentation blocks, the indentation unit, and
// how typeId/subId/vlantag were typed (upstream stores typeId and subId as
// strings, vlantag as a number). Writing an unchanged File reproduces
// upstream's jq-formatted file byte for byte; edited zones keep their key
// order, new keys go to their canonical place, new zones go last.
// Load fails only for input that is not a zones document (ErrSyntax, with
// the line and column of a JSON syntax error); fields of the wrong type and
// unknown keys of a zone (but '_' ones) are validation errors naming zone,
// key, JSON path and, for a typo, the known key it resembles.
//
// tappaas adds one optional field, "isolated": true, marking a zone that may
// appear in no access-to but mgmt's. Upstream states that invariant only in
// prose (_README.isolation_invariant.rule names iotCams and iotUntrust), so
// the zones named in parentheses in that text are treated as isolated too.
//
// # Validation
//
// Validate returns every finding at once. Errors: unknown keys, names
// (camelCase, at most 32 characters), descriptions the firewall refuses
// (over 255 bytes, line breaks), type ↔
// typeId, subId 0–99, vlantag = typeId×100+subId (0 = untagged), valid IPv4
// CIDR, no overlapping subnets, DHCP range inside the subnet with start <
// end, access-to / pinhole-allowed-from naming existing zones (or internet /
// all), state one of the five (case-sensitive), known bridge, unique tags, one
// untagged zone per bridge, the isolation invariant, an access-to zone
// listed twice or more than 88 of them. Warnings: what upstream
// tolerates — subnets off the 10.typeId.subId.0/24 pattern, type Test,
// SSID placeholders, duplicate descriptions, access to a torn-down zone.
//
// # Ownership: zone-manager's names
//
// Upstream's zone-manager keeps running on tappaas-cicd after the install
// (TAPPaaS@f54e4fc:src/foundation/firewall/update.sh:140) and matches
// objects by its own keys, so tappaas creates exactly its objects and
// matches them the same way (opnsense_controller/zone_manager.py, cited by
// line in plan.go):
//   - the VLAN of a zone is the VLAN with the zone's tag (any parent; the
//     one on the zone's parent first), described by the zone's description;
//   - its interface is the one assigned to that VLAN's device, labelled
//     with the zone name, static gateway/prefix;
//   - its DHCP range is the range described "<zone> DHCP";
//   - its rules are described "Zone <zone> -> <target>" or
//     "Zone <zone> block rfc1918-N"; all of a zone's rules start with
//     "Zone <zone> ".
//
// Nothing else is touched: other VLANs, interfaces, ranges and rules (a
// module's "tappaas-module:…" rules, hand-made ones) are never changed or
// deleted. Manual zones are not touched at all, but for their Caddy reach
// rules, which zone-manager also makes.
//
// # Plan
//
// Plan compares the desired objects of every Active/Mandatory zone with a
// Current snapshot and returns Changes: creates, updates and deletes, sorted
// deterministically — creates and updates in dependency order (VLAN →
// interface assignment → dnsmasq listen list → DHCP range → filter rule),
// deletes in the reverse order, each group by zone in file order, then by
// sequence and description.
//
// Per enabled, tagged zone z with gateway g and prefix length n:
//   - VLAN vlan0.<tag> on lan→vtnet0, any other bridge→vtnet1 (ParentOf);
//   - interface assignment of that device, label z, static g/n;
//   - dnsmasq range network+DHCP-start … network+DHCP-end, lease 86400,
//     domain z.internal, described "z DHCP"; dnsmasq listens on lan and on
//     every enabled zone's interface;
//   - filter rules in band 5, base = 30000 + 100·(sha256(z)[0:8] mod 100):
//     access-to all → one pass to any at base; otherwise a pass to the
//     gateway at base, one pass per listed zone at base+1+i in list order
//     (at most 88), and with internet the three RFC 1918 blocks at
//     base+90..92 and a pass to any at base+99. An empty access-to gets no
//     rules. All rules are in, inet, quick, logged, on the zone's interface.
//   - Caddy reach: zones (enabled or Manual) with internet or all in
//     access-to, except the zone named dmz, pass TCP 443 and 80 from
//     10.0.0.0/8 to the dmz gateway at 990/991.
//
// Untagged enabled zones get only their rules, on the bridge's interface.
//
// Beyond zone-manager, tappaas also: deletes a zone's rules its access-to
// no longer wants; updates a DHCP range whose addresses changed and
// re-assigns an interface whose address or label changed; deletes
// duplicate objects of one key; and
// tears a zone removed from the file down like an Inactive one (its rules;
// its VLAN, interface and range when an interface on a VLAN device carries
// its label). Like zone-manager it never moves a VLAN to another parent (a
// bridge change is a warning saying how). Inactive/Disabled zones are torn
// down as zone-manager does:
// VLAN by tag with its interface, "<z> DHCP", every "Zone <z> " rule.
//
// # Apply
//
// A plan that deletes most of the zone objects the firewall holds is
// refused by Guard unless each zone it deletes from is named (an emptied
// file must not tear the network down); callers check it before Apply.
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
