package opnsense

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkHandlerSearch measures one authenticated search through the
// handler (no network): the simulator's own cost per API call.
func BenchmarkHandlerSearch(b *testing.B) {
	sim := NewServer(Options{})
	h := sim.Handler()
	for i := 0; i < 50; i++ {
		req := httptest.NewRequest("POST", "/api/firewall/filter/addRule", strings.NewReader(`{"rule":{"interface":"lan","description":"r"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(BootstrapKey, BootstrapSecret)
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("GET", "/api/firewall/filter/searchRule", nil)
		req.SetBasicAuth(BootstrapKey, BootstrapSecret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}

// BenchmarkHandlerAddVLAN measures a validated write.
func BenchmarkHandlerAddVLAN(b *testing.B) {
	sim := NewServer(Options{})
	h := sim.Handler()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", "/api/interfaces/vlan_settings/setItem/"+newUUID(), strings.NewReader(`{"vlan":{"if":"vtnet0","tag":"`+itoa(1+i%4094)+`"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(BootstrapKey, BootstrapSecret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if i%4094 == 0 {
			sim = NewServer(Options{}) // keep tags unique and the table small
			h = sim.Handler()
		}
	}
}

func itoa(n int) string {
	const d = "0123456789"
	if n < 10 {
		return d[n : n+1]
	}
	return itoa(n/10) + d[n%10:n%10+1]
}

// FuzzDispatch feeds arbitrary paths and bodies to the handler: it must
// always answer JSON with a known status, never panic.
func FuzzDispatch(f *testing.F) {
	f.Add("POST", "/api/interfaces/vlan_settings/addItem", "application/json", `{"vlan":{"if":"vtnet0","tag":"5"}}`)
	f.Add("POST", "/api/firewall/filter/apply/1.1", "", "")
	f.Add("GET", "/api/interfaces/vlan_settings/getItem/x", "", "")
	f.Add("POST", "/api/dnsmasq/settings/set", "application/x-www-form-urlencoded", "dnsmasq[interface]=lan")
	f.Add("POST", "/api/interfaces/interface_assign/addItem", "application/json", `{"assign":{"device":1,"ipv4Subnet":[]}}`)
	f.Fuzz(func(t *testing.T, method, path, ct, body string) {
		if method != "GET" && method != "POST" {
			return
		}
		sim := NewServer(Options{})
		req := &http.Request{Method: method, URL: &url.URL{Path: path}, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(body)), ProtoMajor: 1, ProtoMinor: 1}
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.SetBasicAuth(BootstrapKey, BootstrapSecret)
		w := httptest.NewRecorder()
		sim.Handler().ServeHTTP(w, req)
		switch w.Code {
		case 200, 400, 404:
		case 500:
			if strings.Contains(w.Body.String(), "Unexpected error") {
				t.Fatalf("handler panicked: %s %s %q", method, path, body)
			}
		default:
			t.Fatalf("status %d for %s %s", w.Code, method, path)
		}
		if !strings.HasPrefix(w.Body.String(), "{") && !strings.HasPrefix(w.Body.String(), "[") {
			t.Fatalf("non-JSON reply %q", w.Body.String())
		}
	})
}
