package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"

	gossh "golang.org/x/crypto/ssh"
)

// GenerateHostKey makes a new ed25519 host key and returns it with its
// OpenSSH private-key PEM (to persist it so the host key survives lab
// restarts; store the PEM 0600).
func GenerateHostKey() (gossh.Signer, []byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("sshd: generate host key: %w", err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, nil, fmt.Errorf("sshd: marshal host key: %w", err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("sshd: host key signer: %w", err)
	}
	return signer, pem.EncodeToMemory(block), nil
}

// ParseHostKey reads a PEM private key made by GenerateHostKey (or any
// unencrypted OpenSSH/PKCS8 key).
func ParseHostKey(pemBytes []byte) (gossh.Signer, error) {
	s, err := gossh.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("sshd: parse host key: %w", err)
	}
	return s, nil
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

// AuthorizedKeysFunc parses an authorized_keys text and returns a matcher
// for Config.AuthorizedKeys accepting those keys for any user; malformed
// lines are reported as an error naming the line.
func AuthorizedKeysFunc(text string) (func(user string, key gossh.PublicKey) bool, error) {
	var keys []gossh.PublicKey
	rest := []byte(text)
	line := 0
	for len(rest) > 0 {
		line++
		var k gossh.PublicKey
		var err error
		k, _, _, rest, err = gossh.ParseAuthorizedKey(rest)
		if err != nil {
			if strings.TrimSpace(string(rest)) == "" {
				break
			}
			return nil, fmt.Errorf("sshd: authorized keys entry %d: %w", line, err)
		}
		keys = append(keys, k)
	}
	return func(_ string, key gossh.PublicKey) bool {
		for _, k := range keys {
			if KeysEqual(k, key) {
				return true
			}
		}
		return false
	}, nil
}
