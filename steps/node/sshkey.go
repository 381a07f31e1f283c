package node

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/steps"
)

// SSHKey returns the ed25519 key kept under secret name (PEM, OpenSSH
// format), generating and storing it (0600) on first use. The installer
// generates keys itself so it can authorize them before the machine that
// uses them exists (cicd's key on the firewall), and so no private key is
// ever copied between machines (upstream copied the node's,
// docs/upstream.md#key-spread).
func SSHKey(rt *steps.Runtime, name, comment string) (gossh.Signer, []byte, error) {
	if p, ok := rt.Secrets.Secret(name); ok {
		s, err := gossh.ParsePrivateKey([]byte(p))
		if err != nil {
			return nil, nil, fmt.Errorf("SSH key %s in the secrets file is unreadable: %w", name, err)
		}
		return s, []byte(p), nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	blk, err := gossh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, nil, err
	}
	pemBytes := pem.EncodeToMemory(blk)
	if err := rt.Secrets.SetSecret(name, string(pemBytes)); err != nil {
		return nil, nil, fmt.Errorf("store SSH key %s: %w", name, err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	return s, pemBytes, err
}

// AuthorizedKey renders a signer's public key as an authorized_keys line.
func AuthorizedKey(s gossh.Signer, comment string) string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey()))) + " " + comment
}
