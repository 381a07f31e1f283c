package zones

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func intp(i int) *int { return &i }

func TestValidationRules(t *testing.T) {
	t.Parallel()
	type want struct {
		zone, field, msg string
		warning          bool
	}
	cases := []struct {
		name string
		edit func(f *File)
		want want
	}{
		{"name not camelCase", func(f *File) { rename(f, "srv", "srv-home") }, want{"srv-home", "name", "not camelCase", false}},
		{"name with underscore", func(f *File) { rename(f, "srv", "srv_home") }, want{"srv_home", "name", "not camelCase", false}},
		{"name capital first", func(f *File) { rename(f, "srv", "Srv") }, want{"Srv", "name", "not camelCase", false}},
		{"name keyword", func(f *File) { rename(f, "srv", "internet") }, want{"internet", "name", "keyword", false}},
		{"unknown type", func(f *File) { edit(f, "srv", func(z *Zone) { z.Type = "Server" }) }, want{"srv", "type", `"Server" is not a zone type`, false}},
		{"missing type", func(f *File) { edit(f, "srv", func(z *Zone) { z.Type = "" }) }, want{"srv", "type", "is missing", false}},
		{"type/typeId mismatch", func(f *File) {
			edit(f, "srv", func(z *Zone) { z.TypeID = 3; z.VLANTag = 310 + 1000; z.IP = "10.9.9.0/24" })
		}, want{"srv", "typeId", "expected 2 for type Service", false}},
		{"typeId not a digit", func(f *File) { edit(f, "srv", func(z *Zone) { z.TypeID = 12 }) }, want{"srv", "typeId", "single digit", false}},
		{"subId out of range", func(f *File) { edit(f, "srv", func(z *Zone) { z.SubID = 100 }) }, want{"srv", "subId", "expected 0-99", false}},
		{"vlantag not derived", func(f *File) { edit(f, "srv", func(z *Zone) { z.VLANTag = 211 }) }, want{"srv", "vlantag", "expected typeId×100+subId = 210", false}},
		{"vlantag out of range", func(f *File) { edit(f, "srv", func(z *Zone) { z.VLANTag = 5000 }) }, want{"srv", "vlantag", "0-4094", false}},
		{"vlantag duplicate", func(f *File) {
			n := NewZone("srv2", "Service", 10)
			n.IP = "10.2.11.0/24"
			f.SetZone("", n)
		}, want{"srv2", "vlantag", "already used by zone srv", false}},
		{"two untagged on lan", func(f *File) { edit(f, "iot", func(z *Zone) { z.VLANTag = 0 }) }, want{"iot", "vlantag", "only one untagged zone per bridge", false}},
		{"untagged warns", func(f *File) { edit(f, "iot", func(z *Zone) { z.VLANTag = 0; z.Bridge = "wan" }) }, want{"iot", "vlantag", "is 0 (untagged)", true}},
		{"invalid CIDR", func(f *File) { edit(f, "srv", func(z *Zone) { z.IP = "10.2.10.0/33" }) }, want{"srv", "ip", "not a CIDR", false}},
		{"host bits", func(f *File) { edit(f, "srv", func(z *Zone) { z.IP = "10.2.10.1/24" }) }, want{"srv", "ip", "host bits", false}},
		{"ipv6", func(f *File) { edit(f, "srv", func(z *Zone) { z.IP = "fd00::/64" }) }, want{"srv", "ip", "not IPv4", false}},
		{"overlap", func(f *File) { edit(f, "iot", func(z *Zone) { z.IP = "10.2.0.0/16" }) }, want{"iot", "ip", "overlaps zone srv", false}},
		{"off pattern warns", func(f *File) { edit(f, "iot", func(z *Zone) { z.IP = "10.4.99.0/24" }) }, want{"iot", "ip", "off the usual pattern", true}},
		{"dhcp start >= end", func(f *File) { edit(f, "srv", func(z *Zone) { z.DHCPStart = intp(200); z.DHCPEnd = intp(100) }) }, want{"srv", "DHCP-start", "less than DHCP-end", false}},
		{"dhcp offset range", func(f *File) { edit(f, "srv", func(z *Zone) { z.DHCPEnd = intp(300) }) }, want{"srv", "DHCP-end", "offset 1-254", false}},
		{"dhcp gateway", func(f *File) { edit(f, "srv", func(z *Zone) { z.DHCPStart = intp(1) }) }, want{"srv", "DHCP-start", "gateway", false}},
		{"dhcp outside subnet", func(f *File) { edit(f, "srv", func(z *Zone) { z.IP = "10.2.10.0/25" }) }, want{"srv", "DHCP-end", "outside 10.2.10.0/25", false}},
		{"dhcp default outside", func(f *File) {
			edit(f, "srv", func(z *Zone) { z.IP = "10.2.10.0/26"; z.DHCPStart = nil; z.DHCPEnd = nil })
		}, want{"srv", "DHCP-end", "default 250 lies outside", false}},
		{"access-to unknown", func(f *File) { edit(f, "srv", func(z *Zone) { z.AccessTo = append(z.AccessTo, "nope") }) }, want{"srv", "access-to", `"nope" is not a zone`, false}},
		{"access-to duplicate is an error", func(f *File) { edit(f, "srv", func(z *Zone) { z.AccessTo = append(z.AccessTo, "dmz") }) }, want{"srv", "access-to", "twice", false}},
		{"access-to over 88 zones is an error", func(f *File) {
			for i := range 89 {
				z := NewZone(fmt.Sprintf("x%d", i), "Test", i)
				f.SetZone("", z)
				edit(f, "srv", func(s *Zone) { s.AccessTo = append(s.AccessTo, z.Name) })
			}
		}, want{"srv", "access-to", "at most 88", false}},
		{"access-to all warns", func(f *File) { edit(f, "srv", func(z *Zone) { z.AccessTo = append(z.AccessTo, "all") }) }, want{"srv", "access-to", "allows everything", true}},
		{"access-to inactive warns", func(f *File) { edit(f, "iot", func(z *Zone) { z.State = Inactive }) }, want{"private", "access-to", `"iot" is Inactive`, true}},
		{"isolation invariant", func(f *File) { edit(f, "iot", func(z *Zone) { z.Isolated = true }) }, want{"private", "access-to", "isolation invariant", false}},
		{"pinhole unknown", func(f *File) { edit(f, "srv", func(z *Zone) { z.PinholeAllowedFrom = []string{"ghost"} }) }, want{"srv", "pinhole-allowed-from", `"ghost" is not a zone`, false}},
		{"state typo", func(f *File) { edit(f, "srv", func(z *Zone) { z.State = "active" }) }, want{"srv", "state", "did you mean Active", false}},
		{"state manadatory", func(f *File) { edit(f, "srv", func(z *Zone) { z.State = "Manadatory" }) }, want{"srv", "state", "did you mean Mandatory", false}},
		{"state missing", func(f *File) { edit(f, "srv", func(z *Zone) { z.State = "" }) }, want{"srv", "state", "is missing", false}},
		{"bridge unknown", func(f *File) { edit(f, "srv", func(z *Zone) { z.Bridge = "vmbr0" }) }, want{"srv", "bridge", `"vmbr0" is not a known bridge`, false}},
		{"bridge non-lan warns", func(f *File) { edit(f, "srv", func(z *Zone) { z.Bridge = "opt1" }) }, want{"srv", "bridge", "goes on vtnet1", true}},
		{"duplicate description warns", func(f *File) { edit(f, "srv", func(z *Zone) { z.Description = f.Zone("iot").Description }) }, want{"iot", "description", "same as zone srv", true}},
		{"ssid placeholder warns", func(f *File) { edit(f, "srv", func(z *Zone) { z.SSID = "<X>" }) }, want{"srv", "SSID", "placeholder", true}},
		{"test type warns", func(f *File) {
			n := NewZone("lab", "Test", 10)
			f.SetZone("", n)
		}, want{"lab", "type", "type Test", true}},
		{"overlay not manual warns", func(f *File) {
			n := NewZone("vpn", "Overlay", 0)
			n.VLANTag, n.IP, n.Bridge = 0, "100.64.0.0/10", "wan"
			f.SetZone("", n)
		}, want{"vpn", "state", "Overlay zone", true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := Default()
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(f)
			r := f.Validate()
			list := r.Errors
			if tc.want.warning {
				list = r.Warnings
			}
			for _, is := range list {
				if is.Zone == tc.want.zone && is.Field == tc.want.field && strings.Contains(is.Message, tc.want.msg) {
					if !tc.want.warning {
						// every error must also name the zone and field in its text
						if s := is.String(); !strings.Contains(s, "zone "+tc.want.zone) || !strings.Contains(s, "field "+tc.want.field) {
							t.Fatalf("issue text %q does not name zone/field", s)
						}
					}
					return
				}
			}
			t.Fatalf("no %v for %s.%s containing %q; errors=%v warnings=%v", map[bool]string{true: "warning", false: "error"}[tc.want.warning], tc.want.zone, tc.want.field, tc.want.msg, r.Errors, r.Warnings)
		})
	}
}

