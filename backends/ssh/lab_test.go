package ssh_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/backends/ssh"
	"github.com/tappaas/tappaas/internal/syncbuf"
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
		if !c.Watchdog() || !c.Persistent() {
			t.Fatalf("the lab's shell runs the watchdog %v, a persistent shell %v", c.Watchdog(), c.Persistent())
		}
		return c
	})
}

// The lab serves the persistent shell itself: each command on it is in
// the access log and open to the lab's faults, as an exec request is.
func TestLabSeesEachPersistentCommand(t *testing.T) {
	t.Parallel()
	var log syncbuf.Buffer
	fail, err := lab.ParseFault("ssh:echo boom=1")
	if err != nil {
		t.Fatal(err)
	}
	drop, err := lab.ParseFault("drop:6") // the probe's exec, the shell's exec, its probe, then three commands
	if err != nil {
		t.Fatal(err)
	}
	l, err := lab.Start(t.Context(), lab.Options{AccessLog: &log, Faults: []lab.Fault{fail, drop}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	info := l.Info()
	signer, err := gossh.ParsePrivateKey(info.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial(t.Context(), ssh.Config{Addr: info.NodeAddr + ":22", Dial: l.Dial, KnownHostsFile: t.TempDir() + "/kh",
		AcceptFingerprint: info.SSHFingerprint, Signers: []gossh.Signer{signer}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if !c.Persistent() {
		t.Fatal("no persistent shell on the lab")
	}
	ctx := t.Context()
	if res, err := c.Run(ctx, exec.Cmd{Script: "echo one-4711"}); err != nil || res.Stdout != "one-4711\n" {
		t.Fatalf("%+v %v", res, err)
	}
	if res, err := c.Run(ctx, exec.Cmd{Script: "echo boom"}); res.Code != 1 || !strings.Contains(res.Stderr, "lab: injected fault") {
		t.Fatalf("ssh fault on the persistent shell: %+v %v", res, err)
	}
	if _, err := c.Run(ctx, exec.Cmd{Script: "echo dropped"}); !errors.Is(err, exec.ErrConnectionLost) {
		t.Fatalf("drop fault on the persistent shell: %v", err)
	}
	if res, err := c.Run(ctx, exec.Cmd{Script: "echo after"}); err != nil || res.Stdout != "after\n" || c.Dials() != 2 {
		t.Fatalf("after the drop: %+v %v, dials %d", res, err, c.Dials())
	}
	for _, want := range []string{`"command":"echo one-4711"`, `"command":"echo after"`} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("access log lacks %s:\n%s", want, log.String())
		}
	}
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
