package zones

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// Unknown keys are errors naming the key, its JSON path and the known key
// it looks like; the misspelt field's absence is not reported on top.
func TestUnknownKeysAreErrorsWithTheClosestKnownKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ key, want string }{
		{"acess-to", `is not a zones.json key (at .srv["acess-to"]); did you mean "access-to"?`},
		{"vlanTag", `is not a zones.json key (at .srv.vlanTag); did you mean "vlantag"?`},
		{"DHCP_start", `is not a zones.json key (at .srv.DHCP_start); did you mean "DHCP-start"?`},
		{"colour", `is not a zones.json key (at .srv.colour); expected one of type, state,`},
	} {
		t.Run(tc.key, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile("../../zones.json")
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]map[string]any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatal(err)
			}
			// Rename a present field (or add a foreign one) in zone srv.
			if near := closestField(tc.key); near != "" {
				if v, ok := doc["srv"][near]; ok {
					doc["srv"][tc.key] = v
					delete(doc["srv"], near)
				} else {
					doc["srv"][tc.key] = 1
				}
			} else {
				doc["srv"][tc.key] = "red"
			}
			data, _ = json.Marshal(doc)
			f, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			r := f.Validate()
			var got []string
			for _, is := range r.Errors {
				if is.Zone == "srv" {
					got = append(got, is.Field+": "+is.Message)
				}
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], tc.key+": "+tc.want) {
				t.Fatalf("srv errors = %q\nwant one: %s: %s", got, tc.key, tc.want)
			}
		})
	}
}

// Upstream's files still load: its zone set has no unknown key, and every
// field its schema defines is a known key.
func TestUpstreamFilesAreStrictClean(t *testing.T) {
	t.Parallel()
	f, err := LoadFile("testdata/upstream-zones.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range f.Validate().Errors {
		t.Errorf("upstream zones.json: %s", is)
	}
	data, err := os.ReadFile("testdata/upstream-zones-fields.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(data, &schema); err != nil || len(schema.Fields) == 0 {
		t.Fatalf("zones-fields.json: %v", err)
	}
	for k := range schema.Fields {
		if !isKnownField(k) {
			t.Errorf("zones-fields.json defines %q, which tappaas rejects", k)
		}
	}
}

// Syntax errors say where, as line and column.
func TestSyntaxErrorsGiveLineAndColumn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"{\n  \"srv\": {\n    \"ip\": \"10.2.10.0/24\",,\n  }\n}", "line 3, column 26: invalid character ','"},
		{"{\n \"srv\": {}\n", "line 3, column 1: unexpected end of input"},
		{"{\"a\":{},\n \"a\":{}}", `line 2, column 2: duplicate key "a"`},
		{"{\"a\":{}} x", "line 1, column 10: invalid character 'x'"},
		{"[1]", "the top-level JSON value is an array"},
	} {
		_, err := Parse([]byte(tc.in))
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

// A description the firewall would refuse is an error before any change
// (a 200 KB one used to fail half-way through apply).
func TestDescriptionWithinTheFirewallsLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ descr, want string }{
		{strings.Repeat("x", 255), ""},
		{strings.Repeat("é", 128), "is 256 bytes, expected at most 255"},
		{strings.Repeat("x", 200<<10), "is 204800 bytes, expected at most 255"},
		{"two\nlines", "contains a line break"},
		{"nul\x00", "control character"},
	} {
		f, err := Default()
		if err != nil {
			t.Fatal(err)
		}
		edit(f, "srv", func(z *Zone) { z.Description = tc.descr })
		errs, _ := f.Validate().For("srv")
		switch {
		case tc.want == "" && len(errs) != 0:
			t.Errorf("%.20q: %v", tc.descr, errs)
		case tc.want != "" && (len(errs) != 1 || errs[0].Field != FieldDescription || !strings.Contains(errs[0].Message, tc.want)):
			t.Errorf("%.20q: %v, want %q", tc.descr, errs, tc.want)
		}
	}
}
