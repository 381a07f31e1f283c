package modules

import (
	"strings"
	"testing"

	"github.com/tappaas/tappaas/config/jsonnode"
)

// cir is the file holding upstream's check_json; the table cites its lines.
const cir = "TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/scripts/common-install-routines.sh"

// mf is the field table; tappaas' own rules cite the schema entry they enforce.
const mf = "TAPPaaS@f54e4fc:src/foundation/module-fields.json"

func mustNode(t *testing.T, js string) *jsonnode.Node {
	t.Helper()
	n, err := jsonnode.Parse([]byte(js))
	if err != nil {
		t.Fatalf("bad test JSON %s: %v", js, err)
	}
	return n
}

// Broken copies of real upstream modules are refused (or warned about)
// naming the file, the key path as written, and a fix.
func TestBrokenCopies(t *testing.T) {
	t.Parallel()
	s, z, _ := fixtures(t)
	const (
		vw   = "src/apps/vaultwarden/vaultwarden.json"                // Pattern A, cluster:vm + cluster:ha
		fwA  = "src/foundation/firewall/test-fixtures/test-fw-a.json" // flat, ports/ingress
		hass = "src/apps/hass/hass.json"
	)
	type edit struct{ key, json string }
	cases := []struct {
		name, cite, base string
		edits            []edit
		header           bool // edits go to the top level even if the field is in a block
		nodes            []string
		sev              Severity
		rule, path       string
		msg              string // substring
	}{
		{name: "wrong type: vmid a word", cite: cir + ":845", base: vw, edits: []edit{{"vmid", `"six-ten"`}},
			sev: SevError, rule: "check_json:integer", path: ".vmid", msg: "expected integer, got 'six-ten'"},
		{name: "wrong type: memory in its config block", cite: cir + ":845", base: vw, edits: []edit{{"memory", `"1 GB"`}},
			sev: SevError, rule: "check_json:integer", path: `.config."cluster:vm".memory`, msg: "expected integer"},
		{name: "below minimum", cite: cir + ":852", base: vw, edits: []edit{{"cores", `0`}},
			sev: SevError, rule: "check_json:minimum", path: `.config."cluster:vm".cores`, msg: "below minimum 1"},
		{name: "above maximum", cite: cir + ":860", base: fwA, edits: []edit{{"proxyPort", `70000`}},
			sev: SevError, rule: "check_json:maximum", path: ".proxyPort", msg: "exceeds maximum 65535"},
		{name: "bad pattern: diskSize", cite: cir + ":871", base: vw, edits: []edit{{"diskSize", `"8GB"`}},
			sev: SevError, rule: "check_json:pattern", path: `.config."cluster:vm".diskSize`, msg: "does not match pattern '^[0-9]+[GMK]$'"},
		{name: "bad format: version", cite: cir + ":881", base: vw, edits: []edit{{"version", `"v1"`}},
			sev: SevError, rule: "check_json:format", path: ".version", msg: "does not match format"},
		{name: "value not allowed", cite: cir + ":900", base: vw, edits: []edit{{"status", `"Beta"`}},
			sev: SevError, rule: "check_json:values", path: ".status", msg: "invalid value 'Beta'"},
		{name: "unknown zone", cite: cir + ":949", base: vw, edits: []edit{{"zone0", `"nowhere"`}},
			sev: SevError, rule: "check_json:zone", path: ".zone0", msg: "zone 'nowhere' not found in zones.json"},
		{name: "HANode == node", cite: cir + ":928", base: vw, edits: []edit{{"node", `"tappaas1"`}, {"HANode", `"tappaas1"`}},
			sev: SevError, rule: "check_json:ha-node", path: ".HANode", msg: "HANode (tappaas1) must be different from node (tappaas1)"},
		{name: "HANode == default node", cite: cir + ":927", base: vw, edits: []edit{{"HANode", `"tappaas1"`}},
			sev: SevError, rule: "check_json:ha-node", path: ".HANode", msg: "must be different from node (tappaas1)"},
		{name: "HANode not a cluster node", cite: cir + ":936", base: vw, edits: []edit{{"HANode", `"tappaas9"`}}, nodes: []string{"tappaas1", "tappaas2"},
			sev: SevWarning, rule: "check_json:ha-node-unknown", path: ".HANode", msg: "not found in configuration.json"},
		{name: "both cluster:vm and cluster:lxc", cite: cir + ":788", base: vw,
			edits: []edit{{"dependsOn", `["cluster:vm","cluster:lxc","cluster:ha","templates:nixos","backup:vm","identity:identity","firewall:proxy"]`}},
			sev:   SevError, rule: "check_json:vm-and-lxc", path: ".dependsOn", msg: "both cluster:vm and cluster:lxc"},
		{name: "config block not a dependency", cite: cir + ":751", base: vw,
			edits: []edit{{"dependsOn", `["cluster:vm","cluster:ha","templates:nixos","backup:vm","identity:identity"]`}},
			sev:   SevError, rule: "check_json:config-undeclared", path: `.config."firewall:proxy"`, msg: "is not a declared dependency"},
		{name: "field in header and block", cite: cir + ":763", base: vw, header: true, edits: []edit{{"cores", `2`}},
			sev: SevError, rule: "check_json:config-collision", path: `.config."cluster:vm".cores`, msg: "field 'cores' is set in both"},
		{name: "missing vmid", cite: cir + ":812", base: vw, edits: []edit{{"-vmid", ``}},
			sev: SevError, rule: "check_json:required", path: ".vmid", msg: "Missing field: vmid (required by cluster:vm)"},
		{name: "iso without imageLocation", cite: cir + ":917", base: vw, edits: []edit{{"imageType", `"iso"`}},
			sev: SevError, rule: "check_json:image-location", path: ".imageLocation", msg: "required when imageType is 'iso'"},
		{name: "unknown field", cite: cir + ":829", base: vw, edits: []edit{{"Cores", `2`}},
			sev: SevWarning, rule: "check_json:unknown-field", path: ".Cores", msg: "Unknown field: Cores"},
		{name: "a key starting with '_' is not skipped", cite: cir + ":823", base: vw, edits: []edit{{"_comment", `"note"`}},
			sev: SevWarning, rule: "check_json:unknown-field", path: "._comment", msg: "Unknown field: _comment"},
		{name: "ip required by firewall:dns", cite: cir + ":797", base: fwA,
			edits: []edit{{"dependsOn", `["cluster:vm","templates:nixos","test-fw-c:web","firewall:proxy","firewall:rules","firewall:dns"]`}},
			sev:   SevError, rule: "check_json:required", path: ".ip", msg: "Missing field: ip (required by firewall:dns)"},
		{name: "ip format", cite: cir + ":881", base: fwA, edits: []edit{{"ip", `"10.1.2"`}},
			sev: SevError, rule: "check_json:format", path: ".ip", msg: "does not match format"},
		{name: "config block keyed oddly", cite: mf + ":1109", base: vw, header: true,
			edits: []edit{{"config", `{"cluster:vm":{"cores":1},"cluster":{}}`}},
			sev:   SevError, rule: "tappaas:config-key", path: `.config.cluster`, msg: "does not match"},
		{name: "config block not an object", cite: mf + ":1109", base: vw, header: true,
			edits: []edit{{"config", `{"cluster:vm":4}`}},
			sev:   SevError, rule: "tappaas:config-block-type", path: `.config."cluster:vm"`, msg: "expected an object of module fields"},
		// tappaas' own type checks (check_json does not look at these).
		{name: "string field holds an array", cite: mf + ":391", base: vw, edits: []edit{{"image", `["8080"]`}},
			sev: SevError, rule: "tappaas:type", path: `.config."cluster:vm".image`, msg: "is an array, expected a string"},
		{name: "boolean field holds a string", cite: mf + ":476", base: vw, edits: []edit{{"autoInstall", `"yes"`}},
			sev: SevError, rule: "tappaas:type", path: ".autoInstall", msg: "expected a boolean"},
		{name: "array field holds a string", cite: mf + ":1093", base: vw, edits: []edit{{"provides", `"vault"`}},
			sev: SevError, rule: "tappaas:type", path: ".provides", msg: "expected an array"},
		{name: "dependsOn entry malformed", cite: mf + ":1076", base: vw, edits: []edit{{"dependsOn", `["cluster:vm","cluster:ha","templates:nixos","backup:vm","identity:identity","firewall:proxy","firewall"]`}},
			sev: SevError, rule: "tappaas:format", path: ".dependsOn[6]", msg: `"firewall" does not match`},
		{name: "dependsOn entry twice", cite: mf + ":1076", base: vw, edits: []edit{{"dependsOn", `["cluster:vm","cluster:ha","templates:nixos","backup:vm","identity:identity","firewall:proxy","backup:vm"]`}},
			sev: SevError, rule: "tappaas:duplicate", path: ".dependsOn[6]", msg: "twice"},
		{name: "provides entry malformed", cite: mf + ":1093", base: vw, edits: []edit{{"provides", `["vault:web"]`}},
			sev: SevError, rule: "tappaas:format", path: ".provides[0]", msg: "does not match"},
		{name: "config is not an object", cite: mf + ":1109", base: fwA, edits: []edit{{"config", `"cluster:vm"`}},
			sev: SevError, rule: "tappaas:config-type", path: ".config", msg: "expected an object"},
		{name: "ingress without description", cite: mf + ":851", base: fwA, edits: []edit{{"ingress", `[{"from":"dmz","ports":[8080]}]`}},
			sev: SevError, rule: "tappaas:required", path: ".ingress[0].description", msg: "missing required field description"},
		{name: "port out of range", cite: mf + ":806", base: hass, edits: []edit{{"ports", `[{"port":70000,"protocol":"TCP"}]`}},
			sev: SevError, rule: "tappaas:maximum", path: `.config."firewall:rules".ports[0].port`, msg: "exceeds maximum 65535"},
		{name: "port range reversed", cite: mf + ":806", base: hass, edits: []edit{{"ports", `[{"port":"8010:8000"}]`}},
			sev: SevError, rule: "tappaas:port", path: `.config."firewall:rules".ports[0].port`, msg: "neither a port nor a port range"},
		{name: "protocol not allowed", cite: mf + ":824", base: hass, edits: []edit{{"ports", `[{"port":8123,"protocol":"SCTP"}]`}},
			sev: SevError, rule: "tappaas:values", path: `.config."firewall:rules".ports[0].protocol`, msg: "invalid value 'SCTP'"},
		{name: "alias name malformed", cite: mf + ":975", base: fwA, edits: []edit{{"aliases", `{"9lives":{"type":"host","addresses":["10.0.0.1"],"description":"x"}}`}},
			sev: SevError, rule: "tappaas:key", path: `.aliases."9lives"`, msg: "does not match"},
		{name: "discoveryMdns true is deprecated", cite: mf + ":756", base: vw, edits: []edit{{"discoveryMdns", `true`}},
			sev: SevWarning, rule: "tappaas:deprecated", path: ".discoveryMdns", msg: "true is deprecated"},
		{name: "alias that is not an object", cite: mf + ":975", base: fwA, edits: []edit{{"aliases", `{"web":"10.0.0.1"}`}},
			sev: SevError, rule: "tappaas:type", path: `.aliases.web`, msg: "expected an object"},
		{name: "identity flag as a string", cite: mf + ":1140", base: vw, edits: []edit{{"identity", `{"providesAdminRole":"true"}`}},
			sev: SevError, rule: "tappaas:type", path: ".identity.providesAdminRole", msg: "expected a boolean"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := loadFixture(t, tc.base)
			for _, e := range tc.edits {
				switch {
				case strings.HasPrefix(e.key, "-"):
					k := e.key[1:]
					if !f.doc.Delete(k) {
						t.Fatalf("%s has no top-level %s", tc.base, k)
					}
					f.edited = true
				case tc.header:
					f.doc.Set(e.key, mustNode(t, e.json))
					f.edited = true
				default:
					f.Set(s, e.key, mustNode(t, e.json))
				}
			}
			r := f.Validate(Options{Schema: s, Zones: z, Nodes: tc.nodes})
			var hit *Finding
			for i, fd := range r.Findings {
				if fd.Rule == tc.rule && fd.Path == tc.path && strings.Contains(fd.Message, tc.msg) {
					hit = &r.Findings[i]
				}
			}
			if hit == nil {
				t.Fatalf("%s (%s): no %s at %s containing %q; got:\n%v", tc.name, tc.cite, tc.rule, tc.path, tc.msg, r.Findings)
			}
			if hit.Severity != tc.sev || hit.File != tc.base || hit.Fix == "" {
				t.Errorf("finding %+v: want severity %s, file %s and a fix", *hit, tc.sev, tc.base)
			}
			if want := passes(tc.sev); r.OK() != want || (r.Err() == nil) != want {
				t.Errorf("OK() = %v, want %v", r.OK(), want)
			}
			if !passes(tc.sev) && !strings.Contains(r.Err().Error(), tc.base+": "+tc.path+": ") {
				t.Errorf("Err() does not name file and path: %v", r.Err())
			}
		})
	}
}

