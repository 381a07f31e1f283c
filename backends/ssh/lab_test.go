package ssh_test

import (
	"context"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/backends/ssh"
	"github.com/tappaas/tappaas/lab"
)

// The conformance suite against the lab's SSH server and simulated shell
// (Speed 1: the suite's sleeps must take real time).
func TestLabConformance(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	l, err := lab.Start(ctx, lab.Options{Speed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	info := l.Info()
	signer, err := gossh.ParsePrivateKey(info.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	exectest.Run(t, func(t *testing.T) exec.Executor {
		c, err := ssh.Dial(ctx, ssh.Config{Addr: info.NodeAddr + ":22", Dial: l.Dial, KnownHostsFile: t.TempDir() + "/kh",
			AcceptFingerprint: info.SSHFingerprint, Signers: []gossh.Signer{signer}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if !c.Watchdog() {
			t.Fatal("the lab's shell does not run the watchdog")
		}
		return c
	})
}
