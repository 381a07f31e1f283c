package opnsense

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	t.Parallel()
	in := `{"if":"vtnet0","tag":"210","enabled":true,"n":5,"nil":null,
		"pcp":{"0":{"value":"Best Effort","selected":1},"1":{"value":"Background","selected":0}},
		"interface":{"lan":{"value":"LAN","selected":"1"},"opt1":{"value":"srv","selected":0},"opt2":{"value":"iot","selected":true}},
		"proto":{"":{"value":"None","selected":0}},
		"empty":{},
		"list":[{"value":"a","selected":1},{"value":"b","selected":0},{"value":"c","selected":1}],
		"plain":["x","y"],
		"option_data":{"routers":"10.0.0.1","domain_name":"srv.internal"},
		"objs":[{"a":"1"},{"a":"2"}]}`
	rec, err := ParseRecord([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Record{"if": "vtnet0", "tag": "210", "enabled": "1", "n": "5", "nil": "", "pcp": "0",
		"interface": "lan,opt2", "proto": "", "empty": "", "list": "a,c", "plain": "x,y",
		"option_data.routers": "10.0.0.1", "option_data.domain_name": "srv.internal",
		"objs.0.a": "1", "objs.1.a": "2"}
	for k, v := range want {
		if got, ok := rec[k]; !ok || got != v {
			t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if len(rec) != len(want) {
		t.Errorf("extra keys: %v", rec)
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{"a":}`, `{"a":"b"} trailing`, `{"a":"b"`, strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40)} {
		if _, err := ParseRecord([]byte(bad)); err == nil {
			t.Errorf("ParseRecord(%q) accepted", bad)
		}
	}
}

func TestParseGetAndSearch(t *testing.T) {
	t.Parallel()
	if _, err := ParseGet([]byte(" [] "), "vlan"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("[]: %v", err)
	}
	if _, err := ParseGet([]byte(`{"other":{}}`), "vlan"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing monad: %v", err)
	}
	if _, err := ParseGet([]byte(`[1]`), "vlan"); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("non-empty array: %v", err)
	}
	rec, err := ParseGet([]byte(`{"vlan":{"tag":"5"}}`), "vlan")
	if err != nil || rec["tag"] != "5" {
		t.Fatalf("get: %v %v", rec, err)
	}
	rows, err := ParseSearch([]byte(`{"rows":[{"uuid":"u1","tag":"5","%tag":"five"},{"uuid":"u2","vlan_tag":210}],"rowCount":2,"total":2,"current":1}`))
	if err != nil || len(rows) != 2 || rows[0]["uuid"] != "u1" || rows[1]["vlan_tag"] != "210" {
		t.Fatalf("search: %v %v", rows, err)
	}
	if _, ok := rows[0]["%tag"]; ok {
		t.Fatal("display column kept")
	}
	if _, err := ParseSearch([]byte(`{"rows":[1]}`)); err == nil {
		t.Fatal("scalar row accepted")
	}
}

func TestValidationFields(t *testing.T) {
	t.Parallel()
	v := map[string]jsonRaw{"vlan.tag": jsonRaw(`"bad"`), "vlan.if": jsonRaw(`["a","b"]`), "x": jsonRaw(`5`)}
	got := validationFields(v)
	if got["vlan.tag"] != "bad" || got["vlan.if"] != "a; b" || got["x"] != "5" {
		t.Fatalf("%v", got)
	}
	e := &ValidationError{Op: "interfaces/vlan_settings/addItem", Fields: got}
	if !strings.Contains(e.Error(), "vlan.if: a; b, vlan.tag: bad") {
		t.Fatalf("message: %s", e.Error())
	}
}

func TestStatusError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status int
		body   string
		kind   error
		msg    string
	}{
		{401, `{"status":401,"message":"Authentication Failed"}`, ErrUnauthorized, "Authentication Failed"},
		{403, `{"status":403,"message":"Forbidden"}`, ErrForbidden, "Forbidden"},
		{404, `{"errorMessage":"Endpoint not found"}`, ErrEndpointNotFound, "Endpoint not found"},
		{500, `{"errorMessage":"in use","errorTitle":"t","errorLevel":"error"}`, nil, "in use"},
		{502, `<html>bad gateway</html>`, nil, "<html>bad gateway</html>"},
	}
	for _, c := range cases {
		err := statusError("GET x", c.status, []byte(c.body))
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != c.status || ae.Message != c.msg {
			t.Errorf("%d: %v", c.status, err)
		}
		if c.kind != nil && !errors.Is(err, c.kind) {
			t.Errorf("%d: not %v", c.status, c.kind)
		}
		if ae.Retryable() != (c.status == 502) {
			t.Errorf("%d: retryable %v", c.status, ae.Retryable())
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `{"pcp":{"0":{"value":"x","selected":1}}}`, `{"l":[{"value":"a","selected":1}]}`,
		`{"o":{"p":{"q":[1,2,{"r":null}]}}}`, `[]`, `{"a":1e400}`, `{"a":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := ParseRecord(data)
		if err == nil && rec == nil {
			t.Fatal("nil record without error")
		}
		_, _ = ParseSearch(data)
		_, _ = ParseGet(data, "a")
	})
}
