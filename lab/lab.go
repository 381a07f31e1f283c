// Package lab wires the simulators into one lab: the PVE node (HTTPS API,
// SSH shell, PBS once installed), the OPNsense firewall once its VM boots,
// guest VMs, and the dial table that maps lab addresses to loopback
// listeners. Start one in-process with Start; `tappaas lab serve` runs one
// standalone. Several labs can share one Site (tappaas1 + tappaas2 …) to
// exercise cluster joins.
//
// Faces of a started lab (all reached through Dial, the dial table):
// 192.168.1.10 (the install address, while it sits on the upstream NIC)
// and 10.0.0.10 (after the network step) with SSH :22, PVE :8006 and PBS
// :8007 (once installed); 10.0.0.1 with OPNsense :443 and SSH :22 once the
// firewall VM has booted; each booted NixOS guest's IP with SSH :22.
// Anything else fails with "connect: no route to host".
//
// Ordering and concurrency: Start returns once every listener accepts;
// every method is safe for concurrent use; Close stops everything and saves
// the model when Options.Dir is set. Failure: Start fails when the
// persisted model cannot be read (a newer schema, corrupt JSON) unless
// Options.Reset is set.
package lab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tappaas/tappaas/lab/opnsense"
	"github.com/tappaas/tappaas/lab/pve"
	"github.com/tappaas/tappaas/lab/shell"
	"github.com/tappaas/tappaas/lab/sshd"
	"github.com/tappaas/tappaas/lab/vm"
)

// Fault is one injected failure or slowdown (see pve.Fault).
type Fault = pve.Fault

// Entry is one access-log record.
type Entry = pve.Entry

// Options configures a lab.
type Options struct {
	Dir       string    // persist the model here between runs ("" = memory only)
	Reset     bool      // start afresh even if Dir has a model
	Speed     float64   // latency model scale: 0 = no latency (tests), 1 = realistic
	AccessLog io.Writer // JSON lines, secrets masked (nil = none)
	Faults    []Fault
	Hostname  string // default "tappaas1"; tappaasN (N>1) is installed on 10.0.0.(9+N) like a joining node
	Site      *Site  // share a network with other labs (multi-node installs); nil = alone
}

// Info is everything a client needs to reach the lab.
type Info struct {
	NodeAddr            string // install address on the upstream network, "192.168.1.10"
	MgmtAddr            string // management address after the network step, "10.0.0.10"
	Hostname            string
	RootPassword        string // the node's root@pam password (lab only)
	SSHHostKey          string // authorized_keys-format public host key of the node
	SSHFingerprint      string // "SHA256:..."
	PVEFingerprint      string // SHA-256 of the PVE API cert, "AA:BB:..." as PVE prints it
	PVECAPEM            []byte // the cluster CA that signed the node cert (for RootCAs)
	PBSFingerprint      string // SHA-256 of the PBS cert ("" until installed)
	ClientKeyPEM        []byte // a private key already in the node's root authorized_keys (lab only)
	ClientPublicKey     string
	FirewallAddr        string // "10.0.0.1" (OPNsense API on :443 once its VM boots)
	FirewallKey         string // the firewall image's bootstrap API key/secret
	FirewallSecret      string
	FirewallFingerprint string            // SHA-256 of the OPNsense cert, "AA:BB:..." as its GUI shows it ("" until booted)
	Images              []*pve.Image      // the image mirror (URLs and sha256)
	Loopback            map[string]string // lab address → loopback listener
}

// Counters are the mutating calls and commands a lab has seen.
type Counters struct {
	APIRequests       int64 // all PVE/PBS API requests
	APIMutations      int64 // successful non-GET PVE API calls
	SSHCommands       int64 // mutating shell commands on the node
	OPNsenseMutations int64
	OPNsenseRequests  int64 // every request that reached the firewall's API (credentials were sent)
}

