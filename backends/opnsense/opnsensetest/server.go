// Package opnsensetest provides test helpers for code that talks to OPNsense
// through backends/opnsense: a simulated firewall (lab/opnsense) served over
// TLS on 127.0.0.1, a client already pinned to it, and a conformance suite
// for any implementation of opnsense.API.
package opnsensetest

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"testing"

	"github.com/tappaas/tappaas/backends/opnsense"
	labopn "github.com/tappaas/tappaas/lab/opnsense"
)

// FirewallAddr is the address clients dial; Dial routes it to the server.
const FirewallAddr = "10.0.0.1:443"

// Server is a simulated OPNsense on a loopback TLS listener.
type Server struct {
	*labopn.Server
	HTTP        *httptest.Server
	Fingerprint string // SHA-256 of the served certificate, "AA:BB:…"
	CertPEM     []byte
}

// NewServer starts a simulated firewall; it is closed when the test ends.
func NewServer(t testing.TB, opts labopn.Options) *Server {
	t.Helper()
	cert, _, fp, err := labopn.NewCert("10.0.0.1", "firewall.mgmt.internal")
	if err != nil {
		t.Fatal(err)
	}
	sim := labopn.NewServer(opts)
	hs := httptest.NewUnstartedServer(sim.Handler())
	hs.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	// The client's pin-learning handshake is refused by design; keep the
	// server's "bad certificate" log line out of test output.
	hs.Config.ErrorLog = log.New(io.Discard, "", 0)
	hs.StartTLS()
	t.Cleanup(hs.Close)
	return &Server{Server: sim, HTTP: hs, Fingerprint: fp, CertPEM: labopn.CertPEM(cert)}
}

// Dial routes FirewallAddr (and anything else) to the server's listener —
// the lab's dial-table seam in miniature.
func (s *Server) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.HTTP.Listener.Addr().String())
}

// Config is a client configuration for this server with the given
// credentials, pinned to its certificate.
func (s *Server) Config(key, secret string) opnsense.Config {
	return opnsense.Config{BaseURL: "https://10.0.0.1", Key: key, Secret: secret, Fingerprint: s.Fingerprint, Dial: s.Dial}
}

// Client returns a pinned client using the image's bootstrap credentials
// (or the only key the server was started with).
func (s *Server) Client(t testing.TB) *opnsense.Client {
	t.Helper()
	c, err := opnsense.New(s.Config(labopn.BootstrapKey, labopn.BootstrapSecret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
