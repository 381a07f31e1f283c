package vm

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tappaas/tappaas/lab/shell"
)

// repoFS is the lab's rendition of the TAPPaaS repository a guest gets from
// `git clone https://github.com/TAPPaaS/TAPPaaS.git`: the module JSON files
// are upstream's (TAPPaaS@f54e4fc), the scripts and flake are lab renditions
// of the upstream steps (docs/upstream.md#platform).
//
//go:embed all:repo
var repoFS embed.FS

// Lab values for the cloned repository.
const (
	// RepoURL is the repository install1.sh clones (hard-coded upstream).
	RepoURL = "https://github.com/TAPPaaS/TAPPaaS.git"
	// RepoCommit is the lab clone's HEAD (the upstream snapshot our docs cite,
	// padded to 40 hex digits; not a real upstream object id).
	RepoCommit = "f54e4fc000000000000000000000000000000000"
	// RepoTag is what `git describe --tags --abbrev=0` prints
	// (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/scripts/create-configuration.sh:388;
	// the image tags share the namespace).
	RepoTag = "nixos-template-v1.3"
	// NixOSVersion is what nixos-version prints.
	NixOSVersion = "25.05.806273.e8a3d8b0e1f7 (Warbler)"
)

var repoBranches = []string{"main", "stable"}

// builtinDownload serves the raw.githubusercontent.com files of the repo
// (…/TAPPaaS/TAPPaaS/<branch>/<path>) from the embedded copy.
func builtinDownload(url string) ([]byte, bool) {
	const prefix = "https://raw.githubusercontent.com/TAPPaaS/TAPPaaS/"
	if !strings.HasPrefix(url, prefix) {
		return nil, false
	}
	rest := strings.TrimPrefix(url, prefix)
	branch, p, ok := strings.Cut(rest, "/")
	if !ok || !contains(repoBranches, branch) {
		return nil, false
	}
	b, err := repoFS.ReadFile(path.Join("repo", p))
	if err != nil {
		return nil, false
	}
	return b, true
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (g *guest) registerNixOS() {
	g.in.Register("git", g.cmdGit)
	g.in.Register("nixos-rebuild", g.cmdNixosRebuild)
	g.in.Register("nixos-generate-config", g.cmdNixosGenerateConfig)
	g.in.Register("nixos-version", func(e *shell.Env) int { fmt.Fprintln(e.Stdout, NixOSVersion); return 0 })
	g.in.Register("systemctl", g.cmdSystemctl)
	g.in.Register("ssh-copy-id", g.cmdSSHCopyID)
	g.in.Register("sudo", g.cmdSudo)
	g.in.Register("cloud-init", func(e *shell.Env) int {
		if len(e.Args) > 1 && e.Args[1] == "status" {
			fmt.Fprintln(e.Stdout, "status: done")
			return 0
		}
		fmt.Fprintln(e.Stderr, "usage: cloud-init [-h] [--version] [--debug] [--force] {init,modules,single,query,features,analyze,devel,collect-logs,clean,status,schema} ...")
		return 2
	})
}

// cmdSudo allows members of wheel (from /etc/group) without a password,
// as the TAPPaaS NixOS configurations do.
func (g *guest) cmdSudo(e *shell.Env) int {
	if e.User != "root" && !inGroup(g.fs, "wheel", e.User) {
		fmt.Fprintf(e.Stderr, "%s is not in the sudoers file.\n", e.User)
		return 1
	}
	sudo, _ := shell.Builtin("sudo")
	return sudo(e)
}

func inGroup(fsys shell.FS, group, user string) bool {
	b, err := fsys.ReadFile("/etc/group")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) == 4 && f[0] == group {
			for _, m := range strings.Split(f[3], ",") {
				if m == user {
					return true
				}
			}
		}
	}
	return false
}

// ---- git ----