// Lab is a running lab.
type Lab struct {
	opts   Options
	node   *pve.Node
	faults *pve.Faults

	pveLn, pbsLn   net.Listener
	pveSrv, pbsSrv *http.Server

	mu          sync.Mutex
	fw          *fwState
	fwRequests  atomic.Int64
	argvHook    atomic.Pointer[func(host, user string, argv []string)]
	accessHook  atomic.Pointer[func(Entry)]
	logMu       sync.Mutex
	saveMu      sync.Mutex
	savedFWTLS  *fwTLS     // the firewall's certificate from the persisted model
	writeMu     sync.Mutex // one save at a time, so a later snapshot is never overwritten by an earlier one
	saveFinal   bool       // Close has saved: no save after it (the directory may belong to the next lab)
	saveTimer   *time.Timer
	closed      bool
	extraDial   map[string]func() (string, bool) // lab addr → loopback (ok = reachable)
	savedGuests map[int]map[string]pve.FileRec   // persisted guest filesystems not booted yet
	interp      *shell.Interp
	sshSrv      *sshd.Server
	guests      []*guest
	dirLock     *os.File // flock on Dir/lab.lock while the lab runs
	addrConns   map[*addrConn]struct{}
}

func (l *Lab) unlockDir() {
	l.mu.Lock()
	f := l.dirLock
	l.dirLock = nil
	l.mu.Unlock()
	if f != nil {
		f.Close() // closing the descriptor releases the flock
	}
}

type fwState struct {
	vmid    int
	version string
	ready   time.Time
	srv     *opnsense.Server
	ln      net.Listener
	http    *http.Server
	fp      string
	certPEM string
	keyPEM  string
	cert    *tls.Certificate // served; swapped by ReplaceFirewallCertificate
}

// fwTLS is the persisted certificate of the firewall (PEM).
type fwTLS struct {
	CertPEM string `json:"cert_pem"`
	KeyPEM  string `json:"key_pem"`
}

const modelFile = "lab-model.json"

// Start builds (or resumes) a lab and starts its listeners on loopback.
func Start(ctx context.Context, opts Options) (*Lab, error) {
	l := &Lab{opts: opts, faults: pve.NewFaults(opts.Faults...), extraDial: map[string]func() (string, bool){}}
	if opts.Dir != "" {
		f, err := lockDir(opts.Dir)
		if err != nil {
			return nil, err
		}
		l.dirLock = f
	}
	started := false
	defer func() {
		if !started {
			l.unlockDir()
		}
	}()
	var model *pve.Model
	var fwSnap []byte
	if opts.Dir != "" && !opts.Reset {
		b, err := os.ReadFile(filepath.Join(opts.Dir, modelFile))
		switch {
		case err == nil:
			var saved persisted
			if err := json.Unmarshal(b, &saved); err != nil {
				return nil, fmt.Errorf("lab: read %s: %w (start with Reset to discard it)", filepath.Join(opts.Dir, modelFile), err)
			}
			model, fwSnap = saved.Node, saved.Firewall
			l.savedFWTLS = saved.FirewallTLS
			l.savedGuests = saved.Guests
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("lab: %w", err)
		}
	}
	node, err := pve.New(pve.Config{
		Hostname:       opts.Hostname,
		Model:          model,
		FS:             newNodeFS(),
		Speed:          opts.Speed,
		Faults:         l.faults,
		Log:            l.logEntry,
		OnChange:       func() { l.scheduleSave(); l.checkAddrs() },
		OnBoot:         l.onBoot,
		OnDestroy:      l.onDestroy,
		CertFor:        l.certFor,
		Join:           l.siteJoin,
		SiteFirewallUp: func() bool { return l.siteFirewallUp() },
		FirewallDNS:    l.firewallDNS,
	})
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	l.node = node
	if model != nil {
		// The node was off while the lab was stopped.
		node.PowerOn()
	}
	if err := l.listen(); err != nil {
		l.Close()
		return nil, err
	}
	if err := l.startShell(); err != nil {
		l.Close()
		return nil, err
	}
	if opts.Site != nil {
		opts.Site.add(l)
	}
	// VMs that were running when the lab stopped come back up
	type up struct {
		id             int
		guest, version string
		ready          time.Time
	}
	var ups []up
	node.Read(func(m *pve.Model) {
		for id, vm := range m.VMs {
			if !vm.Running {
				continue
			}
			for _, k := range []string{"scsi0", "virtio0"} {
				h := vm.Config[k]
				if i := indexComma(h); i >= 0 {
					h = h[:i]
				}
				if v := m.Volumes[h]; v != nil && v.Guest != "" {
					ups = append(ups, up{id, v.Guest, v.Version, vm.ReadyAt})
					break
				}
			}
		}
	})
	for _, u := range ups {
		if u.guest == "opnsense" {
			l.bootFirewall(u.id, u.version, u.ready, fwSnap)
		} else {
			l.startGuest(u.id, u.guest, u.version, l.takeSavedGuest(u.id))
		}
	}
	if err := ctx.Err(); err != nil {
		l.Close()
		return nil, err
	}
	started = true
	return l, nil
}

