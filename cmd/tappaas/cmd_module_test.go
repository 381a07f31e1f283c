package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
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

func TestModuleValidate(t *testing.T) {
	t.Parallel()
	zonesFlag := "--zones=" + upstreamSrc + "/foundation/firewall/zones.json"
	good := upstreamSrc + "/apps/vaultwarden/vaultwarden.json"
	out, code := runModule(t, "validate", zonesFlag, good, upstreamSrc+"/apps/coturn/coturn.json", upstreamSrc+"/apps/litellm/services/models/pinhole.json")
	if code != 0 || !strings.Contains(out, "vaultwarden.json: valid module (0 error(s), 0 warning(s))") ||
		!strings.Contains(out, `coturn.json: .config."nextcloud:fileservice".connector: Unknown field: connector`) ||
		!strings.Contains(out, "pinhole.json: valid pinhole") {
		t.Fatalf("valid files: %d\n%s", code, out)
	}

	// A broken copy: wrong type, unknown zone, HANode == node.
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(data), `"vmid": 610,`, `"vmid": "six-ten", "node": "tappaas2", "HANode": "tappaas2",`, 1)
	s = strings.Replace(s, `"zone0": "dmz"`, `"zone0": "nowhere"`, 1)
	bad := filepath.Join(t.TempDir(), "vaultwarden.json")
	if err := os.WriteFile(bad, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = runModule(t, "validate", zonesFlag, good, bad)
	for _, want := range []string{
		bad + ": .vmid: Field vmid: expected integer, got 'six-ten' (fix: write a whole number from 100 to 999999",
		bad + ": .zone0: Field zone0: zone 'nowhere' not found in zones.json (fix: use a zone of",
		bad + ": .HANode: HANode (tappaas2) must be different from node (tappaas2)",
		bad + ": invalid module (3 error(s), 0 warning(s))",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	out, code = runModule(t, "validate", zonesFlag, "-o", "json", bad)
	var r struct {
		OK    bool
		Files []struct {
			File     string
			OK       bool
			Errors   int
			Findings []struct{ File, Path, Severity, Message, Fix, Rule string }
		}
	}
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "}")+1]), &r); err != nil || r.OK || code != 1 ||
		len(r.Files) != 1 || r.Files[0].Errors != 3 || r.Files[0].Findings[0].Rule != "check_json:integer" || r.Files[0].Findings[0].Path != ".vmid" {
		t.Fatalf("json: %d %v\n%s", code, err, out)
	}

	// Not JSON, missing file: refused naming the file.
	notJSON := filepath.Join(t.TempDir(), "x.json")
	os.WriteFile(notJSON, []byte(`[1]`), 0o644)
	if out, code = runModule(t, "validate", notJSON, "/nonexistent/m.json"); code != 1 ||
		!strings.Contains(out, notJSON+": not a module JSON: the top-level value is an array") || !strings.Contains(out, "/nonexistent/m.json") {
		t.Fatalf("unreadable: %d %s", code, out)
	}
	// A module directory: its JSON and the provided services' scripts.
	mdir := filepath.Join(t.TempDir(), "litellm")
	os.MkdirAll(filepath.Join(mdir, "services", "models"), 0o755)
	lj, _ := os.ReadFile(upstreamSrc + "/apps/litellm/litellm.json")
	os.WriteFile(filepath.Join(mdir, "litellm.json"), lj, 0o644)
	for _, f := range []string{"install.sh", "update.sh", "services/models/install-service.sh"} {
		os.WriteFile(filepath.Join(mdir, f), []byte("#!/bin/sh\n"), 0o755)
	}
	if out, code = runModule(t, "validate", zonesFlag, mdir); code != 1 ||
		!strings.Contains(out, "Module provides 'models' but missing update-service.sh in services/models") ||
		!strings.Contains(out, mdir+": invalid module directory (1 error(s), 0 warning(s))") {
		t.Fatalf("module dir: %d %s", code, out)
	}
	// Without a zones file the zone is not checked (as check_json).
	if out, code = runModule(t, "validate", upstreamSrc+"/apps/litellm/litellm.json"); code != 0 || !strings.Contains(out, "zone0/zone1 not checked") {
		t.Fatalf("no zones: %d %s", code, out)
	}
}

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
	for _, sub := range []string{"add", "update", "remove"} {
		if out, code = runModule(t, sub, "vaultwarden", "--yes"); code != 3 || !strings.Contains(out, "tappaas module "+sub+" is not built yet") {
			t.Errorf("%s: %d %s", sub, code, out)
		}
	}
}
