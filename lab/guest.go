package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/tappaas/tappaas/lab/pve"
	"github.com/tappaas/tappaas/lab/shell"
	"github.com/tappaas/tappaas/lab/sshd"
	"github.com/tappaas/tappaas/lab/vm"
	"golang.org/x/crypto/ssh"
)

// guest is a booted VM's SSH face: a lab/vm guest shell over the VM's own
// filesystem (kept across reboots and lab restarts).
type guest struct {
	vmid    int
	kind    string
	srv     *sshd.Server
	hostKey string // authorized_keys form
	fs      shell.FS
}

const guestHostKeyFile = "/etc/ssh/ssh_host_ed25519_key"

// BootstrapRootPassword is the firewall image's root password
// (docs/upstream.md#bootstrap-credentials).
const BootstrapRootPassword = "opnsense"

// startGuest starts (or returns) the SSH server of VM vmid of kind. A
// restored filesystem (fsys non-nil) is used as is; otherwise the VM is
// seeded from its PVE config (cloud-init user, keys, hostname).
func (l *Lab) startGuest(vmid int, kind, version string, fsys shell.FS) *guest {
	l.mu.Lock()
	for _, g := range l.guests {
		if g.vmid == vmid {
			l.mu.Unlock()
			return g
		}
	}
	l.mu.Unlock()
	var user, keys, name string
	l.node.Read(func(m *pve.Model) {
		if v := m.VMs[vmid]; v != nil {
			user, name = v.Config["ciuser"], v.Config["name"]
			keys, _ = url.PathUnescape(v.Config["sshkeys"])
		}
	})
	if fsys == nil {
		fsys = shell.NewMemFS()
		var lines []string
		for _, k := range strings.Split(keys, "\n") {
			if strings.TrimSpace(k) != "" {
				lines = append(lines, strings.TrimSpace(k))
			}
		}
		o := vm.SeedOptions{Hostname: name, User: user, AuthorizedKeys: lines, Version: version}
		if kind == vm.OPNsense {
			o.Hostname = "firewall"
		}
		if err := vm.Seed(kind, fsys, o); err != nil {
			return nil
		}
	}
	hostPEM, err := fsys.ReadFile(guestHostKeyFile)
	newKey := err != nil
	if newKey {
		p, err := pve.GenHostKey()
		if err != nil {
			return nil
		}
		hostPEM = []byte(p)
		_ = fsys.MkdirAll("/etc/ssh", 0o755)
		_ = fsys.WriteFile(guestHostKeyFile, hostPEM, 0o600)
	}
	signer, err := pve.ParseSigner(string(hostPEM))
	if err != nil {
		return nil
	}
	g := &guest{vmid: vmid, kind: kind, fs: fsys, hostKey: pve.AuthorizedKey(signer, "")}
	hooks := vm.Hooks{
		Reboot:   func() { l.rebootGuest(g) },
		Poweroff: func() { l.poweroffGuest(g) },
		Fetch: func(ctx context.Context, u string) ([]byte, error) {
			if b, _, ok := pve.MirrorFetch(u); ok {
				return b, nil
			}
			return nil, fmt.Errorf("lab mirror: %s: %w", u, fs.ErrNotExist)
		},
		SSH:   func(ctx context.Context, r vm.SSHRequest) int { return l.guestSSH(ctx, r) },
		Ping:  func(host string) bool { return l.guestPing(host) },
		IPs:   func() []string { return l.guestIPs(vmid) },
		Sleep: l.sleeper,
		Service: func(name, action string) {
			if name == "qemu-guest-agent" {
				l.node.SetGuestAgent(vmid, action == "start" || action == "restart" || action == "enable")
			}
		},
	}
	if kind == vm.OPNsense {
		hooks.ApplyConfig = func(b []byte) error {
			fw := l.Firewall()
			if fw == nil {
				return errors.New("the firewall's API service is not running")
			}
			_, err := fw.ApplyConfigXML(b)
			l.scheduleSave()
			return err
		}
	}
	in, err := vm.NewGuest(kind, fsys, hooks)
	if err != nil {
		return nil
	}
	in.Trace = l.traceArgv(fmt.Sprintf("vm%d", vmid))
	keysOK, pwOK := vm.Authorizer(kind, fsys)
	// Strict csh: the firewall's root login shell refuses sh syntax the
	// way OPNsense's tcsh does (TestCshAgainstRealTcsh keeps it honest).
	inner := vm.HandlerWith(kind, in, vm.HandlerOptions{Csh: vm.CshStrict})
	// The executor's boot line is valid csh; the guest's shell runs it as
	// sent. Only the access log looks inside, to record the real script.
	handler := func(ctx context.Context, u, command string, stdin io.Reader, stdout, stderr io.Writer) int {
		if command == sshBootLine {
			script, rest, _ := unwrapBootLine(command, stdin)
			l.logEntry(pve.Entry{Time: time.Now().UTC(), Face: "ssh", User: fmt.Sprintf("%s@vm%d", u, vmid), Command: pve.MaskCommand(script)})
			stdin = io.MultiReader(strings.NewReader(encodeBootScript(script)), rest)
		}
		return inner(ctx, u, command, stdin, stdout, stderr)
	}
	srv, err := sshd.Listen("127.0.0.1:0", sshd.Config{
		HostKey:        signer,
		AuthorizedKeys: keysOK,
		Password:       pwOK,
		Handler:        handler,
		OnCommand: func(u, command string) {
			if command == sshBootLine {
				return // logged decoded by the handler
			}
			l.logEntry(pve.Entry{Time: time.Now().UTC(), Face: "ssh", User: fmt.Sprintf("%s@vm%d", u, vmid), Command: pve.MaskCommand(command)})
		},
		Dial: l.Dial,
	})
	if err != nil {
		return nil
	}
	g.srv = srv
	l.mu.Lock()
	l.guests = append(l.guests, g)
	l.mu.Unlock()
	if newKey {
		// A real VM keeps its host key on disk from first boot: persist it
		// now, so a lab restarted right after (the installer killed with it)
		// offers the key the installer already pinned.
		_ = l.save()
	}
	return g
}

