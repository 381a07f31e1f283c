package ssh

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Host key errors; match with errors.Is.
var (
	// ErrHostKeyChanged: the server's key differs from the one on record.
	ErrHostKeyChanged = errors.New("host key changed")
	// ErrHostKeyUnknown: no key on record and nobody confirmed the offered one.
	ErrHostKeyUnknown = errors.New("host key unknown")
	// ErrHostKeyRejected: the offered key was refused (fingerprint did not
	// match --accept-host-key, or the operator said no).
	ErrHostKeyRejected = errors.New("host key rejected")
)

// HostKeyChangedError is the hard stop for a key that differs from the one
// recorded in known_hosts.
type HostKeyChangedError struct {
	Host     string // known_hosts host name ("10.0.0.10" or "[10.0.0.10]:2222")
	File     string // known_hosts file
	Line     int    // line of the recorded key
	Want     string // SHA-256 fingerprint on record
	Got      string // SHA-256 fingerprint offered
	Revoked  bool   // the offered key is marked @revoked
	original error
}

func (e *HostKeyChangedError) Error() string {
	if e.Revoked {
		return fmt.Sprintf("host key %s of %s is marked @revoked in %s:%d: refusing to connect", e.Got, e.Host, e.File, e.Line)
	}
	return fmt.Sprintf("host key of %s changed: %s:%d has %s, the server offered %s; this may be a man-in-the-middle attack, so tappaas stops. If the host was reinstalled, remove that line (ssh-keygen -R %q -f %q) and connect again",
		e.Host, e.File, e.Line, e.Want, e.Got, e.Host, e.File)
}

// Is makes errors.Is(err, ErrHostKeyChanged) true.
func (e *HostKeyChangedError) Is(target error) bool { return target == ErrHostKeyChanged }

// Fatal says retrying cannot help (as OpenSSH, a changed key is a hard
// stop): the step runner never retries it and polls end at once.
func (e *HostKeyChangedError) Fatal() bool { return true }

// UnknownHostKeyError is returned when nobody confirmed an unknown host key.
type UnknownHostKeyError struct {
	Host        string
	Fingerprint string // "SHA256:…"
}

func (e *UnknownHostKeyError) Error() string {
	return fmt.Sprintf("host key of %s is not known (%s): verify it on the host (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and confirm it, or pass --accept-host-key %s", e.Host, e.Fingerprint, e.Fingerprint)
}

// Is makes errors.Is(err, ErrHostKeyUnknown) true.
func (e *UnknownHostKeyError) Is(target error) bool { return target == ErrHostKeyUnknown }

// HostKeyRejectedError is returned when the offered key was refused.
type HostKeyRejectedError struct {
	Host        string
	Fingerprint string // offered
	Expected    string // from AcceptFingerprint ("" when the Trust callback said no)
}

func (e *HostKeyRejectedError) Error() string {
	if e.Expected != "" {
		return fmt.Sprintf("host key of %s is %s, but %s was expected (--accept-host-key): refusing to connect", e.Host, e.Fingerprint, e.Expected)
	}
	return fmt.Sprintf("host key %s of %s was not trusted", e.Fingerprint, e.Host)
}

// Is makes errors.Is(err, ErrHostKeyRejected) true.
func (e *HostKeyRejectedError) Is(target error) bool { return target == ErrHostKeyRejected }

// knownHostsMu serialises appends to known_hosts files in this process.
var knownHostsMu sync.Mutex

// hostKeyChecker checks one dial's host key.
type hostKeyChecker struct {
	file    string
	cb      gossh.HostKeyCallback
	accept  string
	trust   func(host string, key gossh.PublicKey, fingerprint string) (bool, error)
	lastErr error  // the typed error of the last refusal (x/crypto wraps it)
	pause   func() // stop the handshake clock while Trust asks
	resume  func()
}

func newHostKeyChecker(cfg *Config) (*hostKeyChecker, error) {
	file := cfg.KnownHostsFile
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("known_hosts %s: %w", file, err)
	}
	f, err := os.OpenFile(file, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("known_hosts %s: %w", file, err)
	}
	f.Close()
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	return &hostKeyChecker{file: file, cb: cb, accept: cfg.AcceptFingerprint, trust: cfg.Trust}, nil
}

