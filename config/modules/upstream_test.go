package modules

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tappaas/tappaas/config/zones"
)

// upstreamDir holds unmodified copies of TAPPaaS@f54e4fc files (see its README).
const upstreamDir = "testdata/upstream"

var (
	fixturesOnce sync.Once
	fixSchema    *Schema
	fixZones     *zones.File
	fixModules   []string // module JSON paths relative to upstreamDir
	fixErr       error
)

// isModuleJSON is the selection check_json.sh makes: every JSON that is not
// a schema, zones.json, a pinhole.json, an LXC meta file or the catalog.
func isModuleJSON(p string) bool {
	b := path.Base(p)
	return strings.HasSuffix(b, ".json") && !strings.HasSuffix(b, "fields.json") && b != "zones.json" &&
		b != "pinhole.json" && !strings.HasSuffix(b, ".meta.json") && b != "module-catalog.json"
}

func fixtures(t testing.TB) (*Schema, *zones.File, []string) {
	t.Helper()
	fixturesOnce.Do(func() {
		data, err := os.ReadFile(filepath.Join(upstreamDir, "src/foundation/module-fields.json"))
		if err != nil {
			fixErr = err
			return
		}
		if fixSchema, fixErr = ParseSchema(data); fixErr != nil {
			return
		}
		if fixZones, fixErr = zones.LoadFile(filepath.Join(upstreamDir, "src/foundation/firewall/zones.json")); fixErr != nil {
			return
		}
		fixErr = fs.WalkDir(os.DirFS(upstreamDir), "src", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && isModuleJSON(p) {
				fixModules = append(fixModules, p)
			}
			return err
		})
		slices.Sort(fixModules)
	})
	if fixErr != nil {
		t.Fatal(fixErr)
	}
	return fixSchema, fixZones, fixModules
}

func loadFixture(t testing.TB, p string) *File {
	t.Helper()
	f, err := LoadFS(os.DirFS(upstreamDir), p)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Every JSON upstream ships round-trips byte for byte, and every module JSON
// in jq's layout re-renders identically through the node model too.
func TestUpstreamRoundTrip(t *testing.T) {
	t.Parallel()
	_, _, mods := fixtures(t)
	if len(mods) < 40 {
		t.Fatalf("only %d upstream module JSONs found", len(mods))
	}
	// Hand-formatted, not in jq's layout: trailing blanks after a value
	// (test-img) or objects written on one line.
	notJQ := []string{
		"src/apps/deconz/deconz.json",
		"src/foundation/firewall/test-fixtures/test-var-prov/test-var-prov.json",
		"src/foundation/identity/test-fixtures/test-idfa/test-idfa.json",
		"src/foundation/identity/test-fixtures/test-idoidc/test-idoidc.json",
		"src/test/test-img.json",
	}
	for _, p := range mods {
		data, err := os.ReadFile(filepath.Join(upstreamDir, p))
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(p, data)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if !bytes.Equal(f.Bytes(), data) {
			t.Errorf("%s: unchanged file does not round-trip", p)
		}
		f.edited = true // force the node-model writer
		if got := bytes.Equal(f.Bytes(), data); got == slices.Contains(notJQ, p) {
			t.Errorf("%s: re-rendered identical = %v, want %v", p, got, !got)
		}
	}
}

type goldenVerdict struct {
	ok       bool
	findings []string // "[Error] msg" / "[Warning] msg" lines, colours stripped
}

// readGolden parses check_json.golden, the output of upstream's own
// check_json (produced by testdata/upstream/check_json.sh).
func readGolden(t *testing.T) map[string]goldenVerdict {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(upstreamDir, "check_json.golden"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]goldenVerdict{}
	var cur string
	var v goldenVerdict
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "== "):
			cur, v = strings.TrimPrefix(line, "== "), goldenVerdict{}
		case line == "rc=0" || line == "rc=1":
			v.ok = line == "rc=0"
			out[cur] = v
		case strings.HasPrefix(line, "[Error]   ") && !strings.Contains(line, "Allowed values:"):
			v.findings = append(v.findings, "[Error] "+strings.TrimSpace(strings.TrimPrefix(line, "[Error]")))
		case strings.HasPrefix(line, "[Warning]   "):
			v.findings = append(v.findings, "[Warning] "+strings.TrimSpace(strings.TrimPrefix(line, "[Warning]")))
		}
	}
	return out
}

// Every upstream module JSON gets the verdict upstream's check_json gives,
// with the same errors and warnings, and no finding of tappaas' own checks.
func TestUpstreamCheckJSONVerdict(t *testing.T) {
	t.Parallel()
	s, z, mods := fixtures(t)
	golden := readGolden(t)
	if len(golden) != len(mods) {
		t.Fatalf("golden has %d files, testdata %d: regenerate with check_json.sh", len(golden), len(mods))
	}
	for _, p := range mods {
		want, ok := golden[p]
		if !ok {
			t.Fatalf("%s: not in check_json.golden", p)
		}
		r := loadFixture(t, p).Validate(Options{Schema: s, Zones: z})
		var got []string
		for _, f := range r.Findings {
			if !f.Upstream() {
				t.Errorf("%s: tappaas finding on an upstream module: %s", p, f)
				continue
			}
			sev := "[Error] "
			if f.Severity == SevWarning {
				sev = "[Warning] "
			}
			got = append(got, sev+f.Message)
		}
		slices.Sort(got)
		slices.Sort(want.findings)
		if r.OK() != want.ok || !slices.Equal(got, want.findings) {
			t.Errorf("%s: ok=%v %q, upstream check_json: ok=%v %q", p, r.OK(), got, want.ok, want.findings)
		}
	}
}
