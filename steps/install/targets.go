// Package install builds the bootstrap plans (first node, join) from the
// answers and connects their targets: the node over SSH (or locally), the
// firewall's API with a pinned certificate, VMs over SSH with their host
// keys pinned on first use.
package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/opnsense"
	"github.com/tappaas/tappaas/backends/ssh"
	"github.com/tappaas/tappaas/backends/tlspin"
	"github.com/tappaas/tappaas/config"
	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/cluster"
	"github.com/tappaas/tappaas/steps/firewall"
	"github.com/tappaas/tappaas/steps/network"
	"github.com/tappaas/tappaas/steps/node"
	"github.com/tappaas/tappaas/steps/platform"
	stepzones "github.com/tappaas/tappaas/steps/zones"
)

// StateDir is where checkpoints live on the node.
const StateDir = "/var/lib/tappaas"

// Targets are the connected systems a plan drives.
type Targets struct {
	// Node runs commands on the PVE node as root.
	Node exec.Executor
	// Firewall is the firewall API (fingerprint + probe) for the takeover.
	Firewall firewall.API
	// Pusher delivers the firewall's configuration.
	Pusher firewall.Pusher
	// FirewallSSH reads the firewall's SSH host key (nil: not checked).
	FirewallSSH firewall.HostKeyReader
	// VMs opens SSH executors to guests.
	VMs platform.Dialer
	// Zones is the zone set pushed to the firewall.
	Zones *cz.File
	// Secrets is the run's secret store (set once the state is opened);
	// the lazily built OPNsense client reads our API key from it.
	Secrets steps.SecretStore
	// Checkpoint holds the facts of earlier runs (set with Secrets); the
	// OPNsense client speaks only through the firewall certificate pinned
	// there (firewall.fingerprint).
	Checkpoint interface {
		Facts() map[string]json.RawMessage
	}
	// OperatorAddr is the address the operator connects from ("" unknown).
	OperatorAddr string
	// NodeAddr is the node's address the connection goes to ("" at the
	// node's console).
	NodeAddr string
	// Reconnect opens a new connection to the node at another of its
	// addresses, trusting only the host key of this one (nil at the
	// console).
	Reconnect network.Reach
	// PriorRun describes an earlier checkpoint ("" none).
	PriorRun string
	// Dial is the dialer for the firewall API and VMs.
	Dial exec.DialFunc
	// ClusterAPI, when set, creates the cluster through the PVE API with a
	// root@pam ticket; nil runs `pvecm create` as root over the node link.
	ClusterAPI cluster.TicketAPI
	// PVEAddr is the node's address for its API (port 8006).
	PVEAddr string
	// Log receives connection events.
	Log *slog.Logger

	closers []func() error
	fwMu    sync.Mutex
	fwc     *opnsense.Client
	fwKey   string
}

