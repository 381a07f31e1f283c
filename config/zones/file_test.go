package zones

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/config/jsonnode"
)

// fixtureDir is upstream's data in the shared folder that sits beside the
// repository (../shared from the module root), or $TAPPAAS_SHARED_DIR.
var fixtureDir = func() string {
	if d := os.Getenv("TAPPAAS_SHARED_DIR"); d != "" {
		return filepath.Join(d, "fixtures", "upstream")
	}
	return filepath.Join("..", "..", "..", "shared", "fixtures", "upstream")
}()

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t testing.TB, data []byte) *File {
	t.Helper()
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestUpstreamRoundTripIsByteIdentical(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"upstream-zones.json"} {
		data := fixture(t, name)
		f := mustParse(t, data)
		if got := f.Bytes(); !bytes.Equal(got, data) {
			t.Fatalf("%s: round trip differs:\n%s", name, firstDiff(got, data))
		}
		// write → read → write is stable too
		if got := mustParse(t, f.Bytes()).Bytes(); !bytes.Equal(got, data) {
			t.Fatalf("%s: second round trip differs", name)
		}
	}
}

func TestDefaultRoundTripAndValid(t *testing.T) {
	t.Parallel()
	f, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Names(), []string{"mgmt", "srv", "private", "iot", "dmz"}) {
		t.Fatalf("default zones = %v", f.Names())
	}
	r := f.Validate()
	if !r.OK() {
		t.Fatalf("default zones invalid: %v", r.Err())
	}
	// The one intended quirk: dmz keeps upstream's 10.6.0.0/24.
	if len(r.Warnings) != 1 || r.Warnings[0].Zone != "dmz" || r.Warnings[0].Field != FieldIP {
		t.Fatalf("default warnings = %v", r.Warnings)
	}
	if iso := f.IsolatedZones(); len(iso) != 0 {
		t.Fatalf("default isolated zones = %v, want none", iso)
	}
	root, _ := os.ReadFile("../../zones.json")
	if !bytes.Equal(f.Bytes(), root) {
		t.Fatal("default zones do not round-trip byte for byte")
	}
}

func TestFixturesLoad(t *testing.T) {
	t.Parallel()
	var files []string
	filepath.WalkDir(fixtureDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			files = append(files, p)
		}
		return nil
	})
	if len(files) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatalf("no fixtures under %s: CI must have ../shared beside the repository", fixtureDir)
		}
		t.Skip("fixture directory not present")
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(data)
		if filepath.Base(p) == "zones.json" {
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if len(f.Zones) != 21 {
				t.Fatalf("%s: %d zones, want 21", p, len(f.Zones))
			}
			continue
		}
		// Other upstream files are not zone sets: they must parse as JSON
		// objects and, if taken as zones, fail or validate without panics.
		if n, perr := jsonnode.Parse(data); perr != nil || n.Kind != jsonnode.Object {
			t.Fatalf("%s: not a JSON object: %v", p, perr)
		}
		if err == nil {
			_ = f.Validate()
		} else if !errors.Is(err, ErrSyntax) {
			t.Fatalf("%s: error %v does not wrap ErrSyntax", p, err)
		}
	}
}

func TestUpstreamValidatesWithQuirksAsWarnings(t *testing.T) {
	t.Parallel()
	f := mustParse(t, fixture(t, "upstream-zones.json"))
	r := f.Validate()
	if !r.OK() {
		t.Fatalf("upstream zones have errors: %v", r.Err())
	}
	var got []string
	for _, w := range r.Warnings {
		got = append(got, w.Zone+"."+w.Field)
	}
	want := []string{
		"home.SSID", "work.SSID", "iotLocal.SSID", "iotCloud.SSID", "iotUntrust.SSID", "guest.SSID",
		"dmz.ip", "test.type", "test.ip", "testAllowA.type", "testAllowA.ip", "testAllowB.type", "testAllowB.ip",
		"testPinhole.type", "testPinhole.ip",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("warnings:\n got %v\nwant %v", got, want)
	}
	if iso := f.IsolatedZones(); !slices.Equal(iso, []string{"iotCams", "iotUntrust"}) {
		t.Fatalf("isolated = %v", iso)
	}
	z := f.Zone("srvHome")
	if z.TypeID != 2 || z.SubID != 10 || z.VLANTag != 210 || z.State != Active || !z.HasAccess("iotCloud") {
		t.Fatalf("srvHome decoded wrong: %+v", z)
	}
}

