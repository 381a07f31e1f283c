package modules

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/config/jsonnode"
)

func TestParseRefusesNonModules(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `[]`, `"x"`, `{"a":1,"a":2}`, `{"a":`} {
		if _, err := Parse("m.json", []byte(in)); !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "m.json") {
			t.Errorf("Parse(%q) = %v, want ErrSyntax naming the file", in, err)
		}
	}
}

// Flat is normalize_module_config (common-install-routines.sh:597-603): a
// Pattern-A file reads like its flat equivalent, with each field's path as
// written.
func TestFlatPatternA(t *testing.T) {
	t.Parallel()
	f := loadFixture(t, "src/apps/litellm/litellm.json")
	if !f.PatternA() {
		t.Fatal("litellm is Pattern A")
	}
	m := f.Module()
	if m.Name != "litellm" || m.VMName != "litellm" || m.VMID != 310 || m.Zone0 != "srvWork" || m.Cores != 4 || m.Memory != 4096 || m.ProxyPort != 4000 || m.Image != "8080" {
		t.Errorf("Module() = %+v", m)
	}
	if m.Guest() != "vm" || !m.Has(Dependency{"firewall", "proxy"}) || !slices.Equal(m.Provides, []string{"models"}) {
		t.Errorf("dependencies: %v provides %v", m.DependsOn, m.Provides)
	}
	if _, p, ok := f.Get("memory"); !ok || p.String() != `.config."cluster:vm".memory` {
		t.Errorf("memory path = %v", p)
	}
	for _, mem := range f.Flat() {
		if mem.Key == ConfigKey {
			t.Error("Flat keeps config")
		}
	}
	flat := loadFixture(t, "src/foundation/firewall/test-fixtures/test-fw-a.json")
	if flat.PatternA() {
		t.Error("test-fw-a is flat")
	}
	if _, p, _ := flat.Get("memory"); p.String() != ".memory" {
		t.Errorf("flat memory path = %v", p)
	}
	// memory as a number (nextcloud) and as a string (litellm) read alike.
	if m := loadFixture(t, "src/apps/nextcloud/nextcloud.json").Module(); m.Memory != 8192 {
		t.Errorf("nextcloud memory = %d", m.Memory)
	}
}

