package opnsense

// Contract tests: one per section of docs/opnsense-api.md, with a
// plain net/http client (no tappaas code) against the simulator over TLS.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type raw struct {
	t   *testing.T
	url string
	hc  *http.Client
	key string
	sec string
}

func startRaw(t *testing.T, opts Options) (*raw, *Server) {
	t.Helper()
	cert, _, _, err := NewCert("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	sim := NewServer(opts)
	hs := httptest.NewUnstartedServer(sim.Handler())
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	hs.StartTLS()
	t.Cleanup(hs.Close)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(CertPEM(cert))
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	return &raw{t: t, url: hs.URL, hc: hc, key: BootstrapKey, sec: BootstrapSecret}, sim
}

// do sends one request; body "" with ct "" sends nothing.
func (r *raw) do(method, path, ct, body string) (int, string) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.url+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	if r.key != "" {
		req.SetBasicAuth(r.key, r.sec)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
		r.t.Errorf("%s %s: content type %q", method, path, got)
	}
	return resp.StatusCode, string(b)
}

func (r *raw) get(path string) (int, string) { return r.do("GET", path, "", "") }
func (r *raw) post(path string, v any) (int, string) {
	b, _ := json.Marshal(v)
	return r.do("POST", path, "application/json", string(b))
}

func jsonEq(t *testing.T, got, want string) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal([]byte(got), &a); err != nil {
		t.Fatalf("reply %q: %v", got, err)
	}
	_ = json.Unmarshal([]byte(want), &b)
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Fatalf("reply\n got %s\nwant %s", ja, jb)
	}
}

func jget(t *testing.T, body string, path ...string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("reply %q: %v", body, err)
	}
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%v: %q not an object in %s", path, p, body)
		}
		v = m[p]
	}
	return v
}

// docs/opnsense-api.md#auth and #routing: basic auth, 401/403 bodies, 404
// body, routing.
func TestContractAuthAndRouting(t *testing.T) {
	t.Parallel()
	r, sim := startRaw(t, Options{ACL: func(key, path string) bool { return key != "limited" || strings.HasPrefix(path, "/api/core/") }})
	sim.AddKey("limited", "s2")

	st, body := r.get("/api/interfaces/vlan_settings/searchItem")
	if st != 200 || jget(t, body, "total") != float64(0) {
		t.Fatalf("search: %d %s", st, body)
	}
	r.sec = "wrong"
	st, body = r.get("/api/interfaces/vlan_settings/searchItem")
	if st != 401 {
		t.Fatalf("wrong secret: %d", st)
	}
	jsonEq(t, body, `{"status":401,"message":"Authentication Failed"}`)
	r.key = ""
	if st, _ = r.get("/api/interfaces/vlan_settings/searchItem"); st != 401 {
		t.Fatalf("no auth: %d", st)
	}
	r.key, r.sec = "limited", "s2"
	st, body = r.get("/api/interfaces/vlan_settings/searchItem")
	if st != 403 {
		t.Fatalf("acl: %d", st)
	}
	jsonEq(t, body, `{"status":403,"message":"Forbidden"}`)
	if st, _ = r.get("/api/core/firmware/status"); st != 200 {
		t.Fatalf("allowed: %d", st)
	}
	r.key, r.sec = BootstrapKey, BootstrapSecret
	for _, p := range []string{"/api/interfaces/vlan_settings/nosuch", "/api/nosuch/x/y", "/api/interfaces", "/index.php"} {
		st, body = r.get(p)
		if st != 404 {
			t.Fatalf("%s: %d", p, st)
		}
		jsonEq(t, body, `{"errorMessage":"Endpoint not found"}`)
	}
	// snake_case and camelCase reach the same action; module is case-insensitive.
	for _, p := range []string{"/api/interfaces/vlan_settings/search_item", "/api/interfaces/VlanSettings/searchItem", "/api/Interfaces/vlanSettings/SearchItem"} {
		if st, _ = r.get(p); st != 200 {
			t.Fatalf("%s: %d", p, st)
		}
	}
	if st, _ = r.post("/api/Firewall/Filter/SearchRule", map[string]any{}); st != 200 {
		t.Fatalf("camel: %d", st)
	}
	if st, _ = r.get("/api/dnsmasq/settings/search_range"); st != 200 {
		t.Fatalf("snake: %d", st)
	}
	// os-caddy is not on the image: its module is unknown.
	if st, _ = r.get("/api/caddy/reverse_proxy/search_reverse_proxy"); st != 404 {
		t.Fatalf("caddy: %d", st)
	}
}