// normRepo reduces a clone URL to host/owner/name.
func normRepo(u string) string {
	u = strings.TrimSuffix(strings.TrimSuffix(u, "/"), ".git")
	u = strings.TrimPrefix(u, "git@github.com:")
	for _, p := range []string{"https://", "http://", "ssh://git@", "git://"} {
		u = strings.TrimPrefix(u, p)
	}
	if !strings.HasPrefix(u, "github.com/") && strings.Count(u, "/") == 1 {
		u = "github.com/" + u
	}
	return strings.ToLower(u)
}

// repoRoot finds the repository containing dir.
func repoRoot(e *shell.Env, dir string) (string, bool) {
	for d := dir; ; d = path.Dir(d) {
		if fi, err := e.FS.Stat(path.Join(d, ".git")); err == nil && fi.IsDir {
			return d, true
		}
		if d == "/" {
			return "", false
		}
	}
}

func (g *guest) cmdGit(e *shell.Env) int {
	args := e.Args[1:]
	dir := e.Dir
	for len(args) >= 2 && (args[0] == "-C" || args[0] == "-c") {
		if args[0] == "-C" {
			dir = e.Abs(args[1])
		}
		args = args[2:]
	}
	if len(args) == 0 {
		fmt.Fprintln(e.Stdout, "usage: git [-v | --version] [-h | --help] [-C <path>] [-c <name>=<value>]\n           <command> [<args>]")
		return 1
	}
	sub := args[0]
	args = args[1:]
	if sub == "--version" || sub == "version" {
		fmt.Fprintln(e.Stdout, "git version 2.49.0")
		return 0
	}
	if sub == "clone" {
		return g.gitClone(e, dir, args)
	}
	known := map[string]bool{"checkout": true, "pull": true, "fetch": true, "describe": true, "rev-parse": true, "status": true,
		"remote": true, "config": true, "log": true, "branch": true, "switch": true}
	if !known[sub] {
		fmt.Fprintf(e.Stderr, "git: '%s' is not a git command. See 'git --help'.\n", sub)
		return 1
	}
	root, ok := repoRoot(e, dir)
	if !ok {
		fmt.Fprintln(e.Stderr, "fatal: not a git repository (or any of the parent directories): .git")
		return 128
	}
	gitDir := path.Join(root, ".git")
	head := func() string {
		b, _ := e.FS.ReadFile(path.Join(gitDir, "HEAD"))
		return strings.TrimPrefix(strings.TrimSpace(string(b)), "ref: refs/heads/")
	}
	var pos []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
		}
	}
	switch sub {
	case "checkout", "switch":
		if len(pos) == 0 {
			return 0
		}
		br := pos[0]
		if !contains(repoBranches, br) {
			fmt.Fprintf(e.Stderr, "error: pathspec '%s' did not match any file(s) known to git\n", br)
			return 1
		}
		if head() == br {
			fmt.Fprintf(e.Stderr, "Already on '%s'\nYour branch is up to date with 'origin/%s'.\n", br, br)
			return 0
		}
		if err := e.FS.WriteFile(path.Join(gitDir, "HEAD"), []byte("ref: refs/heads/"+br+"\n"), 0o644); err != nil {
			fmt.Fprintf(e.Stderr, "fatal: Unable to create '%s/index.lock': %s.\n", gitDir, shell.ErrText(err))
			return 128
		}
		fmt.Fprintf(e.Stderr, "Switched to a new branch '%s'\nbranch '%s' set up to track 'origin/%s'.\n", br, br, br)
		return 0
	case "pull":
		fmt.Fprintln(e.Stdout, "Already up to date.")
		return 0
	case "fetch":
		return 0
	case "describe":
		fmt.Fprintln(e.Stdout, RepoTag)
		return 0
	case "rev-parse":
		for _, a := range args {
			switch a {
			case "--show-toplevel":
				fmt.Fprintln(e.Stdout, root)
			case "--is-inside-work-tree":
				fmt.Fprintln(e.Stdout, "true")
			case "--git-dir":
				fmt.Fprintln(e.Stdout, gitDir)
			}
		}
		for _, p := range pos {
			switch {
			case p == "HEAD" && contains(args, "--abbrev-ref"):
				fmt.Fprintln(e.Stdout, head())
			case p == "HEAD" && contains(args, "--short"):
				fmt.Fprintln(e.Stdout, RepoCommit[:7])
			case p == "HEAD":
				fmt.Fprintln(e.Stdout, RepoCommit)
			default:
				fmt.Fprintf(e.Stderr, "fatal: ambiguous argument '%s': unknown revision or path not in the working tree.\n", p)
				return 128
			}
		}
		return 0
	case "status":
		if contains(args, "--porcelain") || contains(args, "-s") {
			return 0
		}
		fmt.Fprintf(e.Stdout, "On branch %s\nYour branch is up to date with 'origin/%s'.\n\nnothing to commit, working tree clean\n", head(), head())
		return 0
	case "remote":
		b, _ := e.FS.ReadFile(path.Join(gitDir, "lab-origin"))
		url := strings.TrimSpace(string(b))
		if len(pos) >= 2 && pos[0] == "get-url" {
			fmt.Fprintln(e.Stdout, url)
			return 0
		}
		if contains(args, "-v") {
			fmt.Fprintf(e.Stdout, "origin\t%s (fetch)\norigin\t%s (push)\n", url, url)
			return 0
		}
		fmt.Fprintln(e.Stdout, "origin")
		return 0
	case "config":
		if len(pos) == 1 && pos[0] == "remote.origin.url" {
			b, _ := e.FS.ReadFile(path.Join(gitDir, "lab-origin"))
			fmt.Fprintln(e.Stdout, strings.TrimSpace(string(b)))
			return 0
		}
		return 1
	case "log":
		fmt.Fprintf(e.Stdout, "%s TAPPaaS lab snapshot\n", RepoCommit[:7])
		return 0
	case "branch":
		for _, b := range repoBranches {
			mark := "  "
			if b == head() {
				mark = "* "
			}
			fmt.Fprintln(e.Stdout, mark+b)
		}
		return 0
	}
	return 0
}

