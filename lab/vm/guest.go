// Package vm is what the lab's virtual machines understand over SSH: the
// guest-side shells of the tappaas-cicd NixOS VM
// (docs/upstream.md#platform: git clone, nixos-rebuild switch,
// ssh-keygen, reboot, install1.sh and install2.sh, configuration.json, the
// completion marker) and of the OPNsense firewall VM
// (docs/upstream.md#firewall-takeover: /bin/sh under a csh login
// shell, config.xml push and rc.reload_all, pkg, sysrc, service, configctl).
//
// A guest is a lab/shell interpreter over the VM's own filesystem with
// extra commands; everything a guest remembers lives in that filesystem
// (so a lab snapshot of the MemFS persists it). Effects outside the VM —
// reboots, downloads, SSH to other lab hosts, the firewall's API keys, the
// guest agent — go through Hooks, which the lab wires. Missing hooks make
// the corresponding commands fail the way an isolated VM would.
//
// Concurrency: a guest's commands may run concurrently (one interpreter
// serves every SSH session of the VM); hooks must be safe for that.
package vm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tappaas/tappaas/lab/shell"
	gossh "golang.org/x/crypto/ssh"
)

// Guest kinds.
const (
	// NixOS is a clone of the TAPPaaS NixOS template (tappaas-cicd and
	// module VMs).
	NixOS = "nixos"
	// OPNsense is the firewall VM built from the TAPPaaS firewall image.
	OPNsense = "opnsense"
)

// ErrUnknownKind is returned for a guest kind this package does not know.
var ErrUnknownKind = errors.New("vm: unknown guest kind")

// SSHRequest is an outgoing SSH/scp/ssh-copy-id call from inside a guest.
type SSHRequest struct {
	User, Host string // after ~/.ssh/config (HostName, User) is applied
	Port       int
	Command    string // the remote command line ("" = interactive, which the lab may refuse)
	// Signers are the client identities ssh would offer (-i files,
	// ~/.ssh/config IdentityFile, then the default ~/.ssh/id_* keys),
	// parsed from the guest's filesystem.
	Signers []gossh.Signer
	// Options are the -o options and matching ~/.ssh/config settings
	// (lower-case keys: "stricthostkeychecking", "connecttimeout", …).
	Options map[string]string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
}

// Hooks connect a guest to the rest of the lab. All are optional.
type Hooks struct {
	// Reboot is called when root runs reboot / shutdown -r / systemctl
	// reboot. The lab typically drops the VM's SSH connections and brings
	// its server back after the boot delay. It is called before the
	// command returns, so the caller's connection may drop mid-command as
	// on a real machine.
	Reboot func()
	// Poweroff is called for poweroff / shutdown -h / halt.
	Poweroff func()
	// Fetch downloads a URL for curl/wget (the lab's mirror). Errors
	// wrapping fs.ErrNotExist become HTTP 404; others "could not resolve
	// host". When nil (or not found), the guest serves the TAPPaaS files
	// it carries itself (install1.sh, install2.sh) and nothing else.
	Fetch func(ctx context.Context, url string) ([]byte, error)
	// SSH runs an outgoing ssh command and returns its exit status (255
	// for connection or authentication failures, with OpenSSH's message on
	// Stderr). nil: every host is unreachable.
	SSH func(ctx context.Context, r SSHRequest) int
	// Ping reports whether host answers ICMP echo. nil: only the guest
	// itself and localhost answer.
	Ping func(host string) bool
	// IPs lists the guest's IPv4 addresses (hostname -I, ip addr).
	IPs func() []string
	// ApplyConfig (OPNsense) receives /conf/config.xml when it is
	// reloaded (rc.reload_all, configctl); an error fails the reload.
	ApplyConfig func(configXML []byte) error
	// Service is told when a service is started or stopped inside the
	// guest ("qemu-guest-agent", "start"), e.g. so the lab's guest agent
	// starts answering.
	Service func(name, action string)
	// Sleep scales the simulated durations (nixos-rebuild, pkg install);
	// nil waits for real with the guest's default durations, so tests
	// should set it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the guest's clock (nil = time.Now).
	Now func() time.Time
}

// NewGuest returns the shell of a guest of the given kind over fsys (seed
// it with Seed first). A user's commands see the filesystem with that
// user's credential from the guest's /etc/passwd (shell.UserFS), so file
// owners and modes bind them as a kernel would.
func NewGuest(kind string, fsys shell.FS, hooks Hooks) (*shell.Interp, error) {
	in := shell.New(fsys)
	in.Sleep = hooks.Sleep
	in.Now = hooks.Now
	g := &guest{kind: kind, fs: fsys, hooks: hooks, in: in}
	switch kind {
	case NixOS:
		in.Host = shell.Host{Hostname: "nixos", Kernel: "Linux", Release: "6.12.34", Machine: "x86_64", OS: "GNU/Linux",
			Version: "#1-NixOS SMP PREEMPT_DYNAMIC Thu Jun 19 11:33:59 UTC 2025", UIDs: map[string]int{"tappaas": 1000}}
		in.FSFor = shell.UserFS
		g.registerNixOS()
	case OPNsense:
		in.Host = shell.Host{Hostname: "firewall", Domain: "internal", Kernel: "FreeBSD", Release: "14.3-RELEASE-p1", Machine: "amd64", OS: "FreeBSD",
			Version: "FreeBSD 14.3-RELEASE-p1 stable/26.1-n270022-6d1a2b3c4d5e SMP"}
		in.FSFor = shell.UserFS
		g.registerOPNsense()
	default:
		return nil, fmt.Errorf("%w %q (want %q or %q)", ErrUnknownKind, kind, NixOS, OPNsense)
	}
	g.registerCommon()
	return in, nil
}

