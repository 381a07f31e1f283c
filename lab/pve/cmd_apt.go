package pve

import (
	"bufio"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/tappaas/tappaas/lab/shell"
)

// aptCatalog maps installable packages to the repo component providing
// them and their version.
var aptCatalog = map[string][2]string{
	"jq": {"debian", "1.7.1-6"}, "powertop": {"debian", "2.15-4"}, "smartmontools": {"debian", "7.4-3"}, "sshpass": {"debian", "1.10-0.1"},
	"curl": {"debian", "8.14.1-2"}, "wget": {"debian", "1.25.0-2"}, "zstd": {"debian", "1.5.7+dfsg-1"}, "git": {"debian", "1:2.47.2-0.1"},
	"tmux": {"debian", "3.5a-3"}, "whiptail": {"debian", "0.52.25-1"}, "openssl": {"debian", "3.5.4-1"}, "chrony": {"debian", "4.6.1-3"},
	"ethtool": {"debian", "1:6.14.2-1"}, "lshw": {"debian", "02.19.git.2021.06.19.996aaad9c7-2"}, "htop": {"debian", "3.4.1-5"},
	"vim": {"debian", "2:9.1.1230-2"}, "rsync": {"debian", "3.4.1+ds1-5"}, "sudo": {"debian", "1.9.16p2-3"},
	"proxmox-widget-toolkit": {"pve-no-subscription", "5.1.2"}, "pve-manager": {"pve-no-subscription", PVEVersion},
	"proxmox-backup-client": {"pve-no-subscription", "4.0.16-1"}, "proxmox-ve": {"pve-no-subscription", "9.1.0"},
	"proxmox-backup-server": {"pbs-no-subscription", "4.0.16-1"}, "ifupdown2": {"pve-no-subscription", "3.3.0-1+pmx10"},
	"pve-cluster": {"pve-no-subscription", "9.0.7"}, "qemu-server": {"pve-no-subscription", "9.1.2"},
}

type aptRepo struct{ uri, suite, comp, file string }

// aptRepos parses the enabled repositories (deb822 .sources and one-line .list).
func (n *Node) aptRepos() []aptRepo {
	var out []aptRepo
	files, _ := n.fs.ReadDir("/etc/apt/sources.list.d")
	paths := []string{"/etc/apt/sources.list"}
	for _, f := range files {
		paths = append(paths, "/etc/apt/sources.list.d/"+f)
	}
	for _, p := range paths {
		b, err := n.fs.ReadFile(p)
		if err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(p, ".sources"):
			for _, stanza := range strings.Split(string(b), "\n\n") {
				kv := map[string]string{}
				for _, line := range strings.Split(stanza, "\n") {
					line = strings.TrimSpace(line)
					if line == "" || strings.HasPrefix(line, "#") {
						continue
					}
					k, v, _ := strings.Cut(line, ":")
					kv[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
				}
				if e := strings.ToLower(kv["enabled"]); e == "no" || e == "false" || kv["uris"] == "" {
					continue
				}
				for _, u := range strings.Fields(kv["uris"]) {
					for _, s := range strings.Fields(kv["suites"]) {
						for _, c := range strings.Fields(kv["components"]) {
							out = append(out, aptRepo{u, s, c, p})
						}
					}
				}
			}
		case strings.HasSuffix(p, ".list") || p == "/etc/apt/sources.list":
			for _, line := range strings.Split(string(b), "\n") {
				f := strings.Fields(line)
				if len(f) < 4 || f[0] != "deb" {
					continue
				}
				i := 1
				if strings.HasPrefix(f[1], "[") {
					for i < len(f) && !strings.HasSuffix(f[i], "]") {
						i++
					}
					i++
				}
				if i+2 > len(f) {
					continue
				}
				for _, c := range f[i+2:] {
					out = append(out, aptRepo{f[i], f[i+1], c, p})
				}
			}
		}
	}
	return out
}