// rebootGuest is `reboot` inside a guest: the VM restarts (unreachable for
// its boot delay), its connections drop, the boot-time effects apply.
func (l *Lab) rebootGuest(g *guest) {
	l.node.RestartVM(g.vmid)
	_ = vm.Boot(g.kind, g.fs)
	if g.kind == vm.OPNsense {
		if fw := l.Firewall(); fw != nil {
			l.firewallBooted(g.vmid, fw, false)
		}
	}
	go func() {
		time.Sleep(50 * time.Millisecond) // let the command's reply start
		g.srv.DropAll()
	}()
	l.scheduleSave()
}

func (l *Lab) poweroffGuest(g *guest) {
	l.node.StopVM(g.vmid)
	go func() {
		time.Sleep(50 * time.Millisecond)
		g.srv.DropAll()
	}()
	l.scheduleSave()
}

// labResolve maps the names the bootstrap uses to lab addresses.
func (l *Lab) labResolve(host string) string {
	if net.ParseIP(host) != nil {
		return host
	}
	h := strings.TrimSuffix(strings.TrimSuffix(host, ".mgmt.internal"), ".internal")
	switch {
	case h == "firewall":
		return "10.0.0.1"
	case strings.HasPrefix(h, "tappaas") && h != "tappaas-cicd":
		return mgmtAddr(h)
	}
	ip := ""
	l.node.Read(func(m *pve.Model) {
		for _, v := range m.VMs {
			if v.Running && v.Config["name"] == h && v.IP != "" {
				ip = v.IP
			}
		}
	})
	return ip
}

