package install

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/ssh"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/firewall"
	"github.com/tappaas/tappaas/steps/node"
	"github.com/tappaas/tappaas/steps/platform"
)

// SSHPusher pushes the firewall configuration the way upstream proved
// (docs/upstream.md#firewall-takeover): SSH as root with the image's
// bootstrap password (reached through the node), copy to /conf/config.xml,
// reload.
//
// The firewall's host key is pinned in the checkpoint like a guest's
// (FactVMHostKeys), never in the operator's ~/.ssh/known_hosts.
type SSHPusher struct {
	Node *ssh.Client
	Dial exec.DialFunc
	Log  *slog.Logger
	// Wait bounds the wait for the firewall's first boot (default 10 min).
	Wait time.Duration
}

// Push implements firewall.Pusher.
func (p *SSHPusher) Push(ctx context.Context, rt *steps.Runtime, configXML []byte) error {
	wait := p.Wait
	if wait <= 0 {
		wait = 10 * time.Minute
	}
	log := p.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// OPNsense rewrites config.xml while it settles after the first boot:
	// wait for the web GUI before pushing (upstream 96bf409,
	// docs/upstream.md#first-boot-settle).
	err := node.Poll(ctx, rt, "the firewall's web GUI on "+config.FirewallLANIP+":443 (first boot)", wait, 5*time.Second, func(ctx context.Context) (bool, error) {
		c, err := p.Dial(ctx, "tcp", net.JoinHostPort(config.FirewallLANIP, "443"))
		if err != nil {
			return false, err
		}
		c.Close()
		return true, nil
	})
	if err != nil {
		return err
	}
	var fw *ssh.Client
	err = node.Poll(ctx, rt, "the firewall's bootstrap SSH", wait, 5*time.Second, func(ctx context.Context) (bool, error) {
		c, err := pinnedSSH(ctx, rt, ssh.Config{Addr: net.JoinHostPort(config.FirewallLANIP, "22"), User: "root", Jump: p.Node, Dial: p.Dial,
			Password: func() (string, error) { return firewall.BootstrapPassword, nil }, DisableWatchdog: true, Log: log})
		if err != nil {
			return false, err
		}
		fw = c
		return true, nil
	})
	if err != nil {
		return err
	}
	defer fw.Close()
	const tmp = "/tmp/tappaas-deploy-config.xml"
	if err := fw.WriteFile(ctx, tmp, configXML, 0o600); err != nil {
		return fmt.Errorf("copy config.xml to the firewall: %w", err)
	}
	script := "cp " + tmp + " /conf/config.xml && rm -f /tmp/config.cache " + tmp + " && (nohup /usr/local/etc/rc.reload_all >/tmp/tappaas-apply.log 2>&1 &)"
	if _, err := fw.Run(ctx, exec.Cmd{Script: "/bin/sh -c " + exec.Quote(script)}); err != nil {
		return fmt.Errorf("install config.xml on the firewall: %w", err)
	}
	rt.Printf("configuration pushed; the firewall reloads it")
	return nil
}

// FirewallKeyscan reads the firewall's SSH host key as ssh-keyscan does:
// the key exchange only, the key refused so no login is attempted. It
// implements firewall.HostKeyReader.
type FirewallKeyscan struct {
	Jump *ssh.Client // nil: dial directly
	Dial exec.DialFunc
	Log  *slog.Logger
}

// FirewallHostKey implements firewall.HostKeyReader.
func (k *FirewallKeyscan) FirewallHostKey(ctx context.Context) (string, error) {
	log := k.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir, err := os.MkdirTemp("", "tappaas-keyscan-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	var got string
	c, err := ssh.Dial(ctx, ssh.Config{Addr: net.JoinHostPort(config.FirewallLANIP, "22"), User: "root", Jump: k.Jump, Dial: k.Dial,
		KnownHostsFile: filepath.Join(dir, "known_hosts"), DialTimeout: 10 * time.Second, Log: log,
		// Never asked: the host key is refused before authentication.
		Password: func() (string, error) { return "", errors.New("keyscan only") },
		Trust: func(_ string, key ssh.PublicKey, _ string) (bool, error) {
			got = strings.TrimSpace(string(gossh.MarshalAuthorizedKey(key)))
			return false, nil
		}})
	if c != nil {
		c.Close()
	}
	if got != "" {
		return got, nil
	}
	if err == nil {
		err = errors.New("no host key offered")
	}
	return "", fmt.Errorf("read the firewall's SSH host key: %w", err)
}

// FactVMHostKeys pins guest SSH host keys ("addr:port" → authorized-key
// line), the firewall's included. They live with the checkpoints on the
// node, so they stay consistent with the guests they describe whoever
// resumes the run; `tappaas forget-host-key NAME` drops one.
var FactVMHostKeys = steps.Key[map[string]string]("vm.host_keys")

// HostKeyChangedError is a guest whose SSH host key differs from the one
// pinned in the checkpoint. It is fatal: never retried, no wait, no
// reboot; the operator checks the new key and forgets the old one.
type HostKeyChangedError struct {
	Name string // "cicd", "firewall" or the address
	Addr string // "addr:port"
	Want string // pinned, "SHA256:…"
	Got  string // offered, "SHA256:…"
	err  error
}

// Error names both keys and the one command that forgets the old one.
func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("SSH host key of %s (%s) changed: %s is pinned in %s/state.json, the guest offered %s. "+
		"This may be a man-in-the-middle attack, so tappaas stops. If the VM was re-created on purpose, "+
		"check the new key on its console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and run "+
		"`tappaas forget-host-key %s` (with the same --host or --lab as the install), then run again",
		e.Name, e.Addr, e.Want, StateDir, e.Got, e.Name)
}

