package ssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/lab/sshd"
)

// hostWithKey is an in-process SSH server with host key hs accepting cs.
func hostWithKey(t *testing.T, hs, cs gossh.Signer) string {
	t.Helper()
	srv, err := sshd.Listen("127.0.0.1:0", sshd.Config{HostKey: hs,
		AuthorizedKeys: func(_ string, k gossh.PublicKey) bool { return string(k.Marshal()) == string(cs.PublicKey().Marshal()) },
		Handler:        func(context.Context, string, string, io.Reader, io.Writer, io.Writer) int { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr()
}

func newSigner(t *testing.T) gossh.Signer {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// DialAt reaches the same host at another address only when it presents
// the host key already trusted for the first one (and records it there);
// another host at the new address is refused.
func TestDialAtTrustsOnlyTheSameHostKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	hostKey, client := newSigner(t), newSigner(t)
	first := hostWithKey(t, hostKey, client)
	same := hostWithKey(t, hostKey, client)       // the node at its new address
	other := hostWithKey(t, newSigner(t), client) // someone else there
	kh := filepath.Join(t.TempDir(), "known_hosts")
	c, err := Dial(ctx, Config{Addr: first, KnownHostsFile: kh, AcceptFingerprint: gossh.FingerprintSHA256(hostKey.PublicKey()), Signers: []gossh.Signer{client}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.DialAt(ctx, other)
	var oh *OtherHostError
	if !errors.As(err, &oh) || !errors.Is(err, ErrHostKeyRejected) || !oh.Fatal() || !strings.Contains(err.Error(), "is not the host at "+first) {
		t.Fatalf("another host key at the new address must be refused for good, got %v", err)
	}
	nc, err := c.DialAt(ctx, same)
	if err != nil {
		t.Fatalf("the same host at a new address: %v", err)
	}
	defer nc.Close()
	if _, err := nc.Run(ctx, exec.Cmd{Script: "true"}); err != nil {
		t.Fatal(err)
	}
	// Recorded for the new address: a plain dial there trusts it.
	again, err := Dial(ctx, Config{Addr: same, KnownHostsFile: kh, Signers: []gossh.Signer{client}})
	if err != nil {
		t.Fatalf("the new address was not recorded in known_hosts: %v", err)
	}
	again.Close()
}
