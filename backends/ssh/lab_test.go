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

// Scripts reach the lab node's /bin/sh, which is dash as on PVE: what only
// bash accepts fails there, as it would on a real node.
func TestLabNodeScriptsRunInDash(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	l, err := lab.Start(ctx, lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	info := l.Info()
	signer, err := gossh.ParsePrivateKey(info.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial(ctx, ssh.Config{Addr: info.NodeAddr + ":22", Dial: l.Dial, KnownHostsFile: t.TempDir() + "/kh",
		AcceptFingerprint: info.SSHFingerprint, Signers: []gossh.Signer{signer}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	for _, bashism := range []string{`[[ -d /root ]]`, `x=abc; echo "${x/b/B}"`, `cat <<< hi`, `echo {a,b}`, `source /dev/null`} {
		res, err := c.Run(ctx, exec.Cmd{Script: bashism})
		if bashism == `echo {a,b}` {
			// dash has no brace expansion: the word stays as it is.
			if err != nil || res.Stdout != "{a,b}\n" {
				t.Errorf("%s: %q %v", bashism, res.Stdout, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted by the node's /bin/sh (%q)", bashism, res.Stdout)
		}
	}
	if res, err := c.Run(ctx, exec.Cmd{Script: `[ -d /root ] && x=abc && echo "${x#a}"`}); err != nil || res.Stdout != "bc\n" {
		t.Fatalf("POSIX sh: %q %v", res.Stdout, err)
	}
	// bash is there when asked for by name; /bin/sh stays dash.
	if _, err := c.Run(ctx, exec.Cmd{Script: `/bin/bash -c '[[ -d /root ]]' && ! /bin/sh -c '[[ -d /root ]]' 2>/dev/null`}); err != nil {
		t.Fatalf("bash by name, dash as /bin/sh: %v", err)
	}
}