type guest struct {
	kind  string
	fs    shell.FS
	hooks Hooks
	in    *shell.Interp
}

func (g *guest) sleep(e *shell.Env, d time.Duration) error { return e.Sleep(d) }

// ---- commands both kinds have ----

func (g *guest) registerCommon() {
	g.in.Register("curl", g.cmdCurl)
	g.in.Register("fetch", g.cmdCurl) // FreeBSD's fetch(1), same options subset
	g.in.Register("ping", g.cmdPing)
	g.in.Register("ssh", g.cmdSSH)
	g.in.Register("scp", g.cmdSCP)
	g.in.Register("ssh-keygen", g.cmdSSHKeygen)
	g.in.Register("reboot", g.cmdReboot)
	g.in.Register("poweroff", g.cmdPoweroff)
	g.in.Register("halt", g.cmdPoweroff)
	g.in.Register("shutdown", g.cmdShutdown)
	g.in.Register("jq", cmdJq)
	g.in.Register("getent", g.cmdGetent)
	g.in.Register("ip", g.cmdIP)
	hostname, _ := shell.Builtin("hostname")
	g.in.Register("hostname", func(e *shell.Env) int {
		if ips := g.ips(); ips != nil {
			if in := e.Interp(); in != nil {
				in.UpdateHost(func(h *shell.Host) { h.IPs = ips })
			}
		}
		return hostname(e)
	})
}

// ips is the guest's current IPv4 addresses (from the lab's DHCP).
func (g *guest) ips() []string {
	if g.hooks.IPs == nil {
		return nil
	}
	return g.hooks.IPs()
}

// cmdIP answers the read-only `ip` queries a script may make about the
// guest's own addresses: ip [-4] [-o] [-j] addr|a [show], ip route.
func (g *guest) cmdIP(e *shell.Env) int {
	var obj string
	jsonOut, oneLine := false, false
	for _, a := range e.Args[1:] {
		switch {
		case a == "-j" || a == "-json":
			jsonOut = true
		case a == "-o" || a == "-oneline":
			oneLine = true
		case strings.HasPrefix(a, "-"):
		case obj == "":
			obj = a
		case a != "show" && a != "list":
			fmt.Fprintf(e.Stderr, "Command \"%s\" is unknown, try \"ip %s help\".\n", a, obj)
			return 255
		}
	}
	ifname := "eth0"
	if g.kind == OPNsense {
		ifname = "vtnet0"
	}
	ips := g.ips()
	switch obj {
	case "addr", "a", "address":
		if jsonOut {
			var infos []string
			for _, ip := range ips {
				infos = append(infos, fmt.Sprintf(`{"family":"inet","local":"%s","prefixlen":24}`, ip))
			}
			fmt.Fprintf(e.Stdout, `[{"ifindex":1,"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},{"ifindex":2,"ifname":"%s","addr_info":[%s]}]`+"\n", ifname, strings.Join(infos, ","))
			return 0
		}
		if oneLine {
			fmt.Fprintln(e.Stdout, "1: lo    inet 127.0.0.1/8 scope host lo")
			for _, ip := range ips {
				fmt.Fprintf(e.Stdout, "2: %s    inet %s/24 brd %s.255 scope global dynamic %s\n", ifname, ip, ip[:strings.LastIndexByte(ip, '.')], ifname)
			}
			return 0
		}
		fmt.Fprintln(e.Stdout, "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n    inet 127.0.0.1/8 scope host lo")
		fmt.Fprintf(e.Stdout, "2: %s: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UP\n", ifname)
		for _, ip := range ips {
			fmt.Fprintf(e.Stdout, "    inet %s/24 scope global dynamic %s\n", ip, ifname)
		}
		return 0
	case "route", "r":
		if len(ips) > 0 {
			fmt.Fprintf(e.Stdout, "default via 10.0.0.1 dev %s proto dhcp src %s metric 1002\n10.0.0.0/24 dev %s proto dhcp scope link src %s metric 1002\n", ifname, ips[0], ifname, ips[0])
		}
		return 0
	case "":
		fmt.Fprintln(e.Stderr, "Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }")
		return 255
	}
	fmt.Fprintf(e.Stderr, "Object \"%s\" is unknown, try \"ip help\".\n", obj)
	return 255
}

// mustRoot prints the guest's refusal for a privileged command.
func mustRoot(e *shell.Env, msg string) (int, bool) {
	if e.User == "root" {
		return 0, true
	}
	fmt.Fprintln(e.Stderr, msg)
	return 1, false
}

