package firewall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/backends/tlspin"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
)

const imgURL = "https://example.org/rel/tappaas-firewall.qcow2.zst"

var payload = []byte("ZSTD-FRAME-lab-image")

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// dlNode fakes curl (failing the first failN attempts), sha256sum, zstd.
func dlNode(failN int, served []byte) (*exectest.Fake, *int) {
	f := exectest.NewFake()
	attempts := 0
	var mu sync.Mutex
	f.Reply(`^mkdir -p`, "", 0)
	f.On(`^curl .* -o (\S+) (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		mu.Lock()
		attempts++
		a := attempts
		mu.Unlock()
		if a <= failN {
			fmt.Fprintln(inv.Stderr, "curl: (56) Recv failure: Connection reset by peer")
			return 56, nil
		}
		inv.Fake.SetFile(inv.Match[1], served, 0o644)
		return 0, nil
	})
	f.On(`^sha256sum (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		b, _, ok := inv.Fake.File(inv.Match[1])
		if !ok {
			return 1, nil
		}
		fmt.Fprintf(inv.Stdout, "%s  %s\n", sum(b), inv.Match[1])
		return 0, nil
	})
	f.On(`^zstd -d -q --long=27 -f -o (\S+) (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		b, _, _ := inv.Fake.File(inv.Match[2])
		inv.Fake.SetFile(inv.Match[1], append([]byte("QCOW:"), b...), 0o644)
		return 0, nil
	})
	f.On(`^rm -f (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		inv.Fake.RemoveFile(inv.Match[1])
		return 0, nil
	})
	f.On(`^test -s (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		if b, _, ok := inv.Fake.File(inv.Match[1]); ok && len(b) > 0 {
			return 0, nil
		}
		return 1, nil
	})
	return f, &attempts
}

func rt() *steps.Runtime { return steps.NewRuntime("t", nil, nil, nil, nil) }

func TestImageRetriesAndVerifies(t *testing.T) {
	t.Parallel()
	f, attempts := dlNode(2, payload)
	s := &Image{Node: f, StepID: "firewall.image", URL: imgURL, SHA256: sum(payload)}
	ctx := context.Background()
	if st, _ := s.Check(ctx, rt()); st.Done {
		t.Fatal("done before download")
	}
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	if *attempts != 3 {
		t.Fatalf("attempts = %d, want 3 (two failures then success)", *attempts)
	}
	if st, err := s.Check(ctx, rt()); err != nil || !st.Done {
		t.Fatalf("check: %+v %v", st, err)
	}
	if _, _, ok := f.File(ImportDir + "/tappaas-firewall.qcow2.zst.part"); ok {
		t.Fatal("the compressed download was left behind")
	}
}

func TestImageChecksumMismatchRemovesFile(t *testing.T) {
	t.Parallel()
	f, _ := dlNode(0, []byte("tampered"))
	s := &Image{Node: f, StepID: "firewall.image", URL: imgURL, SHA256: sum(payload)}
	err := s.Apply(context.Background(), rt())
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("got %v", err)
	}
	if _, _, ok := f.File(ImportDir + "/tappaas-firewall.qcow2.zst.part"); ok {
		t.Fatal("a file with the wrong checksum was kept")
	}
	if _, _, ok := f.File(s.ImportPath()); ok {
		t.Fatal("an unverified image was unpacked")
	}
}

func TestImageGivesUpRetryable(t *testing.T) {
	t.Parallel()
	f, _ := dlNode(100, payload)
	s := &Image{Node: f, StepID: "firewall.image", URL: imgURL, SHA256: sum(payload), Attempts: 2}
	err := s.Apply(context.Background(), rt())
	if err == nil || !steps.Retryable(err) || !strings.Contains(err.Error(), "resumes") {
		t.Fatalf("got %v", err)
	}
}

func TestImageCancelled(t *testing.T) {
	t.Parallel()
	f := exectest.NewFake()
	f.Reply(`^mkdir -p`, "", 0)
	f.On(`^curl`, func(ctx context.Context, _ *exectest.Invocation) (int, error) { <-ctx.Done(); return -1, ctx.Err() })
	ctx, cancel := context.WithCancel(context.Background())
	go cancel()
	err := (&Image{Node: f, StepID: "firewall.image", URL: imgURL, SHA256: sum(payload)}).Apply(ctx, rt())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

// fakeFW is a firewall whose accepted keys the pusher replaces.
type fakeFW struct {
	mu      sync.Mutex
	keys    map[string]string
	pushed  []byte
	fp      string
	pushErr error
	ignore  bool // the push does not take effect
	sent    int  // probes that got past TLS (a key was sent)
}

func (f *fakeFW) Fingerprint(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fp, nil
}

// Probe refuses a pin other than the served certificate before sending
// anything, as the tlspin transport does.
func (f *fakeFW) Probe(_ context.Context, fp, key, secret string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fp != f.fp {
		return &tlspin.MismatchError{Addr: "10.0.0.1:443", Expected: fp, Got: f.fp}
	}
	f.sent++
	if s, ok := f.keys[key]; ok && s == secret {
		return nil
	}
	return ErrRefused
}
func (f *fakeFW) Push(_ context.Context, rt *steps.Runtime, xml []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pushErr != nil {
		return f.pushErr
	}
	f.pushed = xml
	if !f.ignore {
		k, _ := rt.Secrets.Secret(SecretAPIKey)
		s, _ := rt.Secrets.Secret(SecretAPISecret)
		f.keys = map[string]string{k: s}
	}
	return nil
}

func newFW() *fakeFW {
	return &fakeFW{keys: map[string]string{BootstrapKey: BootstrapSecret}, fp: strings.Repeat("AB:", 31) + "AB"}
}

// After the takeover the certificate is pinned: a firewall presenting
// another one stops Check, Apply and Verify at once (fatal, never
// retried), naming both fingerprints and what to do; no key is sent.
func TestChangedCertificateStops(t *testing.T) {
	t.Parallel()
	fw := newFW()
	node := exectest.NewFake()
	newVMProc(node, 110)
	node.Reply(`^test -f `, "", 1)
	r := rt()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := &Config{Node: node, Cfg: config.Defaults(), API: fw, Pusher: fw, WaitAPI: time.Hour}
	v := &Verify{Cfg: config.Defaults(), API: fw, Wait: time.Hour}
	if err := c.Apply(ctx, r); err != nil {
		t.Fatal(err)
	}
	old := fw.fp
	fw.mu.Lock()
	fw.fp = strings.Repeat("CD:", 31) + "EF" // the certificate changed (and the trusted channel reports the new one)
	sent := fw.sent
	fw.mu.Unlock()
	_, cerr := c.Check(ctx, r)
	_, verr := v.Check(ctx, r)
	aerr := c.Apply(ctx, r)
	vaerr := v.Apply(ctx, r)
	for name, err := range map[string]error{"config check": cerr, "verify check": verr, "config apply": aerr, "verify apply": vaerr} {
		if !errors.Is(err, tlspin.ErrMismatch) || !steps.Fatal(err) {
			t.Errorf("%s: want a fatal mismatch, got %v", name, err)
			continue
		}
		if !strings.Contains(err.Error(), old) || !strings.Contains(err.Error(), fw.fp) {
			t.Errorf("%s does not name both fingerprints: %v", name, err)
		}
	}
	if fw.sent != sent {
		t.Fatalf("%d probes reached the changed firewall", fw.sent-sent)
	}
	if fp, _ := steps.Get(r.Facts, FactFingerprint); fp != old {
		t.Fatalf("the pin moved to %q", fp)
	}
}

// A pin written by an older tappaas (plain lower-case hex) still loads and
// is rewritten in the one format.
func TestPlainHexPinMigrates(t *testing.T) {
	t.Parallel()
	fw := newFW()
	r := rt()
	_ = r.Secrets.SetSecret(SecretAPIKey, "k")
	_ = r.Secrets.SetSecret(SecretAPISecret, "s")
	fw.keys["k"] = "s"
	if err := steps.Set(r.Facts, FactFingerprint, strings.ToLower(strings.ReplaceAll(fw.fp, ":", ""))); err != nil {
		t.Fatal(err)
	}
	st, err := (&Config{Cfg: config.Defaults(), API: fw}).Check(context.Background(), r)
	if err != nil || !st.Done {
		t.Fatalf("check with an old-format pin: %+v %v", st, err)
	}
	if fp, _ := steps.Get(r.Facts, FactFingerprint); fp != fw.fp {
		t.Fatalf("pin not migrated: %q", fp)
	}
}

func TestConfigTakeoverAndVerify(t *testing.T) {
	t.Parallel()
	fw := newFW()
	node := exectest.NewFake()
	newVMProc(node, 110)
	node.SetFile("/root/.ssh/id_ed25519.pub", []byte("ssh-ed25519 AAAAC3Nz root@tappaas1\n"), 0o644)
	cfg := config.Defaults()
	r := rt()
	c := &Config{Node: node, Cfg: cfg, API: fw, Pusher: fw, WaitAPI: 1e9}
	v := &Verify{Cfg: cfg, API: fw, Wait: 1e9}
	ctx := context.Background()
	if st, _ := c.Check(ctx, r); st.Done {
		t.Fatal("done before takeover")
	}
	if st, _ := v.Check(ctx, r); st.Done {
		t.Fatal("verify done while the bootstrap key works")
	}
	if err := c.Apply(ctx, r); err != nil {
		t.Fatal(err)
	}
	key, _ := r.Secrets.Secret(SecretAPIKey)
	secret, _ := r.Secrets.Secret(SecretAPISecret)
	pw, _ := r.Secrets.Secret(SecretRootPassword)
	x := string(fw.pushed)
	if !strings.Contains(x, "<apikeys>"+key+"|$6$") || strings.Contains(x, secret) || strings.Contains(x, pw) || !strings.Contains(x, "$6$") {
		t.Fatal("config must carry the key and only hashes of the secret and password")
	}
	if st, err := c.Check(ctx, r); err != nil || !st.Done {
		t.Fatalf("config check: %+v %v", st, err)
	}
	if err := v.Apply(ctx, r); err != nil {
		t.Fatal(err)
	}
	if fp, _ := steps.Get(r.Facts, FactFingerprint); fp != fw.fp {
		t.Fatalf("fingerprint not pinned: %q", fp)
	}
	// Idempotent: a second Apply reuses the same credentials.
	if err := c.Apply(ctx, r); err != nil {
		t.Fatal(err)
	}
	if k2, _ := r.Secrets.Secret(SecretAPIKey); k2 != key {
		t.Fatal("second Apply generated new credentials")
	}
}

func TestVerifyFailsWhenBootstrapKeyStillWorks(t *testing.T) {
	t.Parallel()
	fw := newFW()
	r := rt()
	_ = r.Secrets.SetSecret(SecretAPIKey, "k")
	_ = r.Secrets.SetSecret(SecretAPISecret, "s")
	fw.keys["k"] = "s" // ours added, bootstrap still live
	err := (&Verify{Cfg: config.Defaults(), API: fw, Wait: 3e8}).Apply(context.Background(), r)
	if err == nil || !strings.Contains(err.Error(), "bootstrap") || !strings.Contains(err.Error(), "firewall.config") {
		t.Fatalf("got %v", err)
	}
}

func TestConfigFailureTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		fw   func() *fakeFW
		want string
	}{
		{"push fails", func() *fakeFW { f := newFW(); f.pushErr = errors.New("ssh: no route"); return f }, "push the configuration"},
		{"key never accepted", func() *fakeFW { f := newFW(); f.ignore = true; return f }, "did not accept our key"},
	}
	for _, c := range cases {
		fw := c.fw()
		cfg := config.Defaults()
		node := exectest.NewFake()
		newVMProc(node, 110)
		node.Reply(`^test -f `, "", 1) // the node has no SSH key of its own
		err := (&Config{Node: node, Cfg: cfg, API: fw, Pusher: fw, WaitAPI: 3e8}).Apply(context.Background(), rt())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v", c.name, err)
		}
	}
}
