package opnsense_test

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
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/opnsense"
	labopn "github.com/tappaas/tappaas/lab/opnsense"
)

// serveCert serves the simulator with a hand-made certificate.
func serveCert(t *testing.T, notBefore, notAfter time.Time, dns []string, ips []net.IP) (dial func(context.Context, string, string) (net.Conn, error), fp string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "OPNsense.localdomain"},
		NotBefore: notBefore, NotAfter: notAfter, DNSNames: dns, IPAddresses: ips,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	hs := httptest.NewUnstartedServer(labopn.NewServer(labopn.Options{}).Handler())
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.StartTLS()
	t.Cleanup(hs.Close)
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", hs.Listener.Addr().String())
	}, hex.EncodeToString(sum[:])
}

func pinnedClient(t *testing.T, dial func(context.Context, string, string) (net.Conn, error), fp string) *opnsense.Client {
	t.Helper()
	c, err := opnsense.New(opnsense.Config{BaseURL: "https://10.0.0.1", Key: labopn.BootstrapKey, Secret: labopn.BootstrapSecret, Fingerprint: fp, Dial: dial})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// OPNsense's generated certificate names "OPNsense.localdomain", not the
// address we dial: the pin, not the name, identifies it.
func TestPinCertificateWithOtherName(t *testing.T) {
	t.Parallel()
	now := time.Now()
	dial, fp := serveCert(t, now.Add(-time.Hour), now.Add(time.Hour), []string{"OPNsense.localdomain"}, nil)
	if _, err := pinnedClient(t, dial, fp).FirmwareStatus(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

// An expired (or not yet valid) pinned certificate is still the pinned one.
func TestPinExpiredCertificate(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for name, window := range map[string][2]time.Time{
		"expired":   {now.AddDate(-2, 0, 0), now.AddDate(-1, 0, 0)},
		"not yet":   {now.AddDate(1, 0, 0), now.AddDate(2, 0, 0)},
		"IP SAN ok": {now.Add(-time.Hour), now.Add(time.Hour)},
	} {
		dial, fp := serveCert(t, window[0], window[1], nil, []net.IP{net.ParseIP("10.0.0.1")})
		if _, err := pinnedClient(t, dial, fp).FirmwareStatus(ctxT(t)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A certificate without any name cannot be verified by Go's TLS stack;
// the client says so instead of falling back to no verification.
func TestPinCertificateWithoutNames(t *testing.T) {
	t.Parallel()
	now := time.Now()
	dial, fp := serveCert(t, now.Add(-time.Hour), now.Add(time.Hour), nil, nil)
	_, err := pinnedClient(t, dial, fp).FirmwareStatus(ctxT(t))
	var te *opnsense.TLSError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "subject alternative name") {
		t.Fatalf("a certificate without names: %v", err)
	}
	var r interface{ Retryable() bool }
	if errors.As(err, &r) && r.Retryable() {
		t.Fatal("a certificate problem must not be retryable")
	}
}