func (g *guest) gitClone(e *shell.Env, dir string, args []string) int {
	var pos []string
	branch := "main"
	for k := 0; k < len(args); k++ {
		a := args[k]
		switch {
		case a == "-b" || a == "--branch":
			if k+1 < len(args) {
				branch = args[k+1]
				k++
			}
		case a == "--depth" || a == "--origin" || a == "-o":
			k++
		case strings.HasPrefix(a, "-"):
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) == 0 {
		fmt.Fprintln(e.Stderr, "fatal: You must specify a repository to clone.")
		return 129
	}
	url := pos[0]
	name := strings.TrimSuffix(path.Base(strings.TrimSuffix(url, "/")), ".git")
	if len(pos) > 1 {
		name = pos[1]
	}
	target := path.Join(dir, name)
	if strings.HasPrefix(name, "/") {
		target = name
	}
	if names, err := e.FS.ReadDir(target); err == nil && len(names) > 0 {
		fmt.Fprintf(e.Stderr, "fatal: destination path '%s' already exists and is not an empty directory.\n", name)
		return 128
	} else if fi, err := e.FS.Stat(target); err == nil && !fi.IsDir {
		fmt.Fprintf(e.Stderr, "fatal: destination path '%s' already exists and is not an empty directory.\n", name)
		return 128
	}
	if normRepo(url) != "github.com/tappaas/tappaas" {
		if strings.Contains(url, "github.com") {
			fmt.Fprintf(e.Stderr, "Cloning into '%s'...\nremote: Repository not found.\nfatal: repository '%s/' not found\n", name, strings.TrimSuffix(url, "/"))
		} else {
			fmt.Fprintf(e.Stderr, "Cloning into '%s'...\nfatal: unable to access '%s/': Could not resolve host: %s\n", name, strings.TrimSuffix(url, "/"), hostOf(url))
		}
		return 128
	}
	if !contains(repoBranches, branch) {
		fmt.Fprintf(e.Stderr, "Cloning into '%s'...\nwarning: Could not find remote branch %s to clone.\nfatal: Remote branch %s not found in upstream origin\n", name, branch, branch)
		return 128
	}
	fmt.Fprintf(e.Stderr, "Cloning into '%s'...\n", name)
	if err := e.FS.MkdirAll(target, 0o755); err != nil {
		fmt.Fprintf(e.Stderr, "fatal: could not create work tree dir '%s': %s\n", name, shell.ErrText(err))
		return 128
	}
	_ = g.sleep(e, 3*time.Second)
	err := fs.WalkDir(repoFS, "repo", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "repo")
		dst := target + rel
		if d.IsDir() {
			return e.FS.MkdirAll(dst, 0o755)
		}
		b, err := repoFS.ReadFile(p)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if strings.HasSuffix(p, ".sh") {
			mode = 0o755
		}
		return e.FS.WriteFile(dst, b, mode)
	})
	if err == nil {
		gitDir := path.Join(target, ".git")
		if err = e.FS.MkdirAll(gitDir, 0o755); err == nil {
			err = e.FS.WriteFile(path.Join(gitDir, "HEAD"), []byte("ref: refs/heads/"+branch+"\n"), 0o644)
		}
		if err == nil {
			err = e.FS.WriteFile(path.Join(gitDir, "lab-origin"), []byte(url+"\n"), 0o644)
		}
	}
	if err != nil {
		fmt.Fprintf(e.Stderr, "fatal: cannot write the work tree: %s\n", shell.ErrText(err))
		return 128
	}
	fmt.Fprintln(e.Stderr, "remote: Enumerating objects: 4210, done.\nReceiving objects: 100% (4210/4210), 2.61 MiB | 9.80 MiB/s, done.\nResolving deltas: 100% (2518/2518), done.")
	return 0
}

