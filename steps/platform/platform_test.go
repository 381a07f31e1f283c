package platform

import (
	"encoding/json"
	"net/url"
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