func indexComma(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return i
		}
	}
	return -1
}

type persisted struct {
	Node     *pve.Model      `json:"node"`
	Firewall json.RawMessage `json:"firewall,omitempty"`
	// FirewallTLS is the firewall's certificate and key: a real firewall
	// keeps its certificate across reboots, so a pinned fingerprint stays
	// valid when the lab restarts.
	FirewallTLS *fwTLS `json:"firewall_tls,omitempty"`
	// Guests are the VMs' own filesystems (lab/vm guests), by VMID.
	Guests map[int]map[string]pve.FileRec `json:"guests,omitempty"`
}

func (l *Lab) listen() error {
	var err error
	l.pveLn, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("lab: listen: %w", err)
	}
	l.pbsLn, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("lab: listen: %w", err)
	}
	pveTLS := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		var c pve.Certs
		l.node.Read(func(m *pve.Model) { c = m.Certs })
		cert, err := tls.X509KeyPair([]byte(c.NodePEM+c.CAPEM), []byte(c.NodeKeyPEM))
		return &cert, err
	}}
	pbsTLS := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		var c pve.Certs
		l.node.Read(func(m *pve.Model) { c = m.Certs })
		if c.PBSPEM == "" {
			return nil, errors.New("proxmox-backup-proxy not running")
		}
		cert, err := tls.X509KeyPair([]byte(c.PBSPEM), []byte(c.PBSKeyPEM))
		return &cert, err
	}}
	l.pveSrv = &http.Server{Handler: l.node.Handler(), TLSConfig: pveTLS, TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}, ReadHeaderTimeout: 10 * time.Second, ErrorLog: quietLog()}
	l.pbsSrv = &http.Server{Handler: l.node.PBSHandler(), TLSConfig: pbsTLS, TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}, ReadHeaderTimeout: 10 * time.Second, ErrorLog: quietLog()}
	go func() { _ = l.pveSrv.ServeTLS(l.pveLn, "", "") }()
	go func() { _ = l.pbsSrv.ServeTLS(l.pbsLn, "", "") }()
	return nil
}

// Node is the simulated PVE node (for tests that inspect or drive the model).
func (l *Lab) Node() *pve.Node { return l.node }

// Close stops the lab and saves its model (when Dir is set).
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	fw := l.fw
	l.mu.Unlock()
	if l.opts.Site != nil {
		l.opts.Site.remove(l)
	}
	var errs []error
	if l.pveSrv != nil {
		_ = l.pveSrv.Close()
	}
	if l.pbsSrv != nil {
		_ = l.pbsSrv.Close()
	}
	if fw != nil && fw.http != nil {
		_ = fw.http.Close()
	}
	l.saveMu.Lock()
	if l.saveTimer != nil {
		l.saveTimer.Stop()
	}
	l.saveMu.Unlock()
	if err := l.save(); err != nil {
		errs = append(errs, err)
	}
	l.writeMu.Lock()
	l.saveFinal = true
	l.writeMu.Unlock()
	l.stopShell()
	l.unlockDir()
	return errors.Join(errs...)
}

func (l *Lab) scheduleSave() {
	if l.opts.Dir == "" {
		return
	}
	l.saveMu.Lock()
	defer l.saveMu.Unlock()
	if l.saveTimer != nil {
		return
	}
	l.saveTimer = time.AfterFunc(100*time.Millisecond, func() {
		l.saveMu.Lock()
		l.saveTimer = nil
		l.saveMu.Unlock()
		_ = l.save()
	})
}