// internet reports whether the node has a working upstream route.
func (n *Node) internetLocked() bool {
	for _, r := range n.m.Routes {
		if r.Dst != "default" {
			continue
		}
		l := n.m.Links[r.Dev]
		if l == nil || !l.Up {
			continue
		}
		if r.Via == "192.168.1.1" {
			for _, p := range append([]string{l.Name}, l.Ports...) {
				if nic := n.m.nic(p); nic != nil && nic.Internet && nic.Link {
					return true
				}
			}
		}
		if r.Via == "10.0.0.1" {
			return (n.firewallUpLocked() && n.firewallHasWAN()) || n.siteFirewall()
		}
	}
	return false
}

func (n *Node) firewallHasWAN() bool {
	for _, vm := range n.m.VMs {
		if g, _ := n.vmGuest(vm); g == "opnsense" && vm.Running {
			for k, v := range vm.Config {
				if netKeyRe.MatchString(k) {
					_, o := vmKeyOpts(v)
					if l := n.m.Links[o["bridge"]]; l != nil {
						for _, p := range l.Ports {
							if nic := n.m.nic(p); nic != nil && nic.Internet {
								return true
							}
						}
					}
				}
			}
		}
	}
	return false
}

func (n *Node) firewallUpLocked() bool {
	for _, vm := range n.m.VMs {
		if g, _ := n.vmGuest(vm); g == "opnsense" && vm.Running && !time.Now().Before(vm.ReadyAt) {
			return true
		}
	}
	return false
}

func (n *Node) cmdApt(e *shell.Env) int {
	args := e.Args[1:]
	yes := false
	reinstall := false
	simulate := false
	var words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-y" || a == "--yes" || a == "--assume-yes" || a == "-yq" || a == "-qy":
			yes = true
		case a == "--reinstall":
			reinstall = true
		case a == "-o" || a == "-c" || a == "-t":
			i++ // the option's value (-o Dpkg::Options::=--force-confold)
		case a == "-s" || a == "--simulate" || a == "--dry-run" || a == "--just-print" || a == "--no-act" || a == "--recon":
			simulate = true
		case strings.HasPrefix(a, "-"):
			if strings.Contains(a, "y") && !strings.HasPrefix(a, "--") {
				yes = true
			}
		default:
			words = append(words, a)
		}
	}
	if e.Vars["DEBIAN_FRONTEND"] == "noninteractive" && e.Vars["APT_ASSUME_YES"] != "" {
		yes = true
	}
	if len(words) == 0 {
		fmt.Fprintf(e.Stderr, "E: Invalid operation\n")
		return 100
	}
	switch words[0] {
	case "update":
		return n.aptUpdate(e)
	case "install", "reinstall":
		if words[0] == "reinstall" {
			reinstall = true
		}
		return n.aptInstall(e, words[1:], yes, reinstall)
	case "upgrade", "dist-upgrade", "full-upgrade":
		return n.aptUpgrade(e, yes, simulate)
	case "remove", "purge":
		err := n.withLock(true, func() error {
			for _, p := range words[1:] {
				delete(n.m.Apt.Installed, p)
				if p == "proxmox-backup-server" {
					n.m.PBS.Installed = false
					n.m.Services["proxmox-backup-proxy"] = "inactive"
				}
			}
			return nil
		})
		_ = err
		fmt.Fprintln(e.Stdout, "Reading package lists...\nBuilding dependency tree...\nReading state information...")
		return 0
	}
	fmt.Fprintf(e.Stderr, "E: Invalid operation %s\n", words[0])
	return 100
}

