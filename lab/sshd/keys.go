package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// GenerateHostKey makes a new ed25519 host key.
func GenerateHostKey() (gossh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("sshd: generate host key: %w", err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, fmt.Errorf("sshd: host key signer: %w", err)
	}
	return signer, nil
}

// AuthorizedKey renders a public key in authorized_keys / known_hosts
// form without the trailing newline ("ssh-ed25519 AAAA…").
func AuthorizedKey(k gossh.PublicKey) string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k)))
}

// KeysEqual reports whether two public keys are the same key.
func KeysEqual(a, b gossh.PublicKey) bool {
	return a.Type() == b.Type() && string(a.Marshal()) == string(b.Marshal())
}