// save writes the model atomically (0600) into Dir.
func (l *Lab) save() error {
	if l.opts.Dir == "" || l.node == nil {
		return nil
	}
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	if l.saveFinal {
		return nil // Close saved last: a save timer that fired meanwhile is late
	}
	snap, err := l.node.Snapshot()
	if err != nil {
		return fmt.Errorf("lab: save: %w", err)
	}
	out := persisted{Node: new(pve.Model)}
	if err := json.Unmarshal(snap, out.Node); err != nil {
		return fmt.Errorf("lab: save: %w", err)
	}
	l.mu.Lock()
	if l.fw != nil && l.fw.srv != nil {
		out.Firewall, _ = l.fw.srv.Snapshot()
		if l.fw.keyPEM != "" {
			out.FirewallTLS = &fwTLS{CertPEM: l.fw.certPEM, KeyPEM: l.fw.keyPEM}
		}
	}
	out.Guests = map[int]map[string]pve.FileRec{}
	for id, g := range l.savedGuests {
		out.Guests[id] = g
	}
	l.mu.Unlock()
	for id, g := range l.guestSnapshots() {
		out.Guests[id] = g
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(l.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("lab: save: %w", err)
	}
	tmp, err := os.CreateTemp(l.opts.Dir, ".model-*")
	if err != nil {
		return fmt.Errorf("lab: save: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("lab: save: %w", err)
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(l.opts.Dir, modelFile))
}

// State returns the node model as JSON (private keys masked).
func (l *Lab) State() ([]byte, error) {
	b, err := l.node.State()
	if err != nil {
		return nil, err
	}
	m := new(pve.Model)
	if err := json.Unmarshal(b, m); err != nil {
		return nil, err
	}
	maskModel(m)
	return json.MarshalIndent(m, "", " ")
}

// Counters returns the mutating calls and commands seen.
func (l *Lab) Counters() Counters {
	api, ssh := l.node.Mutations()
	c := Counters{APIRequests: l.node.Requests(), APIMutations: api, SSHCommands: ssh, OPNsenseRequests: l.fwRequests.Load()}
	l.mu.Lock()
	if l.fw != nil && l.fw.srv != nil {
		c.OPNsenseMutations = int64(l.fw.srv.Mutations())
	}
	l.mu.Unlock()
	return c
}

// Info describes how to reach the lab.
func (l *Lab) Info() Info {
	var info Info
	l.node.Read(func(m *pve.Model) {
		info = Info{
			NodeAddr: m.NodeAddr, MgmtAddr: mgmtAddr(m.Hostname), Hostname: m.Hostname, RootPassword: m.RootPassword,
			PVEFingerprint: pve.PEMFingerprint(m.Certs.NodePEM), PVECAPEM: []byte(m.Certs.CAPEM),
			ClientKeyPEM: []byte(m.Certs.ClientPEM), ClientPublicKey: pve.AuthorizedKeyPEM(m.Certs.ClientPEM, "lab-client"),
			FirewallAddr: "10.0.0.1", FirewallKey: opnsense.BootstrapKey, FirewallSecret: opnsense.BootstrapSecret,
		}
		if m.Certs.PBSPEM != "" {
			info.PBSFingerprint = pve.PEMFingerprint(m.Certs.PBSPEM)
		}
		if s, err := pve.ParseSigner(m.Certs.HostKeyPEM); err == nil {
			info.SSHHostKey = pve.AuthorizedKey(s, "")
			info.SSHFingerprint = sshFingerprint(s)
		}
	})
	info.Images = pve.MirrorImages()
	l.mu.Lock()
	if l.fw != nil {
		info.FirewallFingerprint = l.fw.fp
	}
	l.mu.Unlock()
	info.Loopback = map[string]string{
		net.JoinHostPort(info.NodeAddr, "8006"): l.pveLn.Addr().String(),
		net.JoinHostPort(info.NodeAddr, "8007"): l.pbsLn.Addr().String(),
		net.JoinHostPort(info.MgmtAddr, "8006"): l.pveLn.Addr().String(),
		net.JoinHostPort(info.MgmtAddr, "8007"): l.pbsLn.Addr().String(),
	}
	if a := l.sshAddr(); a != "" {
		info.Loopback[net.JoinHostPort(info.NodeAddr, "22")] = a
		info.Loopback[net.JoinHostPort(info.MgmtAddr, "22")] = a
	}
	l.mu.Lock()
	if l.fw != nil && l.fw.ln != nil {
		info.Loopback["10.0.0.1:443"] = l.fw.ln.Addr().String()
	}
	guests := append([]*guest(nil), l.guests...)
	l.mu.Unlock()
	for _, g := range guests {
		var ip string
		l.node.Read(func(m *pve.Model) {
			if v := m.VMs[g.vmid]; v != nil && v.Running {
				ip = v.IP
			}
		})
		if ip != "" {
			info.Loopback[net.JoinHostPort(ip, "22")] = g.srv.Addr()
		}
	}
	return info
}

func mgmtAddr(host string) string {
	n := 1
	for i := 0; i < len(host); i++ {
		if host[i] >= '0' && host[i] <= '9' {
			n, _ = strconv.Atoi(host[i:])
			break
		}
	}
	if n < 1 || n > 9 {
		n = 1
	}
	return fmt.Sprintf("10.0.0.%d", 9+n)
}

// CertPool returns a pool with the PVE cluster CA (for clients that verify
// the node certificate normally instead of pinning it).
func (l *Lab) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	l.node.Read(func(m *pve.Model) { p.AppendCertsFromPEM([]byte(m.Certs.CAPEM)) })
	return p
}

// errNoRoute is what dialling an address outside the lab gives.
func opErr(addr string, errno syscall.Errno) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: fakeAddr(addr), Err: os.NewSyscallError("connect", errno)}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

