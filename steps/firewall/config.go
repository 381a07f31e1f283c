package firewall

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tappaas/tappaas/assets"
	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/tlspin"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
)

// Secrets the firewall steps keep (0600, never logged).
const (
	SecretAPIKey       = "firewall.api_key"
	SecretAPISecret    = "firewall.api_secret"
	SecretRootPassword = "firewall.root_password"
)

// The public bootstrap credentials baked into the TAPPaaS firewall image
// (TAPPaaS@f54e4fc:.github/workflows/build-opnsense-image.yml:42-44). They
// must stop working once we have taken the firewall over.
const (
	BootstrapKey      = "tappaas-bootstrap"
	BootstrapSecret   = "tappaas-bootstrap-rotate-me"
	BootstrapPassword = "opnsense"
)

// FactFingerprint is the pinned SHA-256 fingerprint of the firewall's TLS
// certificate ("AA:BB:…"). Learned over the trusted channel the first time
// the firewall accepts our key; from then on the API is only ever spoken to
// through that certificate, and a different one stops the run
// (*tlspin.MismatchError) until the operator checked it and ran
// `tappaas forget-certificate firewall`.
var FactFingerprint = steps.Key[string]("firewall.fingerprint")

// Pinned returns the fingerprint pinned by an earlier run (ok false when
// none). A pin written in the plain-hex form of older versions is
// rewritten in the one format ("AA:BB:…").
func Pinned(facts *steps.Facts) (fp string, ok bool, err error) {
	raw, ok := steps.Get(facts, FactFingerprint)
	if !ok || raw == "" {
		return "", false, nil
	}
	fp, err = tlspin.Normalize(raw)
	if err != nil {
		return "", false, fmt.Errorf("the pinned firewall certificate fingerprint in the checkpoint (%s) is damaged: %w; run `tappaas forget-certificate firewall` to learn it again", FactFingerprint, err)
	}
	if fp != raw {
		if err := steps.Set(facts, FactFingerprint, fp); err != nil {
			return "", false, err
		}
	}
	return fp, true, nil
}

// trusted returns the fingerprint to speak to the API through: the pin of
// an earlier run, else the one learned now over the trusted channel.
func trusted(ctx context.Context, rt *steps.Runtime, api API) (fp string, wasPinned bool, err error) {
	if fp, ok, err := Pinned(rt.Facts); err != nil || ok {
		return fp, ok, err
	}
	if fp, err = api.Fingerprint(ctx); err != nil {
		return "", false, err
	}
	fp, err = tlspin.Normalize(fp)
	return fp, false, err
}

// certChanged says the firewall presents another certificate than the
// pinned one: the run stops (never retried, no key sent).
func certChanged(err error) error {
	return fmt.Errorf("the firewall's TLS certificate is not the one pinned when tappaas took it over: %w", err)
}

// ErrRefused is wrapped by API.Probe when the firewall refuses credentials.
var ErrRefused = errors.New("firewall refused the credentials")

// API is the firewall's REST API as the takeover needs it.
type API interface {
	// Fingerprint learns the firewall's certificate fingerprint over a
	// trusted channel (never by trusting whatever answers on the network).
	Fingerprint(ctx context.Context) (string, error)
	// Probe authenticates with key/secret against https://10.0.0.1 pinned
	// to fp: nil when accepted, an error wrapping ErrRefused when refused,
	// another error when the API did not answer.
	Probe(ctx context.Context, fp, key, secret string) error
}

// Pusher delivers a configuration to a freshly booted firewall through the
// image's bootstrap access and makes it live.
type Pusher interface {
	Push(ctx context.Context, rt *steps.Runtime, configXML []byte) error
}

func randomB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// GeneratePassword returns a 20-character password of letters and digits.
func GeneratePassword() string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// NodePublicKey returns the node root's SSH public key (authorized on the
// firewall so the node, and only by key, can log in).
func NodePublicKey(ctx context.Context, e exec.Executor) (string, error) {
	for _, p := range []string{"/root/.ssh/id_ed25519.pub", "/root/.ssh/id_rsa.pub"} {
		b, ok, err := node.ReadFile(ctx, e, p)
		if err != nil {
			return "", err
		}
		if ok && len(strings.TrimSpace(string(b))) > 0 {
			return strings.TrimSpace(string(b)), nil
		}
	}
	for _, p := range []string{"/root/.ssh/id_ed25519", "/root/.ssh/id_rsa"} {
		if ok, err := node.QueryOK(ctx, e, "test -f "+p); err != nil {
			return "", err
		} else if !ok {
			continue
		}
		if out, err := node.Query(ctx, e, "ssh-keygen -y -f "+p); err == nil && strings.TrimSpace(out) != "" {
			return strings.TrimSpace(out), nil
		}
	}
	return "", nil
}

