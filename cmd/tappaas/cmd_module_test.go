package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// runModule runs `tappaas module args…` and returns stdout+stderr and the exit code.
func runModule(t *testing.T, args ...string) (string, int) {
	t.Helper()
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(append([]string{"module"}, args...))
	err := root.Execute()
	code := 0
	if err != nil {
		errb.WriteString("tappaas: " + err.Error() + "\n")
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
	}
	return out.String() + errb.String(), code
}

const upstreamSrc = "../../config/modules/testdata/upstream/src"

func TestModuleListShow(t *testing.T) {
	t.Parallel()
	out, code := runModule(t, "list")
	if code != 0 || !strings.Contains(out, "vaultwarden") || !strings.Contains(out, "610") || !strings.Contains(out, "src/apps/unifi/unifi.json not found") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	out, code = runModule(t, "list", "-o", "json")
	var l struct{ Modules []struct{ Name string } }
	if err := json.Unmarshal([]byte(out), &l); err != nil || code != 0 || len(l.Modules) != 26 {
		t.Fatalf("list json: %d %v %s", code, err, out)
	}
	out, code = runModule(t, "show", "litellm")
	for _, want := range []string{"module JSON  src/apps/litellm/litellm.json (Pattern A)", "310 (201-499", "4 cores, 4096 MB memory, 32G disk",
		"vllm-amd:inference", "models [pinhole TCP 4000]", "validation   valid"} {
		if !strings.Contains(out, want) {
			t.Errorf("show: missing %q in\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("show exit %d", code)
	}
	if out, code = runModule(t, "show", "nope"); code != 1 || !strings.Contains(out, `no module "nope" in the catalog`) {
		t.Fatalf("show unknown: %d %s", code, out)
	}
	if out, code = runModule(t, "show", "--zones", upstreamSrc+"/foundation/firewall/zones.json", "vaultwarden"); code != 0 || !strings.Contains(out, "zone         dmz (10.6.0.0/24, Mandatory,") {
		t.Fatalf("show with zones: %d %s", code, out)
	}
	if out, code = runModule(t, "show", "-o", "json", "vaultwarden"); code != 0 || !strings.Contains(out, `"vmid": 610`) || !strings.Contains(out, `"cluster:ha",`) {
		t.Fatalf("show json: %d %s", code, out)
	}
}
