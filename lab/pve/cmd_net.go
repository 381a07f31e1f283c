package pve

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tappaas/tappaas/internal/shacrypt"
	"github.com/tappaas/tappaas/lab/shell"
)

func (n *Node) linkOrder() []*Link {
	var out []*Link
	for _, l := range n.m.Links {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Index != out[j].Index {
			return out[i].Index < out[j].Index
		}
		return out[i].Name < out[j].Name
	})
	return out
}

func (n *Node) cmdIP(e *shell.Env) int {
	args := e.Args[1:]
	jsonOut, brief, four := false, false, false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-j", "-json", "--json":
			jsonOut = true
		case "-br", "-brief", "--brief":
			brief = true
		case "-4":
			four = true
		case "-p", "-pretty", "-d", "-details", "-6", "-c", "-color":
		}
		args = args[1:]
	}
	_ = four
	if len(args) == 0 {
		fmt.Fprintln(e.Stderr, "Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }")
		return 255
	}
	obj := args[0]
	args = args[1:]
	verb := "show"
	if len(args) > 0 {
		verb = args[0]
		args = args[1:]
	}
	kv := map[string]string{}
	var first string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "dev", "via", "src", "type", "label", "metric", "proto", "scope":
			if i+1 < len(args) {
				kv[args[i]] = args[i+1]
				i++
			}
		default:
			if first == "" {
				first = args[i]
			}
		}
	}
	switch {
	case (obj == "a" || obj == "addr" || obj == "address") && (verb == "add" || verb == "del" || verb == "delete"):
		pfx, err := netip.ParsePrefix(first)
		if err != nil {
			fmt.Fprintf(e.Stderr, "Error: any valid prefix is expected rather than \"%s\".\n", first)
			return 1
		}
		var msg string
		rc := 0
		_ = n.withLock(true, func() error {
			l := n.m.Links[kv["dev"]]
			if l == nil {
				msg, rc = fmt.Sprintf("Cannot find device \"%s\"", kv["dev"]), 1
				return fmt.Errorf("x")
			}
			idx := -1
			for i, a := range l.Addrs {
				if a == pfx.String() {
					idx = i
				}
			}
			if verb == "add" {
				if idx >= 0 {
					msg, rc = "Error: ipv4: Address already assigned.", 2
					return fmt.Errorf("x")
				}
				l.Addrs = append(l.Addrs, pfx.String())
				if pfx.Bits() < 32 {
					n.m.Routes = append(n.m.Routes, Route{Dst: pfx.Masked().String(), Dev: l.Name, Src: pfx.Addr().String()})
				}
				return nil
			}
			if idx < 0 {
				msg, rc = "Error: ipv4: Address not found.", 2
				return fmt.Errorf("x")
			}
			l.Addrs = append(l.Addrs[:idx], l.Addrs[idx+1:]...)
			rs := n.m.Routes[:0]
			for _, r := range n.m.Routes {
				if !(r.Dev == l.Name && r.Src == pfx.Addr().String()) {
					rs = append(rs, r)
				}
			}
			n.m.Routes = rs
			return nil
		})
		if rc != 0 {
			fmt.Fprintln(e.Stderr, msg)
		}
		return rc
	case (obj == "r" || obj == "route") && (verb == "add" || verb == "replace" || verb == "del" || verb == "delete"):
		dst := first
		var msg string
		rc := 0
		_ = n.withLock(true, func() error {
			dev := kv["dev"]
			if dev != "" && n.m.Links[dev] == nil {
				msg, rc = fmt.Sprintf("Cannot find device \"%s\"", dev), 1
				return fmt.Errorf("x")
			}
			if dev == "" && kv["via"] != "" {
				gw, _ := netip.ParseAddr(kv["via"])
				for _, r := range n.m.Routes {
					if p, err := netip.ParsePrefix(r.Dst); err == nil && p.Contains(gw) {
						dev = r.Dev
					}
				}
				if dev == "" {
					msg, rc = "Error: Nexthop has invalid gateway.", 2
					return fmt.Errorf("x")
				}
			}
			idx := -1
			for i, r := range n.m.Routes {
				if r.Dst == dst {
					idx = i
				}
			}
			switch verb {
			case "add":
				if idx >= 0 {
					msg, rc = "RTNETLINK answers: File exists", 2
					return fmt.Errorf("x")
				}
				n.m.Routes = append(n.m.Routes, Route{Dst: dst, Via: kv["via"], Dev: dev, Src: kv["src"]})
			case "replace":
				r := Route{Dst: dst, Via: kv["via"], Dev: dev, Src: kv["src"]}
				if idx >= 0 {
					n.m.Routes[idx] = r
				} else {
					n.m.Routes = append(n.m.Routes, r)
				}
			default:
				if idx < 0 {
					msg, rc = "RTNETLINK answers: No such process", 2
					return fmt.Errorf("x")
				}
				n.m.Routes = append(n.m.Routes[:idx], n.m.Routes[idx+1:]...)
			}
			return nil
		})
		if rc != 0 {
			fmt.Fprintln(e.Stderr, msg)
		}
		return rc
	case obj == "a" || obj == "addr" || obj == "address" || obj == "l" || obj == "link":
		withAddr := obj[0] == 'a'
		n.lock()
		defer n.unlock()
		var out []any
		for _, l := range n.linkOrder() {
			if d := kv["dev"]; d != "" && l.Name != d {
				continue
			}
			if first != "" && first != "show" && l.Name != first {
				continue
			}
			if t := kv["type"]; t != "" && l.Kind != t {
				continue
			}
			state := "DOWN"
			flags := []string{"BROADCAST", "MULTICAST"}
			if l.Up {
				state = "UP"
				flags = append(flags, "UP", "LOWER_UP")
			} else {
				flags = append(flags, "NO-CARRIER")
			}
			if l.Kind == "lo" {
				state = "UNKNOWN"
				flags = []string{"LOOPBACK", "UP", "LOWER_UP"}
			}
			j := map[string]any{"ifindex": l.Index, "ifname": l.Name, "flags": flags, "mtu": 1500, "qdisc": "noqueue", "operstate": state,
				"group": "default", "txqlen": 1000, "link_type": "ether", "address": l.MAC, "broadcast": "ff:ff:ff:ff:ff:ff"}
			if l.Kind == "lo" {
				j["mtu"], j["link_type"] = 65536, "loopback"
			}
			if l.Master != "" {
				j["master"] = l.Master
			}
			if l.Kind == "bridge" {
				j["linkinfo"] = map[string]any{"info_kind": "bridge"}
			}
			var ai []any
			var br []string
			for _, a := range l.Addrs {
				p, _ := netip.ParsePrefix(a)
				scope := "global"
				if l.Kind == "lo" {
					scope = "host"
				}
				ai = append(ai, map[string]any{"family": "inet", "local": p.Addr().String(), "prefixlen": p.Bits(), "scope": scope, "label": l.Name, "valid_life_time": 4294967295, "preferred_life_time": 4294967295})
				br = append(br, a)
			}
			if withAddr {
				if ai == nil {
					ai = []any{}
				}
				j["addr_info"] = ai
			}
			if brief {
				if withAddr {
					fmt.Fprintf(e.Stdout, "%-16s %-14s %s\n", l.Name, state, strings.Join(br, " "))
				} else {
					fmt.Fprintf(e.Stdout, "%-16s %-14s %s <%s>\n", l.Name, state, l.MAC, strings.Join(flags, ","))
				}
				continue
			}
			out = append(out, j)
		}
		if brief {
			return 0
		}
		if jsonOut {
			if out == nil {
				out = []any{}
			}
			b, _ := json.Marshal(out)
			fmt.Fprintln(e.Stdout, string(b))
			return 0
		}
		for _, x := range out {
			j := x.(map[string]any)
			fmt.Fprintf(e.Stdout, "%d: %s: <%s> mtu %d qdisc noqueue state %s group default qlen 1000\n    link/%s %s brd ff:ff:ff:ff:ff:ff\n", j["ifindex"], j["ifname"], strings.Join(j["flags"].([]string), ","), j["mtu"], j["operstate"], j["link_type"], j["address"])
			if ai, ok := j["addr_info"].([]any); ok {
				for _, a := range ai {
					m := a.(map[string]any)
					fmt.Fprintf(e.Stdout, "    inet %s/%d scope %s %s\n       valid_lft forever preferred_lft forever\n", m["local"], m["prefixlen"], m["scope"], j["ifname"])
				}
			}
		}
		return 0
	case obj == "r" || obj == "route":
		n.lock()
		defer n.unlock()
		var out []any
		for _, r := range n.m.Routes {
			if first != "" && first != "show" && first != "list" && r.Dst != first {
				continue
			}
			if d := kv["dev"]; d != "" && r.Dev != d {
				continue
			}
			j := map[string]any{"dst": r.Dst, "dev": r.Dev, "flags": []string{}}
			if r.Via != "" {
				j["gateway"] = r.Via
				j["protocol"] = "kernel"
			} else {
				j["protocol"], j["scope"] = "kernel", "link"
			}
			if r.Src != "" {
				j["prefsrc"] = r.Src
			}
			if l := n.m.Links[r.Dev]; l == nil || !l.Up {
				continue
			}
			out = append(out, j)
			if !jsonOut {
				line := r.Dst
				if r.Via != "" {
					line += " via " + r.Via
				}
				line += " dev " + r.Dev
				if r.Via == "" {
					line += " proto kernel scope link"
				}
				if r.Src != "" {
					line += " src " + r.Src
				}
				fmt.Fprintln(e.Stdout, line)
			}
		}
		if jsonOut {
			if out == nil {
				out = []any{}
			}
			b, _ := json.Marshal(out)
			fmt.Fprintln(e.Stdout, string(b))
		}
		return 0
	}
	fmt.Fprintf(e.Stderr, "Object \"%s\" is unknown, try \"ip help\".\n", obj)
	return 255
}