// Dial is the dial table: it maps lab addresses to loopback listeners, as
// the network of a real site would route them. Anything else fails like an
// unreachable host. It is an exec.DialFunc.
func (l *Lab) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	target, err := l.resolve(addr)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	own := false
	l.node.Read(func(m *pve.Model) { own = host == m.NodeAddr || host == mgmtAddr(m.Hostname) })
	if own {
		return l.trackAddr(nc, host), nil
	}
	return nc, nil
}

func (l *Lab) resolve(addr string) (string, error) {
	a, err := l.resolveOwn(addr)
	if err == nil || l.opts.Site == nil {
		return a, err
	}
	var oe *net.OpError
	if errors.As(err, &oe) && errors.Is(oe.Err, syscall.ECONNREFUSED) {
		return "", err
	}
	return l.resolveSite(addr)
}

// resolveOwn is the dial table of this lab alone.
func (l *Lab) resolveOwn(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", &net.OpError{Op: "dial", Net: "tcp", Err: err}
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		return "", opErr(addr, syscall.ECONNREFUSED)
	}
	var nodeUp, pbsUp bool
	var hostname string
	l.node.Read(func(m *pve.Model) {
		hostname = m.Hostname
		// Any address the node holds on its live upstream bridge answers
		// like the install address (node.wan_address may move the node to
		// another one in 192.168.1.0/24, the lab's upstream network).
		nodeUp = (host == m.NodeAddr || host == mgmtAddr(m.Hostname) || strings.HasPrefix(host, "192.168.1.")) && m.AddrUp(host)
		pbsUp = m.PBS.Installed && m.Services["proxmox-backup-proxy"] == "active"
	})
	_ = hostname
	if nodeUp {
		switch port {
		case "8006":
			return l.pveLn.Addr().String(), nil
		case "8007":
			if pbsUp {
				return l.pbsLn.Addr().String(), nil
			}
		case "22":
			if a := l.sshAddr(); a != "" {
				return a, nil
			}
		}
		return "", opErr(addr, syscall.ECONNREFUSED)
	}
	if host == "10.0.0.1" {
		l.mu.Lock()
		fw := l.fw
		l.mu.Unlock()
		if fw == nil || time.Now().Before(fw.ready) || !l.vmRunning(fw.vmid) {
			return "", opErr(addr, syscall.EHOSTUNREACH)
		}
		if port == "443" && fw.ln != nil {
			return fw.ln.Addr().String(), nil
		}
		if port == "22" {
			if a, ok := l.guestFor("10.0.0.1"); ok {
				return a, nil
			}
		}
		return "", opErr(addr, syscall.ECONNREFUSED)
	}
	if a, ok := l.guestFor(host); ok {
		if port == "22" {
			return a, nil
		}
		return "", opErr(addr, syscall.ECONNREFUSED)
	}
	l.mu.Lock()
	f := l.extraDial[addr]
	l.mu.Unlock()
	if f != nil {
		if a, ok := f(); ok {
			return a, nil
		}
	}
	return "", opErr(addr, syscall.EHOSTUNREACH)
}

func (l *Lab) vmRunning(id int) bool {
	up := false
	l.node.Read(func(m *pve.Model) {
		if vm := m.VMs[id]; vm != nil && vm.Running {
			up = true
		}
	})
	return up
}

// onBoot is called when a VM starts.
func (l *Lab) onBoot(vmid int, guest, version string, ready time.Time) {
	switch guest {
	case "opnsense":
		l.bootFirewall(vmid, version, ready, nil)
	case "nixos":
		l.startGuest(vmid, "nixos", version, l.takeSavedGuest(vmid))
	}
}

