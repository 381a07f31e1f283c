package ssh_test

import (
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
//
// The suite's subtests are parallel: they start only when the test binary
// has a free slot (-parallel, GOMAXPROCS by default), which on a loaded
// machine may be minutes after the lab started. So no clock starts here:
// each dial gets its own context, and a hang is caught by the test binary's
// -timeout, not by a deadline that assumes an idle machine.
func TestLabConformance(t *testing.T) {
	t.Parallel()
	l, err := lab.Start(t.Context(), lab.Options{Speed: 1})
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
		c, err := ssh.Dial(t.Context(), ssh.Config{Addr: info.NodeAddr + ":22", Dial: l.Dial, KnownHostsFile: t.TempDir() + "/kh",
			AcceptFingerprint: info.SSHFingerprint, Signers: []gossh.Signer{signer}, DialTimeout: 2 * time.Minute})
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