// docs/opnsense-api.md#crud: CRUD semantics and staged vs applied.
func TestContractCRUD(t *testing.T) {
	t.Parallel()
	r, sim := startRaw(t, Options{})
	// Validation failure: HTTP 200, result failed, validations keyed monad.field.
	st, body := r.post("/api/interfaces/vlan_settings/addItem", map[string]any{"vlan": map[string]any{"if": "vtnet0", "tag": "0"}})
	if st != 200 || jget(t, body, "result") != "failed" || jget(t, body, "validations", "vlan.tag") == nil {
		t.Fatalf("validation: %d %s", st, body)
	}
	// Missing monad → bare failed.
	st, body = r.post("/api/interfaces/vlan_settings/addItem", map[string]any{"other": map[string]any{}})
	if st != 200 {
		t.Fatalf("missing monad: HTTP %d, want 200", st)
	}
	jsonEq(t, body, `{"result":"failed"}`)
	// Unknown field.
	_, body = r.post("/api/interfaces/vlan_settings/addItem", map[string]any{"vlan": map[string]any{"if": "vtnet0", "tag": "10", "color": "red"}})
	if jget(t, body, "validations", "vlan.color") == nil {
		t.Fatalf("unknown field: %s", body)
	}
	// Add.
	_, body = r.post("/api/interfaces/vlan_settings/addItem", map[string]any{"vlan": map[string]any{"if": "vtnet0", "tag": 210, "descr": "srv"}})
	if jget(t, body, "result") != "saved" {
		t.Fatalf("add: %s", body)
	}
	id := jget(t, body, "uuid").(string)
	// Get: strings, option fields as maps.
	_, body = r.get("/api/interfaces/vlan_settings/getItem/" + id)
	if jget(t, body, "vlan", "tag") != "210" || jget(t, body, "vlan", "vlanif") != "vlan01" {
		t.Fatalf("get: %s", body)
	}
	if sel := jget(t, body, "vlan", "pcp", "0", "selected"); sel != float64(1) {
		t.Fatalf("pcp option map: %s", body)
	}
	// Unknown uuid → [].
	_, body = r.get("/api/interfaces/vlan_settings/getItem/00000000-0000-4000-8000-000000000000")
	if body != "[]" {
		t.Fatalf("unknown uuid: %s", body)
	}
	// Blank record without uuid.
	_, body = r.get("/api/interfaces/vlan_settings/getItem")
	if jget(t, body, "vlan", "tag") != "" {
		t.Fatalf("defaults: %s", body)
	}
	// Set is an upsert; non-uuid key fails.
	up := "11111111-2222-4333-8444-555555555555"
	_, body = r.post("/api/interfaces/vlan_settings/setItem/"+up, map[string]any{"vlan": map[string]any{"if": "vtnet0", "tag": "310"}})
	jsonEq(t, body, `{"result":"saved"}`)
	_, body = r.post("/api/interfaces/vlan_settings/setItem/nope", map[string]any{"vlan": map[string]any{"descr": "x"}})
	jsonEq(t, body, `{"result":"failed"}`)
	// Non-POST writes fail.
	_, body = r.get("/api/interfaces/vlan_settings/addItem")
	jsonEq(t, body, `{"result":"failed"}`)
	// Search with paging and phrase.
	_, body = r.get("/api/interfaces/vlan_settings/searchItem?rowCount=1&current=2")
	if jget(t, body, "total") != float64(2) || jget(t, body, "rowCount") != float64(1) || jget(t, body, "current") != float64(2) {
		t.Fatalf("paging: %s", body)
	}
	_, body = r.post("/api/interfaces/vlan_settings/searchItem", map[string]any{"searchPhrase": "srv"})
	if jget(t, body, "total") != float64(1) {
		t.Fatalf("phrase: %s", body)
	}
	// Staged until reconfigure.
	if len(sim.Running("vlan")) != 0 || len(sim.Staged("vlan")) != 2 {
		t.Fatal("staging")
	}
	_, body = r.do("POST", "/api/interfaces/vlan_settings/reconfigure", "", "")
	jsonEq(t, body, `{"status":"ok"}`)
	if len(sim.Running("vlan")) != 2 {
		t.Fatal("reconfigure did not apply")
	}
	// Delete, then delete again.
	_, body = r.do("POST", "/api/interfaces/vlan_settings/delItem/"+id, "", "")
	jsonEq(t, body, `{"result":"deleted"}`)
	_, body = r.do("POST", "/api/interfaces/vlan_settings/delItem/"+id, "", "")
	jsonEq(t, body, `{"result":"not found"}`)
	// Toggle (rules).
	_, body = r.post("/api/firewall/filter/addRule", map[string]any{"rule": map[string]any{"interface": "lan", "description": "t"}})
	rid := jget(t, body, "uuid").(string)
	_, body = r.do("POST", "/api/firewall/filter/toggleRule/"+rid+"/0", "", "")
	jsonEq(t, body, `{"result":"Disabled","changed":true}`)
	_, body = r.do("POST", "/api/firewall/filter/toggleRule/"+rid+"/0", "", "")
	jsonEq(t, body, `{"result":"Disabled","changed":false}`)
	// Form encoding is accepted too.
	_, body = r.do("POST", "/api/firewall/alias/addItem", "application/x-www-form-urlencoded", "alias[name]=web&alias[type]=port&alias[content]=443")
	if jget(t, body, "result") != "saved" {
		t.Fatalf("form: %s", body)
	}
}

// docs/opnsense-api.md#empty-json-body: JSON content type with an empty body →
// 400.
func TestContractEmptyJSONBody(t *testing.T) {
	t.Parallel()
	r, _ := startRaw(t, Options{})
	st, body := r.do("POST", "/api/interfaces/vlan_settings/reconfigure", "application/json", "")
	if st != 400 {
		t.Fatalf("status %d", st)
	}
	jsonEq(t, body, `{"status":400,"message":"Invalid JSON syntax"}`)
	if st, _ = r.do("POST", "/api/firewall/filter/apply", "application/json", "{bad"); st != 400 {
		t.Fatalf("bad JSON: %d", st)
	}
	if st, body = r.do("POST", "/api/interfaces/vlan_settings/reconfigure", "application/json", "{}"); st != 200 {
		t.Fatalf("{}: %d %s", st, body)
	}
	if st, _ = r.do("POST", "/api/interfaces/vlan_settings/reconfigure", "", ""); st != 200 {
		t.Fatalf("no content type: %d", st)
	}
}

