package tlspin_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/tlspin"
)

// server is an HTTPS server whose certificate can be swapped, counting the
// requests that reach it.
type server struct {
	srv      *httptest.Server
	cert     atomic.Pointer[tls.Certificate]
	requests atomic.Int64
}

type certOpts struct {
	notBefore, notAfter time.Time
	dns                 []string
	ips                 []net.IP
}

func makeCert(t *testing.T, o certOpts) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if o.notBefore.IsZero() {
		o.notBefore, o.notAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "OPNsense.localdomain"},
		NotBefore: o.notBefore, NotAfter: o.notAfter, DNSNames: o.dns, IPAddresses: o.ips,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newServer(t *testing.T, c tls.Certificate) *server {
	t.Helper()
	s := &server{}
	s.cert.Store(&c)
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.requests.Add(1)
		io.WriteString(w, "ok")
	}))
	// GetCertificate alone (httptest's StartTLS would add its own
	// certificate, served to clients sending no SNI).
	s.srv.Listener = tls.NewListener(s.srv.Listener, &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.Load(), nil }})
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

// dial routes any address (the lab's 10.0.0.1:443) to the test server.
func (s *server) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.srv.Listener.Addr().String())
}

func (s *server) fp() string { return tlspin.Sum(s.cert.Load().Certificate[0]) }
func (s *server) pem() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.cert.Load().Certificate[0]})
}
func (s *server) swap(c tls.Certificate) { s.cert.Store(&c) }

// get makes one request through p, as the PVE and OPNsense clients do.
func get(p *tlspin.Pinner) error {
	tr := &http.Transport{DialTLSContext: p.DialTLSContext}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://10.0.0.1:443/api/x", nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func mustPinner(t *testing.T, s *server, fp string, certPEM []byte) *tlspin.Pinner {
	t.Helper()
	p, err := tlspin.New(s.dial, fp, certPEM, "re-pin it")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("x"))
	plain := hex.EncodeToString(sum[:])
	var colon []string
	for i := 0; i < len(plain); i += 2 {
		colon = append(colon, strings.ToUpper(plain[i:i+2]))
	}
	want := strings.Join(colon, ":")
	for _, in := range []string{
		want,
		strings.ToLower(want),
		plain, // state.json written before one format (OPNsense's old pin)
		strings.ToUpper(plain),
		"sha256 Fingerprint=" + want, // openssl x509 -fingerprint -sha256
		"SHA256:" + plain,
		"  " + want + "\n",
	} {
		got, err := tlspin.Normalize(in)
		if err != nil || got != want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "xyz", "AA:BB", plain + "00", "SHA256:" + strings.Repeat("zz", 32)} {
		if got, err := tlspin.Normalize(bad); err == nil {
			t.Errorf("Normalize(%q) accepted: %q", bad, got)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	f.Add("AA:BB")
	f.Add(strings.Repeat("ab:", 31) + "cd")
	f.Add(strings.Repeat("ab", 32))
	f.Fuzz(func(t *testing.T, s string) {
		n, err := tlspin.Normalize(s)
		if err == nil {
			if m, err2 := tlspin.Normalize(n); err2 != nil || m != n || len(n) != 95 || strings.ToUpper(n) != n {
				t.Fatalf("not idempotent: %q → %q", s, n)
			}
		}
	})
}

func TestPinnedDial(t *testing.T) {
	t.Parallel()
	s := newServer(t, makeCert(t, certOpts{dns: []string{"pve1"}, ips: []net.IP{net.ParseIP("10.0.0.10")}}))
	for name, mk := range map[string]func() (*tlspin.Pinner, error){
		"fingerprint": func() (*tlspin.Pinner, error) { return tlspin.New(s.dial, s.fp(), nil, "") },
		"plain hex": func() (*tlspin.Pinner, error) {
			return tlspin.New(s.dial, strings.ReplaceAll(s.fp(), ":", ""), nil, "")
		},
		"certificate": func() (*tlspin.Pinner, error) { return tlspin.New(s.dial, "", s.pem(), "") },
		"both":        func() (*tlspin.Pinner, error) { return tlspin.New(s.dial, s.fp(), s.pem(), "") },
	} {
		p, err := mk()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := get(p); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if p.Pin() != s.fp() {
			t.Errorf("%s: Pin() = %q, want %q", name, p.Pin(), s.fp())
		}
	}
}

func TestBadPinConfig(t *testing.T) {
	t.Parallel()
	s := newServer(t, makeCert(t, certOpts{dns: []string{"pve1"}}))
	other := makeCert(t, certOpts{dns: []string{"pve1"}})
	for _, fp := range []string{"", "xyz", "AA:BB"} {
		if _, err := tlspin.New(s.dial, fp, nil, ""); err == nil {
			t.Errorf("fingerprint %q accepted", fp)
		}
	}
	if _, err := tlspin.New(s.dial, tlspin.Sum(other.Certificate[0]), s.pem(), ""); !errors.Is(err, tlspin.ErrMismatch) {
		t.Errorf("disagreeing fingerprint and certificate: %v", err)
	}
	if _, err := tlspin.New(s.dial, "", []byte("not pem"), ""); err == nil {
		t.Error("a non-PEM certificate accepted")
	}
}

// A wrong pin is refused before any request: both on the learning
// handshake and once a certificate was learned and the server changed it.
func TestMismatchRefusedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	s := newServer(t, makeCert(t, certOpts{dns: []string{"fw"}}))
	wrong := "AA:" + strings.Repeat("BB:", 30) + "CC"
	p := mustPinner(t, s, wrong, nil)
	err := get(p)
	var me *tlspin.MismatchError
	if !errors.As(err, &me) || !errors.Is(err, tlspin.ErrMismatch) {
		t.Fatalf("want MismatchError, got %v", err)
	}
	if me.Expected != wrong || me.Got != s.fp() || me.Addr != "10.0.0.1:443" {
		t.Fatalf("names %+v", me)
	}
	for _, want := range []string{wrong, s.fp(), "10.0.0.1:443", "re-pin it"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}
	var f interface{ Fatal() bool }
	if !errors.As(err, &f) || !f.Fatal() {
		t.Error("a mismatch must be fatal (never retried)")
	}

	// Learned, then the server presents another certificate.
	good := mustPinner(t, s, s.fp(), nil)
	if err := get(good); err != nil {
		t.Fatal(err)
	}
	old := s.fp()
	s.swap(makeCert(t, certOpts{dns: []string{"fw"}}))
	err = get(good)
	if !errors.As(err, &me) || me.Expected != old || me.Got != s.fp() {
		t.Fatalf("after the certificate changed: %v", err)
	}
	// Given the certificate itself, then another is presented.
	s.swap(makeCert(t, certOpts{dns: []string{"fw"}}))
	withCert := mustPinner(t, s, "", s.pem())
	s.swap(makeCert(t, certOpts{dns: []string{"fw"}}))
	if err := get(withCert); !errors.As(err, &me) || me.Got != s.fp() {
		t.Fatalf("given certificate, another presented: %v", err)
	}
	if n := s.requests.Load(); n != 1 {
		t.Fatalf("%d requests reached the server; only the one over the pinned connection may", n)
	}
}

