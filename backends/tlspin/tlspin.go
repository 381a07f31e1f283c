// Package tlspin dials TLS connections that trust exactly one certificate,
// the one whose SHA-256 fingerprint was pinned. It serves every self-signed
// API tappaas talks to: PVE (:8006), PBS (:8007) and the OPNsense web GUI
// (:443).
//
// # One fingerprint format
//
// A fingerprint is the SHA-256 of the leaf certificate's DER bytes written
// as 32 upper-case hex bytes joined by colons ("AA:BB:…:FF", 95 characters),
// the form `pvenode cert info`, `proxmox-backup-manager cert info`,
// `openssl x509 -fingerprint -sha256` and the OPNsense GUI (System > Trust >
// Certificates) print. Normalize accepts that form in any case, plain hex
// (the format tappaas wrote to state.json before v0.2, still read so old
// state loads), and "sha256 Fingerprint=…"/"sha256:…" prefixes; everything
// tappaas shows, stores or puts in an error is Normalize's output.
//
// # Learn, then pin (never InsecureSkipVerify)
//
//  1. Given a PEM certificate (New/Set with certPEM), its fingerprint must
//     equal the pin and it is the only root of trust.
//  2. Given only a fingerprint, the first connection performs a learning
//     handshake whose root pool is empty: verification necessarily fails
//     before any application byte is sent, and Go's
//     *tls.CertificateVerificationError carries the presented chain. If the
//     leaf's fingerprint equals the pin, that certificate is learned; else
//     the dial fails with *MismatchError naming both fingerprints.
//  3. Every connection that carries data does a fully verified handshake with
//     RootCAs = {the pinned certificate} (x509 accepts a leaf found in the
//     roots pool as a chain of one) and VerifyConnection compares the leaf's
//     fingerprint with the pin byte for byte. The verification name is the
//     dialled host when the certificate names it, else one of its own names
//     (the pin, not the name, is the identity: the node's address changes
//     during the install, its certificate does not). A pinned certificate
//     outside its validity window is still the pinned one: verification
//     happens as of a moment inside the window.
//
// A server that later presents another certificate fails step 3 with
// *MismatchError. A pinned certificate Go cannot verify at all (no subject
// alternative name) is a *CertError. Both say what to do; neither is
// retryable (their Fatal method says so).
//
// # Concurrency
//
// A Pinner is safe for concurrent use; Set swaps the pin (PVE regenerates
// the node certificate on a cluster join) for later dials.
package tlspin

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
)

// ErrMismatch is matched (errors.Is) by *MismatchError.
var ErrMismatch = errors.New("TLS certificate fingerprint mismatch")

// MismatchError says the server presented a certificate other than the
// pinned one. Nothing was sent to it.
type MismatchError struct {
	Addr     string // host:port dialled ("" when not known)
	Expected string // the pin, "AA:BB:…"
	Got      string // presented, "AA:BB:…"
	Hint     string // what to do, from the Pinner's owner
}

