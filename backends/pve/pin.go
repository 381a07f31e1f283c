package pve

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

// ErrFingerprintMismatch is matched (errors.Is) by *PinError.
var ErrFingerprintMismatch = errors.New("TLS certificate fingerprint mismatch")

// PinError says the server presented a certificate other than the pinned
// one. Nothing was sent to it.
type PinError struct {
	Addr     string
	Expected string // pinned SHA-256, "AA:BB:…"
	Got      string // presented SHA-256, "AA:BB:…"
}

func (e *PinError) Error() string {
	return fmt.Sprintf("TLS certificate of %s has fingerprint %s, expected %s: refusing to connect (if the certificate was renewed on purpose, read the new fingerprint on the node with `pvenode cert info` and pin it)", e.Addr, e.Got, e.Expected)
}

// Is makes errors.Is(err, ErrFingerprintMismatch) true.
func (e *PinError) Is(target error) bool { return target == ErrFingerprintMismatch }

// NormalizeFingerprint turns "aa:bb:…", "AABB…" or "sha256 Fingerprint=AA:…"
// into PVE's form "AA:BB:…" (32 bytes). It fails for anything else.
func NormalizeFingerprint(s string) (string, error) {
	t := strings.TrimSpace(s)
	if i := strings.LastIndexByte(t, '='); i >= 0 {
		t = t[i+1:]
	}
	t = strings.ToUpper(strings.NewReplacer(":", "", " ", "").Replace(t))
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("invalid SHA-256 fingerprint %q: want 32 hex bytes like AA:BB:…", s)
	}
	return FingerprintBytes(b), nil
}

// FingerprintBytes formats a digest as "AA:BB:…".
func FingerprintBytes(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}

// CertFingerprint is the SHA-256 fingerprint of a DER certificate, "AA:BB:…".
func CertFingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return FingerprintBytes(s[:])
}

// PEMFingerprint returns the fingerprint of the first certificate in a PEM
// block (as printed by `openssl x509 -fingerprint -sha256`).
func PEMFingerprint(pemData []byte) (string, error) {
	c, err := parsePEMCert(pemData)
	if err != nil {
		return "", err
	}
	return CertFingerprint(c.Raw), nil
}

func parsePEMCert(pemData []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, pemData = pem.Decode(pemData)
		if b == nil {
			return nil, errors.New("no PEM certificate found")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}

// pinner dials TLS connections that succeed only with the pinned
// certificate, without InsecureSkipVerify (see doc.go, "TLS pinning").
type pinner struct {
	dial exec.DialFunc

	mu   sync.Mutex
	pin  string            // "AA:BB:…"
	cert *x509.Certificate // the pinned certificate once known
}

func newPinner(dial exec.DialFunc, fp string, certPEM []byte) (*pinner, error) {
	p := &pinner{dial: dial}
	if err := p.set(fp, certPEM); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *pinner) set(fp string, certPEM []byte) error {
	var pin string
	var cert *x509.Certificate
	if fp != "" {
		n, err := NormalizeFingerprint(fp)
		if err != nil {
			return err
		}
		pin = n
	}
	if len(certPEM) > 0 {
		c, err := parsePEMCert(certPEM)
		if err != nil {
			return fmt.Errorf("pinned certificate: %w", err)
		}
		got := CertFingerprint(c.Raw)
		if pin != "" && got != pin {
			return fmt.Errorf("pinned certificate has fingerprint %s but the fingerprint given is %s", got, pin)
		}
		pin, cert = got, c
	}
	if pin == "" {
		return errors.New("no TLS fingerprint to pin: set Config.Fingerprint (SHA-256 as `pvenode cert info` prints it) or Config.CertPEM")
	}
	if cert != nil && serverName(cert) == "" {
		return errors.New("pinned certificate has no subject alternative name")
	}
	p.mu.Lock()
	p.pin, p.cert = pin, cert
	p.mu.Unlock()
	return nil
}

func (p *pinner) state() (string, *x509.Certificate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pin, p.cert
}

// serverName picks the name to verify the pinned certificate against: one
// of its own SANs, so verification does not depend on the address we dial
// (the node's IP changes during the install; its certificate does not).
func serverName(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	if len(c.IPAddresses) > 0 {
		return c.IPAddresses[0].String()
	}
	return ""
}

// config returns a verifying tls.Config that trusts exactly cert.
func (p *pinner) config(pin string, cert *x509.Certificate) *tls.Config {
	pool := x509.NewCertPool()
	if cert != nil {
		pool.AddCert(cert)
	}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    pool, // only the pinned leaf: x509 accepts a leaf found in the roots pool as a chain of one
		ServerName: "tappaas.invalid",
		VerifyConnection: func(cs tls.ConnectionState) error {
			// Defence in depth: the exact certificate, byte for byte.
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			if got := CertFingerprint(cs.PeerCertificates[0].Raw); got != pin {
				return &PinError{Expected: pin, Got: got}
			}
			return nil
		},
	}
	if cert != nil {
		cfg.ServerName = serverName(cert)
		// With a pin the validity period proves nothing; verify as of a
		// moment inside it so an expired self-signed certificate (nodes
		// that were off for years) still matches its pin.
		nb, na := cert.NotBefore, cert.NotAfter
		cfg.Time = func() time.Time {
			now := time.Now()
			if now.Before(nb) || now.After(na) {
				return nb.Add(na.Sub(nb) / 2)
			}
			return now
		}
	}
	return cfg
}

// DialTLSContext is the http.Transport hook.
func (p *pinner) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	for attempt := 0; attempt < 2; attempt++ {
		pin, cert := p.state()
		raw, err := p.dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(raw, p.config(pin, cert))
		err = tc.HandshakeContext(ctx)
		if err == nil {
			return tc, nil
		}
		raw.Close()
		var pe *PinError
		if errors.As(err, &pe) {
			pe.Addr = addr
			return nil, pe
		}
		var ve *tls.CertificateVerificationError
		if !errors.As(err, &ve) || len(ve.UnverifiedCertificates) == 0 {
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		// Verification failed before any request was sent. If the
		// presented certificate is exactly the pinned one (its SHA-256
		// matches), learn it and handshake again verifying against it;
		// otherwise refuse.
		leaf := ve.UnverifiedCertificates[0]
		got := CertFingerprint(leaf.Raw)
		if got != pin {
			return nil, &PinError{Addr: addr, Expected: pin, Got: got}
		}
		if cert != nil && cert.Equal(leaf) {
			return nil, fmt.Errorf("TLS handshake with %s: pinned certificate does not verify: %w", addr, err)
		}
		if serverName(leaf) == "" {
			return nil, fmt.Errorf("TLS certificate of %s has no subject alternative name; cannot verify it", addr)
		}
		p.mu.Lock()
		if p.pin == pin {
			p.cert = leaf
		}
		p.mu.Unlock()
	}
	return nil, fmt.Errorf("TLS handshake with %s: pinned certificate did not verify", addr)
}