func TestFlatDeepMergesLikeJQ(t *testing.T) {
	t.Parallel()
	f, err := Parse("x.json", []byte(`{"identity":{"a":1,"b":{"c":1}},"dependsOn":["identity:identity"],"config":{"identity:identity":{"identity":{"b":{"d":2}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	v, p, _ := f.Get("identity")
	if got := v.Text(); got != `{"a": 1,"b": {"c": 1,"d": 2}}` || p.String() != `.config."identity:identity".identity` {
		t.Errorf("merged = %s at %s", got, p)
	}
}

// Set edits a field where it lives; a new one lands in fieldOrder position;
// the rest of the file is untouched.
func TestSet(t *testing.T) {
	t.Parallel()
	s, _, _ := fixtures(t)
	f := loadFixture(t, "src/apps/vaultwarden/vaultwarden.json")
	orig := f.Bytes()
	f.Set(s, "cores", jsonnode.NewInt(2))
	f.Set(s, "node", jsonnode.NewString("tappaas2"))
	out := f.Bytes()
	want := strings.Replace(string(orig), `"cores": 1,`, `"cores": 2,`, 1)
	want = strings.Replace(want, "  \"vmtag\": \"TAPPaaS,App\",\n", "  \"vmtag\": \"TAPPaaS,App\",\n  \"node\": \"tappaas2\",\n", 1)
	if string(out) != want {
		t.Errorf("after Set:\n%s\nwant:\n%s", out, want)
	}
	g, err := Parse(f.Path, out)
	if err != nil {
		t.Fatal(err)
	}
	if m := g.Module(); m.Cores != 2 || m.Node != "tappaas2" {
		t.Errorf("re-read %+v", m)
	}
}

func TestEffectiveName(t *testing.T) {
	t.Parallel()
	if EffectiveName("openwebui", "") != "openwebui" || EffectiveName("openwebui", "staging") != "openwebui-staging" {
		t.Error("EffectiveName")
	}
}

func TestPinholes(t *testing.T) {
	t.Parallel()
	s, _, _ := fixtures(t)
	for _, p := range []string{
		"src/apps/litellm/services/models/pinhole.json",
		"src/apps/deconz/services/bridge/pinhole.json",
		"src/apps/deconz/services/zigbee/pinhole.json",
		"src/apps/vllm-amd/services/inference/pinhole.json",
		"src/foundation/firewall/test-fixtures/test-fw-c/services/web/pinhole.json",
		"src/foundation/firewall/test-fixtures/test-var-prov/services/svc/pinhole.json",
	} {
		data, err := os.ReadFile(filepath.Join(upstreamDir, p))
		if err != nil {
			t.Fatal(err)
		}
		ph, r, err := ParsePinhole(s, p, data)
		if err != nil || len(r.Findings) > 0 || len(ph.Ports) == 0 {
			t.Errorf("%s: %v %v %+v", p, err, r.Findings, ph)
		}
	}
	ph, _, _ := ParsePinhole(s, "m.json", []byte(`{"ports":[{"port":4000,"description":"API"}]}`))
	if ph.Ports[0] != (PinholePort{Port: "4000", Protocol: "TCP", Description: "API"}) {
		t.Errorf("default protocol: %+v", ph.Ports[0])
	}
	for in, rule := range map[string]string{
		`{}`:                                  "tappaas:required",
		`{"ports":{"port":1}}`:                "tappaas:type",
		`{"ports":[{"protocol":"TCP"}]}`:      "tappaas:required",
		`{"ports":[{"port":0}]}`:              "tappaas:minimum",
		`{"ports":[{"port":"1:99999"}]}`:      "tappaas:port",
		`{"ports":[{"port":1,"protocol":7}]}`: "tappaas:values",
	} {
		_, r, err := ParsePinhole(s, "pinhole.json", []byte(in))
		if err != nil || r.OK() || r.Errors()[0].Rule != rule {
			t.Errorf("%s: %v %v, want %s", in, err, r.Findings, rule)
		}
	}
	if _, _, err := ParsePinhole(s, "pinhole.json", []byte(`[]`)); !errors.Is(err, ErrSyntax) {
		t.Errorf("array pinhole: %v", err)
	}
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(upstreamDir, "src/module-catalog.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCatalog("src/module-catalog.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Entries) != 26 || len(c.Conventions.Ranges) != 7 || c.Conventions.AllocationRule == "" {
		t.Fatalf("%d entries, %d ranges", len(c.Entries), len(c.Conventions.Ranges))
	}
	if e, ok := c.Entry("litellm"); !ok || e.VMID != 310 || e.Stack != "ai" || e.List != ListApplication {
		t.Errorf("litellm = %+v", e)
	}
	if e, _ := c.Entry("backup"); e.VMID != 0 {
		t.Errorf("backup vmid = %d, want 0 (no VM)", e.VMID)
	}
	if r, ok := c.Range(610); !ok || r.Low != 600 || r.High != 799 {
		t.Errorf("Range(610) = %+v", r)
	}
	// Upstream's catalog does not meet its own schema and names files it
	// does not ship; each is a warning naming the entry.
	r := c.Validate(os.DirFS(upstreamDir))
	if !r.OK() {
		t.Errorf("catalog errors: %v", r.Errors())
	}
	want := []string{
		`.applicationModules[6].moduleJson`, // unifi: src/apps/unifi/unifi.json is not shipped
		`.applicationModules[7].stack`,      // nextcloud: "collaboration" is not in the enum
		`.applicationModules[8].stack`,      // coturn
		`.applicationModules[9].stack`,      // nextcloud-hpb
		`.applicationModules[10].stack`,     // euro-office
	}
	var got []string
	for _, f := range r.Warnings() {
		got = append(got, f.Path)
		if f.File != c.Path || f.Fix == "" {
			t.Errorf("warning without file or fix: %+v", f)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("catalog warnings at %q, want %q", got, want)
	}
	// additionalProperties: false and required, as warnings.
	c2, err := ParseCatalog("c.json", []byte(`{"foundationModules":[{"moduleName":"a","vmid":110,"moduleJson":"a.json","stack":"foundation","category":"x","status":"stable","color":"red"}],"applicationModules":[{"moduleName":"b","vmid":610}]}`))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range c2.Validate(nil).Warnings() {
		paths = append(paths, f.Path)
	}
	if want := []string{".foundationModules[0].color", ".applicationModules[0].moduleJson", ".applicationModules[0].stack",
		".applicationModules[0].category", ".applicationModules[0].status"}; !slices.Equal(paths, want) {
		t.Errorf("warnings at %q, want %q", paths, want)
	}
	for in, frag := range map[string]string{
		`[]`:                       "expected an object",
		`{"foundationModules":[]}`: "applicationModules is missing",
		`{"foundationModules":[],"applicationModules":{}}`:                                         "expected an array",
		`{"foundationModules":[{"vmid":1}],"applicationModules":[]}`:                               "no moduleName",
		`{"foundationModules":[{"moduleName":"a","vmid":"1"}],"applicationModules":[]}`:            "expected an integer or null",
		`{"vmidConventions":{"ranges":{"1-x":""}},"foundationModules":[],"applicationModules":[]}`: "not a range",
	} {
		if _, err := ParseCatalog("c.json", []byte(in)); !errors.Is(err, ErrCatalog) || !strings.Contains(err.Error(), frag) {
			t.Errorf("%s: %v, want %q", in, err, frag)
		}
	}
}