// Error names both fingerprints and what to do.
func (e *MismatchError) Error() string {
	where := "the server"
	if e.Addr != "" {
		where = e.Addr
	}
	msg := fmt.Sprintf("TLS certificate of %s has fingerprint %s, but %s is pinned: refusing to connect (nothing was sent)", where, e.Got, e.Expected)
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// Is makes errors.Is(err, ErrMismatch) true.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }

// Fatal says retrying cannot help: the certificate will not change back.
func (e *MismatchError) Fatal() bool { return true }

// Retryable is false: see Fatal.
func (e *MismatchError) Retryable() bool { return false }

// CertError is a pinned certificate that cannot be verified (or a bad
// certificate given to New/Set).
type CertError struct{ Err error }

// Error describes the problem.
func (e *CertError) Error() string { return "TLS: " + e.Err.Error() }

// Unwrap returns the cause.
func (e *CertError) Unwrap() error { return e.Err }

// Fatal says retrying cannot help.
func (e *CertError) Fatal() bool { return true }

// Retryable is false: see Fatal.
func (e *CertError) Retryable() bool { return false }

// PinFailure returns the *MismatchError or *CertError in err's chain, nil
// when err is not a pin failure. Clients return it unwrapped: it names what
// to do, and it is fatal where a transport error would be retried.
func PinFailure(err error) error {
	var me *MismatchError
	if errors.As(err, &me) {
		return me
	}
	var ce *CertError
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}

// Normalize turns "aa:bb:…", "AABB…", "sha256:aabb…" or
// "sha256 Fingerprint=AA:…" into "AA:BB:…" (32 bytes). It fails for
// anything else.
func Normalize(s string) (string, error) {
	t := strings.TrimSpace(s)
	if i := strings.LastIndexByte(t, '='); i >= 0 {
		t = t[i+1:]
	}
	if len(t) > 7 && strings.EqualFold(t[:7], "sha256:") {
		t = t[7:]
	}
	t = strings.NewReplacer(":", "", " ", "", "-", "").Replace(t)
	b, err := hex.DecodeString(t)
	if err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("invalid SHA-256 fingerprint %q: want 32 hex bytes like AA:BB:…:FF", s)
	}
	return format(b), nil
}

func format(b []byte) string {
	const digits = "0123456789ABCDEF"
	out := make([]byte, 0, len(b)*3)
	for i, c := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// Sum is the fingerprint of a DER certificate, "AA:BB:…".
func Sum(der []byte) string {
	s := sha256.Sum256(der)
	return format(s[:])
}

func parsePEM(pemData []byte) (*x509.Certificate, error) {
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

// Pinner dials TLS connections that succeed only with the pinned
// certificate. Use DialTLSContext as http.Transport.DialTLSContext.
type Pinner struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	hint string

	mu   sync.Mutex
	pin  string            // "AA:BB:…"
	cert *x509.Certificate // the pinned certificate once known
}

// New returns a Pinner for fp (any form Normalize accepts) and/or certPEM;
// at least one is required and they must agree. dial opens the TCP
// connection. hint is appended to a *MismatchError's text: what the
// operator does when the certificate changed (where to read the new
// fingerprint, how to re-pin).
func New(dial func(ctx context.Context, network, addr string) (net.Conn, error), fp string, certPEM []byte, hint string) (*Pinner, error) {
	if dial == nil {
		return nil, errors.New("tlspin: no dial function")
	}
	p := &Pinner{dial: dial, hint: hint}
	if err := p.Set(fp, certPEM); err != nil {
		return nil, err
	}
	return p, nil
}

// Set replaces the pin. Connections already open are not affected.
func (p *Pinner) Set(fp string, certPEM []byte) error {
	var pin string
	var cert *x509.Certificate
	if fp != "" {
		n, err := Normalize(fp)
		if err != nil {
			return err
		}
		pin = n
	}
	if len(certPEM) > 0 {
		c, err := parsePEM(certPEM)
		if err != nil {
			return &CertError{Err: fmt.Errorf("pinned certificate: %w", err)}
		}
		got := Sum(c.Raw)
		if pin != "" && got != pin {
			return &MismatchError{Expected: pin, Got: got, Hint: "the certificate given does not match the fingerprint given"}
		}
		if name(c, "") == "" {
			return &CertError{Err: errors.New("the pinned certificate has no subject alternative name, so it cannot be verified; give it one (its address or host name)")}
		}
		pin, cert = got, c
	}
	if pin == "" {
		return errors.New("no TLS fingerprint to pin: give the certificate's SHA-256 fingerprint (AA:BB:…) or the certificate itself")
	}
	p.mu.Lock()
	p.pin, p.cert = pin, cert
	p.mu.Unlock()
	return nil
}

// Pin returns the pinned fingerprint, "AA:BB:…".
func (p *Pinner) Pin() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pin
}