// ---- nixos-rebuild ----

// labConfig is what the lab reads from a flake's "# lab:" comment for one
// nixosConfiguration (the settings of tappaas-cicd.nix that matter to the
// installer, docs/upstream.md#platform).
type labConfig struct {
	name          string
	hostname      string
	passwordAuth  bool
	permitRoot    string
	pinHosts      bool
	needsHardware bool
	wheelNoPasswd bool
	buildDuration time.Duration
}

// parseFlake reads the nixosConfigurations of a lab flake: lines
// "# lab: config=NAME hostname=H passwordAuth=no permitRootLogin=no pinHosts=yes hardware=impure".
func parseFlake(b []byte) map[string]labConfig {
	out := map[string]labConfig{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "# lab:") {
			continue
		}
		c := labConfig{permitRoot: "yes", passwordAuth: true, buildDuration: 90 * time.Second}
		for _, kv := range strings.Fields(strings.TrimPrefix(l, "# lab:")) {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "config":
				c.name = v
			case "hostname":
				c.hostname = v
			case "passwordAuth":
				c.passwordAuth = v == "yes"
			case "permitRootLogin":
				c.permitRoot = v
			case "pinHosts":
				c.pinHosts = v == "yes"
			case "hardware":
				c.needsHardware = v == "impure"
			case "wheelNoPasswd":
				c.wheelNoPasswd = v == "yes"
			}
		}
		if c.name != "" {
			out[c.name] = c
		}
	}
	return out
}