// Config takes the firewall over: it renders the base configuration with a
// freshly generated API key/secret (and root password unless given), the
// node's SSH key, pushes it, and waits for the API to accept our key.
type Config struct {
	Node   exec.Executor
	Cfg    config.Install
	API    API
	Pusher Pusher
	// Nodes are the static DNS entries (tappaas1..9 → 10.0.0.10..18).
	Nodes []assets.FirewallNode
	// WaitAPI bounds the wait for the API after the push (default 10 min).
	WaitAPI time.Duration
}

func (s *Config) ID() string { return "firewall.config" }

func (s *Config) Title() string { return "Firewall configuration with our API key" }

func (s *Config) Needs() []string { return []string{"firewall.start"} }

func (s *Config) Touches() []string { return []string{"opnsense"} }

func (s *Config) Describe(*steps.Runtime) []string {
	pw := "generated, shown once, kept 0600"
	if s.Cfg.Firewall.RootPassword != "" {
		pw = "from the answers"
	}
	return []string{"generate an API key and secret (kept 0600)", "root password: " + pw, "push /conf/config.xml and wait for the API to accept our key"}
}

func (s *Config) ours(rt *steps.Runtime) (key, secret string, ok bool) {
	key, ok1 := rt.Secrets.Secret(SecretAPIKey)
	secret, ok2 := rt.Secrets.Secret(SecretAPISecret)
	return key, secret, ok1 && ok2
}

// Check implements steps.Step: our key authenticates against the pinned
// firewall.
func (s *Config) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	key, secret, ok := s.ours(rt)
	if !ok {
		return steps.NotDone("no firewall API key generated yet"), nil
	}
	fp, _, err := trusted(ctx, rt, s.API)
	if err != nil {
		return steps.NotDone("the firewall's certificate is not known yet (%v)", err), nil
	}
	if err := s.API.Probe(ctx, fp, key, secret); err != nil {
		if errors.Is(err, tlspin.ErrMismatch) {
			return steps.Status{}, certChanged(err)
		}
		return steps.NotDone("the firewall API does not accept our key yet (%v)", err), nil
	}
	if err := steps.Set(rt.Facts, FactFingerprint, fp); err != nil {
		return steps.Status{}, err
	}
	return steps.Done("the firewall API accepts our key (certificate %s… pinned)", fp[:min(len(fp), 11)]), nil
}