func (n *Node) cmdIfreload(e *shell.Env) int {
	var warn []string
	var ferr error
	_ = n.withLock(true, func() error {
		warn, ferr = n.ifreload()
		return nil
	})
	for _, w := range warn {
		fmt.Fprintln(e.Stderr, w)
	}
	if ferr != nil {
		fmt.Fprintln(e.Stderr, ferr.Error())
		return 1
	}
	return 0
}

var knownUnits = map[string]bool{"pveproxy": true, "pvedaemon": true, "pve-cluster": true, "corosync": true, "pve-ha-lrm": true, "pve-ha-crm": true,
	"networking": true, "chrony": true, "ssh": true, "sshd": true, "proxmox-backup": true, "proxmox-backup-proxy": true, "zfs-mount": true,
	"pve-firewall": true, "pvestatd": true, "cron": true, "systemd-timesyncd": false}

func unitName(u string) string {
	return strings.TrimSuffix(strings.TrimSuffix(u, ".service"), ".timer")
}

func (n *Node) cmdSystemctl(e *shell.Env) int {
	var words []string
	now, quiet := false, false
	for _, a := range e.Args[1:] {
		switch {
		case a == "--now":
			now = true
		case a == "-q" || a == "--quiet":
			quiet = true
		case strings.HasPrefix(a, "-"):
		default:
			words = append(words, a)
		}
	}
	if len(words) == 0 {
		return 0
	}
	verb, units := words[0], words[1:]
	switch verb {
	case "daemon-reload", "reset-failed":
		return 0
	case "list-timers":
		n.lock()
		defer n.unlock()
		fmt.Fprintln(e.Stdout, "NEXT LEFT LAST PASSED UNIT ACTIVATES")
		for _, t := range n.m.Timers {
			fmt.Fprintf(e.Stdout, "%s %s - - %s.timer %s.service\n", t.Due.Format("Mon 2006-01-02 15:04:05 MST"), time.Until(t.Due).Round(time.Second), t.Unit, t.Unit)
		}
		return 0
	}
	rc := 0
	for _, u := range units {
		if ok, r := n.unitFileVerb(e, verb, u, quiet); ok {
			if r != 0 {
				rc = r
			}
			continue
		}
		name := unitName(u)
		n.lock()
		isTimer := false
		for _, t := range n.m.Timers {
			if t.Unit == name {
				isTimer = true
			}
		}
		known := knownUnits[name] || isTimer || n.m.Services[name] != ""
		st := n.m.Services[name]
		n.unlock()
		if !known {
			switch verb {
			case "is-active":
				if !quiet {
					fmt.Fprintln(e.Stdout, "inactive")
				}
				rc = 3
			case "status":
				fmt.Fprintf(e.Stderr, "Unit %s.service could not be found.\n", name)
				rc = 4
			default:
				fmt.Fprintf(e.Stderr, "Failed to %s %s.service: Unit %s.service not found.\n", verb, name, name)
				rc = 5
			}
			continue
		}
		switch verb {
		case "enable", "start", "restart", "reload", "try-restart", "reload-or-restart":
			if verb == "enable" {
				_ = n.withLock(true, func() error { delete(n.m.Disabled, name); return nil })
				if !now {
					continue
				}
			}
			_ = n.withLock(true, func() error {
				if name == "corosync" && n.m.Cluster == nil {
					// corosync.service has ConditionPathExists=
					// /etc/corosync/corosync.conf: without a cluster it
					// is skipped, and systemctl still succeeds.
					return nil
				}
				n.m.Services[name] = "active"
				if name == "networking" && verb != "enable" {
					_, _ = n.ifreload()
				}
				return nil
			})
		case "stop", "disable", "kill":
			if verb == "disable" {
				_ = n.withLock(true, func() error {
					if n.m.Disabled == nil {
						n.m.Disabled = map[string]bool{}
					}
					n.m.Disabled[name] = true
					return nil
				})
				if !now {
					continue
				}
			}
			_ = n.withLock(true, func() error {
				if isTimer {
					n.cancelTimer(name)
				} else {
					n.m.Services[name] = "inactive"
				}
				return nil
			})
		case "is-active":
			if st != "active" && !isTimer {
				if !quiet {
					fmt.Fprintln(e.Stdout, "inactive")
				}
				rc = 3
			} else if !quiet {
				fmt.Fprintln(e.Stdout, "active")
			}
		case "is-enabled":
			n.lock()
			off := n.m.Disabled[name]
			n.unlock()
			state := "enabled"
			if off {
				state, rc = "disabled", 1
			}
			if !quiet {
				fmt.Fprintln(e.Stdout, state)
			}
		case "status":
			state := "active (running)"
			if st != "active" && !isTimer {
				state, rc = "inactive (dead)", 3
			}
			fmt.Fprintf(e.Stdout, "● %s.service\n     Loaded: loaded (/usr/lib/systemd/system/%s.service; enabled; preset: enabled)\n     Active: %s\n", name, name, state)
		default:
			fmt.Fprintf(e.Stderr, "Unknown command verb '%s'.\n", verb)
			return 1
		}
	}
	return rc
}