func (g *guest) cmdNixosRebuild(e *shell.Env) int {
	args := e.Args[1:]
	action, flake := "", ""
	impure := false
	for k := 0; k < len(args); k++ {
		a := args[k]
		switch {
		case a == "--flake":
			if k+1 >= len(args) {
				fmt.Fprintln(e.Stderr, "error: missing argument to --flake")
				return 1
			}
			flake = args[k+1]
			k++
		case strings.HasPrefix(a, "--flake="):
			flake = strings.TrimPrefix(a, "--flake=")
		case a == "--impure":
			impure = true
		case a == "--option":
			k += 2
		case a == "-I" || a == "--profile-name" || a == "-p" || a == "--target-host" || a == "--build-host":
			k++
		case strings.HasPrefix(a, "-"):
		case action == "":
			action = a
		}
	}
	switch action {
	case "switch", "boot", "test", "build", "dry-build", "dry-activate":
	case "":
		fmt.Fprintln(e.Stderr, "Usage: nixos-rebuild [--verbose] [--flake FLAKE] {switch | boot | test | build | dry-build | ...}")
		return 1
	default:
		fmt.Fprintf(e.Stderr, "error: unknown action '%s'\n", action)
		return 1
	}
	flakeDir, attr := "/etc/nixos", ""
	if flake != "" {
		ref, a, _ := strings.Cut(flake, "#")
		ref = strings.TrimPrefix(ref, "path:")
		flakeDir, attr = e.Abs(ref), a
		if attr == "" {
			attr = hostnameOf(e)
		}
	}
	fmt.Fprintln(e.Stderr, "building the system configuration...")
	var cfg labConfig
	if flake == "" {
		if _, err := e.FS.Stat("/etc/nixos/configuration.nix"); err != nil {
			fmt.Fprintln(e.Stderr, "error: file 'nixos-config' was not found in the Nix search path (add it using $NIX_PATH or -I)")
			return 1
		}
		cfg = labConfig{name: "nixos", hostname: hostnameOf(e), permitRoot: "yes", passwordAuth: true, needsHardware: true, buildDuration: 60 * time.Second}
		impure = true
	} else {
		b, err := e.FS.ReadFile(path.Join(flakeDir, "flake.nix"))
		if err != nil {
			fmt.Fprintf(e.Stderr, "error: path '%s/flake.nix' does not exist\n", flakeDir)
			return 1
		}
		cfgs := parseFlake(b)
		c, ok := cfgs[attr]
		if !ok {
			fmt.Fprintf(e.Stderr, "error: flake 'path:%s' does not provide attribute 'packages.x86_64-linux.nixosConfigurations.\"%s\".config.system.build.nixos-rebuild', 'legacyPackages.x86_64-linux.nixosConfigurations.\"%s\".config.system.build.nixos-rebuild' or 'nixosConfigurations.\"%s\".config.system.build.nixos-rebuild'\n", flakeDir, attr, attr, attr)
			return 1
		}
		cfg = c
	}
	if cfg.needsHardware {
		if !impure {
			fmt.Fprintln(e.Stderr, "error: access to absolute path '/etc/nixos/hardware-configuration.nix' is forbidden in pure evaluation mode (use '--impure' to override)")
			return 1
		}
		if _, err := e.FS.Stat("/etc/nixos/hardware-configuration.nix"); err != nil {
			fmt.Fprintln(e.Stderr, "error: path '/etc/nixos/hardware-configuration.nix' does not exist")
			return 1
		}
	}
	if err := g.sleep(e, cfg.buildDuration); err != nil {
		return 130
	}
	if action == "build" || action == "dry-build" {
		return 0
	}
	if e.User != "root" {
		fmt.Fprintln(e.Stderr, "error: opening lock file '/nix/var/nix/profiles/system.lock': Permission denied")
		return 1
	}
	gen := g.nextGeneration(e)
	store := fmt.Sprintf("/nix/store/%s-nixos-system-%s-%s", storeHash(cfg.name, gen), cfg.hostname, strings.Fields(NixOSVersion)[0])
	if err := g.installGeneration(e, gen, store, cfg); err != nil {
		fmt.Fprintf(e.Stderr, "error: %s\n", shell.ErrText(err))
		return 1
	}
	if action == "boot" {
		_ = e.FS.WriteFile("/nix/var/nix/profiles/lab-pending", []byte(strconv.Itoa(gen)+"\n"), 0o644)
		fmt.Fprintln(e.Stderr, "updating GRUB 2 menu...")
		return 0
	}
	fmt.Fprintln(e.Stderr, "activating the configuration...\nsetting up /etc...\nreloading user units for tappaas...\nrestarting sysinit-reactivation.target\nthe following new units were started: sysinit-reactivation.target, systemd-tmpfiles-resetup.service")
	if err := activate(e.FS, cfg, store); err != nil {
		fmt.Fprintf(e.Stderr, "error: activation failed: %s\n", shell.ErrText(err))
		return 1
	}
	return 0
}

