package lab

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/tappaas/tappaas/lab/pve"
	"github.com/tappaas/tappaas/lab/shell"
	"github.com/tappaas/tappaas/lab/sshd"
	"golang.org/x/crypto/ssh"
)

// newNodeFS is the node's filesystem.
func newNodeFS() shell.FS { return shell.NewMemFS() }

func sshFingerprint(s ssh.Signer) string {
	sum := sha256.Sum256(s.PublicKey().Marshal())
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// authorizedIn reports whether key is listed in an authorized_keys file.
func authorizedIn(fsys shell.FS, file string, key ssh.PublicKey) bool {
	b, err := fsys.ReadFile(file)
	if err != nil {
		return false
	}
	want := key.Marshal()
	for len(b) > 0 {
		pk, _, _, rest, err := ssh.ParseAuthorizedKey(b)
		if err != nil {
			return false
		}
		if bytes.Equal(pk.Marshal(), want) {
			return true
		}
		b = rest
	}
	return false
}

// sleeper scales the shell's sleep(1) by the lab speed (0 = instant).
func (l *Lab) sleeper(ctx context.Context, d time.Duration) error {
	if l.opts.Speed <= 0 || d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(time.Duration(float64(d) * l.opts.Speed))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// newNodeInterp is the node's shell: builtins plus the PVE commands.
func (l *Lab) newNodeInterp() *shell.Interp {
	in := shell.New(l.node.FS())
	l.node.Read(func(m *pve.Model) {
		in.Host.Hostname = m.Hostname
		in.Host.Domain = "mgmt.internal"
		in.Host.Release = pve.Kernel
	})
	in.Sleep = l.sleeper
	in.Trace = l.traceArgv("node")
	// On a PVE node /bin/sh is dash (Debian's default, dash.postinst makes
	// the link); root's login shell, which runs SSH command lines, is bash.
	// Scripts the installer sends run through /bin/sh, so a bashism in one
	// fails here as on the node.
	in.Sh = "dash"
	for name, c := range l.node.Commands() {
		in.Register(name, c)
	}
	return in
}

// startShell starts the node's SSH server (lab/sshd + lab/shell).
func (l *Lab) startShell() error {
	var hostKey ssh.Signer
	var err error
	l.node.Read(func(m *pve.Model) { hostKey, err = pve.ParseSigner(m.Certs.HostKeyPEM) })
	if err != nil {
		return fmt.Errorf("lab: host key: %w", err)
	}
	l.interp = l.newNodeInterp()
	fsys := l.node.FS()
	l.node.SetExec(func(cmdline string) {
		l.interp.Run(context.Background(), cmdline, strings.NewReader(""), io.Discard, io.Discard, map[string]string{"USER": "root"})
	})
	srv, err := sshd.Listen("127.0.0.1:0", sshd.Config{
		HostKey: hostKey,
		AuthorizedKeys: func(user string, key ssh.PublicKey) bool {
			home := "/home/" + user
			if user == "root" {
				home = "/root"
			}
			return authorizedIn(fsys, home+"/.ssh/authorized_keys", key)
		},
		Password: func(user, pass string) bool {
			ok := false
			l.node.Read(func(m *pve.Model) { ok = user == "root" && pass == m.RootPassword })
			return ok
		},
		Handler: l.runCommand,
		Hooks: &sshd.Faults{Command: func(_ int64, _, _ string) sshd.Fault {
			if drop, after := l.faults.Command(); drop && after {
				return sshd.FaultDropAfter
			} else if drop {
				return sshd.FaultDropBefore
			}
			return sshd.FaultNone
		}},
		Dial:   l.Dial,
		Prompt: func(user string) string { return user + "@" + l.node.Hostname() + ":~# " },
		OnCommand: func(user, command string) {
			if command == sshBootLine {
				return // logged decoded by runCommand
			}
			l.logEntry(pve.Entry{Time: time.Now().UTC(), Face: "ssh", User: user, Command: pve.MaskCommand(command)})
		},
	})
	if err != nil {
		return fmt.Errorf("lab: %w", err)
	}
	l.sshSrv = srv
	return nil
}

// runCommand runs one command line on the node, as its sshd does.
func (l *Lab) runCommand(ctx context.Context, user, command string, stdin io.Reader, stdout, stderr io.Writer) int {
	command, stdin, wrapped := unwrapBootLine(command, stdin)
	if wrapped && strings.TrimPrefix(command, "unset s\n") == sshAgentScript {
		return l.serveAgent(ctx, user, stdin, stdout, stderr)
	}
	return l.runScript(ctx, user, command, wrapped, stdin, stdout, stderr)
}

// runScript runs one command (logged here when it came decoded: the boot
// line's script or a persistent shell's request), with the ssh faults.
func (l *Lab) runScript(ctx context.Context, user, command string, wrapped bool, stdin io.Reader, stdout, stderr io.Writer) int {
	f := l.faults.Hit("ssh", command)
	if wrapped {
		l.logEntry(pve.Entry{Time: time.Now().UTC(), Face: "ssh", User: user, Command: pve.MaskCommand(command)})
		// The executor's watchdog comes first: a fault's Match may name
		// any line of the script.
		for _, line := range strings.Split(command, "\n") {
			if f != nil {
				break
			}
			f = l.faults.Hit("ssh", strings.TrimSpace(line))
		}
	}
	if f != nil {
		if f.Delay > 0 {
			select {
			case <-time.After(f.Delay):
			case <-ctx.Done():
				return 130
			}
		} else {
			if f.After {
				// The command runs (its effect stays) but the caller sees
				// only the failure, as when pvesh's API call commits and
				// the reply is lost to a 5xx.
				l.runUnfaulted(ctx, user, command, wrapped, stdin, io.Discard, io.Discard)
			}
			fmt.Fprintln(stderr, faultMessage(f))
			if f.Exit == 0 {
				return 1
			}
			return f.Exit
		}
	}
	return l.runUnfaulted(ctx, user, command, wrapped, stdin, stdout, stderr)
}

func faultMessage(f *pve.Fault) string {
	if f.Message == "" {
		return "lab: injected fault"
	}
	return f.Message
}

func (l *Lab) runUnfaulted(ctx context.Context, user, command string, wrapped bool, stdin io.Reader, stdout, stderr io.Writer) int {
	vars := map[string]string{"USER": user, "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
	// sshd sets SSH_CLIENT="client-ip client-port server-port" in every
	// session (openssh-portable session.c, do_setup_env).
	if info, ok := sshd.InfoFromContext(ctx); ok {
		rh, rp, err1 := net.SplitHostPort(info.RemoteAddr)
		_, lp, err2 := net.SplitHostPort(info.LocalAddr)
		if err1 == nil && err2 == nil {
			vars["SSH_CLIENT"] = rh + " " + rp + " " + lp
		}
	}
	for k, v := range sshd.EnvFromContext(ctx) {
		vars[k] = v
	}
	if wrapped {
		// The boot line hands the script to /bin/sh -c.
		return l.interp.RunSh(ctx, command, stdin, stdout, stderr, vars)
	}
	return l.interp.Run(ctx, command, stdin, stdout, stderr, vars)
}

// Run runs a command line in the node's shell in-process (as root), like
// an SSH exec request without the transport.
func (l *Lab) Run(ctx context.Context, command string, stdin io.Reader, stdout, stderr io.Writer) int {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	return l.runCommand(ctx, "root", command, stdin, stdout, stderr)
}

func (l *Lab) stopShell() {
	l.node.StopTimers()
	if l.sshSrv != nil {
		_ = l.sshSrv.Close()
	}
	l.mu.Lock()
	guests := l.guests
	l.guests = nil
	l.mu.Unlock()
	for _, g := range guests {
		_ = g.srv.Close()
	}
}

// sshAddr is the node's SSH listener ("" while none runs).
func (l *Lab) sshAddr() string {
	if l.sshSrv == nil {
		return ""
	}
	return l.sshSrv.Addr()
}