func TestWrongFieldTypesAreValidationErrors(t *testing.T) {
	t.Parallel()
	in := `{"a": {"type": 3, "state": "Active", "typeId": "x", "subId": [], "vlantag": "210", "ip": "10.2.10.0/24", "bridge": "lan", "access-to": "internet", "DHCP-start": true}}`
	f, err := Parse([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Validate()
	fields := map[string]bool{}
	for _, is := range r.Errors {
		if is.Zone != "a" || is.Message == "" {
			t.Fatalf("bad issue %+v", is)
		}
		fields[is.Field] = true
	}
	for _, want := range []string{"type", "typeId", "subId", "access-to", "DHCP-start"} {
		if !fields[want] {
			t.Errorf("no error for field %s: %v", want, r.Errors)
		}
	}
	// The string vlantag decodes (with a warning), and bad fields are written back unchanged.
	if f.Zone("a").VLANTag != 210 {
		t.Fatal("string vlantag not accepted")
	}
	out := string(f.Bytes())
	if !strings.Contains(out, `"typeId": "x"`) || !strings.Contains(out, `"access-to": "internet"`) || !strings.Contains(out, `"vlantag": "210"`) {
		t.Fatalf("bad fields not preserved:\n%s", out)
	}
	var re *ReportError
	if !errors.As(r.Err(), &re) || len(re.Issues) != len(r.Errors) {
		t.Fatal("Err() does not carry the issues")
	}
}

func TestCheckReportsOnlyTheEditedZone(t *testing.T) {
	t.Parallel()
	f, _ := Default()
	n := NewZone("guest", "Guest", 10)
	n.IP = "10.3.10.0/24" // overlaps private
	r := f.Check("", n)
	if len(r.Errors) != 1 || r.Errors[0].Field != FieldIP || !strings.Contains(r.Errors[0].Message, "overlaps zone private") {
		t.Fatalf("Check = %+v", r)
	}
	n.IP = "10.5.10.0/24"
	if r := f.Check("", n); !r.OK() {
		t.Fatalf("fixed zone still invalid: %v", r.Err())
	}
	if f.Zone("guest") != nil {
		t.Fatal("Check modified the file")
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/upstream-zones.json", "../../zones.json"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(fixtureDir, "*.json"))
	more, _ := filepath.Glob(filepath.Join(fixtureDir, "modules", "*.json"))
	for _, p := range append(matches, more...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"a":{"typeId":"99999999999999999999","ip":"10.0.0.0/0","DHCP-start":-5,"access-to":["a","all"]}}`))
	f.Add([]byte(`{"_x":[],"b":{"vlantag":-1,"ip":"1.2.3.4/32"}}`))
	f.Add([]byte("{\n \"srv\": {\"acess-to\": [\"internet\"], \"vlanTag\": 210, \"\u00e9\": 1}\n}"))
	f.Add([]byte("{\n  \"a\": {\"ip\": \"10.0.0.0/24\",,}\n}"))
	f.Add([]byte(`{"a":{},"a":{}}`))
	f.Add([]byte(`{"srv":{"type":"Service","state":"Active","typeId":"2","subId":"10","vlantag":210,"ip":"10.2.10.0/24","bridge":"lan","description":"a\nb","access-to":["srv","srv","internet"]}}`))
	syntaxPos := regexp.MustCompile(`invalid JSON: line [1-9][0-9]*, column [1-9][0-9]*: `)
	f.Fuzz(func(t *testing.T, data []byte) {
		zf, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrSyntax) || err.Error() == "" {
				t.Fatalf("unexplained rejection: %v", err)
			}
			if strings.Contains(err.Error(), "invalid JSON") && !syntaxPos.MatchString(err.Error()) {
				t.Fatalf("syntax error without line and column: %v", err)
			}
			return
		}
		r := zf.Validate()
		for _, is := range append(r.Errors, r.Warnings...) {
			if is.Message == "" {
				t.Fatalf("issue without message: %+v", is)
			}
			if strings.HasPrefix(is.Message, "is not a zones.json key") && (!strings.Contains(is.Message, "(at .") && !strings.Contains(is.Message, "(at [")) {
				t.Fatalf("unknown key without its path: %+v", is)
			}
		}
		if r.OK() {
			// What validates is what the firewall accepts: descriptions fit.
			for _, z := range zf.Zones {
				if len(z.Description) > MaxDescriptionLen || strings.ContainsAny(z.Description, "\n\r\x00\v\f") {
					t.Fatalf("zone %s: description the firewall refuses passed validation", z.Name)
				}
			}
		}
		out := zf.Bytes()
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("own output does not parse: %v\n%s", err, out)
		}
		if string(again.Bytes()) != string(out) {
			t.Fatal("write is not stable")
		}
		ch := Plan(zf, Current{})
		_ = ch.Text()
		_ = ch.Guard(nil)
	})
}

func edit(f *File, name string, fn func(z *Zone)) {
	z := f.Zone(name).Clone()
	fn(z)
	f.SetZone(name, z)
}

func rename(f *File, old, name string) {
	z := f.Zone(old).Clone()
	z.Name = name
	f.SetZone(old, z)
}

func TestUpstreamIsolationInvariant(t *testing.T) {
	t.Parallel()
	f := mustParse(t, fixture(t, "upstream-zones.json"))
	// The review note of upstream's _README: iotUntrust added to home's access-to.
	edit(f, "home", func(z *Zone) { z.AccessTo = append(z.AccessTo, "iotUntrust") })
	r := f.Validate()
	if len(r.Errors) != 1 || r.Errors[0].Zone != "home" || r.Errors[0].Field != FieldAccessTo || !strings.Contains(r.Errors[0].Message, "isolation invariant") {
		t.Fatalf("errors = %v", r.Errors)
	}
	// mgmt is the exception (it already lists both isolated zones).
	if !slices.Contains(f.Zone("mgmt").AccessTo, "iotCams") {
		t.Fatal("fixture changed")
	}
}