func storeHash(name string, gen int) string {
	const alpha = "0123456789abcdfghijklmnpqrsvwxyz"
	var b strings.Builder
	x := uint64(gen)*1469598103934665603 ^ 0x9e3779b97f4a7c15
	for _, c := range name {
		x = (x ^ uint64(c)) * 1099511628211
	}
	for i := 0; i < 32; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		b.WriteByte(alpha[(x>>33)%32])
	}
	return b.String()
}

func (g *guest) nextGeneration(e *shell.Env) int {
	names, _ := e.FS.ReadDir("/nix/var/nix/profiles")
	gen := 0
	for _, n := range names {
		if strings.HasPrefix(n, "system-") && strings.HasSuffix(n, "-link") {
			if v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(n, "system-"), "-link")); err == nil && v > gen {
				gen = v
			}
		}
	}
	return gen + 1
}

func (g *guest) installGeneration(e *shell.Env, gen int, store string, cfg labConfig) error {
	if err := e.FS.MkdirAll(store, 0o555); err != nil {
		return err
	}
	settings := fmt.Sprintf("config=%s hostname=%s passwordAuth=%v permitRootLogin=%s pinHosts=%v wheelNoPasswd=%v\n",
		cfg.name, cfg.hostname, yesNo(cfg.passwordAuth), cfg.permitRoot, yesNo(cfg.pinHosts), yesNo(cfg.wheelNoPasswd))
	if err := e.FS.WriteFile(path.Join(store, "lab-settings"), []byte(settings), 0o444); err != nil {
		return err
	}
	if err := e.FS.MkdirAll("/nix/var/nix/profiles", 0o755); err != nil {
		return err
	}
	return e.FS.WriteFile(fmt.Sprintf("/nix/var/nix/profiles/system-%d-link", gen), []byte(store+"\n"), 0o644)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// activate makes a configuration current: hostname, sshd settings, /etc/hosts
// pins (TAPPaaS@f54e4fc:src/foundation/tappaas-cicd/tappaas-cicd.nix:58-70),
// sudo.
func activate(fsys shell.FS, cfg labConfig, store string) error {
	if cfg.hostname != "" {
		if err := fsys.WriteFile("/etc/hostname", []byte(cfg.hostname+"\n"), 0o644); err != nil {
			return err
		}
	}
	sshd := fmt.Sprintf("# generated by NixOS (lab)\nPasswordAuthentication %s\nPermitRootLogin %s\nKbdInteractiveAuthentication no\n", yesNo(cfg.passwordAuth), cfg.permitRoot)
	if err := fsys.MkdirAll("/etc/ssh", 0o755); err != nil {
		return err
	}
	if err := fsys.WriteFile("/etc/ssh/sshd_config", []byte(sshd), 0o644); err != nil {
		return err
	}
	hosts := "127.0.0.1 localhost\n::1 localhost\n"
	if cfg.hostname != "" {
		hosts += "127.0.0.2 " + cfg.hostname + "\n"
	}
	if cfg.pinHosts {
		hosts += "10.0.0.1 firewall.mgmt.internal firewall.internal firewall\n"
		for n := 1; n <= 9; n++ {
			hosts += fmt.Sprintf("10.0.0.%d tappaas%d.mgmt.internal tappaas%d\n", 9+n, n, n)
		}
	}
	if err := fsys.WriteFile("/etc/hosts", []byte(hosts), 0o644); err != nil {
		return err
	}
	if l, ok := fsys.(shell.Linker); ok {
		_ = fsys.Remove("/run/current-system")
		if err := l.Symlink(store, "/run/current-system"); err != nil {
			return err
		}
	} else if err := fsys.WriteFile("/run/current-system", []byte(store+"\n"), 0o644); err != nil {
		return err
	}
	return nil
}

// Boot is what happens to a guest's filesystem when the VM (re)boots: a
// configuration installed with `nixos-rebuild boot` becomes current, and
// /tmp and /run/user are emptied. The lab calls it before the guest's SSH
// server comes back.
func Boot(kind string, fsys shell.FS) error {
	for _, d := range []string{"/tmp", "/run/user"} {
		names, err := fsys.ReadDir(d)
		if err != nil {
			continue
		}
		for _, n := range names {
			if err := fsys.RemoveAll(path.Join(d, n)); err != nil {
				return err
			}
		}
	}
	if kind != NixOS {
		return nil
	}
	b, err := fsys.ReadFile("/nix/var/nix/profiles/lab-pending")
	if err != nil {
		return nil
	}
	gen := strings.TrimSpace(string(b))
	link, err := fsys.ReadFile("/nix/var/nix/profiles/system-" + gen + "-link")
	if err != nil {
		return fmt.Errorf("vm boot: pending generation %s is missing: %w", gen, err)
	}
	store := strings.TrimSpace(string(link))
	settings, err := fsys.ReadFile(path.Join(store, "lab-settings"))
	if err != nil {
		return fmt.Errorf("vm boot: generation %s: %w", gen, err)
	}
	cfgs := parseFlake([]byte("# lab: " + string(settings)))
	for _, c := range cfgs {
		if err := activate(fsys, c, store); err != nil {
			return err
		}
	}
	return fsys.Remove("/nix/var/nix/profiles/lab-pending")
}

func (g *guest) cmdNixosGenerateConfig(e *shell.Env) int {
	show := false
	root := ""
	args := e.Args[1:]
	for k := 0; k < len(args); k++ {
		switch args[k] {
		case "--show-hardware-config":
			show = true
		case "--root", "--dir":
			if k+1 < len(args) {
				root = args[k+1]
				k++
			}
		case "--no-filesystems", "--force":
		default:
			fmt.Fprintf(e.Stderr, "Unknown option: %s\n", args[k])
			return 1
		}
	}
	if show {
		fmt.Fprint(e.Stdout, hardwareConfig)
		return 0
	}
	dir := path.Join("/", root, "etc/nixos")
	if err := e.FS.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(e.Stderr, "mkdir %s: %s\n", dir, shell.ErrText(err))
		return 1
	}
	hw := path.Join(dir, "hardware-configuration.nix")
	if err := e.FS.WriteFile(hw, []byte(hardwareConfig), 0o644); err != nil {
		fmt.Fprintf(e.Stderr, "writing %s: %s\n", hw, shell.ErrText(err))
		return 1
	}
	fmt.Fprintf(e.Stderr, "writing %s...\n", hw)
	if _, err := e.FS.Stat(path.Join(dir, "configuration.nix")); err == nil {
		fmt.Fprintf(e.Stderr, "warning: not overwriting existing %s/configuration.nix\n", dir)
	}
	return 0
}

