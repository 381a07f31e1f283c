package lab

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/ssh"
)

func labSSH(t *testing.T, l *Lab, addr string, keepAlive time.Duration) *ssh.Client {
	t.Helper()
	info := l.Info()
	signer, err := gossh.ParsePrivateKey(info.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial(t.Context(), ssh.Config{Addr: addr, Dial: l.Dial, KnownHostsFile: t.TempDir() + "/kh",
		AcceptFingerprint: info.SSHFingerprint, Signers: []gossh.Signer{signer}, KeepAlive: keepAlive, Redial: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// An open SSH session dies when the address it came in on leaves the node
// (here: the install address moves off the upstream NIC); a session on an
// address that stays lives on.
func TestSSHSessionDiesWhenItsAddressGoes(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	sh(t, l, 0, bridges)
	install := labSSH(t, l, "192.168.1.10:22", 200*time.Millisecond)
	mgmt := labSSH(t, l, "10.0.0.10:22", 0)
	ctx := t.Context()
	for _, c := range []*ssh.Client{install, mgmt} {
		if _, err := c.Run(ctx, exec.Cmd{Script: "true"}); err != nil {
			t.Fatal(err)
		}
	}
	// The wan bridge gets another address: 192.168.1.10 is gone.
	sh(t, l, 0, strings.Replace(bridges, "address 192.168.1.10/24", "address 192.168.1.11/24", 1))
	before := l.sshSrv.Commands()
	// The client learns it from its keepalives: lost in the middle, or
	// found dead before the command and the address unreachable on redial.
	_, err := install.Run(ctx, exec.Cmd{Script: "touch /root/after-the-cut"})
	if !errors.Is(err, exec.ErrConnectionLost) && !strings.Contains(fmt.Sprint(err), "no route to host") {
		t.Fatalf("a command on the cut session = %v, want the connection lost", err)
	}
	sh(t, l, 1, "test -e /root/after-the-cut") // it never reached the node
	if got := l.sshSrv.Commands(); got != before {
		t.Fatalf("the server saw %d commands after the cut", got-before)
	}
	if res, err := mgmt.Run(ctx, exec.Cmd{Script: "echo alive"}); err != nil || res.Stdout != "alive\n" {
		t.Fatalf("the session on the management address: %+v %v", res, err)
	}
}
