package vm

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tappaas/tappaas/lab/shell"
)

// OPNsense guest state lives in its filesystem:
//
//	/conf/config.xml                  the configuration (pushed by the installer)
//	/conf/.lab-applied-config.xml     the configuration sshd and the API run with (after a reload)
//	/var/db/pkg/lab-installed         installed packages, one a line
//	/etc/rc.conf.local                sysrc settings
//	/usr/local/opnsense/version/core  the version string
//
// TAPPaaS' interface assignment patch is two files tappaas-cicd's
// pre-update.sh copies with scp as root
// (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/pre-update.sh:214-225): the
// controller, which the MVC router finds by its file and class name, and
// an Interfaces ACL.xml with its page (which matters only to users without
// page-all).
const (
	OPNAssignController = "/usr/local/opnsense/mvc/app/controllers/OPNsense/Interfaces/Api/InterfaceAssignController.php"
	OPNInterfacesACL    = "/usr/local/opnsense/mvc/app/models/OPNsense/Interfaces/ACL/ACL.xml"
)

// HasAssignPatch reports whether the firewall's filesystem carries the
// interface_assign controller: the file at its path, declaring the class
// the router loads for /api/interfaces/interface_assign
// (opnsense/core@26.1.11:src/opnsense/www/api.php:35-46 answers 404 without it).
func HasAssignPatch(fsys shell.FS) bool {
	b, err := fsys.ReadFile(OPNAssignController)
	return err == nil && strings.Contains(string(b), "class InterfaceAssignController")
}

const (
	opnConfig     = "/conf/config.xml"
	opnApplied    = "/conf/.lab-applied-config.xml"
	opnPkgDB      = "/var/db/pkg/lab-installed"
	opnRCConf     = "/etc/rc.conf.local"
	opnVersion    = "/usr/local/opnsense/version/core"
	opnReloadName = "/usr/local/etc/rc.reload_all"
)

// opnPackages is the lab's package repository for the firewall: name →
// version. pkg install refuses anything else.
var opnPackages = map[string]string{
	"os-qemu-guest-agent": "1.2", "qemu-guest-agent": "9.2.0", "os-caddy": "2.0.2", "os-acme-client": "4.9",
	"os-ddclient": "1.27", "sudo": "1.9.16p2", "bash": "5.2.37", "jq": "1.7.1", "curl": "8.14.1",
}

func (g *guest) registerOPNsense() {
	g.in.Register(opnReloadName, g.cmdReloadAll)
	g.in.Register("configctl", g.cmdConfigctl)
	g.in.Register("pfctl", g.cmdPfctl)
	g.in.Register("pkg", g.cmdPkg)
	g.in.Register("sysrc", g.cmdSysrc)
	g.in.Register("service", g.cmdService)
	g.in.Register("opnsense-update", g.cmdOpnsenseUpdate)
	g.in.Register("opnsense-version", g.cmdOpnsenseVersion)
}

func (g *guest) opnVersion() string {
	b, err := g.fs.ReadFile(opnVersion)
	if err != nil {
		return "26.1.2"
	}
	return strings.TrimSpace(string(b))
}

// reload applies /conf/config.xml: the API keys (through the hook) and
// the SSH settings the guest's sshd uses from now on.
func (g *guest) reload(e *shell.Env) error {
	b, err := e.FS.ReadFile(opnConfig)
	if err != nil {
		return fmt.Errorf("%s: %s", opnConfig, shell.ErrText(err))
	}
	if _, err := parseOPNConfig(b); err != nil {
		return err
	}
	if g.hooks.ApplyConfig != nil {
		if err := g.hooks.ApplyConfig(b); err != nil {
			return err
		}
	}
	return e.FS.WriteFile(opnApplied, b, 0o600)
}

func (g *guest) cmdReloadAll(e *shell.Env) int {
	if e.User != "root" {
		fmt.Fprintln(e.Stderr, "rc.reload_all: Permission denied")
		return 126
	}
	_ = g.sleep(e, 5*time.Second)
	if err := g.reload(e); err != nil {
		fmt.Fprintf(e.Stderr, "Configuration reload failed: %v\n", err)
		return 1
	}
	fmt.Fprintln(e.Stdout, "Reloading all configuration...\nConfiguring system logging...done.\nConfiguring loopback interface...done.\nReloading firewall...done.\nStarting web GUI...done.")
	return 0
}

