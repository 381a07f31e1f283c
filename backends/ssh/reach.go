package ssh

import (
	"context"
	"fmt"
	"net"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// LocalAddr is our end of the live connection (nil when none is up): the
// address the server sees the client come from, unless a NAT lies between.
func (c *Client) LocalAddr() net.Addr {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil || c.conn.c == nil {
		return nil
	}
	return c.conn.c.LocalAddr()
}

// DialAt opens a new, separate connection to the same host at another
// address (host:port), as the same user with the same keys. The host there
// must present a key known_hosts records for this client's address — the
// host this client already trusts; a host key on record for the new
// address must match too (a different one is a changed key). The key is
// then recorded for the new address, so a later `--host` to it connects
// without asking.
func (c *Client) DialAt(ctx context.Context, addr string) (*Client, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "22")
	}
	cb, err := knownhosts.New(c.cfg.KnownHostsFile)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w", err)
	}
	orig := c.cfg.Addr
	cfg := c.cfg
	cfg.Addr = addr
	cfg.Jump = nil
	cfg.Signers = append([]gossh.Signer(nil), c.signers...)
	cfg.KeyFiles = nil
	cfg.AcceptFingerprint = ""
	cfg.Trust = func(host string, key PublicKey, fp string) (bool, error) {
		if err := cb(orig, fakeAddr(orig), key); err != nil {
			return false, &OtherHostError{Addr: host, Trusted: orig, Fingerprint: fp}
		}
		return true, nil
	}
	return Dial(ctx, cfg)
}

// OtherHostError is DialAt reaching a host whose key is not the one trusted
// for the first address. It is fatal: retrying cannot make it the same
// host. It matches ErrHostKeyRejected.
type OtherHostError struct {
	Addr, Trusted, Fingerprint string
}

func (e *OtherHostError) Error() string {
	return fmt.Sprintf("%s is not the host at %s: its key %s is not the one on record for %s", e.Addr, e.Trusted, e.Fingerprint, e.Trusted)
}

// Fatal marks the error as never retried (steps.Fatal).
func (e *OtherHostError) Fatal() bool { return true }

// Is matches ErrHostKeyRejected.
func (e *OtherHostError) Is(target error) bool { return target == ErrHostKeyRejected }
