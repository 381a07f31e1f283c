// Package modules is tappaas' model of TAPPaaS modules: the module JSONs
// upstream ships (src/apps/<m>/<m>.json, src/foundation/<m>/<m>.json), the
// field table that describes them (src/foundation/module-fields.json), the
// services' pinhole.json and the module catalog (src/module-catalog.json).
// Citations are to TAPPaaS@f54e4fc.
//
// # Files
//
// A module JSON is flat (every field at the top) or "Pattern A": per-service
// fields grouped under config."<module>:<service>". Parse keeps the file
// losslessly (Bytes of an unchanged File is its input, byte for byte; an
// edited File is re-rendered in jq's layout through config/jsonnode, keeping
// key order and unknown keys). Flat gives the view upstream's readers use
// (normalize_module_config, scripts/common-install-routines.sh:597): config
// blocks deep-merged over the header, each member with the key path where it
// is written, so findings point into the file as the operator sees it.
// Parse fails only for input that is not a JSON object (ErrSyntax).
//
// File.Canonical renders upstream's canonical Pattern A form, the form
// installed configs are written in (regroup_to_pattern_a,
// scripts/convert-json-to-config.sh:69); testdata/canonical is upstream's own
// output for every module JSON it ships and the tests hold the bytes equal.
//
// # Validation
//
// File.Validate reproduces upstream's check_json
// (scripts/common-install-routines.sh:719-968): the same errors and warnings
// with upstream's own message text, each Finding marked with a Rule
// "check_json:<check>". testdata/upstream/check_json.golden is check_json's
// real output on every module JSON upstream ships, and the tests hold the
// verdicts equal. On top, rules "tappaas:<check>" refuse what check_json
// lets through: null, arrays or objects in string fields, non-booleans in
// boolean fields, arrays and objects of the wrong shape and their items
// (ports, ingress, egress, natRules, aliases, identity, …, per the field
// table), malformed dependsOn/provides entries, a dependency listed twice,
// config that is not an object of "<module>:<service>" blocks. Numbers and
// booleans in string fields are accepted as their text, as check_json and its
// readers do (upstream ships "cloudInit": true). A number written with a
// fraction or exponent in an integer field is refused (stricter than jq).
//
// Zones are checked only when Options.Zones is set, as check_json checks
// only when /home/tappaas/config/zones.json exists.
//
// # Catalog
//
// ParseCatalog reads the four lists and vmidConventions; Catalog.Validate
// reports module-catalog-fields.json deviations and the consistency checks of
// upstream's verify-module-ids command (.claude/commands/tappaas-verify-module-ids.md)
// as warnings, as upstream's tools only warn.
package modules