func (g *guest) cmdConfigctl(e *shell.Env) int {
	args := e.Args[1:]
	if len(args) == 0 {
		fmt.Fprintln(e.Stderr, "usage: configctl [-h] [-m] [-d] [-q] [-t TIMEOUT] [-e] [command ...]")
		return 1
	}
	switch strings.Join(args, " ") {
	case "filter reload", "filter sync", "interface reconfigure", "webgui restart", "dns reload", "dnsmasq restart", "unbound restart",
		"caddy restart", "caddy reconfigure", "service reload all":
		if strings.HasPrefix(strings.Join(args, " "), "service reload all") {
			if err := g.reload(e); err != nil {
				fmt.Fprintf(e.Stdout, "%v\n", err)
				return 1
			}
		}
		fmt.Fprintln(e.Stdout, "OK")
		return 0
	case "firmware status", "firmware check":
		fmt.Fprintf(e.Stdout, "{\"product_version\":\"%s\",\"status\":\"none\"}\n", g.opnVersion())
		return 0
	}
	fmt.Fprintln(e.Stdout, "Action not found")
	return 0
}

func (g *guest) cmdPfctl(e *shell.Env) int {
	args := e.Args[1:]
	for k := 0; k < len(args); k++ {
		a := args[k]
		if strings.HasPrefix(a, "-") && strings.Contains(a, "f") {
			file := strings.TrimPrefix(a[strings.IndexByte(a, 'f')+1:], "")
			if file == "" && k+1 < len(args) {
				file = args[k+1]
			}
			b, err := e.FS.ReadFile(e.Abs(file))
			if err != nil {
				fmt.Fprintf(e.Stderr, "pfctl: %s: %s\n", file, shell.ErrText(err))
				return 1
			}
			if strings.Contains(string(b), "syntax error") {
				fmt.Fprintf(e.Stderr, "%s:1: syntax error\npfctl: Syntax error in config file: pf rules not loaded\n", file)
				return 1
			}
			return 0
		}
		if a == "-s" && k+1 < len(args) {
			fmt.Fprintln(e.Stdout, "Status: Enabled")
			return 0
		}
	}
	return 0
}

func (g *guest) installed(e *shell.Env) map[string]bool {
	b, _ := e.FS.ReadFile(opnPkgDB)
	m := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			m[l] = true
		}
	}
	return m
}

