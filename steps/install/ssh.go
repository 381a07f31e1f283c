package install

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/ssh"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/firewall"
	"github.com/tappaas/tappaas/steps/node"
	"github.com/tappaas/tappaas/steps/platform"
)

// trustNew accepts a host key seen for the first time and records it (the
// guest was created by this run, on the node's own lan bridge); a changed
// key later is still a hard stop (ssh.ErrHostKeyChanged).
func trustNew(log *slog.Logger) func(host string, _ ssh.PublicKey, fp string) (bool, error) {
	return func(host string, _ ssh.PublicKey, fp string) (bool, error) {
		log.Info("pinning host key on first use", "host", host, "fingerprint", fp)
		return true, nil
	}
}

// SSHPusher pushes the firewall configuration the way upstream proved
// (bootstrap.md §1 Step 8.6): SSH as root with the image's bootstrap
// password (reached through the node), copy to /conf/config.xml, reload.
type SSHPusher struct {
	Node       *ssh.Client
	Dial       exec.DialFunc
	KnownHosts string
	Log        *slog.Logger
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
	// wait for the web GUI before pushing (upstream 96bf409, §6.14).
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
		c, err := ssh.Dial(ctx, ssh.Config{Addr: net.JoinHostPort(config.FirewallLANIP, "22"), User: "root", Jump: p.Node, Dial: p.Dial,
			KnownHostsFile: p.KnownHosts, Trust: trustNew(log), Password: func() (string, error) { return firewall.BootstrapPassword, nil },
			DisableWatchdog: true, Log: log})
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
// line). They live with the checkpoints on the node, so they stay
// consistent with the guests they describe whoever resumes the run.
var FactVMHostKeys = steps.Key[map[string]string]("vm.host_keys")

// VMDialer implements platform.Dialer: one SSH connection per guest,
// authenticated with the installer's key, host key pinned on first use in
// the node's facts (a changed key later is a hard stop).
type VMDialer struct {
	Net  exec.DialFunc
	Jump *ssh.Client // nil: dial directly
	// KnownHosts is unused since host keys are pinned in the facts; kept
	// for callers that set it.
	KnownHosts string
	Log        *slog.Logger

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
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hostport := net.JoinHostPort(addr, "22")
	pinned, _ := steps.Get(rt.Facts, FactVMHostKeys)
	dir, err := os.MkdirTemp("", "tappaas-vm-hosts-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	kh := filepath.Join(dir, "known_hosts")
	var lines []string
	for a, k := range pinned {
		pk, _, _, _, err := gossh.ParseAuthorizedKey([]byte(k))
		if err == nil {
			lines = append(lines, knownhosts.Line([]string{knownhosts.Normalize(a)}, pk))
		}
	}
	if err := os.WriteFile(kh, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		return nil, err
	}
	trust := func(host string, k ssh.PublicKey, fp string) (bool, error) {
		log.Info("pinning guest host key on first use", "host", host, "fingerprint", fp)
		m, _ := steps.Get(rt.Facts, FactVMHostKeys)
		if m == nil {
			m = map[string]string{}
		}
		m[hostport] = strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k)))
		return true, steps.Set(rt.Facts, FactVMHostKeys, m)
	}
	c, err := ssh.Dial(ctx, ssh.Config{Addr: hostport, User: user, Dial: d.Net, Jump: d.Jump,
		KnownHostsFile: kh, Trust: trust, Signers: []gossh.Signer{signer}, DialTimeout: 10 * time.Second, Log: log})
	if err != nil {
		return nil, err
	}
	if d.conns == nil {
		d.conns = map[string]*ssh.Client{}
	}
	d.conns[key] = c
	return c, nil
}

// Forget drops the pinned host key of addr (the guest was re-created).
func Forget(rt *steps.Runtime, addr string) error {
	m, _ := steps.Get(rt.Facts, FactVMHostKeys)
	if _, ok := m[net.JoinHostPort(addr, "22")]; !ok {
		return nil
	}
	delete(m, net.JoinHostPort(addr, "22"))
	return steps.Set(rt.Facts, FactVMHostKeys, m)
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