// PowerOn is the node starting after it was off (the lab resuming a saved
// model): transient systemd units — every systemd-run timer — are gone,
// since systemd keeps them under /run/systemd/transient (systemd-run(1):
// "transient" units; /run is a tmpfs, file-hierarchy(7)), and /run starts
// empty. A timer that should survive a reboot must be a unit file under
// /etc/systemd/system, which the lab keeps with the rest of the disk.
func (n *Node) PowerOn() {
	n.lock()
	defer n.unlock()
	for u, tm := range n.timers {
		tm.Stop()
		delete(n.timers, u)
	}
	if len(n.m.Timers) > 0 {
		n.m.Timers = nil
		n.changed()
	}
	if names, err := n.fs.ReadDir("/run"); err == nil {
		for _, name := range names {
			_ = n.fs.RemoveAll("/run/" + name)
		}
		n.changed()
	}
}

// SetExec sets how deferred commands (systemd-run timers) run: the lab
// passes a function running a command line through the node's shell.
// Pending timers are armed.
func (n *Node) SetExec(f func(cmdline string)) {
	n.lock()
	defer n.unlock()
	n.exec = f
	for _, t := range n.m.Timers {
		n.armTimer(t)
	}
}

func (n *Node) armTimer(t Timer) {
	if n.timers == nil {
		n.timers = map[string]*time.Timer{}
	}
	d := time.Until(t.Due)
	if n.cfg.Speed > 0 {
		d = n.scaled(d)
	}
	unit := t.Unit
	n.timers[unit] = time.AfterFunc(d, func() { n.fireTimer(unit) })
}

