package platform

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/config"
)

func TestEncodeSSHKeys(t *testing.T) {
	t.Parallel()
	in := "ssh-ed25519 AAAA+b/c= a@b\nssh-rsa X y\n"
	enc := EncodeSSHKeys(in)
	for _, c := range enc {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '%' || c == '-' || c == '_' || c == '.') {
			t.Fatalf("unsafe %q in %s", c, enc)
		}
	}
	if dec, err := url.PathUnescape(enc); err != nil || dec != in {
		t.Fatalf("round trip: %q %v", dec, err)
	}
}

func TestRenderConfiguration(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.Site.Domain, cfg.Site.AdminEmail = "example.org", "admin@example.org"
	b, err := RenderConfiguration(cfg, []ConfigNode{{Hostname: "tappaas1", IP: "10.0.0.10"}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	tp := m["tappaas"].(map[string]any)
	if tp["domain"] != "example.org" || tp["email"] != "admin@example.org" || tp["nodeCount"].(float64) != 1 {
		t.Fatalf("tappaas: %v", tp)
	}
	repo := tp["repositories"].([]any)[0].(map[string]any)
	if repo["url"] != "github.com/TAPPaaS/TAPPaaS" || repo["branch"] != "main" {
		t.Fatalf("repo: %v", repo)
	}
	b2, _ := RenderConfiguration(cfg, []ConfigNode{{Hostname: "tappaas1", IP: "10.0.0.10"}})
	if string(b) != string(b2) {
		t.Fatal("not deterministic (Check compares it)")
	}
}

// upstreamRewritten is configuration.json as create-configuration.sh
// --update leaves it after the install: its own comments, the operator's
// schedule and reboot policy, a dns-hostname, a second repository and a
// second node (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/scripts/create-configuration.sh:381-510).
const upstreamRewritten = `{
  "-comment1": "TAPPaaS Configuration - Generated 2026-12-07 02:00:01",
  "-comment2": "Edit this file at /home/tappaas/config/configuration.json",
  "tappaas": {
    "version": "v1.1",
    "domain": "example.org",
    "email": "admin@example.org",
    "nodeCount": 2,
    "variants": {"": {"domain": "example.org", "tlsCertRefid": "", "dnsMode": "wildcard", "description": "Default (no variant)"}},
    "repositories": [
      {"name": "TAPPaaS", "url": "github.com/TAPPaaS/TAPPaaS", "branch": "main", "path": "/home/tappaas/TAPPaaS"},
      {"name": "mine", "url": "github.com/me/mods", "branch": "main", "path": "/home/tappaas/mine"}
    ],
    "updateSchedule": ["daily", null, 4],
    "automaticReboot": false
  },
  "tappaas-nodes": [
    {"hostname": "tappaas1", "dns-hostname": "pve1.example.org", "ip": "10.0.0.10"},
    {"hostname": "tappaas2", "ip": "10.0.0.11"}
  ]
}
`

// After upstream's nightly rewrite the install finds nothing to change
// (it compared bytes and would have overwritten the operator's settings);
// a changed answer updates only the fields the install decides.
func TestConfigurationLivesWithUpstreamRewrite(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.Site.Domain, cfg.Site.AdminEmail = "example.org", "admin@example.org"
	nodes := []ConfigNode{{Hostname: "tappaas1", IP: "10.0.0.10"}}
	if d := ConfigurationDrift([]byte(upstreamRewritten), cfg, nodes); len(d) != 0 {
		t.Fatalf("drift after upstream's rewrite: %v", d)
	}
	cfg.Site.AdminEmail = "ops@example.org"
	if d := ConfigurationDrift([]byte(upstreamRewritten), cfg, nodes); len(d) != 1 || d[0] != "tappaas.email" {
		t.Fatalf("drift: %v", d)
	}
	fresh, err := RenderConfiguration(cfg, nodes)
	if err != nil {
		t.Fatal(err)
	}
	b, err := MergeConfiguration([]byte(upstreamRewritten), true, fresh, "v9")
	if err != nil {
		t.Fatal(err)
	}
	if d := ConfigurationDrift(b, cfg, nodes); len(d) != 0 {
		t.Fatalf("drift after the merge: %v\n%s", d, b)
	}
	var m struct {
		Comment string `json:"-comment1"`
		T       struct {
			Version  string
			Email    string
			Nodes    int          `json:"nodeCount"`
			Schedule []any        `json:"updateSchedule"`
			Reboot   *bool        `json:"automaticReboot"`
			Repos    []ConfigRepo `json:"repositories"`
		} `json:"tappaas"`
		Nodes []map[string]string `json:"tappaas-nodes"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.T.Email != "ops@example.org" || m.T.Version != "v1.1" || m.T.Nodes != 2 || m.T.Reboot == nil || *m.T.Reboot ||
		len(m.T.Repos) != 2 || len(m.Nodes) != 2 || m.Nodes[0]["dns-hostname"] != "pve1.example.org" || !strings.HasPrefix(m.Comment, "TAPPaaS Configuration - Generated") {
		t.Fatalf("the merge lost the operator's settings:\n%s", b)
	}
	if s, _ := json.Marshal(m.T.Schedule); string(s) != `["daily",null,4]` {
		t.Fatalf("schedule %s", s)
	}
	// No file yet: the rendered one, with the checkout's version.
	b, err = MergeConfiguration(nil, false, fresh, "v1.1")
	if err != nil || !strings.Contains(string(b), `"version": "v1.1"`) {
		t.Fatalf("fresh: %v\n%s", err, b)
	}
}