func passes(s Severity) bool { return s != SevError }

// The unmodified bases are clean, so each case above isolates one rule.
func TestBrokenCopiesBasesAreClean(t *testing.T) {
	t.Parallel()
	s, z, _ := fixtures(t)
	for _, p := range []string{"src/apps/vaultwarden/vaultwarden.json", "src/foundation/firewall/test-fixtures/test-fw-a.json", "src/apps/hass/hass.json"} {
		if r := loadFixture(t, p).Validate(Options{Schema: s, Zones: z}); len(r.Findings) != 0 {
			t.Errorf("%s: %v", p, r.Findings)
		}
	}
}

// Without a zones file the zone check is skipped, as check_json does when
// /home/tappaas/config/zones.json is absent (common-install-routines.sh:944).
func TestZonesOptional(t *testing.T) {
	t.Parallel()
	s, _, _ := fixtures(t)
	f := loadFixture(t, "src/apps/vaultwarden/vaultwarden.json")
	f.Set(s, "zone0", jsonnode.NewString("nowhere"))
	if r := f.Validate(Options{Schema: s}); !r.OK() {
		t.Errorf("zone checked without a zones file: %v", r.Findings)
	}
}

// What check_json lets pass passes here too.
func TestCheckJSONPasses(t *testing.T) {
	t.Parallel()
	s, z, _ := fixtures(t)
	const vw = "src/apps/vaultwarden/vaultwarden.json"
	cases := []struct {
		name, cite string
		edits      map[string]string
	}{
		{"keys starting with '-' are skipped", cir + ":823", map[string]string{"-note": `[1]`}},
		{"imageType has a default, so it is not required", cir + ":803", map[string]string{}},
		{"an integer as a string of digits", cir + ":845", map[string]string{"cores": `"2"`}},
		{"a boolean in a string field is read as its text", cir + ":836", map[string]string{"cloudInit": `false`}},
		{"img with imageLocation", cir + ":915", map[string]string{"imageType": `"img"`, "imageLocation": `"https://example.org/"`}},
		{"HANode false is empty (jq //)", cir + ":924", map[string]string{"HANode": `false`}},
		{"HANode on another node", cir + ":928", map[string]string{"HANode": `"tappaas2"`}},
		{"a port range", mf + ":806", map[string]string{"ports": `[{"port":"8000:8010","protocol":"TCP/UDP"}]`}},
	}
	for _, tc := range cases {
		f := loadFixture(t, vw)
		for k, js := range tc.edits {
			f.Set(s, k, mustNode(t, js))
		}
		if r := f.Validate(Options{Schema: s, Zones: z}); len(r.Findings) != 0 {
			t.Errorf("%s (%s): %v", tc.name, tc.cite, r.Findings)
		}
	}
}