// Close closes every connection.
func (t *Targets) Close() error {
	var errs []error
	for _, c := range t.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// OnClose registers fn to run at Close.
func (t *Targets) OnClose(fn func() error) { t.closers = append(t.closers, fn) }

// ConnectOptions says how to reach a node.
type ConnectOptions struct {
	// Host is "root@ADDR[:PORT]".
	Host string
	// Dial routes connections (exec.SystemDial, or the lab's dial table).
	Dial exec.DialFunc
	// KnownHosts is the known_hosts file (default ~/.ssh/known_hosts).
	KnownHosts string
	// AcceptHostKey accepts an unknown node host key with exactly this
	// fingerprint ("SHA256:…").
	AcceptHostKey string
	// Trust asks about an unknown host key (TUI); nil refuses it.
	Trust func(host string, key ssh.PublicKey, fingerprint string) (bool, error)
	// Signers and KeyFiles authenticate; UseAgent adds the ssh-agent.
	Signers  []gossh.Signer
	KeyFiles []string
	UseAgent bool
	// FirewallFingerprint learns the firewall's certificate fingerprint
	// over a trusted channel. nil: from the node, which reaches the
	// firewall on its own lan bridge (openssl over the trusted SSH link).
	FirewallFingerprint func(ctx context.Context) (string, error)
	// Pusher delivers the firewall configuration; nil: over SSH with the
	// image's bootstrap password, through the node.
	Pusher firewall.Pusher
	// RootPassword, when set, is root@pam's password: the cluster is then
	// created through the PVE API with a ticket (never stored).
	RootPassword func(ctx context.Context) (string, error)
	// VMsDirect dials VMs with Dial instead of jumping through the node.
	VMsDirect bool
	Log       *slog.Logger
}

// OperatorAddr is the address the operator's session comes from, as the
// node sees it: the first field of $SSH_CLIENT, which sshd sets to
// "client-address client-port server-port" for every session
// (openssh-portable session.c, do_setup_env). sshClient is that variable's
// value; "" when it is not an SSH session or comes from loopback (a
// tunnel on the node itself, which the cutover does not cut).
func OperatorAddr(sshClient string) string {
	f := strings.Fields(sshClient)
	if len(f) == 0 {
		return ""
	}
	a, err := netip.ParseAddr(f[0])
	if err != nil || a.Unmap().IsLoopback() {
		return ""
	}
	return a.Unmap().String()
}

// RemoteOperatorAddr reads $SSH_CLIENT on the node over e: the address
// our connection comes from as the node sees it (through NAT and jump
// hosts, the one its routes must reach). "" when it cannot be read.
func RemoteOperatorAddr(ctx context.Context, e exec.Executor) string {
	out, err := node.Query(ctx, e, `printf '%s' "$SSH_CLIENT"`)
	if err != nil {
		return ""
	}
	return OperatorAddr(out)
}

// Connect opens the node (one SSH connection, many sessions) and prepares
// the other targets lazily.
func Connect(ctx context.Context, o ConnectOptions) (*Targets, error) {
	if o.Dial == nil {
		o.Dial = exec.SystemDial
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	user, addr, ok := strings.Cut(o.Host, "@")
	if !ok {
		user, addr = "root", o.Host
	}
	if addr == "" {
		return nil, fmt.Errorf("--host: want root@ADDR, got %q", o.Host)
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, "22")
	}
	cl, err := ssh.Dial(ctx, ssh.Config{Addr: addr, User: user, Dial: o.Dial, KnownHostsFile: o.KnownHosts,
		AcceptFingerprint: o.AcceptHostKey, Trust: o.Trust, Signers: o.Signers, KeyFiles: o.KeyFiles, UseAgent: o.UseAgent, Log: o.Log})
	if err != nil {
		return nil, fmt.Errorf("connect to the node %s: %w", o.Host, err)
	}
	host, _, _ := net.SplitHostPort(addr)
	t := &Targets{Node: cl, Dial: o.Dial, Log: o.Log, PVEAddr: host}
	t.OnClose(cl.Close)
	if host, _, err := net.SplitHostPort(addr); err == nil {
		if ip, err := netip.ParseAddr(host); err == nil {
			t.NodeAddr = ip.String()
		}
	}
	// Where our session comes from as the node sees it ($SSH_CLIENT,
	// right through a NAT or jump host); else our end of the connection.
	t.OperatorAddr = RemoteOperatorAddr(ctx, cl)
	if la := cl.LocalAddr(); t.OperatorAddr == "" && la != nil {
		if ap, err := netip.ParseAddrPort(la.String()); err == nil && !ap.Addr().IsLoopback() {
			t.OperatorAddr = ap.Addr().Unmap().String()
		}
	}
	t.Reconnect = func(ctx context.Context, addr string) (exec.Executor, func() error, error) {
		nc, err := cl.DialAt(ctx, net.JoinHostPort(addr, "22"))
		if err != nil {
			return nil, nil, err
		}
		return nc, nc.Close, nil
	}
	if o.RootPassword != nil {
		t.ClusterAPI = &PVETicket{Node: cl, Addr: host, Password: o.RootPassword, Dial: o.Dial}
	}
	fp := o.FirewallFingerprint
	if fp == nil {
		fp = func(ctx context.Context) (string, error) { return FirewallFingerprintFromNode(ctx, cl) }
	}
	t.Firewall = &FirewallAPI{Fingerprinter: fp, Dial: o.Dial}
	if o.Pusher != nil {
		t.Pusher = o.Pusher
	} else {
		t.Pusher = &SSHPusher{Node: cl, Dial: o.Dial, Log: o.Log}
	}
	t.FirewallSSH = &FirewallKeyscan{Jump: cl, Dial: o.Dial, Log: o.Log}
	if o.VMsDirect {
		t.FirewallSSH = &FirewallKeyscan{Dial: o.Dial, Log: o.Log}
	}
	vd := &VMDialer{Net: o.Dial, Log: o.Log}
	if !o.VMsDirect {
		vd.Jump = cl
	}
	t.VMs = vd
	t.OnClose(vd.Close)
	return t, nil
}

// FirewallFingerprintFromNode reads the firewall's certificate fingerprint
// from the node, which reaches 10.0.0.1 on its own lan bridge; the
// installer trusts the node through its pinned SSH host key.
func FirewallFingerprintFromNode(ctx context.Context, e exec.Executor) (string, error) {
	out, err := node.Query(ctx, e, "openssl s_client -connect "+config.FirewallLANIP+":443 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256")
	if err != nil {
		return "", fmt.Errorf("read the firewall certificate from the node: %w", err)
	}
	_, fp, ok := strings.Cut(strings.TrimSpace(out), "=")
	if !ok {
		return "", fmt.Errorf("the firewall presented no certificate yet")
	}
	return tlspin.Normalize(fp)
}

// FirewallAPI implements firewall.API with the OPNsense client.
type FirewallAPI struct {
	Fingerprinter func(ctx context.Context) (string, error)
	Dial          exec.DialFunc
}

// Fingerprint implements firewall.API.
func (f *FirewallAPI) Fingerprint(ctx context.Context) (string, error) {
	fp, err := f.Fingerprinter(ctx)
	if err != nil {
		return "", err
	}
	if fp == "" {
		return "", errors.New("the firewall has no certificate yet (not booted)")
	}
	return tlspin.Normalize(fp)
}

// Probe implements firewall.API.
func (f *FirewallAPI) Probe(ctx context.Context, fp, key, secret string) error {
	c, err := opnsense.New(opnsense.Config{BaseURL: "https://" + config.FirewallLANIP, Key: key, Secret: secret, Fingerprint: fp, Dial: f.Dial})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.FirmwareStatus(ctx)
	if errors.Is(err, opnsense.ErrUnauthorized) || errors.Is(err, opnsense.ErrForbidden) {
		return fmt.Errorf("%w: %v", firewall.ErrRefused, err)
	}
	return err
}

// OPNsense returns the firewall client authenticated with our key, built
// on first use from the secrets and the pinned fingerprint.
func (t *Targets) OPNsense(ctx context.Context) (*opnsense.Client, error) {
	t.fwMu.Lock()
	defer t.fwMu.Unlock()
	if t.Secrets == nil {
		return nil, errors.New("no secrets store: the firewall API key is unknown")
	}
	key, ok1 := t.Secrets.Secret(firewall.SecretAPIKey)
	secret, ok2 := t.Secrets.Secret(firewall.SecretAPISecret)
	if !ok1 || !ok2 {
		return nil, errors.New("the firewall API key has not been generated yet (step firewall.config)")
	}
	if t.fwc != nil && t.fwKey == key {
		return t.fwc, nil
	}
	fp, err := t.firewallPin(ctx)
	if err != nil {
		return nil, err
	}
	c, err := opnsense.New(opnsense.Config{BaseURL: "https://" + config.FirewallLANIP, Key: key, Secret: secret, Fingerprint: fp, Dial: t.Dial, Log: t.Log})
	if err != nil {
		return nil, err
	}
	t.fwc, t.fwKey = c, key
	t.OnClose(c.Close)
	return c, nil
}

// firewallPin is the certificate fingerprint the firewall API is trusted
// with: the one pinned in the checkpoint, else (before the takeover pinned
// one) the one learned over the trusted channel.
func (t *Targets) firewallPin(ctx context.Context) (string, error) {
	if t.Checkpoint != nil {
		fp, ok, err := firewall.Pinned(steps.NewFacts(t.Checkpoint.Facts()))
		if err != nil || ok {
			return fp, err
		}
	}
	return t.Firewall.Fingerprint(ctx)
}

// Ping implements network.FirewallProbe.
func (t *Targets) Ping(ctx context.Context) error {
	c, err := t.OPNsense(ctx)
	if err != nil {
		return err
	}
	_, err = c.FirmwareStatus(ctx)
	return err
}

// HasAssignPatch implements platform.PatchProber with the firewall client.
func (t *Targets) HasAssignPatch(ctx context.Context) (bool, error) {
	c, err := t.OPNsense(ctx)
	if err != nil {
		return false, err
	}
	return c.HasAssignPatch(ctx)
}

// ZonesFirewall returns the zones planner's view of the firewall (the
// client is built on first use and kept).
func (t *Targets) ZonesFirewall(ctx context.Context) (cz.Firewall, error) {
	c, err := t.OPNsense(ctx)
	if err != nil {
		return nil, err
	}
	return stepzones.FromOPNsense(c), nil
}

// Local builds targets for running on the node itself as root: commands run
// locally, the firewall and VMs are dialled directly over the node's own
// lan bridge.
func Local(o ConnectOptions) *Targets {
	if o.Dial == nil {
		o.Dial = exec.SystemDial
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	l := exec.NewLocal()
	// Run on the node from an SSH login: that login's source.
	t := &Targets{Node: l, Dial: o.Dial, Log: o.Log, PVEAddr: "127.0.0.1", OperatorAddr: OperatorAddr(os.Getenv("SSH_CLIENT"))}
	fp := o.FirewallFingerprint
	if fp == nil {
		fp = func(ctx context.Context) (string, error) { return FirewallFingerprintFromNode(ctx, l) }
	}
	t.Firewall = &FirewallAPI{Fingerprinter: fp, Dial: o.Dial}
	t.Pusher = o.Pusher
	if t.Pusher == nil {
		t.Pusher = &SSHPusher{Dial: o.Dial, Log: o.Log}
	}
	t.FirewallSSH = &FirewallKeyscan{Dial: o.Dial, Log: o.Log}
	vd := &VMDialer{Net: o.Dial, Log: o.Log}
	t.VMs = vd
	t.OnClose(vd.Close)
	return t
}