func (g *guest) cmdPkg(e *shell.Env) int {
	args := e.Args[1:]
	if len(args) == 0 {
		fmt.Fprintln(e.Stderr, "Usage: pkg [-v] [-d] [-l] [-N] [-j <jail name or id>|-c <chroot path>|-r <rootdir>] [-C <configuration file>] [-R <repo config dir>] [-o var=value] [-4|-6] <command> [<args>]")
		return 1
	}
	sub, rest := args[0], args[1:]
	var names []string
	exists, yes := false, false
	for _, a := range rest {
		switch a {
		case "-e":
			exists = true
		case "-y":
			yes = true
		case "-f", "-q", "-g", "-x":
		default:
			if !strings.HasPrefix(a, "-") {
				names = append(names, a)
			}
		}
	}
	inst := g.installed(e)
	switch sub {
	case "info":
		if len(names) == 0 {
			keys := make([]string, 0, len(inst))
			for k := range inst {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(e.Stdout, "%-36s %s\n", k+"-"+opnPackages[k], "OPNsense package")
			}
			return 0
		}
		status := 0
		for _, n := range names {
			if !inst[n] {
				if !exists {
					fmt.Fprintf(e.Stderr, "pkg: No package(s) matching %s\n", n)
				}
				status = 1
				continue
			}
			if !exists {
				fmt.Fprintf(e.Stdout, "%s-%s\nName           : %s\nVersion        : %s\n", n, opnPackages[n], n, opnPackages[n])
			}
		}
		if status != 0 && !exists {
			return 70
		}
		return status
	case "install", "add":
		if e.User != "root" {
			fmt.Fprintln(e.Stderr, "pkg: Insufficient privileges to install packages")
			return 77
		}
		if len(names) == 0 {
			fmt.Fprintln(e.Stderr, "Usage: pkg install [-AfIMnFqRUy] [-r reponame] [-Cgix] <pkg-name> ...")
			return 64
		}
		if !yes {
			fmt.Fprintln(e.Stderr, "pkg: the lab cannot prompt; use -y")
			return 1
		}
		for _, n := range names {
			if _, ok := opnPackages[n]; !ok {
				fmt.Fprintf(e.Stdout, "Updating OPNsense repository catalogue...\nOPNsense repository is up to date.\nAll repositories are up to date.\npkg: No packages available to install matching '%s' have been found in the repositories\n", n)
				return 1
			}
		}
		fmt.Fprintln(e.Stdout, "Updating OPNsense repository catalogue...\nOPNsense repository is up to date.\nAll repositories are up to date.")
		for _, n := range names {
			if inst[n] {
				fmt.Fprintf(e.Stdout, "The most recent versions of packages are already installed\n")
				continue
			}
			_ = g.sleep(e, 8*time.Second)
			if err := e.FS.AppendFile(opnPkgDB, []byte(n+"\n"), 0o644); err != nil {
				fmt.Fprintf(e.Stderr, "pkg: %s\n", shell.ErrText(err))
				return 1
			}
			inst[n] = true
			fmt.Fprintf(e.Stdout, "[1/1] Installing %s-%s...\n[1/1] Extracting %s-%s: 100%%\n", n, opnPackages[n], n, opnPackages[n])
		}
		return 0
	case "update":
		fmt.Fprintln(e.Stdout, "Updating OPNsense repository catalogue...\nOPNsense repository is up to date.\nAll repositories are up to date.")
		return 0
	}
	fmt.Fprintf(e.Stderr, "pkg: unknown command: %s\n", sub)
	return 1
}

func (g *guest) rcConf(e *shell.Env) map[string]string {
	b, _ := e.FS.ReadFile(opnRCConf)
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), "="); ok {
			m[k] = strings.Trim(v, `"`)
		}
	}
	return m
}