func (n *Node) fireTimer(unit string) {
	n.lock()
	var cmd string
	found := false
	for i, t := range n.m.Timers {
		if t.Unit == unit {
			cmd, found = t.Command, true
			n.m.Timers = append(n.m.Timers[:i], n.m.Timers[i+1:]...)
			break
		}
	}
	delete(n.timers, unit)
	f := n.exec
	if found {
		n.changed()
	}
	n.unlock()
	if found && f != nil {
		f(cmd)
	}
}

func (n *Node) cancelTimer(unit string) {
	for i, t := range n.m.Timers {
		if t.Unit == unit {
			n.m.Timers = append(n.m.Timers[:i], n.m.Timers[i+1:]...)
			break
		}
	}
	if tm := n.timers[unit]; tm != nil {
		tm.Stop()
		delete(n.timers, unit)
	}
}

// StopTimers disarms the systemd-run timers (they stay in the model and
// are re-armed by SetExec on the next start).
func (n *Node) StopTimers() {
	n.lock()
	defer n.unlock()
	for u, tm := range n.timers {
		tm.Stop()
		delete(n.timers, u)
	}
	n.exec = nil
}

// FireTimers runs every pending systemd-run timer now (tests).
func (n *Node) FireTimers() {
	n.lock()
	var units []string
	for _, t := range n.m.Timers {
		units = append(units, t.Unit)
	}
	for _, u := range units {
		if tm := n.timers[u]; tm != nil {
			tm.Stop()
		}
	}
	n.unlock()
	for _, u := range units {
		n.fireTimer(u)
	}
}