const hardwareConfig = `# Do not modify this file!  It was generated by 'nixos-generate-config'
# and may be overwritten by future invocations.  Please make changes
# to /etc/nixos/configuration.nix instead.
{ config, lib, pkgs, modulesPath, ... }:

{
  imports =
    [ (modulesPath + "/profiles/qemu-guest.nix")
    ];

  boot.initrd.availableKernelModules = [ "ata_piix" "uhci_hcd" "virtio_pci" "virtio_scsi" "sd_mod" "sr_mod" ];
  boot.initrd.kernelModules = [ ];
  boot.kernelModules = [ ];
  boot.extraModulePackages = [ ];

  fileSystems."/" =
    { device = "/dev/disk/by-label/nixos";
      fsType = "ext4";
    };

  fileSystems."/boot" =
    { device = "/dev/disk/by-label/ESP";
      fsType = "vfat";
      options = [ "fmask=0077" "dmask=0077" ];
    };

  swapDevices = [ ];

  networking.useDHCP = lib.mkDefault true;

  nixpkgs.hostPlatform = lib.mkDefault "x86_64-linux";
}
`

// ---- systemctl ----

var nixosUnits = map[string]bool{"sshd": true, "qemu-guest-agent": true, "nscd": true, "systemd-networkd": true, "dhcpcd": true, "cloud-init": true}