func (g *guest) cmdSysrc(e *shell.Env) int {
	args := e.Args[1:]
	valueOnly := false
	var ops []string
	for _, a := range args {
		switch a {
		case "-n":
			valueOnly = true
		case "-f", "-q", "-a":
		default:
			ops = append(ops, a)
		}
	}
	conf := g.rcConf(e)
	status := 0
	for _, op := range ops {
		k, v, set := strings.Cut(op, "=")
		if !set {
			cur, ok := conf[k]
			if !ok {
				fmt.Fprintf(e.Stderr, "sysrc: unknown variable '%s'\n", k)
				status = 1
				continue
			}
			if valueOnly {
				fmt.Fprintln(e.Stdout, cur)
			} else {
				fmt.Fprintf(e.Stdout, "%s: %s\n", k, cur)
			}
			continue
		}
		if e.User != "root" {
			fmt.Fprintf(e.Stderr, "sysrc: %s: Permission denied\n", opnRCConf)
			return 1
		}
		old := conf[k]
		conf[k] = v
		keys := make([]string, 0, len(conf))
		for ck := range conf {
			keys = append(keys, ck)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, ck := range keys {
			fmt.Fprintf(&b, "%s=\"%s\"\n", ck, conf[ck])
		}
		if err := e.FS.WriteFile(opnRCConf, []byte(b.String()), 0o644); err != nil {
			fmt.Fprintf(e.Stderr, "sysrc: %s: %s\n", opnRCConf, shell.ErrText(err))
			return 1
		}
		fmt.Fprintf(e.Stdout, "%s: %s -> %s\n", k, old, v)
	}
	return status
}

// opnServices maps rc service names to the package that provides them.
var opnServices = map[string]string{"qemu-guest-agent": "os-qemu-guest-agent", "caddy": "os-caddy", "sshd": "", "unbound": "", "dnsmasq": "", "configd": ""}

func (g *guest) cmdService(e *shell.Env) int {
	args := e.Args[1:]
	if len(args) < 2 {
		fmt.Fprintln(e.Stderr, "usage: service [-j <jail name or id>] -e\n       service [-j <jail name or id>] -R\n       service [-j <jail name or id>] [-v] -l | -r\n       service [-j <jail name or id>] [-v] <rc.d script> start|stop|etc.")
		return 1
	}
	name, action := args[0], args[1]
	pkgName, known := opnServices[name]
	if !known || (pkgName != "" && !g.installed(e)[pkgName]) {
		fmt.Fprintf(e.Stderr, "%s does not exist in /etc/rc.d or the local startup\ndirectories (/usr/local/etc/rc.d), or is not executable\n", name)
		return 1
	}
	rcVar := strings.ReplaceAll(name, "-", "_") + "_enable"
	enabled := strings.EqualFold(g.rcConf(e)[rcVar], "YES") || pkgName == ""
	switch action {
	case "start", "restart", "stop":
		if !enabled {
			fmt.Fprintf(e.Stderr, "Cannot '%s' %s. Set %s to YES in /etc/rc.conf or use 'one%s' instead of '%s'.\n", action, strings.ReplaceAll(name, "-", "_"), rcVar, action, action)
			return 1
		}
		fallthrough
	case "onestart", "onerestart", "onestop":
		if e.User != "root" {
			fmt.Fprintf(e.Stderr, "%s: Permission denied\n", name)
			return 1
		}
		verb := strings.TrimPrefix(action, "one")
		switch verb {
		case "start":
			fmt.Fprintf(e.Stdout, "Starting %s.\n", strings.ReplaceAll(name, "-", "_"))
		case "stop":
			fmt.Fprintf(e.Stdout, "Stopping %s.\n", strings.ReplaceAll(name, "-", "_"))
		default:
			fmt.Fprintf(e.Stdout, "Stopping %s.\nStarting %s.\n", strings.ReplaceAll(name, "-", "_"), strings.ReplaceAll(name, "-", "_"))
		}
		if g.hooks.Service != nil {
			g.hooks.Service(name, verb)
		}
		return 0
	case "status", "onestatus":
		fmt.Fprintf(e.Stdout, "%s is running as pid 4242.\n", strings.ReplaceAll(name, "-", "_"))
		return 0
	}
	fmt.Fprintf(e.Stderr, "/usr/local/etc/rc.d/%s: unknown directive '%s'.\n", name, action)
	return 1
}

func (g *guest) cmdOpnsenseUpdate(e *shell.Env) int {
	if e.User != "root" {
		fmt.Fprintln(e.Stderr, "opnsense-update: Permission denied")
		return 1
	}
	_ = g.sleep(e, 20*time.Second)
	fmt.Fprintln(e.Stdout, "Fetching packages-"+g.opnVersion()+"-amd64.tar: ... done\nNothing to do.")
	return 0
}

func (g *guest) cmdOpnsenseVersion(e *shell.Env) int {
	v := g.opnVersion()
	for _, a := range e.Args[1:] {
		if a == "-v" {
			fmt.Fprintln(e.Stdout, v)
			return 0
		}
	}
	fmt.Fprintf(e.Stdout, "OPNsense %s (amd64)\n", v)
	return 0
}

// OPNsenseBootConfig is the configuration a booting firewall reads:
// /conf/config.xml. When it differs from the configuration the running
// system used (it was replaced without a reload), it becomes the applied
// one and is returned, for the API service to load; otherwise nil. The
// boot loads whatever /conf/config.xml holds
// (opnsense/core@26.1.11:src/etc/rc.bootup:63, then the services).
func OPNsenseBootConfig(fsys shell.FS) ([]byte, error) {
	cur, err := fsys.ReadFile(opnConfig)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", opnConfig, shell.ErrText(err))
	}
	if applied, err := fsys.ReadFile(opnApplied); err == nil && string(applied) == string(cur) {
		return nil, nil
	}
	if _, err := parseOPNConfig(cur); err != nil {
		return nil, err
	}
	if err := fsys.WriteFile(opnApplied, cur, 0o600); err != nil {
		return nil, err
	}
	return cur, nil
}