func (l *Lab) bootFirewall(vmid int, version string, ready time.Time, snap []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	if l.fw != nil && l.fw.vmid == vmid && l.fw.srv != nil {
		l.fw.ready = ready // a reboot: the same firewall, config kept
		srv := l.fw.srv
		l.mu.Unlock()
		l.firewallBooted(vmid, srv, true)
		l.mu.Lock()
		return
	}
	// The image is stock OPNsense (TAPPaaS@f54e4fc:.github/workflows/build-opnsense-image.yml:38,120-123
	// injects only /conf/config.xml): interface_assign exists once its
	// controller file is on the guest's disk.
	patched := func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, g := range l.guests {
			if g.vmid == vmid {
				return vm.HasAssignPatch(g.fs)
			}
		}
		return false
	}
	srv := opnsense.NewServer(opnsense.Options{Version: version, AssignPatch: patched, OnRequest: func(r opnsense.Request) {
		l.fwRequests.Add(1)
		l.logEntry(pve.Entry{Time: r.Time.UTC(), Face: "opnsense", Method: r.Method, Path: r.Path, Status: r.Status})
		if r.Mutating {
			l.scheduleSave()
		}
	}})
	if snap != nil {
		_ = srv.Restore(snap)
	}
	cert, certPEM, keyPEM, fp, err := l.firewallCert(snap != nil)
	if err != nil {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	st := &fwState{vmid: vmid, version: version, ready: ready, srv: srv, ln: ln, fp: fp, certPEM: string(certPEM), keyPEM: string(keyPEM), cert: &cert}
	getCert := func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		l.mu.Lock()
		defer l.mu.Unlock()
		return st.cert, nil
	}
	hs := &http.Server{Handler: l.faultyFirewall(srv.Handler()), TLSConfig: &tls.Config{GetCertificate: getCert, MinVersion: tls.VersionTLS12},
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){}, ReadHeaderTimeout: 10 * time.Second, ErrorLog: quietLog()}
	go func() { _ = hs.ServeTLS(ln, "", "") }()
	st.http = hs
	l.fw = st
	l.mu.Unlock()
	l.startGuest(vmid, "opnsense", version, l.takeSavedGuest(vmid))
	l.mu.Lock()
}

// OnCommandLine has fn called with the argv of every simple command the
// node's and the guests' shells run (what `ps` on the machine would show;
// host is "node" or "vmNNN"), unmasked: tests scan it for secrets. fn must
// not block; nil stops recording.
func (l *Lab) OnCommandLine(fn func(host, user string, argv []string)) {
	if fn == nil {
		l.argvHook.Store(nil)
		return
	}
	l.argvHook.Store(&fn)
}

// traceArgv is the shell's Trace hook for host.
func (l *Lab) traceArgv(host string) func(user string, argv []string) {
	return func(user string, argv []string) {
		if fn := l.argvHook.Load(); fn != nil {
			(*fn)(host, user, argv)
		}
	}
}

// ReplaceFirewallCertificate gives the running firewall a new self-signed
// web GUI certificate, as an operator regenerating it in System > Trust >
// Certificates would (or as another machine answering at 10.0.0.1 would
// look). It is persisted like the first one and returns the new
// fingerprint ("AA:BB:…").
func (l *Lab) ReplaceFirewallCertificate() (string, error) {
	cert, certPEM, keyPEM, fp, err := l.firewallCert(false)
	if err != nil {
		return "", err
	}
	l.mu.Lock()
	if l.fw == nil || l.fw.srv == nil {
		l.mu.Unlock()
		return "", errors.New("the lab firewall has not booted")
	}
	l.fw.cert, l.fw.fp, l.fw.certPEM, l.fw.keyPEM = &cert, fp, string(certPEM), string(keyPEM)
	l.mu.Unlock()
	l.scheduleSave()
	return fp, nil
}

// Firewall returns the simulated OPNsense (nil until its VM has booted once).
func (l *Lab) Firewall() *opnsense.Server {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fw == nil {
		return nil
	}
	return l.fw.srv
}