func (n *Node) aptUpdate(e *shell.Env) int {
	n.lock()
	repos := n.aptRepos()
	online := n.internetLocked()
	n.unlock()
	if err := n.sleepCtx(e, n.scaled(6*time.Second)); err != nil {
		return 130
	}
	var fetched []string
	var errs, warns []string
	hit := 0
	for _, r := range repos {
		hit++
		u := strings.TrimSuffix(r.uri, "/")
		host := strings.SplitN(strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://"), "/", 2)[0]
		if !online {
			fmt.Fprintf(e.Stdout, "Ign:%d %s %s InRelease\n  Temporary failure resolving '%s'\n", hit, u, r.suite, host)
			warns = append(warns, fmt.Sprintf("W: Failed to fetch %s/dists/%s/InRelease  Temporary failure resolving '%s'", u, r.suite, host))
			continue
		}
		switch {
		case strings.Contains(u, "enterprise.proxmox.com"):
			fmt.Fprintf(e.Stdout, "Err:%d %s %s InRelease\n  401  Unauthorized [IP: 212.224.123.70 443]\n", hit, u, r.suite)
			errs = append(errs, fmt.Sprintf("E: Failed to fetch %s/dists/%s/InRelease  401  Unauthorized [IP: 212.224.123.70 443]", u, r.suite),
				fmt.Sprintf("E: The repository '%s %s InRelease' is not signed.", u, r.suite))
		case strings.HasPrefix(u, "http://download.proxmox.com/debian/") || strings.HasPrefix(u, "https://download.proxmox.com/debian/"):
			if r.suite != "trixie" {
				errs = append(errs, fmt.Sprintf("E: The repository '%s %s Release' does not have a Release file.", u, r.suite))
				continue
			}
			fmt.Fprintf(e.Stdout, "Get:%d %s %s InRelease [2771 B]\n", hit, u, r.suite)
			fetched = append(fetched, r.comp)
		case strings.Contains(u, "deb.debian.org") || strings.Contains(u, "security.debian.org"):
			fmt.Fprintf(e.Stdout, "Hit:%d %s %s InRelease\n", hit, u, r.suite)
			fetched = append(fetched, "debian")
		default:
			fmt.Fprintf(e.Stdout, "Ign:%d %s %s InRelease\n", hit, u, r.suite)
			warns = append(warns, fmt.Sprintf("W: Failed to fetch %s/dists/%s/InRelease  Could not resolve '%s'", u, r.suite, host))
		}
	}
	fmt.Fprintln(e.Stdout, "Reading package lists...")
	for _, w := range warns {
		fmt.Fprintln(e.Stderr, w)
	}
	if len(warns) > 0 {
		fmt.Fprintln(e.Stderr, "W: Some index files failed to download. They have been ignored, or old ones used instead.")
	}
	if len(errs) > 0 {
		for _, x := range errs {
			fmt.Fprintln(e.Stderr, x)
		}
		fmt.Fprintln(e.Stderr, "N: Updating from such a repository can't be done securely, and is therefore disabled by default.")
		// the successful repos still count
		_ = n.withLock(true, func() error { n.m.Apt.Fetched = fetched; return nil })
		return 100
	}
	_ = n.withLock(true, func() error { n.m.Apt.Fetched = fetched; return nil })
	return 0
}

// upgradableLocked lists the installed packages a fetched repository has
// in another version (sorted).
func (n *Node) upgradableLocked() []string {
	have := map[string]bool{}
	for _, f := range n.m.Apt.Fetched {
		have[f] = true
	}
	var out []string
	for p, v := range n.m.Apt.Installed {
		if c, ok := aptCatalog[p]; ok && have[c[0]] && c[1] != v {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// aptUpgrade is apt-get dist-upgrade (and upgrade): with -s it only prints
// what it would do, as "Inst PKG [OLD] (NEW ...)" lines; otherwise it needs
// -y (or a "y" on stdin) as apt-get does, and installs the new versions.
func (n *Node) aptUpgrade(e *shell.Env, yes, simulate bool) int {
	n.lock()
	pkgs := n.upgradableLocked()
	old := map[string]string{}
	for _, p := range pkgs {
		old[p] = n.m.Apt.Installed[p]
	}
	n.unlock()
	fmt.Fprintln(e.Stdout, "Reading package lists...\nBuilding dependency tree...\nReading state information...\nCalculating upgrade...")
	if len(pkgs) > 0 {
		fmt.Fprintf(e.Stdout, "The following packages will be upgraded:\n  %s\n", strings.Join(pkgs, " "))
	}
	fmt.Fprintf(e.Stdout, "%d upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n", len(pkgs))
	if simulate {
		for _, p := range pkgs {
			fmt.Fprintf(e.Stdout, "Inst %s [%s] (%s Proxmox:%s/trixie [amd64])\n", p, old[p], aptCatalog[p][1], PVERelease)
		}
		for _, p := range pkgs {
			fmt.Fprintf(e.Stdout, "Conf %s (%s Proxmox:%s/trixie [amd64])\n", p, aptCatalog[p][1], PVERelease)
		}
		return 0
	}
	if len(pkgs) == 0 {
		return 0
	}
	if !yes {
		fmt.Fprint(e.Stdout, "Do you want to continue? [Y/n] ")
		sc := bufio.NewScanner(e.Stdin)
		if e.Stdin == nil || !sc.Scan() || !strings.HasPrefix(strings.ToLower(strings.TrimSpace(sc.Text())+"y"), "y") {
			fmt.Fprintln(e.Stdout, "Abort.")
			return 1
		}
	}
	if err := n.sleepCtx(e, n.scaled(5*time.Second*time.Duration(len(pkgs)))); err != nil {
		return 130
	}
	_ = n.withLock(true, func() error {
		for _, p := range pkgs {
			n.m.Apt.Installed[p] = aptCatalog[p][1]
		}
		return nil
	})
	for _, p := range pkgs {
		fmt.Fprintf(e.Stdout, "Setting up %s (%s) ...\n", p, aptCatalog[p][1])
	}
	return 0
}

func (n *Node) aptInstall(e *shell.Env, pkgs []string, yes, reinstall bool) int {
	fmt.Fprintln(e.Stdout, "Reading package lists...\nBuilding dependency tree...\nReading state information...")
	n.lock()
	have := map[string]bool{}
	for _, f := range n.m.Apt.Fetched {
		have[f] = true
	}
	var todo []string
	var missing []string
	for _, p := range pkgs {
		p = strings.SplitN(p, "=", 2)[0]
		cat, known := aptCatalog[p]
		if !known || !have[cat[0]] {
			if _, inst := n.m.Apt.Installed[p]; inst && !reinstall {
				fmt.Fprintf(e.Stdout, "%s is already the newest version (%s).\n", p, n.m.Apt.Installed[p])
				continue
			}
			missing = append(missing, p)
			continue
		}
		if v, inst := n.m.Apt.Installed[p]; inst && !reinstall {
			fmt.Fprintf(e.Stdout, "%s is already the newest version (%s).\n", p, v)
			continue
		}
		todo = append(todo, p)
	}
	n.unlock()
	if len(missing) > 0 {
		fmt.Fprintf(e.Stderr, "E: Unable to locate package %s\n", missing[0])
		return 100
	}
	if len(todo) == 0 {
		fmt.Fprintln(e.Stdout, "0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.")
		return 0
	}
	fmt.Fprintf(e.Stdout, "The following NEW packages will be installed:\n  %s\n0 upgraded, %d newly installed, 0 to remove and 0 not upgraded.\n", strings.Join(todo, " "), len(todo))
	if !yes {
		fmt.Fprint(e.Stdout, "Do you want to continue? [Y/n] ")
		line := ""
		if e.Stdin != nil {
			sc := bufio.NewScanner(e.Stdin)
			if sc.Scan() {
				line = strings.TrimSpace(sc.Text())
			} else {
				fmt.Fprintln(e.Stdout, "Abort.")
				return 1
			}
		}
		if line != "" && !strings.HasPrefix(strings.ToLower(line), "y") {
			fmt.Fprintln(e.Stdout, "Abort.")
			return 1
		}
	}
	d := 8 * time.Second * time.Duration(len(todo))
	for _, p := range todo {
		if p == "proxmox-backup-server" {
			d += 30 * time.Second
		}
	}
	if err := n.sleepCtx(e, n.scaled(d)); err != nil {
		return 130
	}
	var pbs bool
	err := n.withLock(true, func() error {
		for _, p := range todo {
			n.m.Apt.Installed[p] = aptCatalog[p][1]
			if p == "proxmox-backup-server" && !n.m.PBS.Installed {
				if err := n.installPBS(); err != nil {
					return err
				}
				pbs = true
			}
		}
		return nil
	})
	if err != nil {
		return fail(e, err)
	}
	for _, p := range todo {
		fmt.Fprintf(e.Stdout, "Setting up %s (%s) ...\n", p, aptCatalog[p][1])
	}
	if pbs && n.cfg.OnPBS != nil {
		n.cfg.OnPBS()
	}
	return 0
}

// installPBS is the effect of installing proxmox-backup-server.
func (n *Node) installPBS() error {
	ips := []string{n.m.NodeAddr, mgmtIP(n.m.Hostname)}
	cert, key, err := genSelfSigned(n.m.Hostname, []string{n.m.Hostname, n.m.Hostname + ".mgmt.internal", "localhost"}, ips)
	if err != nil {
		return err
	}
	n.m.Certs.PBSPEM, n.m.Certs.PBSKeyPEM = cert, key
	n.m.PBS.Installed = true
	n.m.Services["proxmox-backup"] = "active"
	n.m.Services["proxmox-backup-proxy"] = "active"
	_ = n.fs.MkdirAll("/etc/proxmox-backup", 0o700)
	_ = n.fs.WriteFile("/etc/proxmox-backup/proxy.pem", []byte(cert), 0o640)
	_ = n.fs.WriteFile("/etc/proxmox-backup/proxy.key", []byte(key), 0o600)
	_ = n.fs.WriteFile("/etc/apt/sources.list.d/pbs-enterprise.sources", []byte("Types: deb\nURIs: https://enterprise.proxmox.com/debian/pbs\nSuites: trixie\nComponents: pbs-enterprise\nSigned-By: /usr/share/keyrings/proxmox-archive-keyring.gpg\n"), 0o644)
	return nil
}

func (n *Node) cmdDpkgQuery(e *shell.Env) int {
	var pkgs []string
	format := "${binary:Package}\t${Version}\n"
	status := false
	for i := 1; i < len(e.Args); i++ {
		a := e.Args[i]
		switch {
		case a == "-W" || a == "--show":
		case a == "-s" || a == "--status":
			status = true
		case a == "-f" && i+1 < len(e.Args):
			format = e.Args[i+1]
			i++
		case strings.HasPrefix(a, "-f"):
			format = strings.TrimPrefix(strings.TrimPrefix(a, "-f"), "=")
		case strings.HasPrefix(a, "--showformat="):
			format = strings.TrimPrefix(a, "--showformat=")
		case strings.HasPrefix(a, "-"):
		default:
			pkgs = append(pkgs, a)
		}
	}
	n.lock()
	defer n.unlock()
	rc := 0
	for _, p := range pkgs {
		v, ok := n.m.Apt.Installed[p]
		if !ok {
			if status {
				fmt.Fprintf(e.Stderr, "dpkg-query: package '%s' is not installed and no information is available\n", p)
			} else {
				fmt.Fprintf(e.Stderr, "dpkg-query: no packages found matching %s\n", p)
			}
			rc = 1
			continue
		}
		if status {
			fmt.Fprintf(e.Stdout, "Package: %s\nStatus: install ok installed\nVersion: %s\n", p, v)
			continue
		}
		out := strings.NewReplacer("${binary:Package}", p, "${Package}", p, "${Version}", v, "${Status}", "install ok installed", "${db:Status-Abbrev}", "ii ", `\n`, "\n", `\t`, "\t").Replace(format)
		fmt.Fprint(e.Stdout, out)
	}
	return rc
}

func (n *Node) cmdDpkg(e *shell.Env) int {
	if len(e.Args) >= 2 && (e.Args[1] == "-s" || e.Args[1] == "--status") {
		e.Args = append([]string{"dpkg-query", "-s"}, e.Args[2:]...)
		return n.cmdDpkgQuery(e)
	}
	if len(e.Args) >= 2 && e.Args[1] == "-l" {
		n.lock()
		defer n.unlock()
		rc := 0
		names := e.Args[2:]
		if len(names) == 0 {
			names = sortedKeys(n.m.Apt.Installed)
		}
		fmt.Fprintln(e.Stdout, "Desired=Unknown/Install/Remove/Purge/Hold\n||/ Name Version Architecture Description\n+++-====-=======-============-===========")
		for _, p := range names {
			if v, ok := n.m.Apt.Installed[p]; ok {
				fmt.Fprintf(e.Stdout, "ii  %s %s amd64 %s\n", p, v, path.Base(p))
			} else {
				fmt.Fprintf(e.Stderr, "dpkg-query: no packages found matching %s\n", p)
				rc = 1
			}
		}
		return rc
	}
	fmt.Fprintln(e.Stderr, "dpkg: lab: only -l and -s are simulated")
	return 2
}

func (n *Node) siteFirewall() bool { return n.cfg.SiteFirewallUp != nil && n.cfg.SiteFirewallUp() }
