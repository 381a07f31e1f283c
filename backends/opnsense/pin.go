package opnsense

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
)

// NormalizeFingerprint turns "AA:BB:…", "aa bb …" or "sha256:aabb…" into
// lower-case hex without separators, and checks it is 32 bytes.
func NormalizeFingerprint(fp string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(fp))
	s = strings.TrimPrefix(s, "sha256:")
	s = strings.TrimPrefix(s, "sha256 fingerprint=")
	s = strings.NewReplacer(":", "", " ", "", "-", "").Replace(s)
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("opnsense: fingerprint %q is not a SHA-256 hex digest (64 hex digits, colons allowed)", fp)
	}
	return s, nil
}

// Fingerprint returns the lower-case hex SHA-256 of a DER certificate.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// pinner dials TLS connections that trust exactly one certificate, the one
// whose SHA-256 is pin (see doc.go).
type pinner struct {
	pin  string
	dial exec.DialFunc

	mu   sync.Mutex
	cert *x509.Certificate // learned (or given) certificate matching pin
	now  func() time.Time
}

func newPinner(pin string, certPEM []byte, dial exec.DialFunc) (*pinner, error) {
	p := &pinner{pin: pin, dial: dial, now: time.Now}
	if len(certPEM) > 0 {
		blk, _ := pem.Decode(certPEM)
		if blk == nil || blk.Type != "CERTIFICATE" {
			return nil, errors.New("opnsense: Config.Certificate is not a PEM certificate")
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("opnsense: Config.Certificate: %w", err)
		}
		if got := Fingerprint(c.Raw); got != pin {
			return nil, &PinError{Expected: pin, Got: got}
		}
		p.cert = c
	}
	return p, nil
}

func (p *pinner) pinned() *x509.Certificate {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cert
}

// DialTLSContext is used by the http.Transport.
func (p *pinner) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	cert := p.pinned()
	if cert == nil {
		if cert, err = p.learn(ctx, network, addr, host); err != nil {
			return nil, err
		}
	}
	raw, err := p.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, p.config(cert, host))
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, p.explain(err)
	}
	return conn, nil
}

// learn does a handshake with an empty root pool: it must fail verification,
// and the error carries the presented chain, whose leaf is checked against
// the pin. No application data is ever sent on this connection.
func (p *pinner) learn(ctx context.Context, network, addr, host string) (*x509.Certificate, error) {
	raw, err := p.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	conn := tls.Client(raw, &tls.Config{
		RootCAs:    x509.NewCertPool(), // trust nothing
		ServerName: host,
		MinVersion: tls.VersionTLS12,
	})
	err = conn.HandshakeContext(ctx)
	if err == nil {
		// Impossible with an empty pool; refuse rather than trust.
		return nil, errors.New("opnsense: TLS handshake verified against an empty trust store; refusing")
	}
	var cve *tls.CertificateVerificationError
	if !errors.As(err, &cve) || len(cve.UnverifiedCertificates) == 0 {
		return nil, fmt.Errorf("opnsense: TLS handshake with %s: %w", addr, err)
	}
	leaf := cve.UnverifiedCertificates[0]
	if got := Fingerprint(leaf.Raw); got != p.pin {
		return nil, &PinError{Expected: p.pin, Got: got}
	}
	p.mu.Lock()
	p.cert = leaf
	p.mu.Unlock()
	return leaf, nil
}

// config trusts only cert. The verification name is host when the
// certificate covers it, else one of the certificate's own names.
func (p *pinner) config(cert *x509.Certificate, host string) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	name := host
	if cert.VerifyHostname(host) != nil {
		switch {
		case len(cert.DNSNames) > 0:
			name = cert.DNSNames[0]
		case len(cert.IPAddresses) > 0:
			name = cert.IPAddresses[0].String()
		}
	}
	now := p.now()
	verifyTime := func() time.Time {
		// The operator pinned this exact certificate: accept it outside its
		// validity window (OPNsense's self-signed GUI certificates expire).
		switch {
		case now.Before(cert.NotBefore):
			return cert.NotBefore.Add(time.Second)
		case now.After(cert.NotAfter):
			return cert.NotAfter.Add(-time.Second)
		}
		return now
	}
	return &tls.Config{
		RootCAs:    pool,
		ServerName: name,
		MinVersion: tls.VersionTLS12,
		Time:       verifyTime,
	}
}

// explain turns a verification failure on a pinned connection into a
// PinError, or a TLSError when the pinned certificate itself cannot be
// verified (e.g. it carries no subject alternative name).
func (p *pinner) explain(err error) error {
	var cve *tls.CertificateVerificationError
	if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 {
		if got := Fingerprint(cve.UnverifiedCertificates[0].Raw); got != p.pin {
			return &PinError{Expected: p.pin, Got: got}
		}
		return &TLSError{Err: fmt.Errorf("the pinned certificate cannot be verified (%w); give the firewall's web GUI certificate a subject alternative name (its address or host name)", err)}
	}
	return fmt.Errorf("TLS handshake: %w", err)
}

// TLSError is a TLS failure that retrying cannot fix.
type TLSError struct{ Err error }

// Error describes the failure and what to do.
func (e *TLSError) Error() string { return "opnsense: TLS: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *TLSError) Unwrap() error { return e.Err }