// faultyFirewall applies the faults whose Face is "opnsense" (Match
// "METHOD /api/..." as a prefix) to the firewall's API: the request fails
// with Status (default 500) before it is handled, or, with After, once it
// was handled (the change is made, the reply lost).
func (l *Lab) faultyFirewall(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := l.faults.Hit("opnsense", r.Method+" "+r.URL.Path)
		if f == nil || f.Delay > 0 {
			if f != nil {
				time.Sleep(f.Delay)
			}
			h.ServeHTTP(w, r)
			return
		}
		if f.After {
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		code := f.Status
		if code == 0 {
			code = http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		msg, _ := json.Marshal(map[string]string{"status": "error", "message": faultMessage(f)})
		_, _ = w.Write(msg)
	})
}

// FaultsFired reports how often each of Options.Faults fired, in order.
func (l *Lab) FaultsFired() []int { return l.faults.Fired() }

// OnAccess has fn called with every access-log entry (secrets masked),
// whether or not Options.AccessLog is set: tests enumerate the calls a run
// makes. fn must not block; nil stops it.
func (l *Lab) OnAccess(fn func(Entry)) {
	if fn == nil {
		l.accessHook.Store(nil)
		return
	}
	l.accessHook.Store(&fn)
}

func (l *Lab) logEntry(e pve.Entry) {
	if fn := l.accessHook.Load(); fn != nil {
		(*fn)(e)
	}
	if l.opts.AccessLog == nil {
		return
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	l.logMu.Lock()
	defer l.logMu.Unlock()
	_, _ = l.opts.AccessLog.Write(append(b, '\n'))
}

// ReadState returns the model persisted in dir as indented JSON, without
// the node's filesystem and with private keys masked (`tappaas lab state`).
func ReadState(dir string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, modelFile))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("no lab state in %s (run `tappaas lab serve` or `tappaas install --lab` first)", dir)
		}
		return nil, err
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("lab state %s: %w", filepath.Join(dir, modelFile), err)
	}
	if p.Node == nil {
		return nil, fmt.Errorf("lab state %s: no node model", filepath.Join(dir, modelFile))
	}
	maskModel(p.Node)
	return json.MarshalIndent(p, "", "  ")
}

// maskModel drops what a state dump must not show.
func maskModel(m *pve.Model) {
	m.Files = nil
	for _, k := range []*string{&m.Certs.CAKeyPEM, &m.Certs.NodeKeyPEM, &m.Certs.PBSKeyPEM, &m.Certs.HostKeyPEM, &m.Certs.RootKeyPEM, &m.Certs.ClientPEM, &m.Secret, &m.RootPassword} {
		if *k != "" {
			*k = "(secret)"
		}
	}
}

// certFor is the certificate served at a lab address other than the node's.
func (l *Lab) certFor(ip, port string) (string, bool) {
	if ip != "10.0.0.1" || port != "443" {
		return "", false
	}
	l.mu.Lock()
	fw := l.fw
	l.mu.Unlock()
	if fw == nil || time.Now().Before(fw.ready) {
		return "", false
	}
	return fw.certPEM, true
}

// takeSavedGuest returns the persisted filesystem of a VM (nil if none).
func (l *Lab) takeSavedGuest(vmid int) shell.FS {
	l.mu.Lock()
	files := l.savedGuests[vmid]
	delete(l.savedGuests, vmid)
	l.mu.Unlock()
	if files == nil {
		return nil
	}
	fsys := shell.NewMemFS()
	if err := pve.RestoreFS(fsys, files); err != nil {
		return nil
	}
	return fsys
}

// firewallCert returns the firewall's TLS certificate: the persisted one
// when an existing firewall is restored, otherwise a new one.
func (l *Lab) firewallCert(restore bool) (tls.Certificate, []byte, []byte, string, error) {
	if restore && l.savedFWTLS != nil {
		if c, err := tls.X509KeyPair([]byte(l.savedFWTLS.CertPEM), []byte(l.savedFWTLS.KeyPEM)); err == nil && len(c.Certificate) > 0 {
			return c, []byte(l.savedFWTLS.CertPEM), []byte(l.savedFWTLS.KeyPEM), opnsense.Fingerprint(c.Certificate[0]), nil
		}
	}
	c, certPEM, fp, err := opnsense.NewCert("10.0.0.1", "firewall.mgmt.internal", "firewall.internal", "firewall")
	if err != nil {
		return tls.Certificate{}, nil, nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return tls.Certificate{}, nil, nil, "", err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	return c, certPEM, keyPEM, fp, nil
}