// guestSSH runs an outgoing ssh from a guest through the lab network.
func (l *Lab) guestSSH(ctx context.Context, r vm.SSHRequest) int {
	ip := l.labResolve(r.Host)
	if ip == "" {
		fmt.Fprintf(r.Stderr, "ssh: Could not resolve hostname %s: Name or service not known\n", r.Host)
		return 255
	}
	port := r.Port
	if port == 0 {
		port = 22
	}
	addr := net.JoinHostPort(ip, fmt.Sprint(port))
	nc, err := l.Dial(ctx, "tcp", addr)
	if err != nil {
		fmt.Fprintf(r.Stderr, "ssh: connect to host %s port %d: No route to host\n", r.Host, port)
		return 255
	}
	var auth []ssh.AuthMethod
	if len(r.Signers) > 0 {
		auth = append(auth, ssh.PublicKeys(r.Signers...))
	}
	cfg := &ssh.ClientConfig{User: r.User, Auth: auth, Timeout: 10 * time.Second,
		// the guest's own known_hosts policy is applied by lab/vm before the call
		HostKeyCallback: func(string, net.Addr, ssh.PublicKey) error { return nil }}
	c, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		fmt.Fprintf(r.Stderr, "%s@%s: Permission denied (publickey).\n", r.User, r.Host)
		return 255
	}
	cl := ssh.NewClient(c, chans, reqs)
	defer cl.Close()
	s, err := cl.NewSession()
	if err != nil {
		return 255
	}
	defer s.Close()
	if r.Stdin != nil {
		s.Stdin = r.Stdin
	}
	s.Stdout, s.Stderr = orDiscard(r.Stdout), orDiscard(r.Stderr)
	if err := s.Run(r.Command); err != nil {
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			return ee.ExitStatus()
		}
		return 255
	}
	return 0
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// guestPing is ICMP from a VM on the mgmt network.
func (l *Lab) guestPing(host string) bool {
	ip := l.labResolve(host)
	if ip == "" {
		return false
	}
	if _, err := l.resolve(net.JoinHostPort(ip, "22")); err == nil {
		return true
	}
	if _, err := l.resolve(net.JoinHostPort(ip, "443")); err == nil {
		return true
	}
	return false
}

func (l *Lab) guestIPs(vmid int) []string {
	var ips []string
	l.node.Read(func(m *pve.Model) {
		if v := m.VMs[vmid]; v != nil && v.IP != "" {
			ips = append(ips, v.IP)
		}
	})
	return ips
}

// guestFor returns the SSH listener of the running, booted VM with ip.
func (l *Lab) guestFor(ip string) (string, bool) {
	vmid := 0
	l.node.Read(func(m *pve.Model) {
		for id, v := range m.VMs {
			if v.Running && v.IP == ip && !time.Now().Before(v.ReadyAt) {
				vmid = id
			}
		}
	})
	if vmid == 0 {
		return "", false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, g := range l.guests {
		if g.vmid == vmid {
			return g.srv.Addr(), true
		}
	}
	return "", false
}

// onDestroy forgets a destroyed VM's guest: its disk (filesystem and SSH
// host key) is gone, so a VM created again under the same ID boots a fresh
// OS with a new host key, as on PVE ("qm destroy: Destroy the VM and all
// used/owned volumes", https://pve.proxmox.com/pve-docs/qm.1.html).
// A destroyed firewall loses its configuration and certificate too.
func (l *Lab) onDestroy(vmid int) {
	l.mu.Lock()
	var gone *guest
	for i, g := range l.guests {
		if g.vmid == vmid {
			gone = g
			l.guests = append(l.guests[:i:i], l.guests[i+1:]...)
			break
		}
	}
	delete(l.savedGuests, vmid)
	var fw *fwState
	if l.fw != nil && l.fw.vmid == vmid {
		fw, l.fw, l.savedFWTLS = l.fw, nil, nil
	}
	l.mu.Unlock()
	if gone != nil {
		_ = gone.srv.Close()
	}
	if fw != nil && fw.http != nil {
		_ = fw.http.Close()
	}
	l.scheduleSave()
}

// GuestHostKey returns the SSH host key (authorized_keys form) of a booted VM.
func (l *Lab) GuestHostKey(vmid int) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, g := range l.guests {
		if g.vmid == vmid {
			return g.hostKey, true
		}
	}
	return "", false
}

// GuestFS returns the filesystem of a booted VM (tests).
func (l *Lab) GuestFS(vmid int) shell.FS {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, g := range l.guests {
		if g.vmid == vmid {
			return g.fs
		}
	}
	return nil
}

// guestSnapshots returns every guest filesystem for persistence.
func (l *Lab) guestSnapshots() map[int]map[string]pve.FileRec {
	l.mu.Lock()
	gs := append([]*guest(nil), l.guests...)
	l.mu.Unlock()
	out := map[int]map[string]pve.FileRec{}
	for _, g := range gs {
		if snap, err := pve.SnapshotFS(g.fs); err == nil {
			out[g.vmid] = snap
		}
	}
	return out
}