func TestEditKeepsLayoutAndTypes(t *testing.T) {
	t.Parallel()
	data := fixture(t, "upstream-zones.json")
	f := mustParse(t, data)
	z := f.Zone("home").Clone()
	z.AccessTo = slices.DeleteFunc(z.AccessTo, func(s string) bool { return s == "srvHome" })
	s, e := 60, 200
	z.DHCPStart, z.DHCPEnd = &s, &e
	f.SetZone("home", z)
	out := string(f.Bytes())
	g := mustParse(t, []byte(out))
	h := g.Zone("home")
	if h.HasAccess("srvHome") || *h.DHCPStart != 60 || *h.DHCPEnd != 200 {
		t.Fatalf("edit lost: %+v", h)
	}
	// typeId stays a string, DHCP offsets land before _comment.
	if !strings.Contains(out, `"typeId": "3",`) {
		t.Fatal("typeId no longer a string")
	}
	i1 := strings.Index(out, `"DHCP-end": 200`)
	i2 := strings.Index(out[i1:], `"_comment"`)
	if i1 < 0 || i2 < 0 || strings.Index(out[i1:], `"description"`) < i2 {
		t.Fatal("DHCP offsets not placed before _comment/description")
	}
	// Only the home block changed: everything before it is identical.
	pre := strings.Index(string(data), `  "home": {`)
	if out[:pre] != string(data[:pre]) {
		t.Fatal("bytes before the edited zone changed")
	}
	// _README kept.
	if _, ok := g.doc.Get("_README"); !ok {
		t.Fatal("_README lost")
	}
}

func TestNumericTypeIDStaysNumeric(t *testing.T) {
	t.Parallel()
	in := "{\n    \"a\": {\n        \"type\": \"Service\",\n        \"typeId\": 2,\n        \"subId\": 10,\n        \"vlantag\": 210,\n        \"x-custom\": {\"k\": [1, 2.50]},\n        \"ip\": \"10.2.10.0/24\"\n    }\n}"
	f := mustParse(t, []byte(in))
	z := f.Zone("a")
	if z.TypeID != 2 || z.SubID != 10 {
		t.Fatalf("%+v", z)
	}
	out := string(f.Bytes())
	for _, want := range []string{`"typeId": 2,`, `"subId": 10,`, `2.50`, "\n        \"x-custom\""} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.HasSuffix(out, "\n") {
		t.Fatal("added a trailing newline the input did not have")
	}
}

func TestAddRenameDeleteZone(t *testing.T) {
	t.Parallel()
	f, _ := Default()
	n := NewZone("guest", "Guest", 10)
	n.State = Active
	n.AccessTo = []string{"internet"}
	f.SetZone("", n)
	ren := f.Zone("iot").Clone()
	ren.Name = "things"
	f.SetZone("iot", ren)
	f.DeleteZone("private")
	g := mustParse(t, f.Bytes())
	if !slices.Equal(g.Names(), []string{"mgmt", "srv", "things", "dmz", "guest"}) {
		t.Fatalf("names = %v", g.Names())
	}
	if gz := g.Zone("guest"); gz.VLANTag != 510 || gz.IP != "10.5.10.0/24" || !gz.typeIDString {
		t.Fatalf("new zone = %+v", gz)
	}
	if g.Zone("things").Comment == "" {
		t.Fatal("rename lost _comment")
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{``, "invalid JSON"},
		{`[1,2]`, "top-level JSON value is an array"},
		{`{"a": 1}`, `zone "a" is a number`},
		{`{"a": {}} {}`, "after the top-level value"},
		{`{"a": {}, "a": {}}`, "duplicate key"},
		{strings.Repeat("[", 100) + strings.Repeat("]", 100), "nesting"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%.20q) = %v, want ErrSyntax containing %q", tc.in, err, tc.want)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "zones.json")
	f, _ := Default()
	if err := f.WriteFileAtomic(p); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, f.Bytes()) {
		t.Fatal("written file differs")
	}
	bad := f.Clone()
	z := bad.Zone("srv").Clone()
	z.IP = "10.3.10.0/24" // overlaps private
	bad.SetZone("srv", z)
	if err := bad.WriteFileAtomic(p); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Fatalf("invalid file written: %v", err)
	}
	again, _ := os.ReadFile(p)
	if !bytes.Equal(again, got) {
		t.Fatal("refused write still changed the file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp files left: %v", entries)
	}
}

func firstDiff(a, b []byte) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			lo := max(0, i-60)
			return "got:  " + string(a[lo:min(len(a), i+60)]) + "\nwant: " + string(b[lo:min(len(b), i+60)])
		}
	}
	return "lengths differ"
}