// docs/opnsense-api.md#dialects: version dialects.
func TestContractDialects(t *testing.T) {
	t.Parallel()
	assign := map[string]any{"assign": map[string]any{"device": "vtnet0", "description": "x", "enable": true, "ipv4Address": "10.9.0.1", "ipv4Subnet": 24}}
	for _, tc := range []struct {
		version                      string
		savepoint, patch, stock, ips bool
	}{
		{"26.1.2", true, true, false, false},
		{"26.1.2", true, false, false, false},
		// The patch is a file, not firmware: it survives an upgrade to 26.7.
		{"26.7", false, true, true, false},
		{"26.7.2", false, false, true, false},
		{"27.1", false, false, true, true},
	} {
		t.Run(fmt.Sprintf("%s/patch=%v", tc.version, tc.patch), func(t *testing.T) {
			t.Parallel()
			r, sim := startRaw(t, Options{Version: tc.version, AssignPatch: func() bool { return tc.patch }})
			st, body := r.do("POST", "/api/firewall/filter/savepoint", "", "")
			if (st == 200) != tc.savepoint {
				t.Fatalf("savepoint: %d %s", st, body)
			}
			if !tc.savepoint {
				jsonEq(t, body, `{"errorMessage":"Endpoint not found"}`)
				for _, p := range []string{"cancelRollback/1.1", "revert/1.1"} {
					if st, _ = r.do("POST", "/api/firewall/filter/"+p, "", ""); st != 404 {
						t.Fatalf("%s: %d", p, st)
					}
				}
			}
			// The TAPPaaS patch: the device vtnet0 is lan's, so a served
			// patch answers 400 "already assigned"; an absent one 404.
			st, body = r.post("/api/interfaces/interface_assign/addItem", assign)
			if tc.patch && (st != 400 || !strings.Contains(body, "already assigned to interface 'lan'")) {
				t.Fatalf("patch: %d %s", st, body)
			}
			if !tc.patch {
				if st != 404 {
					t.Fatalf("no patch: %d", st)
				}
				jsonEq(t, body, `{"errorMessage":"Endpoint not found"}`)
			}
			st, body = r.get("/api/interfaces/assignment/searchItem")
			if (st == 200) != tc.stock {
				t.Fatalf("stock assignment: %d %s", st, body)
			}
			if tc.stock {
				_, body = r.post("/api/interfaces/vlan_settings/addItem", map[string]any{"vlan": map[string]any{"if": "vtnet0", "tag": "210", "vlanif": "vlan0.210"}})
				if jget(t, body, "result") != "saved" {
					t.Fatalf("vlan for assignment: %s", body)
				}
				r.do("POST", "/api/interfaces/vlan_settings/reconfigure", "", "")
				rec := map[string]any{"if": "vlan0.210", "descr": "srv", "ipaddr": "10.2.10.1", "subnet": "24", "type4": "static"}
				_, body = r.post("/api/interfaces/assignment/addItem", map[string]any{"interface": rec})
				if tc.ips != (jget(t, body, "result") == "saved") {
					t.Fatalf("IP fields: %s", body)
				}
				if !tc.ips {
					if jget(t, body, "validations", "interface.ipaddr") == nil {
						t.Fatalf("IP fields on 26.7 must be unknown: %s", body)
					}
					_, body = r.post("/api/interfaces/assignment/addItem", map[string]any{"interface": map[string]any{"if": "vlan0.210", "descr": "srv"}})
				}
				if jget(t, body, "uuid") != "opt1" {
					t.Fatalf("assignment: %s", body)
				}
				_, body = r.post("/api/interfaces/assignment/addItem", map[string]any{"interface": map[string]any{"if": "vlan0.210"}})
				if jget(t, body, "validations", "interface.if") != "Can not assign a device to more interfaces." {
					t.Fatalf("unique device: %s", body)
				}
				if len(sim.Running("interfaces")) != 2 {
					t.Fatal("stock assignment applied before reconfigure")
				}
				r.do("POST", "/api/interfaces/assignment/reconfigure", "", "")
				if len(sim.Running("interfaces")) != 3 {
					t.Fatal("stock assignment not applied")
				}
				// vlan_tag stays a string on 26.7.2 (interfaces.lib.inc:468-474).
				_, body = r.get("/api/interfaces/overview/interfacesInfo")
				if !strings.Contains(body, `"vlan_tag":"210"`) {
					t.Fatalf("interfacesInfo: %s", body)
				}
			}
		})
	}
}