// Set swaps the pin (PVE regenerates its certificate on a cluster join).
func TestRepin(t *testing.T) {
	t.Parallel()
	s := newServer(t, makeCert(t, certOpts{dns: []string{"pve1"}}))
	p := mustPinner(t, s, s.fp(), nil)
	if err := get(p); err != nil {
		t.Fatal(err)
	}
	s.swap(makeCert(t, certOpts{dns: []string{"pve1"}}))
	if err := get(p); !errors.Is(err, tlspin.ErrMismatch) {
		t.Fatalf("changed certificate: %v", err)
	}
	if err := p.Set(s.fp(), nil); err != nil {
		t.Fatal(err)
	}
	if err := get(p); err != nil || p.Pin() != s.fp() {
		t.Fatalf("after re-pin: %v", err)
	}
}

// The pin, not the name or the date, identifies the server.
func TestPinIgnoresNameAndValidity(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for name, o := range map[string]certOpts{
		"other name": {dns: []string{"OPNsense.localdomain"}},
		"expired":    {notBefore: now.AddDate(-2, 0, 0), notAfter: now.AddDate(-1, 0, 0), ips: []net.IP{net.ParseIP("10.0.0.1")}},
		"not yet":    {notBefore: now.AddDate(1, 0, 0), notAfter: now.AddDate(2, 0, 0), dns: []string{"fw"}},
		"IP SAN":     {ips: []net.IP{net.ParseIP("192.0.2.9")}},
	} {
		s := newServer(t, makeCert(t, o))
		if err := get(mustPinner(t, s, s.fp(), nil)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if err := get(mustPinner(t, s, "", s.pem())); err != nil {
			t.Errorf("%s, given certificate: %v", name, err)
		}
	}
}

// A certificate without any name cannot be verified by Go's TLS stack: the
// pinner says so instead of falling back to no verification.
func TestCertificateWithoutNames(t *testing.T) {
	t.Parallel()
	s := newServer(t, makeCert(t, certOpts{}))
	err := get(mustPinner(t, s, s.fp(), nil))
	var ce *tlspin.CertError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "subject alternative name") {
		t.Fatalf("a certificate without names: %v", err)
	}
	if _, err := tlspin.New(s.dial, "", s.pem(), ""); !errors.As(err, &ce) {
		t.Fatalf("given a certificate without names: %v", err)
	}
	if s.requests.Load() != 0 {
		t.Fatal("a request reached the server")
	}
}

func TestPinFailureFindsWrappedPinErrors(t *testing.T) {
	t.Parallel()
	me := &tlspin.MismatchError{Addr: "10.0.0.1:443"}
	ce := &tlspin.CertError{Err: errors.New("no subject alternative name")}
	for _, c := range []struct {
		err  error
		want error
	}{
		{fmt.Errorf("dial: %w", me), me},
		{fmt.Errorf("get: %w", fmt.Errorf("tls: %w", ce)), ce},
		{errors.New("connection refused"), nil},
		{nil, nil},
	} {
		if got := tlspin.PinFailure(c.err); got != c.want {
			t.Errorf("PinFailure(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
