package lab

import (
	"crypto/sha256"
	"encoding/base64"
	"time"

	"github.com/tappaas/tappaas/lab/pve"
	"github.com/tappaas/tappaas/lab/shell"
	"golang.org/x/crypto/ssh"
)

// newNodeFS is the node's filesystem.
func newNodeFS() shell.FS { return pve.NewMemFS() }

func sshFingerprint(s ssh.Signer) string {
	sum := sha256.Sum256(s.PublicKey().Marshal())
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// startShell starts the node's SSH server (lab/sshd + lab/shell).
func (l *Lab) startShell() error { return nil }

func (l *Lab) stopShell() {}

// sshAddr is the node's SSH listener ("" while none runs).
func (l *Lab) sshAddr() string { return "" }

// bootGuest brings up a NixOS guest's SSH server once it is ready.
func (l *Lab) bootGuest(vmid int, ready time.Time) {}