// docs/opnsense-api.md#vlans: VLAN auto-naming, tag uniqueness, assigned
// delete refusal.
func TestContractVLANRules(t *testing.T) {
	t.Parallel()
	r, _ := startRaw(t, Options{})
	add := func(v map[string]any) string {
		_, body := r.post("/api/interfaces/vlan_settings/addItem", map[string]any{"vlan": v})
		return body
	}
	b1 := add(map[string]any{"if": "vtnet0", "tag": "210"})
	b2 := add(map[string]any{"if": "vtnet0", "tag": "310"})
	id1, id2 := jget(t, b1, "uuid").(string), jget(t, b2, "uuid").(string)
	for id, want := range map[string]string{id1: "vlan01", id2: "vlan02"} {
		_, body := r.get("/api/interfaces/vlan_settings/getItem/" + id)
		if jget(t, body, "vlan", "vlanif") != want {
			t.Fatalf("auto name: %s", body)
		}
	}
	// QinQ on a VLAN parent.
	b := add(map[string]any{"if": "vlan01", "tag": "5"})
	_, body := r.get("/api/interfaces/vlan_settings/getItem/" + jget(t, b, "uuid").(string))
	if jget(t, body, "vlan", "vlanif") != "qinq01" {
		t.Fatalf("qinq name: %s", body)
	}
	body = add(map[string]any{"if": "vtnet0", "tag": "210"})
	if jget(t, body, "validations", "vlan.tag") != "Tag for this device must be unique." {
		t.Fatalf("unique tag: %s", body)
	}
	if body = add(map[string]any{"if": "vtnet1", "tag": "210"}); jget(t, body, "result") != "saved" {
		t.Fatalf("same tag other parent: %s", body)
	}
	if body = add(map[string]any{"if": "vtnet9", "tag": "7"}); jget(t, body, "validations", "vlan.if") == nil {
		t.Fatalf("unknown parent: %s", body)
	}
	// Assign vlan02 (TAPPaaS patch) once the device exists, then try
	// deleting and retagging it.
	r.do("POST", "/api/interfaces/vlan_settings/reconfigure", "", "")
	st, body := r.post("/api/interfaces/interface_assign/addItem", map[string]any{"assign": map[string]any{"device": "vlan02", "description": "private", "enable": true, "ipv4Address": "10.3.10.1", "ipv4Subnet": 24}})
	if st != 200 || jget(t, body, "ifname") != "opt1" {
		t.Fatalf("assign: %d %s", st, body)
	}
	st, body = r.do("POST", "/api/interfaces/vlan_settings/delItem/"+id2, "", "")
	if st != 500 {
		t.Fatalf("delete assigned: %d %s", st, body)
	}
	// 26.1's api.php sends no errorLevel (26.7 does).
	if jget(t, body, "errorMessage") != "This VLAN cannot be deleted because it is assigned as an interface." || jget(t, body, "errorLevel") != nil {
		t.Fatalf("user exception: %s", body)
	}
	// VlanSettingsController: renaming an assigned device is refused (the
	// tag message when the tag changes too); a retag that keeps the name is
	// allowed.
	_, body = r.post("/api/interfaces/vlan_settings/setItem/"+id2, map[string]any{"vlan": map[string]any{"tag": "311", "vlanif": "vlan0.311"}})
	if jget(t, body, "validations", "vlan.tag") != "Interface is assigned and you cannot change the VLAN tag while assigned." {
		t.Fatalf("retag+rename assigned: %s", body)
	}
	_, body = r.post("/api/interfaces/vlan_settings/setItem/"+id2, map[string]any{"vlan": map[string]any{"vlanif": "vlan0.9"}})
	if jget(t, body, "validations", "vlan.vlanif") != "Interface is assigned and you cannot change the device name while assigned." {
		t.Fatalf("rename assigned: %s", body)
	}
	_, body = r.post("/api/interfaces/vlan_settings/setItem/"+id2, map[string]any{"vlan": map[string]any{"tag": "311"}})
	if jget(t, body, "result") != "saved" {
		t.Fatalf("retag keeping the name: %s", body)
	}
	// QinQ parent cannot be deleted or renamed.
	st, body = r.do("POST", "/api/interfaces/vlan_settings/delItem/"+id1, "", "")
	if st != 500 || jget(t, body, "errorMessage") != "This VLAN cannot be deleted because it is used in QinQ interfaces." {
		t.Fatalf("delete QinQ parent: %d %s", st, body)
	}
	// Device names: type prefix and format (Vlan::performValidation).
	if body = add(map[string]any{"if": "vtnet0", "tag": "77", "vlanif": "qinq077"}); jget(t, body, "validations", "vlan.vlanif") != "Device name does not match type (e.g. vlan0XXX)." {
		t.Fatalf("wrong prefix: %s", body)
	}
	if body = add(map[string]any{"if": "vtnet0", "tag": "77", "vlanif": "vlan0abc"}); !strings.HasPrefix(jget(t, body, "validations", "vlan.vlanif").(string), "A maximum of 16 characters") {
		t.Fatalf("bad format: %s", body)
	}
	if body = add(map[string]any{"if": "vtnet0", "tag": "77", "vlanif": "vtnet0_vlan77"}); jget(t, body, "result") != "saved" {
		t.Fatalf("legacy name: %s", body)
	}
	if body = add(map[string]any{"if": "vtnet0", "tag": "78", "vlanif": "vlan01"}); jget(t, body, "validations", "vlan.vlanif") != "The device name must be unique." {
		t.Fatalf("duplicate name: %s", body)
	}
	// Search shows the assignment.
	_, body = r.get("/api/interfaces/vlan_settings/searchItem")
	if !strings.Contains(body, `"vlan02 [private]"`) {
		t.Fatalf("search vlanif: %s", body)
	}
	// interfacesInfo: vlan_tag as a string on 26.1, from the kernel (the
	// retag shows once the VLANs are reconfigured).
	_, body = r.get("/api/interfaces/overview/interfacesInfo")
	if !strings.Contains(body, `"vlan_tag":"310"`) {
		t.Fatalf("interfacesInfo before reconfigure: %s", body)
	}
	r.do("POST", "/api/interfaces/vlan_settings/reconfigure", "", "")
	_, body = r.get("/api/interfaces/overview/interfacesInfo")
	if !strings.Contains(body, `"vlan_tag":"311"`) {
		t.Fatalf("interfacesInfo: %s", body)
	}
	// Unassign (idempotent), lan refused, then the VLAN can go.
	for i := 0; i < 2; i++ {
		_, body = r.do("POST", "/api/interfaces/interface_assign/delItem/opt1", "", "")
		jsonEq(t, body, `{"result":"deleted"}`)
	}
	if st, _ = r.do("POST", "/api/interfaces/interface_assign/delItem/lan", "", ""); st != 400 {
		t.Fatalf("unassign lan: %d", st)
	}
	_, body = r.do("POST", "/api/interfaces/vlan_settings/delItem/"+id2, "", "")
	jsonEq(t, body, `{"result":"deleted"}`)
	// Auto-numbering continues from the highest number, it does not refill.
	b = add(map[string]any{"if": "vtnet0", "tag": "999"})
	_, body = r.get("/api/interfaces/vlan_settings/getItem/" + jget(t, b, "uuid").(string))
	if jget(t, body, "vlan", "vlanif") != "vlan04" { // vlan01, vlan03 remain: highest+1, the gap stays
		t.Fatalf("auto-number: %s", body)
	}
	// A new assignment takes highest+1 (patch semantics).
	r.post("/api/interfaces/vlan_settings/addItem", map[string]any{"vlan": map[string]any{"if": "vtnet0", "tag": "410", "vlanif": "vlan0.410"}})
	r.do("POST", "/api/interfaces/vlan_settings/reconfigure", "", "")
	_, body = r.post("/api/interfaces/interface_assign/addItem", map[string]any{"assign": map[string]any{"device": "vlan0.410", "description": "iot", "enable": true, "ipv4Address": "10.4.10.1", "ipv4Subnet": 24}})
	if jget(t, body, "ifname") != "opt1" {
		t.Fatalf("slot reuse after delete: %s", body)
	}
}