// Unwrap returns the SSH layer's error (errors.Is(err, ssh.ErrHostKeyChanged)).
func (e *HostKeyChangedError) Unwrap() error { return e.err }

// Fatal says retrying cannot help.
func (e *HostKeyChangedError) Fatal() bool { return true }

// GuestName is how messages and `tappaas forget-host-key` name the guest
// at addr ("host" or "host:port"): "firewall", "cicd", or the address.
func GuestName(facts *steps.Facts, addr string) string {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	if host == config.FirewallLANIP {
		return "firewall"
	}
	if ip, ok := steps.Get(facts, platform.FactCICDIP); ok && ip == host {
		return "cicd"
	}
	return host
}

// GuestAddr resolves a name given to `tappaas forget-host-key` ("firewall",
// "cicd", an address, or address:port) to the "addr:port" key of
// FactVMHostKeys.
func GuestAddr(facts *steps.Facts, name string) (string, error) {
	switch name {
	case "firewall":
		return net.JoinHostPort(config.FirewallLANIP, "22"), nil
	case "cicd":
		ip, ok := steps.Get(facts, platform.FactCICDIP)
		if !ok || ip == "" {
			return "", errors.New("the checkpoint does not know tappaas-cicd's address yet (step platform.cicd-ip)")
		}
		return net.JoinHostPort(ip, "22"), nil
	}
	if _, _, err := net.SplitHostPort(name); err == nil {
		return name, nil
	}
	if net.ParseIP(name) == nil {
		return "", fmt.Errorf("%q: want firewall, cicd, or a guest's IP address", name)
	}
	return net.JoinHostPort(name, "22"), nil
}

// ForgetHostKey drops the pinned host key at addr ("addr:port"); ok is
// false when none was pinned.
func ForgetHostKey(facts *steps.Facts, addr string) (ok bool, err error) {
	m, _ := steps.Get(facts, FactVMHostKeys)
	if _, ok := m[addr]; !ok {
		return false, nil
	}
	delete(m, addr)
	return true, steps.Set(facts, FactVMHostKeys, m)
}

// pinnedSSH dials cfg.Addr with its host key pinned in FactVMHostKeys: a
// key seen for the first time is recorded (the guest was created by this
// run, on the node's own lan bridge); a different key later is
// *HostKeyChangedError.
func pinnedSSH(ctx context.Context, rt *steps.Runtime, cfg ssh.Config) (*ssh.Client, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hostport := cfg.Addr
	pinned, _ := steps.Get(rt.Facts, FactVMHostKeys)
	var lines []string
	if k, ok := pinned[hostport]; ok {
		pk, _, _, _, err := gossh.ParseAuthorizedKey([]byte(k))
		if err != nil {
			return nil, fmt.Errorf("the host key pinned for %s in the checkpoint is damaged (%v): run `tappaas forget-host-key %s`", hostport, err, GuestName(rt.Facts, hostport))
		}
		lines = append(lines, knownhosts.Line([]string{knownhosts.Normalize(hostport)}, pk))
	}
	// The SSH layer reads pins from a known_hosts file: a private
	// temporary one, the checkpoint stays the record.
	dir, err := os.MkdirTemp("", "tappaas-pins-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cfg.KnownHostsFile = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(cfg.KnownHostsFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	cfg.Trust = func(host string, k ssh.PublicKey, fp string) (bool, error) {
		log.Info("pinning guest host key on first use", "host", host, "fingerprint", fp)
		m, _ := steps.Get(rt.Facts, FactVMHostKeys)
		if m == nil {
			m = map[string]string{}
		}
		m[hostport] = strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k)))
		return true, steps.Set(rt.Facts, FactVMHostKeys, m)
	}
	c, err := ssh.Dial(ctx, cfg)
	var ce *ssh.HostKeyChangedError
	if errors.As(err, &ce) {
		return nil, &HostKeyChangedError{Name: GuestName(rt.Facts, hostport), Addr: hostport, Want: ce.Want, Got: ce.Got, err: ce}
	}
	return c, err
}

// VMDialer implements platform.Dialer: one SSH connection per guest,
// authenticated with the installer's key, host key pinned on first use in
// the node's facts (a changed key later is a hard stop).
type VMDialer struct {
	Net  exec.DialFunc
	Jump *ssh.Client // nil: dial directly
	Log  *slog.Logger

	mu    sync.Mutex
	conns map[string]*ssh.Client
}

// Dial implements platform.Dialer.
func (d *VMDialer) Dial(ctx context.Context, rt *steps.Runtime, user, addr string) (exec.Executor, error) {
	key := user + "@" + addr
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.conns[key]; ok {
		return c, nil
	}
	signer, err := platform.InstallerKey(rt)
	if err != nil {
		return nil, err
	}
	c, err := pinnedSSH(ctx, rt, ssh.Config{Addr: net.JoinHostPort(addr, "22"), User: user, Dial: d.Net, Jump: d.Jump,
		Signers: []gossh.Signer{signer}, DialTimeout: 10 * time.Second, Log: d.Log})
	if err != nil {
		return nil, err
	}
	if d.conns == nil {
		d.conns = map[string]*ssh.Client{}
	}
	d.conns[key] = c
	return c, nil
}

// Close closes every guest connection.
func (d *VMDialer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, c := range d.conns {
		c.Close()
		delete(d.conns, k)
	}
	return nil
}