func (g *guest) cmdSystemctl(e *shell.Env) int {
	args := e.Args[1:]
	var pos []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			pos = append(pos, a)
		}
	}
	if len(pos) == 0 {
		return 0
	}
	verb := pos[0]
	units := pos[1:]
	unitName := func(u string) string { return strings.TrimSuffix(u, ".service") }
	switch verb {
	case "is-system-running":
		fmt.Fprintln(e.Stdout, "running")
		return 0
	case "reboot":
		return g.cmdReboot(&shell.Env{Ctx: e.Ctx, Args: []string{"reboot"}, Stdin: e.Stdin, Stdout: e.Stdout, Stderr: e.Stderr, FS: e.FS, Vars: e.Vars, User: e.User, Dir: e.Dir})
	case "poweroff":
		return g.cmdPoweroff(&shell.Env{Ctx: e.Ctx, Args: []string{"poweroff"}, Stdin: e.Stdin, Stdout: e.Stdout, Stderr: e.Stderr, FS: e.FS, Vars: e.Vars, User: e.User, Dir: e.Dir})
	case "is-active", "is-enabled", "status":
		status := 0
		for _, u := range units {
			if nixosUnits[unitName(u)] {
				if verb == "status" {
					fmt.Fprintf(e.Stdout, "● %s.service\n     Loaded: loaded\n     Active: active (running)\n", unitName(u))
				} else if verb == "is-active" {
					fmt.Fprintln(e.Stdout, "active")
				} else {
					fmt.Fprintln(e.Stdout, "enabled")
				}
				continue
			}
			if verb == "status" {
				fmt.Fprintf(e.Stderr, "Unit %s.service could not be found.\n", unitName(u))
				status = 4
			} else {
				fmt.Fprintln(e.Stdout, "inactive")
				status = 3
			}
		}
		return status
	case "start", "stop", "restart", "reload", "enable", "disable", "daemon-reload":
		if e.User != "root" {
			fmt.Fprintf(e.Stderr, "Failed to %s %s: Interactive authentication required.\nSee system logs and 'systemctl status %s' for details.\n", verb, strings.Join(units, " "), strings.Join(units, " "))
			return 1
		}
		for _, u := range units {
			if !nixosUnits[unitName(u)] {
				fmt.Fprintf(e.Stderr, "Failed to %s %s.service: Unit %s.service not found.\n", verb, unitName(u), unitName(u))
				return 5
			}
			if g.hooks.Service != nil {
				g.hooks.Service(unitName(u), verb)
			}
		}
		return 0
	case "list-units":
		names := make([]string, 0, len(nixosUnits))
		for n := range nixosUnits {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(e.Stdout, "%s.service loaded active running %s\n", n, n)
		}
		return 0
	}
	fmt.Fprintf(e.Stderr, "Unknown command verb '%s'.\n", verb)
	return 1
}
