// Package opnsense is the lab's simulated OPNsense firewall API: a strict
// in-memory model of the parts of the REST API tappaas uses, served by
// Server.Handler over HTTPS by the lab (which starts it when the firewall VM
// boots and routes 10.0.0.1:443 to it).
//
// Faithfulness (docs/opnsense-api.md):
//
//   - Auth: HTTP Basic key/secret → 401 {"status":401,"message":"Authentication
//     Failed"}; Options.ACL → 403 {"status":403,"message":"Forbidden"}.
//     Secrets may be plain or SHA-512 crypt hashes as config.xml stores them;
//     ApplyConfigXML installs the keys of a pushed config.xml (the
//     installer's key rotation,
//     docs/upstream.md#firewall-takeover), after which the
//     image's bootstrap key (BootstrapKey/BootstrapSecret) is refused.
//
//   - Routing: /api/<module>/<controller>/<command>[/<args>], module,
//     controller and command compared without case and underscores
//     (vlan_settings = VlanSettings); anything else → 404
//     {"errorMessage":"Endpoint not found"} (before authentication, like
//     api.php).
//
//   - Bodies: JSON or form encoded; Content-Type application/json with an
//     empty or malformed body → 400 {"status":400,"message":"Invalid JSON
//     syntax"}.
//
//   - CRUD (ApiMutableModelControllerBase): add/set reply {"result":"saved"}
//     (+uuid) or HTTP 200 {"result":"failed","validations":{"<monad>.<field>":
//     msg}}; set is an upsert for any syntactically valid uuid; get of an
//     unknown uuid → []; del → deleted / "not found"; business-rule refusals
//     (deleting an assigned VLAN, an alias in use) → 500 UserException
//     {"errorMessage","errorTitle"} (26.7 adds "errorLevel");
//     non-POST writes → {"result":"failed"}. The lab is deliberately stricter
//     than the firewall in one respect: the real BaseField::setNodes silently
//     ignores keys the model does not have, the lab answers a validation
//     error ("Unknown field.") so a typo in tappaas cannot pass unnoticed;
//     likewise a DHCP range whose end is below its start is refused at once
//     (dnsmasq itself would only fail when it restarts).
//
//   - VLAN devices follow VlanSettingsController and Vlan::performValidation
//     (opnsense/core): auto names <prefix>0<highest+1> (qinq for VLAN
//     parents), legacy "<if>_vlan<tag>" names, the device-name format and
//     uniqueness messages, renames of assigned or QinQ-parent devices refused,
//     a retag that keeps the name allowed.
//
//   - Staging: writes change the saved configuration (Staged); the running
//     state (Running) changes only on the module's reconfigure, the filter's
//     apply, or (TAPPaaS assignment patch) at once.
//
//   - Dialects by Options.Version: ≤ 26.1 has filter savepoint /
//     apply/<revision> / cancelRollback / revert with an automatic revert
//     after RollbackAfter (60 s) driven by Options.Clock; cancelRollback
//     answers "\n\n" or "", never "ok" (see cancelRollback). 26.7 has the
//     stock assignment controller (no IP fields, staged until its
//     reconfigure), no savepoints (404) and ignores a revision on apply;
//     ≥ 27.1 adds IP fields to the assignment.
//
//   - TAPPaaS' interface_assign patch is a file, not firmware: served only
//     while Options.AssignPatch says it is installed (any version), 404
//     otherwise. It saves the assignment; the address reaches the device
//     with overview/reloadInterface.
//
//   - interfacesInfo is built like OverviewController: one row per kernel
//     device (unassigned ones with identifier ""), addresses from the
//     kernel (State.Inet) as CIDR, vlan_tag a string.
//
//   - Resources: VLAN devices (tag unique per parent), assignments, dnsmasq settings/ranges/hosts,
//     filter rules, aliases, Unbound host overrides, firmware status/info,
//     system status.
//
//   - config.xml (config.go, dns.go): ApplyConfigXML parses a pushed
//     config.xml (API keys, interfaces, dnsmasq, OPNsense/unboundplus, a
//     legacy <unbound> section) and makes it live as rc.reload_all does;
//     Boot runs the boot-time Unbound migrations (M1_0_1, M1_0_2, M1_0_5,
//     saved only when the result validates) and starts every service from
//     the saved configuration; LookupDNS answers a query on 10.0.0.1:53 by
//     that configuration (nothing when Unbound is disabled, internal names
//     only through a declared forward to a running dnsmasq).
//
// Concurrency: a Server is safe for concurrent use; one mutex serialises
// the model. Snapshot/Restore persist the whole model (keys included — store
// it 0600), re-arming pending rollbacks with their remaining time.
package opnsense