// Filter savepoint lifecycle with the automatic revert (≤ 26.1).
func TestContractSavepointRollback(t *testing.T) {
	t.Parallel()
	clock := NewFakeClock(time.Unix(1_800_000_000, 0))
	r, sim := startRaw(t, Options{Clock: clock, RollbackAfter: time.Minute})
	_, body := r.do("POST", "/api/firewall/filter/savepoint", "", "")
	if jget(t, body, "status") != "ok" || jget(t, body, "retention") == nil {
		t.Fatalf("savepoint: %s", body)
	}
	rev := jget(t, body, "revision").(string)
	r.post("/api/firewall/filter/addRule", map[string]any{"rule": map[string]any{"interface": "lan", "description": "temp"}})
	_, body = r.do("POST", "/api/firewall/filter/apply/"+rev, "", "")
	if !strings.EqualFold(strings.TrimSpace(jget(t, body, "status").(string)), "ok") {
		t.Fatalf("apply: %s", body)
	}
	if len(sim.Running("filter.rule")) != 1 || len(sim.Armed()) != 1 {
		t.Fatal("apply with revision")
	}
	clock.Advance(time.Minute)
	if len(sim.Running("filter.rule")) != 0 || len(sim.Staged("filter.rule")) != 0 || len(sim.Armed()) != 0 {
		t.Fatal("not reverted")
	}
	// applyAction does not check the revision: it applies, and a timer for
	// an unknown savepoint has nothing to restore.
	r.post("/api/firewall/filter/addRule", map[string]any{"rule": map[string]any{"interface": "lan", "description": "kept"}})
	if _, body = r.do("POST", "/api/firewall/filter/apply/999.0001", "", ""); !strings.Contains(body, "OK") {
		t.Fatalf("apply unknown revision: %s", body)
	}
	clock.Advance(time.Hour)
	if len(sim.Running("filter.rule")) != 1 {
		t.Fatal("apply with an unknown revision")
	}
	// cancel_rollback is a script_output action: rollback_cancel.php exits 1
	// with no timer, configd answers "Execute error", Backend maps it to "".
	_, body = r.do("POST", "/api/firewall/filter/cancelRollback/999.0001", "", "")
	jsonEq(t, body, `{"status":""}`)
	_, body = r.do("POST", "/api/firewall/filter/revert/999.0001", "", "")
	jsonEq(t, body, `{"status":"unknown (or removed) savepoint"}`)
	_, body = r.get("/api/firewall/filter/apply")
	jsonEq(t, body, `{"status":"error"}`)
}

// 26.7 silently ignores a revision on apply: no rollback is armed.
func TestContractApplyRevisionIgnoredOn267(t *testing.T) {
	t.Parallel()
	clock := NewFakeClock(time.Unix(1_800_000_000, 0))
	r, sim := startRaw(t, Options{Version: "26.7", Clock: clock})
	r.post("/api/firewall/filter/addRule", map[string]any{"rule": map[string]any{"interface": "lan"}})
	if st, _ := r.do("POST", "/api/firewall/filter/apply/123.0001", "", ""); st != 200 {
		t.Fatal(st)
	}
	clock.Advance(time.Hour)
	if len(sim.Running("filter.rule")) != 1 || clock.Pending() != 0 {
		t.Fatal("26.7 armed a rollback")
	}
}

func TestContractFirmwareAndServices(t *testing.T) {
	t.Parallel()
	r, _ := startRaw(t, Options{Version: "26.7.2"})
	_, body := r.get("/api/core/firmware/status")
	if jget(t, body, "product", "product_version") != "26.7.2" || jget(t, body, "status") != "none" {
		t.Fatalf("status: %s", body)
	}
	_, body = r.get("/api/core/firmware/info")
	if !strings.Contains(body, `"name":"os-caddy"`) || !strings.Contains(body, `"installed":"0"`) {
		t.Fatalf("info: %s", body)
	}
	_, body = r.get("/api/core/system/status")
	if jget(t, body, "metadata", "system", "status") != "OK" {
		t.Fatalf("system: %s", body)
	}
	for _, svc := range []string{"dnsmasq", "unbound"} {
		_, body = r.do("POST", "/api/"+svc+"/service/reconfigure", "", "")
		jsonEq(t, body, `{"status":"ok"}`)
		_, body = r.get("/api/" + svc + "/service/reconfigure")
		jsonEq(t, body, `{"status":"failed"}`)
	}
	_, body = r.get("/api/diagnostics/system/system_information")
	if !strings.Contains(body, "OPNsense 26.7.2") {
		t.Fatalf("system information: %s", body)
	}
}