func (s *Config) Apply(ctx context.Context, rt *steps.Runtime) error {
	key, secret, ok := s.ours(rt)
	if !ok {
		key, secret = randomB64(60), randomB64(60)
		if err := rt.Secrets.SetSecret(SecretAPIKey, key); err != nil {
			return fmt.Errorf("store the firewall API key: %w", err)
		}
		if err := rt.Secrets.SetSecret(SecretAPISecret, secret); err != nil {
			return fmt.Errorf("store the firewall API secret: %w", err)
		}
		rt.Printf("generated a firewall API key and secret (kept in the secrets file)")
	}
	pw := s.Cfg.Firewall.RootPassword
	if pw == "" {
		var have bool
		pw, have = rt.Secrets.Secret(SecretRootPassword)
		if !have {
			pw = GeneratePassword()
			rt.Printf("generated the firewall root password (kept 0600 in the secrets file; shown once at the end, on a terminal only)")
		}
	}
	if err := rt.Secrets.SetSecret(SecretRootPassword, pw); err != nil {
		return fmt.Errorf("store the firewall root password: %w", err)
	}
	pub, err := NodePublicKey(ctx, s.Node)
	if err != nil {
		return err
	}
	if pub == "" {
		rt.Printf("the node has no root SSH key; only tappaas-cicd's key is authorized on the firewall")
	}
	// tappaas-cicd manages the firewall over SSH (install2, zone-manager):
	// its key is generated now and authorized here, instead of copying the
	// node's private key to cicd as upstream did
	// (docs/upstream.md#key-spread).
	cicd, _, err := node.SSHKey(rt, "ssh.cicd_key", "tappaas-cicd")
	if err != nil {
		return err
	}
	keys := strings.TrimSpace(pub + "\n" + node.AuthorizedKey(cicd, "tappaas-cicd"))
	xmlCfg, err := assets.RenderFirewallConfig(assets.FirewallConfig{
		APIKey: key, APISecretHash: SHA512Crypt(secret, "", 0), RootPasswordHash: SHA512Crypt(pw, "", 0),
		AuthorizedKeysB64: base64.StdEncoding.EncodeToString([]byte(keys + "\n")), LANIP: config.FirewallLANIP, Nodes: s.Nodes,
	})
	if err != nil {
		return err
	}
	if err := s.Pusher.Push(ctx, rt, xmlCfg); err != nil {
		return fmt.Errorf("push the configuration: %w", err)
	}
	// The process that got the configuration: step firewall.reboot
	// reboots until another one runs.
	if pid, err := QEMUProcess(ctx, s.Node, s.Cfg.Firewall.VMID); err != nil {
		return fmt.Errorf("read the firewall VM's status after the push: %w", err)
	} else if err := steps.Set(rt.Facts, FactPushedPID, pid); err != nil {
		return err
	}
	wait := s.WaitAPI
	if wait <= 0 {
		wait = 10 * time.Minute
	}
	var fp string
	var wasPinned bool
	err = node.Poll(ctx, rt, "the firewall API at https://"+config.FirewallLANIP+" to accept our key", wait, 5*time.Second, func(ctx context.Context) (bool, error) {
		var err error
		if fp == "" {
			if fp, wasPinned, err = trusted(ctx, rt, s.API); err != nil {
				fp = ""
				return false, err
			}
		}
		if err := s.API.Probe(ctx, fp, key, secret); err != nil {
			if errors.Is(err, tlspin.ErrMismatch) {
				if wasPinned {
					return false, certChanged(err) // fatal: ends the wait
				}
				// Not pinned yet and the certificate changed between
				// learning it and using it (the reload after the push):
				// learn it again over the trusted channel.
				fp = ""
				return false, fmt.Errorf("the certificate changed before it was pinned (%v); learning it again", err)
			}
			return false, err
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("the firewall did not accept our key (check its console: qm terminal %d): %w", s.Cfg.Firewall.VMID, err)
	}
	return steps.Set(rt.Facts, FactFingerprint, fp)
}

// Verify proves the takeover: the pinned firewall accepts our key and
// refuses the image's public bootstrap key (upstream only warned,
// docs/upstream.md#rotation-only-warns).
type Verify struct {
	Cfg config.Install
	API API
	// Wait bounds the wait for the bootstrap key to stop working (default 2 min).
	Wait time.Duration
}

func (s *Verify) ID() string { return "firewall.verify" }

func (s *Verify) Title() string { return "Firewall: bootstrap credentials revoked" }

func (s *Verify) Needs() []string { return []string{"firewall.reboot"} }

func (s *Verify) Touches() []string { return []string{"opnsense"} }

func (s *Verify) Describe(*steps.Runtime) []string {
	return []string{"check the image's bootstrap API key is refused", "pin the firewall's TLS certificate"}
}

func (s *Verify) state(ctx context.Context, rt *steps.Runtime) (string, error) {
	key, _ := rt.Secrets.Secret(SecretAPIKey)
	secret, _ := rt.Secrets.Secret(SecretAPISecret)
	fp, _, err := trusted(ctx, rt, s.API)
	if err != nil {
		return "certificate unknown", err
	}
	if err := s.API.Probe(ctx, fp, key, secret); err != nil {
		if errors.Is(err, tlspin.ErrMismatch) {
			return "certificate changed", certChanged(err)
		}
		return "our key is refused", err
	}
	if err := steps.Set(rt.Facts, FactFingerprint, fp); err != nil {
		return "checkpoint", err
	}
	err = s.API.Probe(ctx, fp, BootstrapKey, BootstrapSecret)
	switch {
	case err == nil:
		return "the public bootstrap key still works", errBootstrapLive
	case errors.Is(err, ErrRefused):
		return "", nil
	default:
		return "could not probe the bootstrap key", err
	}
}

var errBootstrapLive = errors.New("the firewall still accepts the image's public bootstrap API key")

func (s *Verify) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	d, err := s.state(ctx, rt)
	if steps.Fatal(err) {
		return steps.Status{}, err
	}
	if err != nil {
		return steps.NotDone("%s: %v", d, err), nil
	}
	return steps.Done("our key works, the bootstrap key is refused, certificate pinned"), nil
}

func (s *Verify) Apply(ctx context.Context, rt *steps.Runtime) error {
	wait := s.Wait
	if wait <= 0 {
		wait = 2 * time.Minute
	}
	var last string
	err := node.Poll(ctx, rt, "the firewall to refuse the bootstrap API key", wait, 5*time.Second, func(ctx context.Context) (bool, error) {
		d, err := s.state(ctx, rt)
		last = d
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("%s — the firewall is not safely ours: rerun the install (step firewall.config pushes the configuration again): %w", last, err)
	}
	return nil
}