// dummyKey is a syntactically valid key no real host has; checking it
// reveals which keys are on record for a host.
var dummyKey = func() gossh.PublicKey {
	k, err := gossh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		panic(err)
	}
	return k
}()

// knownAlgorithms returns the host key algorithms to negotiate for addr:
// those of the keys on record, or nil (any) for an unknown host.
func (h *hostKeyChecker) knownAlgorithms(addr string) []string {
	err := h.cb(addr, fakeAddr(addr), dummyKey)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algs []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			algs = append(algs, a)
		}
	}
	for _, w := range ke.Want {
		switch t := w.Key.Type(); t {
		case gossh.KeyAlgoRSA:
			add(gossh.KeyAlgoRSASHA512)
			add(gossh.KeyAlgoRSASHA256)
			add(gossh.KeyAlgoRSA)
		default:
			add(t)
		}
	}
	return algs
}

func fakeAddr(addr string) net.Addr {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 22}
	}
	p := 22
	fmt.Sscanf(port, "%d", &p)
	ip := net.ParseIP(host)
	if ip == nil {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return &net.TCPAddr{IP: ip, Port: p}
}

// check is the gossh.HostKeyCallback.
func (h *hostKeyChecker) check(hostname string, remote net.Addr, key gossh.PublicKey) error {
	err := h.cb(hostname, remote, key)
	if err == nil {
		return nil
	}
	host := knownhosts.Normalize(hostname)
	fp := gossh.FingerprintSHA256(key)
	var rev *knownhosts.RevokedError
	if errors.As(err, &rev) {
		h.lastErr = &HostKeyChangedError{Host: host, File: rev.Revoked.Filename, Line: rev.Revoked.Line, Got: fp, Revoked: true}
		return h.lastErr
	}
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		h.lastErr = fmt.Errorf("host key check for %s: %w", host, err)
		return h.lastErr
	}
	if len(ke.Want) > 0 {
		w := ke.Want[0]
		for _, k := range ke.Want {
			if k.Key.Type() == key.Type() {
				w = k
				break
			}
		}
		h.lastErr = &HostKeyChangedError{Host: host, File: w.Filename, Line: w.Line, Want: gossh.FingerprintSHA256(w.Key), Got: fp, original: err}
		return h.lastErr
	}
	// Unknown host.
	switch {
	case h.accept != "":
		want := normalizeFingerprint(h.accept)
		if want != fp {
			h.lastErr = &HostKeyRejectedError{Host: host, Fingerprint: fp, Expected: want}
			return h.lastErr
		}
	case h.trust != nil:
		if h.pause != nil {
			h.pause()
		}
		ok, terr := h.trust(host, key, fp)
		if h.resume != nil {
			h.resume()
		}
		if terr != nil {
			h.lastErr = fmt.Errorf("host key of %s (%s): %w", host, fp, terr)
			return h.lastErr
		}
		if !ok {
			h.lastErr = &HostKeyRejectedError{Host: host, Fingerprint: fp}
			return h.lastErr
		}
	default:
		h.lastErr = &UnknownHostKeyError{Host: host, Fingerprint: fp}
		return h.lastErr
	}
	if err := appendKnownHost(h.file, host, key); err != nil {
		h.lastErr = err
		return err
	}
	return nil
}

// normalizeFingerprint accepts "SHA256:xxx" or "xxx" (base64, padding
// optional) and returns the "SHA256:xxx" form.
func normalizeFingerprint(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "SHA256:")
	s = strings.TrimRight(s, "=")
	return "SHA256:" + s
}

func appendKnownHost(file, host string, key gossh.PublicKey) error {
	knownHostsMu.Lock()
	defer knownHostsMu.Unlock()
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("record host key in %s: %w", file, err)
	}
	defer f.Close()
	prefix := ""
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, st.Size()-1); err == nil && b[0] != '\n' {
			prefix = "\n"
		}
	}
	if _, err := f.WriteString(prefix + knownhosts.Line([]string{host}, key) + "\n"); err != nil {
		return fmt.Errorf("record host key in %s: %w", file, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("record host key in %s: %w", file, err)
	}
	return nil
}