// PendingTimers lists the armed systemd-run timers.
func (n *Node) PendingTimers() []Timer {
	n.lock()
	defer n.unlock()
	return append([]Timer(nil), n.m.Timers...)
}

func (n *Node) cmdSystemdRun(e *shell.Env) int {
	args := e.Args[1:]
	var delay time.Duration
	unit := ""
	timer := false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		args = args[1:]
		k, v, has := strings.Cut(a, "=")
		if !has && (k == "--on-active" || k == "--unit" || k == "-u" || k == "--description" || k == "-p" || k == "--property") && len(args) > 0 {
			v, args = args[0], args[1:]
		}
		switch k {
		case "--on-active":
			d, err := parseSystemdSpan(v)
			if err != nil {
				fmt.Fprintf(e.Stderr, "Failed to parse timer value: %s\n", v)
				return 1
			}
			delay, timer = d, true
		case "--unit", "-u":
			unit = unitName(v)
		}
	}
	if len(args) == 0 {
		fmt.Fprintln(e.Stderr, "Command line to execute required.")
		return 1
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	if unit == "" {
		unit = "run-r" + hex.EncodeToString(b[:])
	}
	cmdline := shellJoin(args)
	if !timer {
		fmt.Fprintf(e.Stderr, "Running as unit: %s.service; invocation ID: %s\n", unit, hex.EncodeToString(b[:]))
		n.lock()
		f := n.exec
		n.unlock()
		if f != nil {
			go f(cmdline)
		}
		return 0
	}
	err := n.withLock(true, func() error {
		for _, t := range n.m.Timers {
			if t.Unit == unit {
				return runErr("Failed to start transient timer unit: Unit %s.timer was already loaded or has a fragment file.", unit)
			}
		}
		t := Timer{Unit: unit, Command: cmdline, Due: time.Now().Add(delay)}
		n.m.Timers = append(n.m.Timers, t)
		n.armTimer(t)
		return nil
	})
	if err != nil {
		fmt.Fprintln(e.Stderr, err.Error())
		return 1
	}
	fmt.Fprintf(e.Stderr, "Running timer as unit: %s.timer\nWill run service as unit: %s.service\n", unit, unit)
	return 0
}

