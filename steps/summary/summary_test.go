package summary

import (
	"strings"
	"testing"

	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/firewall"
)

func TestTextNamesWhereSecretsAreNeverTheSecrets(t *testing.T) {
	t.Parallel()
	cfg := config.Defaults()
	cfg.Site.Domain = "example.org"
	rt := steps.NewRuntime("summary.report", nil, nil, nil, nil)
	_ = rt.Secrets.SetSecret(firewall.SecretRootPassword, "TopSecret123456")
	txt := Text(cfg, rt, "/var/lib/tappaas/secrets.json")
	if strings.Contains(txt, "TopSecret123456") {
		t.Fatal("a secret reached the summary")
	}
	for _, w := range []string{"https://10.0.0.10:8006", "https://10.0.0.1", "/var/lib/tappaas/secrets.json", "firewall.root_password", "Next steps"} {
		if !strings.Contains(txt, w) {
			t.Errorf("summary lacks %q", w)
		}
	}
	if a, b := Text(cfg, rt, "/x"), Text(cfg, rt, "/x"); a != b {
		t.Fatal("not deterministic (Check compares it)")
	}
}