func (g *guest) cmdReboot(e *shell.Env) int {
	if code, ok := g.privileged(e); !ok {
		return code
	}
	if g.hooks.Reboot != nil {
		g.hooks.Reboot()
	}
	return 0
}

func (g *guest) cmdPoweroff(e *shell.Env) int {
	if code, ok := g.privileged(e); !ok {
		return code
	}
	if g.hooks.Poweroff != nil {
		g.hooks.Poweroff()
	}
	return 0
}

func (g *guest) privileged(e *shell.Env) (int, bool) {
	if g.kind == OPNsense {
		return mustRoot(e, e.Name()+": Operation not permitted")
	}
	return mustRoot(e, "Failed to set wall message, ignoring: Interactive authentication required.\nCall to "+
		strings.ToUpper(e.Name()[:1])+e.Name()[1:]+" failed: Interactive authentication required.")
}

func (g *guest) cmdShutdown(e *shell.Env) int {
	reboot, halt := false, false
	for _, a := range e.Args[1:] {
		switch a {
		case "-r", "--reboot":
			reboot = true
		case "-h", "-P", "-p", "--poweroff", "-H", "--halt":
			halt = true
		}
	}
	if code, ok := g.privileged(e); !ok {
		return code
	}
	switch {
	case reboot:
		if g.hooks.Reboot != nil {
			g.hooks.Reboot()
		}
	case halt || g.kind == NixOS:
		if g.hooks.Poweroff != nil {
			g.hooks.Poweroff()
		}
	default:
		fmt.Fprintln(e.Stderr, "usage: shutdown [-] [-c | -f | -h | -p | -r | -k] [-o [-n]] time [warning-message ...]")
		return 1
	}
	return 0
}

func (g *guest) cmdPing(e *shell.Env) int {
	count := -1
	var host string
	args := e.Args[1:]
	for k := 0; k < len(args); k++ {
		switch a := args[k]; {
		case a == "-c" || a == "-W" || a == "-w" || a == "-i" || a == "-t" || a == "-s":
			if k+1 < len(args) && a == "-c" {
				fmt.Sscanf(args[k+1], "%d", &count)
			}
			k++
		case strings.HasPrefix(a, "-c"):
			fmt.Sscanf(a[2:], "%d", &count)
		case strings.HasPrefix(a, "-"):
		default:
			host = a
		}
	}
	if host == "" {
		fmt.Fprintln(e.Stderr, "ping: usage error: Destination address required")
		return 2
	}
	if count <= 0 {
		count = 1 // the lab does not ping forever
	}
	up := host == "localhost" || host == "127.0.0.1"
	if g.hooks.Ping != nil {
		up = up || g.hooks.Ping(host)
	}
	if !up {
		if ip, ok := g.resolve(host); !ok {
			fmt.Fprintf(e.Stderr, "ping: %s: Name or service not known\n", host)
			return 2
		} else {
			fmt.Fprintf(e.Stdout, "PING %s (%s) 56(84) bytes of data.\n\n--- %s ping statistics ---\n%d packets transmitted, 0 received, 100%% packet loss, time %dms\n\n", host, ip, host, count, count*1000)
		}
		return 1
	}
	ip, _ := g.resolve(host)
	fmt.Fprintf(e.Stdout, "PING %s (%s) 56(84) bytes of data.\n", host, ip)
	for i := 1; i <= count; i++ {
		fmt.Fprintf(e.Stdout, "64 bytes from %s: icmp_seq=%d ttl=64 time=0.3 ms\n", ip, i)
	}
	fmt.Fprintf(e.Stdout, "\n--- %s ping statistics ---\n%d packets transmitted, %d received, 0%% packet loss, time %dms\n", host, count, count, (count-1)*1000)
	return 0
}

// resolve looks host up in /etc/hosts (the control plane is pinned there,
// TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/tappaas-cicd.nix:58-70); IP
// literals resolve to themselves.
func (g *guest) resolve(host string) (string, bool) {
	if isIPv4(host) {
		return host, true
	}
	if host == "localhost" {
		return "127.0.0.1", true
	}
	b, err := g.fs.ReadFile("/etc/hosts")
	if err != nil {
		return "", false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(l, '#'); i >= 0 {
			l = l[:i]
		}
		f := strings.Fields(l)
		for _, n := range f[min(1, len(f)):] {
			if strings.EqualFold(n, host) {
				return f[0], true
			}
		}
	}
	return "", false
}

func isIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

func (g *guest) cmdGetent(e *shell.Env) int {
	if len(e.Args) < 3 || (e.Args[1] != "hosts" && e.Args[1] != "ahostsv4") {
		fmt.Fprintln(e.Stderr, "Usage: getent [OPTION...] database [key ...]")
		return 1
	}
	status := 0
	for _, h := range e.Args[2:] {
		ip, ok := g.resolve(h)
		if !ok {
			status = 2
			continue
		}
		fmt.Fprintf(e.Stdout, "%-15s %s\n", ip, h)
	}
	return status
}