func parseSystemdSpan(s string) (time.Duration, error) {
	if i, err := strconv.Atoi(s); err == nil {
		return time.Duration(i) * time.Second, nil
	}
	s = strings.ReplaceAll(s, "min", "m")
	return time.ParseDuration(strings.ReplaceAll(s, " ", ""))
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`;&|<>()*?[]#~!{}") {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

func (n *Node) cmdHostname(e *shell.Env) int {
	n.lock()
	defer n.unlock()
	h := n.m.Hostname
	if b, err := n.fs.ReadFile("/etc/hostname"); err == nil && strings.TrimSpace(string(b)) != "" {
		h = strings.TrimSpace(string(b))
	}
	arg := ""
	if len(e.Args) > 1 {
		arg = e.Args[1]
	}
	switch arg {
	case "-I", "--all-ip-addresses":
		var ips []string
		for _, l := range n.linkOrder() {
			if l.Kind == "lo" || !l.Up {
				continue
			}
			for _, a := range l.Addrs {
				ips = append(ips, strings.SplitN(a, "/", 2)[0])
			}
		}
		fmt.Fprintln(e.Stdout, strings.Join(ips, " ")+" ")
	case "-f", "--fqdn", "--long":
		fmt.Fprintln(e.Stdout, strings.SplitN(h, ".", 2)[0]+".mgmt.internal")
	case "-s", "--short":
		fmt.Fprintln(e.Stdout, strings.SplitN(h, ".", 2)[0])
	case "-i", "--ip-address":
		fmt.Fprintln(e.Stdout, n.m.NodeAddr)
	case "-d", "--domain":
		fmt.Fprintln(e.Stdout, "mgmt.internal")
	default:
		fmt.Fprintln(e.Stdout, h)
	}
	return 0
}

// reachable reports whether the node can reach ip (ping).
func (n *Node) reachableLocked(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	for _, l := range n.m.Links {
		for _, c := range l.Addrs {
			p, _ := netip.ParsePrefix(c)
			if p.Addr() == a {
				return true
			}
		}
	}
	if ip == "192.168.1.1" {
		for _, l := range n.m.Links {
			for _, c := range l.Addrs {
				p, _ := netip.ParsePrefix(c)
				if p.Masked().Contains(a) && l.Up {
					for _, port := range append([]string{l.Name}, l.Ports...) {
						if nic := n.m.nic(port); nic != nil && nic.Internet && nic.Link {
							return true
						}
					}
				}
			}
		}
		return false
	}
	if strings.HasPrefix(ip, "10.0.0.") {
		onLAN := false
		for _, l := range n.m.Links {
			for _, c := range l.Addrs {
				p, _ := netip.ParsePrefix(c)
				if p.Masked().Contains(a) || (p.Bits() == 32 && routeTo(n.m.Routes, a, l.Name)) {
					onLAN = true
				}
			}
		}
		if !onLAN {
			return false
		}
		if ip == "10.0.0.1" {
			return n.firewallUpLocked() || n.siteFirewall()
		}
		for _, vm := range n.m.VMs {
			if vm.Running && vm.IP == ip && !time.Now().Before(vm.ReadyAt) {
				return true
			}
		}
		return false
	}
	return n.internetLocked()
}

func routeTo(rs []Route, a netip.Addr, dev string) bool {
	for _, r := range rs {
		if p, err := netip.ParsePrefix(r.Dst); err == nil && p.Contains(a) && r.Dev == dev {
			return true
		}
	}
	return false
}

func (n *Node) cmdPing(e *shell.Env) int {
	count := 4
	host := ""
	for i := 1; i < len(e.Args); i++ {
		a := e.Args[i]
		switch {
		case a == "-c" && i+1 < len(e.Args):
			count, _ = strconv.Atoi(e.Args[i+1])
			i++
		case (a == "-W" || a == "-w" || a == "-i" || a == "-s") && i+1 < len(e.Args):
			i++
		case strings.HasPrefix(a, "-c"):
			count, _ = strconv.Atoi(a[2:])
		case strings.HasPrefix(a, "-"):
		default:
			host = a
		}
	}
	if host == "" {
		fmt.Fprintln(e.Stderr, "ping: usage error: Destination address required")
		return 2
	}
	ip, ok := n.resolve(host)
	if !ok {
		fmt.Fprintf(e.Stderr, "ping: %s: Name or service not known\n", host)
		return 2
	}
	n.lock()
	up := n.reachableLocked(ip)
	n.unlock()
	fmt.Fprintf(e.Stdout, "PING %s (%s) 56(84) bytes of data.\n", host, ip)
	if !up {
		fmt.Fprintf(e.Stdout, "\n--- %s ping statistics ---\n%d packets transmitted, 0 received, 100%% packet loss, time 0ms\n\n", host, count)
		return 1
	}
	for i := 1; i <= count; i++ {
		fmt.Fprintf(e.Stdout, "64 bytes from %s: icmp_seq=%d ttl=64 time=0.321 ms\n", ip, i)
	}
	fmt.Fprintf(e.Stdout, "\n--- %s ping statistics ---\n%d packets transmitted, %d received, 0%% packet loss, time 0ms\n", host, count, count)
	return 0
}

var publicHosts = map[string]string{"download.proxmox.com": "212.224.123.70", "enterprise.proxmox.com": "212.224.123.70", "deb.debian.org": "151.101.2.132",
	"github.com": "140.82.121.4", "raw.githubusercontent.com": "185.199.108.133", "api.github.com": "140.82.121.6", "objects.githubusercontent.com": "185.199.108.133",
	"example.com": "93.184.215.14", "tappaas.org": "185.199.109.153", "one.one.one.one": "1.1.1.1", "security.debian.org": "151.101.2.132", "release-assets.githubusercontent.com": "185.199.108.133"}

// resolve looks a name up like getaddrinfo on the node: /etc/hosts, then DNS.
func (n *Node) resolve(host string) (string, bool) {
	if _, err := netip.ParseAddr(host); err == nil {
		return host, true
	}
	if b, err := n.fs.ReadFile("/etc/hosts"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(strings.SplitN(line, "#", 2)[0])
			for _, name := range f[min(1, len(f)):] {
				if name == host {
					return f[0], true
				}
			}
		}
	}
	n.lock()
	ns := ""
	if b, err := n.fs.ReadFile("/etc/resolv.conf"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "nameserver" && ns == "" {
				ns = f[1]
			}
		}
	}
	reach, internet := n.reachableLocked(ns), n.internetLocked()
	n.unlock()
	switch {
	case ns == "10.0.0.1" && reach:
		// The firewall's Unbound answers by its configuration
		// (lab/opnsense LookupDNS); outside the node's lock, since the
		// lab looks at the firewall and its leases.
		if n.cfg.FirewallDNS == nil {
			return "", false
		}
		ip, found, recurse := n.cfg.FirewallDNS(host)
		if found {
			return ip, true
		}
		if ip, ok := publicHosts[host]; ok && recurse && internet {
			return ip, true
		}
	case ns == "192.168.1.1" && reach:
		if ip, ok := publicHosts[host]; ok {
			return ip, true
		}
	}
	return "", false
}

func (n *Node) cmdGetent(e *shell.Env) int {
	if len(e.Args) < 3 || (e.Args[1] != "hosts" && e.Args[1] != "ahosts" && e.Args[1] != "ahostsv4") {
		fmt.Fprintln(e.Stderr, "getent: lab: only 'getent hosts NAME' is simulated")
		return 1
	}
	rc := 0
	for _, h := range e.Args[2:] {
		ip, ok := n.resolve(h)
		if !ok {
			rc = 2
			continue
		}
		if e.Args[1] != "hosts" {
			// ahosts lists one line per socket type, the name on the first
			// (glibc nss/getent.c, as `getent ahostsv4 localhost` prints).
			fmt.Fprintf(e.Stdout, "%-15s STREAM %s\n%-15s DGRAM  \n%-15s RAW    \n", ip, h, ip, ip)
			continue
		}
		fmt.Fprintf(e.Stdout, "%-15s %s\n", ip, h)
	}
	return rc
}

func (n *Node) cmdTimedatectl(e *shell.Env) int {
	args := strings.Join(e.Args[1:], " ")
	switch {
	case strings.Contains(args, "NTPSynchronized") && strings.Contains(args, "--value"):
		fmt.Fprintln(e.Stdout, "yes")
	case strings.HasPrefix(args, "show"):
		fmt.Fprintln(e.Stdout, "Timezone=Etc/UTC\nLocalRTC=no\nCanNTP=yes\nNTP=yes\nNTPSynchronized=yes")
	default:
		fmt.Fprintf(e.Stdout, "               Local time: %s\n           Universal time: %s\n                Time zone: Etc/UTC (UTC, +0000)\nSystem clock synchronized: yes\n              NTP service: active\n          RTC in local TZ: no\n", time.Now().UTC().Format("Mon 2006-01-02 15:04:05 MST"), time.Now().UTC().Format("Mon 2006-01-02 15:04:05 MST"))
	}
	return 0
}

func (n *Node) cmdDf(e *shell.Env) int {
	bytes := strings.Contains(strings.Join(e.Args, " "), "-B1") || strings.Contains(strings.Join(e.Args, " "), "--block-size=1")
	total, used := int64(68<<30), int64(5<<30)
	unit := int64(1024)
	if bytes {
		unit = 1
	}
	if strings.Contains(strings.Join(e.Args, " "), "--output=avail") {
		fmt.Fprintf(e.Stdout, "    Avail\n%d\n", (total-used)/unit)
		return 0
	}
	hdr := "1K-blocks"
	if bytes {
		hdr = "1B-blocks"
	}
	fmt.Fprintf(e.Stdout, "Filesystem           %s      Used Available Use%% Mounted on\n/dev/mapper/pve-root %d %d %d %d%% /\n", hdr, total/unit, used/unit, (total-used)/unit, used*100/total)
	return 0
}

// --- openssl ---

func (n *Node) cmdOpenssl(e *shell.Env) int {
	if len(e.Args) < 2 {
		fmt.Fprintln(e.Stderr, "openssl: lab: no command")
		return 1
	}
	args := e.Args[2:]
	switch e.Args[1] {
	case "version":
		fmt.Fprintln(e.Stdout, "OpenSSL 3.5.4 30 Sep 2025 (Library: OpenSSL 3.5.4 30 Sep 2025)")
		return 0
	case "rand":
		b64, hx := false, false
		num := -1
		for _, a := range args {
			switch a {
			case "-base64":
				b64 = true
			case "-hex":
				hx = true
			default:
				if i, err := strconv.Atoi(a); err == nil {
					num = i
				}
			}
		}
		if num < 0 {
			fmt.Fprintln(e.Stderr, "rand: Use -help for summary.")
			return 1
		}
		buf := make([]byte, num)
		_, _ = rand.Read(buf)
		switch {
		case b64:
			s := base64.StdEncoding.EncodeToString(buf)
			for len(s) > 64 {
				fmt.Fprintln(e.Stdout, s[:64])
				s = s[64:]
			}
			fmt.Fprintln(e.Stdout, s)
		case hx:
			fmt.Fprintln(e.Stdout, hex.EncodeToString(buf))
		default:
			_, _ = e.Stdout.Write(buf)
		}
		return 0
	case "passwd":
		salt := ""
		var pw string
		six := false
		for i := 0; i < len(args); i++ {
			switch args[i] {
			case "-6":
				six = true
			case "-salt":
				if i+1 < len(args) {
					salt = args[i+1]
					i++
				}
			case "-stdin":
				pw = strings.TrimRight(readAllString(e.Stdin), "\n")
			default:
				pw = args[i]
			}
		}
		if !six {
			fmt.Fprintln(e.Stderr, "openssl passwd: lab: only -6 (SHA-512 crypt) is simulated")
			return 1
		}
		// Real SHA-512 crypt, as `openssl passwd -6` prints it.
		if salt == "" {
			fmt.Fprintln(e.Stdout, shacrypt.Hash(pw, "", 0))
		} else {
			fmt.Fprintln(e.Stdout, shacrypt.HashSpec(pw, salt))
		}
		return 0
	case "s_client":
		return n.sClient(e, args)
	case "x509":
		in := ""
		fp, noout, subj, end := false, false, false, false
		for i := 0; i < len(args); i++ {
			switch args[i] {
			case "-in":
				if i+1 < len(args) {
					in = args[i+1]
					i++
				}
			case "-fingerprint":
				fp = true
			case "-noout":
				noout = true
			case "-subject":
				subj = true
			case "-enddate":
				end = true
			}
		}
		var data []byte
		var err error
		if in == "" {
			data = []byte(readAllString(e.Stdin))
		} else {
			data, err = n.fs.ReadFile(e.Abs(in))
			if err != nil {
				fmt.Fprintf(e.Stderr, "Could not open file or uri for loading certificate from %s: No such file or directory\n", in)
				return 1
			}
		}
		info := certInfo("", string(data))
		if info == nil {
			fmt.Fprintln(e.Stderr, "Could not find certificate from <stdin>\nUnable to load certificate")
			return 1
		}
		if subj {
			fmt.Fprintf(e.Stdout, "subject=%s\n", info["subject"])
		}
		if end {
			fmt.Fprintf(e.Stdout, "notAfter=%s\n", time.Unix(info["notafter"].(int64), 0).UTC().Format("Jan _2 15:04:05 2006 GMT"))
		}
		if fp {
			fmt.Fprintf(e.Stdout, "sha256 Fingerprint=%s\n", info["fingerprint"])
		}
		if !noout {
			fmt.Fprint(e.Stdout, string(data))
		}
		return 0
	}
	fmt.Fprintf(e.Stderr, "Invalid command '%s'; type \"help\" for a list.\n", e.Args[1])
	return 1
}

// sClient is `openssl s_client -connect host:port`: it prints the server
// certificate of a lab address the node can reach.
func (n *Node) sClient(e *shell.Env, args []string) int {
	target := ""
	for i := 0; i < len(args); i++ {
		if args[i] == "-connect" && i+1 < len(args) {
			target = args[i+1]
			i++
		}
	}
	host, port, ok := strings.Cut(target, ":")
	if !ok {
		fmt.Fprintln(e.Stderr, "s_client: -connect host:port is required")
		return 1
	}
	ip, ok := n.resolve(host)
	if !ok {
		fmt.Fprintf(e.Stderr, "BIO_lookup_ex: system lib\nconnect:errno=22\n")
		return 1
	}
	var pemText string
	n.lock()
	local := n.hasLocalAddr(ip) || ip == "127.0.0.1"
	reach := n.reachableLocked(ip)
	switch {
	case local && port == "8006":
		pemText = n.m.Certs.NodePEM
	case local && port == "8007" && n.m.PBS.Installed:
		pemText = n.m.Certs.PBSPEM
	}
	n.unlock()
	if pemText == "" && !local && reach && n.cfg.CertFor != nil {
		pemText, _ = n.cfg.CertFor(ip, port)
	}
	if pemText == "" {
		errno, text := 111, "Connection refused"
		if !local && !reach {
			errno, text = 113, "No route to host"
		}
		fmt.Fprintf(e.Stderr, "40E7B6A1D47F0000:error:8000006F:system library:BIO_connect:%s:../crypto/bio/bio_sock2.c:178:calling connect()\nconnect:errno=%d\n", text, errno)
		return 1
	}
	info := certInfo("", pemText)
	fmt.Fprintf(e.Stdout, "CONNECTED(00000003)\n---\nCertificate chain\n 0 s:%s\n   i:%s\n---\nServer certificate\n%s---\nDONE\n", info["subject"], info["issuer"], pemText)
	return 0
}
