package pve

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/tappaas/tappaas/lab/shell"
)

// Unit files the administrator installs live in /etc/systemd/system
// (systemd.unit(5), "Unit File Load Path": /etc/systemd/system is the
// "System units created by the administrator" directory). They are on disk,
// so they survive a reboot; transient units (systemd-run) do not — systemd
// keeps those under /run/systemd/transient (systemd.unit(5), same table).
const unitDir = "/etc/systemd/system"

// unitFile is the path of a unit file the administrator installed, when one
// exists for u ("x" means x.service).
func (n *Node) unitFile(u string) (string, bool) {
	name := u
	if !strings.Contains(name, ".") {
		name += ".service"
	}
	p := path.Join(unitDir, name)
	if _, err := n.fs.Stat(p); err != nil {
		return "", false
	}
	return p, true
}

// unitKeys parses the Key=Value lines of one [section] of a unit file.
func unitKeys(text, section string) map[string][]string {
	out := map[string][]string{}
	cur := ""
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";") {
			continue
		}
		if strings.HasPrefix(l, "[") && strings.HasSuffix(l, "]") {
			cur = l[1 : len(l)-1]
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok && cur == section {
			out[strings.TrimSpace(k)] = append(out[strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	return out
}

// unitFileVerb runs enable, disable and is-enabled on a unit file under
// /etc/systemd/system, as systemctl(1) does: enable creates the symlinks
// its [Install] section asks for (WantedBy=X → X.wants/NAME), disable
// removes them, is-enabled reports whether any exists. It reports false
// when u has no unit file there or the verb is another.
func (n *Node) unitFileVerb(e *shell.Env, verb, u string, quiet bool) (bool, int) {
	if verb != "enable" && verb != "disable" && verb != "is-enabled" {
		return false, 0
	}
	n.lock()
	defer n.unlock()
	p, ok := n.unitFile(u)
	if !ok {
		return false, 0
	}
	b, err := n.fs.ReadFile(p)
	if err != nil {
		fmt.Fprintf(e.Stderr, "Failed to %s unit: %v\n", verb, err)
		return true, 1
	}
	name := path.Base(p)
	wanted := unitKeys(string(b), "Install")["WantedBy"]
	var links []string
	for _, w := range wanted {
		for _, t := range strings.Fields(w) {
			links = append(links, path.Join(unitDir, t+".wants", name))
		}
	}
	switch verb {
	case "enable":
		if len(links) == 0 {
			// systemctl(1) prints this and succeeds: nothing is linked.
			fmt.Fprintf(e.Stderr, "The unit files have no installation config (WantedBy=, RequiredBy=, UpheldBy=,\nAlso=, or Alias= settings in the [Install] section, and DefaultInstance= for\ntemplate units). This means they are not meant to be enabled or disabled using systemctl.\n")
			return true, 0
		}
		for _, l := range links {
			if _, err := n.fs.Stat(l); err == nil {
				continue
			}
			_ = n.fs.MkdirAll(path.Dir(l), 0o755)
			if err := symlink(n.fs, p, l); err != nil {
				fmt.Fprintf(e.Stderr, "Failed to enable unit: %v\n", err)
				return true, 1
			}
			fmt.Fprintf(e.Stderr, "Created symlink '%s' → '%s'.\n", l, p)
		}
		n.changed()
	case "disable":
		for _, l := range n.wantsLinks(name) {
			_ = n.fs.Remove(l)
			fmt.Fprintf(e.Stderr, "Removed '%s'.\n", l)
		}
		n.changed()
	case "is-enabled":
		state, rc := "disabled", 1
		if len(n.wantsLinks(name)) > 0 {
			state, rc = "enabled", 0
		}
		if !quiet {
			fmt.Fprintln(e.Stdout, state)
		}
		return true, rc
	}
	return true, 0
}

// wantsLinks lists the X.wants/name links under /etc/systemd/system.
func (n *Node) wantsLinks(name string) []string {
	dirs, _ := n.fs.ReadDir(unitDir)
	var out []string
	for _, d := range dirs {
		if !strings.HasSuffix(d, ".wants") {
			continue
		}
		l := path.Join(unitDir, d, name)
		if _, err := n.fs.Stat(l); err == nil {
			out = append(out, l)
		} else if ls, ok := n.fs.(interface {
			Lstat(string) (shell.FileInfo, error)
		}); ok {
			if _, err := ls.Lstat(l); err == nil {
				out = append(out, l) // a dangling link is still a link
			}
		}
	}
	return out
}

func symlink(fsys shell.FS, target, name string) error {
	if s, ok := fsys.(interface {
		Symlink(target, name string) error
	}); ok {
		return s.Symlink(target, name)
	}
	return fsys.WriteFile(name, []byte(target), 0o644) // package tests' memFS has no links
}

// Reboot is the node restarting: every transient unit (each systemd-run
// timer) is gone, /run — a tmpfs (file-hierarchy(7)) — starts empty,
// networking.service brings up /etc/network/interfaces as written on
// disk, and the units enabled for multi-user.target run once, in name
// order, skipped when a ConditionPathExists= path is missing
// (systemd.unit(5)). Their ExecStart= runs through the node's shell.
// The caller drops the node's SSH connections: the machine they ran on
// went away.
func (n *Node) Reboot() {
	n.lock()
	for u, tm := range n.timers {
		tm.Stop()
		delete(n.timers, u)
	}
	n.m.Timers = nil
	if names, err := n.fs.ReadDir("/run"); err == nil {
		for _, name := range names {
			_ = n.fs.RemoveAll(path.Join("/run", name))
		}
	}
	_, _ = n.ifreload()
	var cmds []string
	wants := path.Join(unitDir, "multi-user.target.wants")
	names, _ := n.fs.ReadDir(wants)
	sort.Strings(names)
	for _, name := range names {
		b, err := n.fs.ReadFile(path.Join(wants, name))
		if err != nil {
			continue // a dangling link: systemd skips the unit
		}
		if !strings.HasPrefix(string(b), "[") && !strings.Contains(string(b), "\n") {
			if t, err := n.fs.ReadFile(string(b)); err == nil { // memFS's link stand-in
				b = t
			}
		}
		unit := unitKeys(string(b), "Unit")
		skip := false
		for _, c := range unit["ConditionPathExists"] {
			neg := strings.HasPrefix(c, "!")
			_, err := n.fs.Stat(strings.TrimPrefix(c, "!"))
			if (err == nil) == neg {
				skip = true
			}
		}
		if skip {
			continue
		}
		for _, x := range unitKeys(string(b), "Service")["ExecStart"] {
			cmds = append(cmds, strings.TrimLeft(x, "-@:+!"))
		}
	}
	f := n.exec
	n.changed()
	n.unlock()
	if f == nil {
		return
	}
	for _, c := range cmds {
		f(c)
	}
}