func TestSnapshotRestore(t *testing.T) {
	t.Parallel()
	clock := NewFakeClock(time.Unix(1_800_000_000, 0))
	r, sim := startRaw(t, Options{Clock: clock, RollbackAfter: time.Minute})
	r.post("/api/interfaces/vlan_settings/addItem", map[string]any{"vlan": map[string]any{"if": "vtnet0", "tag": "210"}})
	_, body := r.do("POST", "/api/firewall/filter/savepoint", "", "")
	rev := jget(t, body, "revision").(string)
	r.post("/api/firewall/filter/addRule", map[string]any{"rule": map[string]any{"interface": "lan"}})
	r.do("POST", "/api/firewall/filter/apply/"+rev, "", "")
	sim.AddKey("installer", "s3cret")
	snap, err := sim.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	// A new server (the lab restarted) restores the model, keys and the
	// armed rollback.
	clock2 := NewFakeClock(time.Unix(1_800_000_030, 0))
	sim2 := NewServer(Options{Clock: clock2, RollbackAfter: time.Minute})
	if err := sim2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if len(sim2.Staged("vlan")) != 1 || !sim2.HasKey("installer", "s3cret") || len(sim2.Armed()) != 1 {
		t.Fatal("restore lost state")
	}
	clock2.Advance(29 * time.Second)
	if len(sim2.Running("filter.rule")) != 1 {
		t.Fatal("reverted early after restore")
	}
	clock2.Advance(2 * time.Second)
	if len(sim2.Running("filter.rule")) != 0 {
		t.Fatal("armed rollback not restored")
	}
	if err := NewServer(Options{Version: "26.7"}).Restore(snap); err == nil {
		t.Fatal("restored a snapshot of another version")
	}
	if err := sim2.Restore([]byte(`{"version":"26.1.2"}`)); err == nil {
		t.Fatal("restored an incomplete snapshot")
	}
	if err := sim2.Restore([]byte(`garbage`)); err == nil {
		t.Fatal("restored garbage")
	}
}

func TestLatencyModel(t *testing.T) {
	t.Parallel()
	var seen []string
	r, _ := startRaw(t, Options{Latency: func(method, path string) time.Duration {
		seen = append(seen, method+" "+path)
		if strings.HasSuffix(path, "/apply") {
			return 30 * time.Millisecond
		}
		return 0
	}})
	start := time.Now()
	if st, _ := r.do("POST", "/api/firewall/filter/apply", "", ""); st != 200 {
		t.Fatal(st)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("latency not applied")
	}
	if len(seen) != 1 || seen[0] != "POST /api/firewall/filter/apply" {
		t.Fatalf("latency hook saw %v", seen)
	}
}

// Reads never count as mutations; writes and applies do, once each, and a
// refused write does not. OnRequest sees each call without the secret.
func TestMutationAccounting(t *testing.T) {
	t.Parallel()
	var reqs []Request
	r, sim := startRaw(t, Options{OnRequest: func(q Request) { reqs = append(reqs, q) }})
	r.get("/api/interfaces/vlan_settings/searchItem")
	r.get("/api/core/firmware/status")
	if sim.Mutations() != 0 {
		t.Fatal("reads counted")
	}
	r.post("/api/interfaces/vlan_settings/addItem", map[string]any{"vlan": map[string]any{"if": "vtnet0", "tag": "0"}}) // refused
	r.post("/api/interfaces/vlan_settings/addItem", map[string]any{"vlan": map[string]any{"if": "vtnet0", "tag": "9"}})
	r.do("POST", "/api/interfaces/vlan_settings/reconfigure", "", "")
	if sim.Mutations() != 2 {
		t.Fatalf("mutations %d, want 2", sim.Mutations())
	}
	if len(reqs) != 5 || reqs[3].Mutating != true || reqs[2].Mutating || reqs[0].Key != BootstrapKey {
		t.Fatalf("requests: %+v", reqs)
	}
	for _, q := range reqs {
		if strings.Contains(q.Body, BootstrapSecret) || strings.Contains(q.Path, BootstrapSecret) {
			t.Fatal("secret in the request record")
		}
	}
	if !strings.Contains(reqs[3].Body, `"tag":"9"`) {
		t.Fatalf("body not recorded: %q", reqs[3].Body)
	}
}