func (p *Pinner) state() (string, *x509.Certificate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pin, p.cert
}

// name is the name to verify cert against: host when the certificate
// covers it, else one of the certificate's own SANs ("" when it has none).
func name(c *x509.Certificate, host string) string {
	if host != "" && c.VerifyHostname(host) == nil {
		return host
	}
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	if len(c.IPAddresses) > 0 {
		return c.IPAddresses[0].String()
	}
	return ""
}

// config is a verifying tls.Config whose only root is cert.
func config(pin string, cert *x509.Certificate, host string) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	nb, na := cert.NotBefore, cert.NotAfter
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		RootCAs:    pool,
		ServerName: name(cert, host),
		// A pin says nothing about time: verify as of a moment inside the
		// pinned certificate's validity (self-signed certificates of nodes
		// that were off for years expire).
		Time: func() time.Time {
			now := time.Now()
			if now.Before(nb) || now.After(na) {
				return nb.Add(na.Sub(nb) / 2)
			}
			return now
		},
		// Defence in depth: the exact certificate, byte for byte.
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			if got := Sum(cs.PeerCertificates[0].Raw); got != pin {
				return &MismatchError{Expected: pin, Got: got}
			}
			return nil
		},
	}
}

// DialTLSContext dials addr and returns a TLS connection verified against
// the pinned certificate, learning it first when only its fingerprint is
// known.
func (p *Pinner) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	pin, cert := p.state()
	if cert == nil {
		if cert, err = p.learn(ctx, network, addr, host, pin); err != nil {
			return nil, err
		}
	}
	raw, err := p.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, config(pin, cert, host))
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, p.explain(addr, pin, err)
	}
	return tc, nil
}

// learn does a handshake with an empty root pool: it must fail
// verification, and the error carries the presented chain, whose leaf is
// checked against the pin. No application data is ever sent on it.
func (p *Pinner) learn(ctx context.Context, network, addr, host, pin string) (*x509.Certificate, error) {
	raw, err := p.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	defer raw.Close()
	err = tls.Client(raw, &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: x509.NewCertPool(), ServerName: host}).HandshakeContext(ctx)
	if err == nil {
		return nil, errors.New("tlspin: a handshake verified against an empty trust store; refusing")
	}
	var ve *tls.CertificateVerificationError
	if !errors.As(err, &ve) || len(ve.UnverifiedCertificates) == 0 {
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	leaf := ve.UnverifiedCertificates[0]
	if got := Sum(leaf.Raw); got != pin {
		return nil, &MismatchError{Addr: addr, Expected: pin, Got: got, Hint: p.hint}
	}
	if name(leaf, host) == "" {
		return nil, &CertError{Err: fmt.Errorf("the certificate of %s has no subject alternative name, so it cannot be verified; give it one (its address or host name)", addr)}
	}
	p.mu.Lock()
	if p.pin == pin {
		p.cert = leaf
	}
	p.mu.Unlock()
	return leaf, nil
}

// explain turns a failed pinned handshake into *MismatchError (another
// certificate), *CertError (the pinned one does not verify) or a wrapped
// transport error.
func (p *Pinner) explain(addr, pin string, err error) error {
	var me *MismatchError
	if errors.As(err, &me) {
		return &MismatchError{Addr: addr, Expected: me.Expected, Got: me.Got, Hint: p.hint}
	}
	var ve *tls.CertificateVerificationError
	if errors.As(err, &ve) && len(ve.UnverifiedCertificates) > 0 {
		if got := Sum(ve.UnverifiedCertificates[0].Raw); got != pin {
			return &MismatchError{Addr: addr, Expected: pin, Got: got, Hint: p.hint}
		}
		return &CertError{Err: fmt.Errorf("the pinned certificate of %s does not verify: %w", addr, err)}
	}
	return fmt.Errorf("TLS handshake with %s: %w", addr, err)
}