// AliasController: get renders content as a selection map (plus the other
// aliases unselected), a rename follows into the rules that use the alias,
// and deleting a used alias names the users.
func TestContractAliases(t *testing.T) {
	t.Parallel()
	r, sim := startRaw(t, Options{})
	_, body := r.post("/api/firewall/alias/addItem", map[string]any{"alias": map[string]any{"name": "web", "type": "port", "content": "80\n443"}})
	id := jget(t, body, "uuid").(string)
	r.post("/api/firewall/alias/addItem", map[string]any{"alias": map[string]any{"name": "other", "type": "host", "content": "10.0.0.5"}})
	_, body = r.get("/api/firewall/alias/getItem/" + id)
	if jget(t, body, "alias", "content", "443", "selected") != float64(1) || jget(t, body, "alias", "content", "other", "selected") != float64(0) {
		t.Fatalf("content map: %s", body)
	}
	_, body = r.post("/api/firewall/filter/addRule", map[string]any{"rule": map[string]any{"interface": "lan", "protocol": "TCP", "destination_port": "web", "description": "https in"}})
	rid := jget(t, body, "uuid").(string)
	// A failed rename changes nothing.
	_, body = r.post("/api/firewall/alias/setItem/"+id, map[string]any{"alias": map[string]any{"name": "bad name"}})
	if jget(t, body, "result") != "failed" || sim.Staged("filter.rule")[0]["destination_port"] != "web" {
		t.Fatalf("failed rename: %s", body)
	}
	r.post("/api/firewall/alias/setItem/"+id, map[string]any{"alias": map[string]any{"name": "webports"}})
	if got := sim.Staged("filter.rule")[0]["destination_port"]; got != "webports" {
		t.Fatalf("rule after rename: %q", got)
	}
	st, body := r.do("POST", "/api/firewall/alias/delItem/"+id, "", "")
	if st != 500 || jget(t, body, "errorTitle") != "Alias in use" || !strings.Contains(jget(t, body, "errorMessage").(string), "Cannot delete alias. Currently in use by \n[filter.rules.rule."+rid+"] https in") {
		t.Fatalf("delete in use: %d %s", st, body)
	}
}

// interfacesInfo rows as OverviewController::parseIfInfo builds them
// (opnsense/core@26.1.11:src/opnsense/mvc/app/controllers/OPNsense/Interfaces/Api/OverviewController.php:107-255).
func TestContractInterfacesInfo(t *testing.T) {
	t.Parallel()
	r, _ := startRaw(t, Options{})
	row := func(dev string) map[string]any {
		t.Helper()
		_, body := r.get("/api/interfaces/overview/interfacesInfo")
		var env struct {
			Rows []map[string]any `json:"rows"`
		}
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			t.Fatal(err)
		}
		for _, x := range env.Rows {
			if x["device"] == dev {
				return x
			}
			if x["device"] == "pfsync0" {
				t.Fatal("pfsync0 is never listed")
			}
		}
		return nil
	}
	// Assigned: CIDR in ipaddr, no subnetbits; vlan_tag null on a NIC.
	lan := row("vtnet0")
	if lan["identifier"] != "lan" || lan["enabled"] != true || lan["link_type"] != "static" || lan["addr4"] != "10.0.0.1/24" || lan["vlan_tag"] != nil {
		t.Fatalf("lan: %v", lan)
	}
	b, _ := json.Marshal(lan["ipv4"])
	jsonEq(t, string(b), `[{"ipaddr":"10.0.0.1/24"}]`)
	if lo := row("lo0"); lo["identifier"] != "lo0" || lo["description"] != "Loopback" {
		t.Fatalf("lo0: %v", lo)
	}
	// Unassigned: identifier "", "Unassigned Interface", no enabled key.
	r.post("/api/interfaces/vlan_settings/addItem", map[string]any{"vlan": map[string]any{"if": "vtnet0", "tag": "210", "vlanif": "vlan0.210"}})
	if row("vlan0.210") != nil {
		t.Fatal("a VLAN device before its reconfigure")
	}
	r.do("POST", "/api/interfaces/vlan_settings/reconfigure", "", "")
	un := row("vlan0.210")
	if _, has := un["enabled"]; un["identifier"] != "" || un["description"] != "Unassigned Interface" || has {
		t.Fatalf("unassigned: %v", un)
	}
	// The patch saves the address; only reloadInterface configures it.
	st, body := r.post("/api/interfaces/interface_assign/addItem", map[string]any{"assign": map[string]any{"device": "vlan0.210", "description": "srv", "enable": true, "ipv4Address": "10.2.10.1", "ipv4Subnet": 24}})
	if st != 200 || jget(t, body, "ifname") != "opt1" {
		t.Fatalf("assign: %d %s", st, body)
	}
	if x := row("vlan0.210"); x["identifier"] != "opt1" || x["ipv4"] != nil || x["addr4"] != "" || x["vlan_tag"] != "210" {
		t.Fatalf("assigned, not configured: %v", x)
	}
	_, body = r.do("POST", "/api/interfaces/overview/reloadInterface/opt1", "", "")
	jsonEq(t, body, `{"message":"OK\n\n"}`)
	x := row("vlan0.210")
	b, _ = json.Marshal(x["ipv4"])
	jsonEq(t, string(b), `[{"ipaddr":"10.2.10.1/24"}]`)
	// Unassigned again: the kernel keeps the address, ifconfig's raw form.
	r.do("POST", "/api/interfaces/interface_assign/delItem/opt1", "", "")
	x = row("vlan0.210")
	b, _ = json.Marshal(x["ipv4"])
	if x["identifier"] != "" {
		t.Fatalf("after delItem: %v", x)
	}
	jsonEq(t, string(b), `[{"ipaddr":"10.2.10.1","subnetbits":24,"tunnel":false}]`)
	// reloadInterface needs POST and an identifier; unknown ones are "OK".
	_, body = r.get("/api/interfaces/overview/reloadInterface/opt1")
	jsonEq(t, body, `{"message":"failed"}`)
	_, body = r.do("POST", "/api/interfaces/overview/reloadInterface/opt9", "", "")
	jsonEq(t, body, `{"message":"OK\n\n"}`)
}

// TAPPaaS' InterfaceAssignController refusals
// (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/opnsense-patch/InterfaceAssignController.php).
func TestContractAssignPatch(t *testing.T) {
	t.Parallel()
	var installed atomic.Bool
	r, _ := startRaw(t, Options{AssignPatch: installed.Load})
	st, body := r.get("/api/interfaces/interface_assign/addItem")
	if st != 404 {
		t.Fatalf("before the file is there: %d %s", st, body)
	}
	jsonEq(t, body, `{"errorMessage":"Endpoint not found"}`)
	installed.Store(true)
	for _, tc := range []struct {
		body any
		msg  string
	}{
		{nil, "Invalid payload structure. Expected 'assign' object."},
		{map[string]any{"assign": map[string]any{"description": "x"}}, "Payload missing required 'device' field (string)."},
		{map[string]any{"assign": map[string]any{"device": 5, "description": "x"}}, "Payload missing required 'device' field (string)."},
		{map[string]any{"assign": map[string]any{"device": "vlan0.9"}}, "Payload missing required 'description' field (string)."},
		{map[string]any{"assign": map[string]any{"device": "vlan 9", "description": "x"}}, "Invalid format for 'device' field 'vlan 9'."},
		{map[string]any{"assign": map[string]any{"device": "vtnet0", "description": "x", "ipv4Address": "10.0.0.300", "ipv4Subnet": 24}}, "Invalid or missing 'ipv4Address'."},
		{map[string]any{"assign": map[string]any{"device": "vtnet0", "description": "x", "ipv4Address": "10.9.0.1", "ipv4Subnet": 33}}, "Invalid or missing 'ipv4Subnet'. Expected integer between 1 and 32."},
		{map[string]any{"assign": map[string]any{"device": "vtnet0", "description": "x", "ipv4Address": "10.9.0.1", "ipv4Subnet": 24}}, "Device 'vtnet0' is already assigned to interface 'lan'. Cannot assign it again."},
	} {
		var st int
		var body string
		if tc.body == nil {
			st, body = r.get("/api/interfaces/interface_assign/addItem")
		} else {
			st, body = r.post("/api/interfaces/interface_assign/addItem", tc.body)
		}
		if st != 400 || jget(t, body, "result") != "failed" || jget(t, body, "errorMessage") != tc.msg {
			t.Errorf("%v: %d %s, want %q", tc.body, st, body, tc.msg)
		}
	}
	for path, msg := range map[string]string{
		"delItem/LAN":   "Deletion of core interfaces like 'lan' or 'wan' is not permitted.",
		"delItem/opt-1": "Invalid format for parameter 'uuid'.",
	} {
		st, body := r.do("POST", "/api/interfaces/interface_assign/"+path, "", "")
		if st != 400 || jget(t, body, "errorMessage") != msg {
			t.Errorf("%s: %d %s", path, st, body)
		}
	}
}

// The stock assignment controller of 26.7.2: new assignments are locked,
// a locked one cannot go (a UserException with errorLevel on 26.7), and
// applying a removal drops the interface's filter rules
// (opnsense/core@26.7.2:src/opnsense/mvc/app/controllers/OPNsense/Interfaces/Api/AssignmentController.php:61-169).
func TestContractStockAssignment267(t *testing.T) {
	t.Parallel()
	r, sim := startRaw(t, Options{Version: "26.7.2", AssignPatch: func() bool { return false }})
	for _, tag := range []string{"210", "310"} {
		r.post("/api/interfaces/vlan_settings/addItem", map[string]any{"vlan": map[string]any{"if": "vtnet0", "tag": tag, "vlanif": "vlan0." + tag}})
	}
	r.do("POST", "/api/interfaces/vlan_settings/reconfigure", "", "")
	_, body := r.post("/api/interfaces/assignment/addItem", map[string]any{"interface": map[string]any{"if": "vlan0.210", "descr": "srv"}})
	locked := jget(t, body, "uuid").(string)
	_, body = r.post("/api/interfaces/assignment/addItem", map[string]any{"interface": map[string]any{"if": "vlan0.310", "descr": "private", "lock": "0"}})
	free := jget(t, body, "uuid").(string)
	r.do("POST", "/api/interfaces/assignment/reconfigure", "", "")
	st, body := r.do("POST", "/api/interfaces/assignment/delItem/"+locked, "", "")
	if st != 500 {
		t.Fatalf("locked: %d %s", st, body)
	}
	jsonEq(t, body, `{"errorMessage":"Interface locked, unset lock first before removal","errorTitle":"locked","errorLevel":"error"}`)
	r.post("/api/firewall/filter/addRule", map[string]any{"rule": map[string]any{"interface": free, "description": "only " + free}})
	r.post("/api/firewall/filter/addRule", map[string]any{"rule": map[string]any{"interface": "lan," + free, "description": "lan and " + free}})
	r.do("POST", "/api/firewall/filter/apply", "", "")
	if _, body = r.do("POST", "/api/interfaces/assignment/delItem/"+free, "", ""); jget(t, body, "result") != "deleted" {
		t.Fatalf("unlocked: %s", body)
	}
	if len(sim.Staged("filter.rule")) != 2 {
		t.Fatal("rules cleaned before the reconfigure")
	}
	r.do("POST", "/api/interfaces/assignment/reconfigure", "", "")
	rules := sim.Running("filter.rule")
	if len(rules) != 1 || rules[0]["interface"] != "lan" || len(sim.Staged("filter.rule")) != 1 {
		t.Fatalf("rules after removing %s: %v", free, rules)
	}
	// The patch's delItem without its required argument never runs.
	r2, _ := startRaw(t, Options{})
	if st, body := r2.do("POST", "/api/interfaces/interface_assign/delItem", "", ""); st != 404 {
		t.Fatalf("delItem without argument: %d %s", st, body)
	}
}
