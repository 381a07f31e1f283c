package vm_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tappaas/tappaas/lab/shell"
	"github.com/tappaas/tappaas/lab/vm"
	gossh "golang.org/x/crypto/ssh"
)

// world is a tiny lab: a PVE node (a plain lab shell with a pvesh stub),
// the firewall guest and the tappaas-cicd guest, wired through Hooks.
type world struct {
	t *testing.T

	nodeFS *shell.MemFS
	node   *shell.Interp

	fwFS *shell.MemFS
	fw   *shell.Interp

	cicdFS *shell.MemFS
	cicd   *shell.Interp

	nodeKey gossh.Signer
	nodePEM []byte

	mu        sync.Mutex
	reboots   int
	services  []string
	applied   [][]byte
	sshLog    []string
	fwRunning bool
}

func newKey(t *testing.T) (gossh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := gossh.NewSignerFromKey(priv)
	b, _ := gossh.MarshalPrivateKey(priv, "root@tappaas1")
	return s, pem.EncodeToMemory(b)
}

func authorizedLine(s gossh.Signer) string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey())))
}

func noSleep(ctx context.Context, d time.Duration) error { return ctx.Err() }

func newWorld(t *testing.T, cicdHostname string) *world {
	t.Helper()
	w := &world{t: t, fwRunning: true}
	w.nodeKey, w.nodePEM = newKey(t)

	// The node.
	w.nodeFS = shell.NewMemFS()
	must(t, w.nodeFS.MkdirAll("/root/.ssh", 0o700))
	must(t, w.nodeFS.WriteFile("/root/.ssh/id_ed25519", w.nodePEM, 0o600))
	must(t, w.nodeFS.WriteFile("/root/.ssh/authorized_keys", []byte(authorizedLine(w.nodeKey)+"\n"), 0o600))
	must(t, w.nodeFS.WriteFile("/etc/pve-user.cfg", []byte("user:root@pam:1:0:::admin@example.com::\n"), 0o600))
	w.node = shell.New(w.nodeFS)
	w.node.Host.Hostname = "tappaas1"
	w.node.Register("pvesh", func(e *shell.Env) int {
		if strings.Join(e.Args[1:3], " ") == "get /cluster/resources" {
			fmt.Fprintln(e.Stdout, `[{"id":"node/tappaas1","node":"tappaas1","type":"node","status":"online"}]`)
			return 0
		}
		return e.Errorf(2, "no such path")
	})

	hooks := func(self string) vm.Hooks {
		return vm.Hooks{
			Sleep:  noSleep,
			Reboot: func() { w.mu.Lock(); w.reboots++; w.mu.Unlock() },
			Ping: func(host string) bool {
				return host == "firewall.mgmt.internal" && w.fwRunning || strings.HasPrefix(host, "tappaas1")
			},
			Service: func(name, action string) {
				w.mu.Lock()
				w.services = append(w.services, self+":"+name+":"+action)
				w.mu.Unlock()
			},
			SSH: w.ssh,
		}
	}

	// The firewall.
	w.fwFS = shell.NewMemFS()
	must(t, vm.Seed(vm.OPNsense, w.fwFS, vm.SeedOptions{}))
	fh := hooks("firewall")
	fh.ApplyConfig = func(b []byte) error {
		if !bytes.Contains(b, []byte("<opnsense>")) {
			return errors.New("not an OPNsense config")
		}
		w.mu.Lock()
		w.applied = append(w.applied, b)
		w.mu.Unlock()
		return nil
	}
	var err error
	w.fw, err = vm.NewGuest(vm.OPNsense, w.fwFS, fh)
	must(t, err)

	// tappaas-cicd, as cloud-init leaves it: the node's key authorized.
	w.cicdFS = shell.NewMemFS()
	must(t, vm.Seed(vm.NixOS, w.cicdFS, vm.SeedOptions{Hostname: cicdHostname, User: "tappaas", AuthorizedKeys: []string{authorizedLine(w.nodeKey)}}))
	w.cicd, err = vm.NewGuest(vm.NixOS, w.cicdFS, hooks("cicd"))
	must(t, err)
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ssh is the guests' outgoing SSH: it authenticates the offered keys
// against the target's authorized keys, then runs the command there.
func (w *world) ssh(ctx context.Context, r vm.SSHRequest) int {
	w.mu.Lock()
	w.sshLog = append(w.sshLog, r.User+"@"+r.Host+": "+r.Command)
	w.mu.Unlock()
	var authorized func(string, gossh.PublicKey) bool
	var run func(ctx context.Context, user, cmd string, in io.Reader, out, errw io.Writer) int
	switch r.Host {
	case "tappaas1.mgmt.internal", "10.0.0.10":
		authorized = func(user string, k gossh.PublicKey) bool {
			b, _ := w.nodeFS.ReadFile("/root/.ssh/authorized_keys")
			return user == "root" && strings.Contains(string(b), strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k))))
		}
		run = func(ctx context.Context, user, cmd string, in io.Reader, out, errw io.Writer) int {
			return w.node.Run(ctx, cmd, in, out, errw, map[string]string{"USER": user})
		}
	case "firewall.mgmt.internal", "10.0.0.1":
		authorized, _ = vm.Authorizer(vm.OPNsense, w.fwFS)
		run = vm.Handler(vm.OPNsense, w.fw)
	default:
		fmt.Fprintf(r.Stderr, "ssh: Could not resolve hostname %s: Name or service not known\n", r.Host)
		return 255
	}
	for _, s := range r.Signers {
		if authorized(r.User, s.PublicKey()) {
			stdin := r.Stdin
			if stdin == nil {
				stdin = strings.NewReader("")
			}
			return run(ctx, r.User, r.Command, stdin, r.Stdout, r.Stderr)
		}
	}
	fmt.Fprintf(r.Stderr, "%s@%s: Permission denied (publickey).\n", r.User, r.Host)
	return 255
}

type res struct {
	out, err string
	code     int
}

func (w *world) on(h func(ctx context.Context, user, command string, stdin io.Reader, stdout, stderr io.Writer) int, user, cmd, stdin string) res {
	var out, errb bytes.Buffer
	code := h(context.Background(), user, cmd, strings.NewReader(stdin), &out, &errb)
	return res{out.String(), errb.String(), code}
}

func (w *world) cicdRun(user, cmd string) res {
	return w.on(vm.Handler(vm.NixOS, w.cicd), user, cmd, "")
}

func (w *world) fwRun(cmd, stdin string) res {
	return w.on(vm.Handler(vm.OPNsense, w.fw), "root", cmd, stdin)
}

// deployedConfigXML is a config.xml like config-firewall.sh renders:
// key-only SSH with the node's key, a rotated API key.
func deployedConfigXML(nodePub string) string {
	return `<?xml version="1.0"?>
<opnsense>
  <system>
    <hostname>firewall</hostname>
    <user><name>root</name><password>$6$x$notthepassword</password>
      <authorizedkeys>` + base64.StdEncoding.EncodeToString([]byte(nodePub+"\n")) + `</authorizedkeys>
      <apikeys>newkey|$6$salt$hash</apikeys></user>
    <ssh><enabled>enabled</enabled><permitrootlogin>1</permitrootlogin></ssh>
  </system>
</opnsense>
`
}

// TestCICDInstallFlow drives upstream's firewall push, install1.sh, key
// distribution and reboot, firewall access and install2.sh
// (docs/upstream.md#firewall-takeover, #platform) through the
// guests' shells.
func TestCICDInstallFlow(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "tappaas-cicd")
	keyOK, pwOK := vm.Authorizer(vm.OPNsense, w.fwFS)

	// Step 8: bootstrap SSH with the image's password, push config.xml, reload.
	if !pwOK("root", "opnsense") || pwOK("root", "wrong") || pwOK("admin", "opnsense") {
		t.Fatal("bootstrap password policy wrong")
	}
	if keyOK("root", w.nodeKey.PublicKey()) {
		t.Fatal("node key accepted before the push")
	}
	if r := w.fwRun("cat > /tmp/tappaas-deploy-config.xml", deployedConfigXML(authorizedLine(w.nodeKey))); r.code != 0 {
		t.Fatalf("scp stand-in: %+v", r)
	}
	r := w.fwRun("/bin/sh", "cp /tmp/tappaas-deploy-config.xml /conf/config.xml; rm -f /tmp/config.cache; nohup /usr/local/etc/rc.reload_all >/tmp/tappaas-apply.log 2>&1 &\n")
	if r.code != 0 {
		t.Fatalf("push+reload: %+v", r)
	}
	// rc.reload_all runs in the background (nohup … &), as on the firewall.
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		n := len(w.applied)
		w.mu.Unlock()
		if n == 1 && !pwOK("root", "opnsense") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("config.xml was never applied")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if pwOK("root", "opnsense") || !keyOK("root", w.nodeKey.PublicKey()) {
		t.Fatal("after the reload: password must be refused and the node key accepted")
	}

	// Step 13: install1.sh, as install-platform runs it over SSH.
	r = w.cicdRun("tappaas", `curl -fsSL 'https://raw.githubusercontent.com/TAPPaaS/TAPPaaS/main/src/foundation/tappaas-cicd/install1.sh' -o /tmp/install1.sh && bash /tmp/install1.sh 'https://github.com/TAPPaaS/TAPPaaS.git' 'main'`)
	if r.code != 0 {
		t.Fatalf("install1: %+v", r)
	}
	for _, want := range []string{"Cloning into 'TAPPaaS'", "building the system configuration", "activating the configuration"} {
		if !strings.Contains(r.err, want) {
			t.Errorf("install1 stderr lacks %q: %s", want, r.err)
		}
	}
	if !strings.Contains(r.out, "Please reboot") {
		t.Errorf("install1 stdout: %s", r.out)
	}
	if fi, err := w.cicdFS.Stat("/home/tappaas/.ssh/id_ed25519"); err != nil || fi.Mode.Perm() != 0o600 {
		t.Fatalf("cicd key: %v %v", fi, err)
	}
	if _, err := w.cicdFS.Stat("/etc/nixos/hardware-configuration.nix"); err != nil {
		t.Fatal("hardware-configuration.nix not generated")
	}
	if r := w.cicdRun("tappaas", "hostname; grep -c mgmt.internal /etc/hosts; cat /etc/ssh/sshd_config | grep Password"); r.out != "tappaas-cicd\n10\nPasswordAuthentication no\n" {
		t.Fatalf("after rebuild: %+v", r)
	}
	cicdKeys, _ := vm.Authorizer(vm.NixOS, w.cicdFS)
	if !cicdKeys("tappaas", w.nodeKey.PublicKey()) || cicdKeys("root", w.nodeKey.PublicKey()) {
		t.Fatal("cicd sshd policy after rebuild")
	}
	// install1 is idempotent: a second run reuses the clone and the key.
	r = w.cicdRun("tappaas", "bash /tmp/install1.sh 'https://github.com/TAPPaaS/TAPPaaS.git' 'main'")
	if r.code != 0 || !strings.Contains(r.out, "Reusing the existing clone") || strings.Contains(r.out, "Generating public/private") {
		t.Fatalf("install1 rerun: %+v", r)
	}

	// Step 14: distribute the cicd key to the node, reboot.
	pub, _ := w.cicdFS.ReadFile("/home/tappaas/.ssh/id_ed25519.pub")
	must(t, w.nodeFS.AppendFile("/root/.ssh/authorized_keys", pub, 0o600))
	if r := w.cicdRun("tappaas", "sudo reboot"); r.code != 0 || w.reboots != 1 {
		t.Fatalf("reboot: %+v reboots=%d", r, w.reboots)
	}
	must(t, vm.Boot(vm.NixOS, w.cicdFS))

	// Step 15: firewall access for cicd with a copy of the node key.
	must(t, w.cicdFS.WriteFile("/home/tappaas/.ssh/tappaas-fw", w.nodePEM, 0o600))
	must(t, w.cicdFS.WriteFile("/home/tappaas/.ssh/config", []byte("Host firewall.mgmt.internal firewall.internal 10.0.0.1\n  User root\n  IdentityFile /home/tappaas/.ssh/tappaas-fw\n  StrictHostKeyChecking accept-new\n"), 0o600))
	// Written as root here: given to tappaas, as the installer must.
	for _, f := range []string{"tappaas-fw", "config"} {
		must(t, w.cicdFS.Chown("/home/tappaas/.ssh/"+f, 1000, 100))
	}

	// Step 16: install2.sh.
	r = w.cicdRun("tappaas", "cd TAPPaaS/src/foundation/tappaas-cicd && ./install2.sh --branch 'main' --domain 'example.com'")
	if r.code != 0 {
		t.Fatalf("install2: %+v\nssh log: %v", r, w.sshLog)
	}
	b, err := w.cicdFS.ReadFile("/home/tappaas/config/configuration.json")
	must(t, err)
	var cfg struct {
		Tappaas struct {
			Version, Domain string
			NodeCount       int
			Repositories    []struct{ Branch string }
		}
		Nodes []struct{ Hostname, IP string } `json:"tappaas-nodes"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("configuration.json is not JSON: %v\n%s", err, b)
	}
	if cfg.Tappaas.Domain != "example.com" || cfg.Tappaas.NodeCount != 1 || cfg.Tappaas.Version != vm.RepoTag ||
		len(cfg.Nodes) != 1 || cfg.Nodes[0].Hostname != "tappaas1" || cfg.Nodes[0].IP != "10.0.0.10" || cfg.Tappaas.Repositories[0].Branch != "main" {
		t.Fatalf("configuration.json: %+v", cfg)
	}
	for _, f := range []string{"/home/tappaas/config/.tappaas-cicd-installed", "/home/tappaas/config/zones.json", "/home/tappaas/config/zones.json.orig",
		"/home/tappaas/config/firewall.json", "/home/tappaas/bin/create-configuration.sh"} {
		if _, err := w.cicdFS.Stat(f); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	if got, _ := w.nodeFS.ReadFile("/root/tappaas/tappaas-cicd.pub"); !bytes.Equal(got, pub) {
		t.Errorf("node /root/tappaas/tappaas-cicd.pub = %q", got)
	}
	if fi, err := w.nodeFS.Stat("/root/tappaas/tappaas-cicd.key"); err != nil || fi.Mode.Perm() != 0o600 {
		t.Errorf("node cicd key copy: %v %v", fi, err)
	}
	if r := w.fwRun("pkg info -e os-qemu-guest-agent && sysrc -n qemu_guest_agent_enable", ""); r.out != "YES\n" {
		t.Errorf("firewall guest agent: %+v", r)
	}
	if strings.Join(w.services, ",") != "firewall:qemu-guest-agent:start" {
		t.Errorf("services: %v", w.services)
	}
	// The binaries linked into ~/bin are on a login PATH.
	if r := w.cicdRun("tappaas", "command -v create-configuration.sh"); r.out != "/home/tappaas/bin/create-configuration.sh\n" {
		t.Errorf("PATH lookup: %+v", r)
	}
}

func TestInstall2RefusesBeforeInstall1(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "nixos")
	must(t, w.cicdFS.MkdirAll("/tmp/x", 0o755))
	r := w.cicdRun("tappaas", "git clone https://github.com/TAPPaaS/TAPPaaS.git && cd TAPPaaS/src/foundation/tappaas-cicd && ./install2.sh --branch main --domain example.com")
	if r.code != 1 || !strings.Contains(r.err, "must run on tappaas-cicd (this is nixos)") {
		t.Fatalf("%+v", r)
	}
}

func TestNixOSFailureModes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, user, script string
		code               int
		errSub             string
	}{
		{"rebuild before clone", "tappaas", "sudo nixos-rebuild switch --flake .#tappaas-cicd --impure", 1, "error: path '/home/tappaas/flake.nix' does not exist"},
		{"rebuild without hardware config", "tappaas", "git clone -q https://github.com/TAPPaaS/TAPPaaS.git && cd TAPPaaS/src/foundation/tappaas-cicd && sudo nixos-rebuild switch --flake .#tappaas-cicd --impure", 1, "error: path '/etc/nixos/hardware-configuration.nix' does not exist"},
		{"rebuild pure", "root", "nixos-generate-config && cd /root && git clone https://github.com/TAPPaaS/TAPPaaS.git && cd TAPPaaS/src/foundation/tappaas-cicd && nixos-rebuild switch --flake .#tappaas-cicd", 1, "forbidden in pure evaluation mode"},
		{"rebuild unknown attribute", "root", "cd /root && git clone https://github.com/TAPPaaS/TAPPaaS.git 2>/dev/null && cd TAPPaaS/src/foundation/tappaas-cicd && nixos-rebuild switch --flake .#nope --impure", 1, "does not provide attribute"},
		{"rebuild as user", "tappaas", "sudo nixos-generate-config && git clone https://github.com/TAPPaaS/TAPPaaS.git 2>/dev/null && cd TAPPaaS/src/foundation/tappaas-cicd && nixos-rebuild switch --flake .#tappaas-cicd --impure", 1, "system.lock': Permission denied"},
		{"tee to /etc without sudo", "tappaas", "nixos-generate-config --show-hardware-config | tee /etc/nixos/hardware-configuration.nix >/dev/null", 1, "tee: /etc/nixos/hardware-configuration.nix: Permission denied"},
		{"redirect to /etc without sudo", "tappaas", "echo x > /etc/motd", 1, "/etc/motd: Permission denied"},
		{"read /root", "tappaas", "ls /root", 2, "Permission denied"},
		{"clone unknown repo", "tappaas", "git clone https://github.com/someone/else.git", 128, "fatal: repository 'https://github.com/someone/else.git/' not found"},
		{"clone twice", "tappaas", "git clone https://github.com/TAPPaaS/TAPPaaS.git 2>/dev/null; git clone https://github.com/TAPPaaS/TAPPaaS.git", 128, "destination path 'TAPPaaS' already exists"},
		{"checkout unknown branch", "tappaas", "git clone https://github.com/TAPPaaS/TAPPaaS.git 2>/dev/null; cd TAPPaaS && git checkout -f nope", 1, "pathspec 'nope' did not match"},
		{"git outside repo", "tappaas", "git pull --ff-only", 128, "not a git repository"},
		{"reboot without sudo", "tappaas", "reboot", 1, "Interactive authentication required"},
		{"systemctl restart without sudo", "tappaas", "systemctl restart sshd", 1, "Interactive authentication required"},
		{"unknown unit", "root", "systemctl restart nope", 5, "Unit nope.service not found"},
		{"curl 404", "tappaas", "curl -fsSL https://raw.githubusercontent.com/TAPPaaS/TAPPaaS/main/nope.sh -o /tmp/x", 22, ""},
		{"curl unknown host", "tappaas", "curl -fsSL https://example.invalid/x", 6, "curl: (6) Could not resolve host: example.invalid"},
		{"keygen refuses overwrite", "tappaas", "ssh-keygen -q -t ed25519 -f ~/.ssh/k -N '' && ssh-keygen -q -t ed25519 -f ~/.ssh/k -N '' < /dev/null", 1, ""},
		{"ssh unreachable", "tappaas", "ssh root@nowhere.example true", 255, "Could not resolve hostname nowhere.example"},
		{"ssh refused key", "tappaas", "ssh root@tappaas1.mgmt.internal true", 255, "Permission denied (publickey)"},
		{"unknown command", "tappaas", "apt-get install jq", 127, "bash: line 1: apt-get: command not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t, "tappaas-cicd")
			r := w.cicdRun(c.user, c.script)
			if r.code != c.code || !strings.Contains(r.err, c.errSub) {
				t.Fatalf("got %+v\nwant code %d, stderr containing %q", r, c.code, c.errSub)
			}
			if c.name == "reboot without sudo" && w.reboots != 0 {
				t.Fatal("reboot hook called for an unprivileged user")
			}
		})
	}
}

func TestSudoNeedsWheel(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "tappaas-cicd")
	must(t, w.cicdFS.WriteFile("/etc/passwd", []byte("root:x:0:0::/root:/bin/bash\ntappaas:x:1000:100::/home/tappaas:/bin/bash\nbob:x:1001:100::/home/bob:/bin/bash\n"), 0o644))
	if r := w.cicdRun("bob", "sudo id -u"); r.code != 1 || !strings.Contains(r.err, "bob is not in the sudoers file") {
		t.Fatalf("%+v", r)
	}
	if r := w.cicdRun("tappaas", "sudo id -u"); r.code != 0 || r.out != "0\n" {
		t.Fatalf("%+v", r)
	}
}

func TestNixosRebuildBootAppliesOnReboot(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "nixos")
	r := w.cicdRun("root", "nixos-generate-config && cd /root && git clone https://github.com/TAPPaaS/TAPPaaS.git 2>/dev/null && cd TAPPaaS/src/foundation/tappaas-cicd && nixos-rebuild boot --flake .#tappaas-cicd --impure && hostname")
	if r.code != 0 || r.out != "nixos\n" {
		t.Fatalf("boot action must not activate: %+v", r)
	}
	must(t, vm.Boot(vm.NixOS, w.cicdFS))
	if r := w.cicdRun("root", "hostname"); r.out != "tappaas-cicd\n" {
		t.Fatalf("after boot: %+v", r)
	}
}

func TestOPNsenseShell(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "tappaas-cicd")
	cases := []struct {
		name, cmd, stdin string
		code             int
		out, errSub      string
	}{
		{"csh rejects newline in quotes", "exec /bin/sh -c 'id -u\necho x'", "", 1, "", "Unmatched '''."},
		{"csh accepts quoted sh syntax", "/bin/sh -c 'x=$(hostname); echo \"$x\" 2>&1'", "", 0, "firewall\n", ""},
		{"csh rejects $()", "echo $(hostname)", "", 1, "", "Illegal variable name."},
		{"csh rejects assignment prefix", "FOO=1 env", "", 1, "", "FOO=1: Command not found."},
		{"/bin/sh script on stdin", "/bin/sh", "x=$(hostname); echo \"$x\" 2>&1\n", 0, "firewall\n", ""},
		{"plain command", "opnsense-version", "", 0, "OPNsense 26.1.2 (amd64)\n", ""},
		{"pkg info missing", "pkg info os-caddy", "", 70, "", "pkg: No package(s) matching os-caddy"},
		{"pkg install unknown", "pkg install -y os-nope", "", 1, "", ""},
		{"service not installed", "service qemu-guest-agent start", "", 1, "", "does not exist"},
		{"service not enabled", "/bin/sh", "pkg install -y os-qemu-guest-agent >/dev/null; service qemu-guest-agent start\n", 1, "", "Set qemu_guest_agent_enable to YES"},
		{"pfctl missing file", "pfctl -nf /tmp/rules.debug", "", 1, "", "pfctl: /tmp/rules.debug: No such file or directory"},
		{"configctl", "configctl filter reload", "", 0, "OK\n", ""},
		{"installer push shape", "/bin/sh -c 'cp /conf/config.xml /tmp/c.xml && rm -f /tmp/config.cache /tmp/none && (nohup /usr/local/etc/rc.reload_all >/tmp/tappaas-apply.log 2>&1 &)'", "", 0, "", ""},
		{"reload bad config", "/bin/sh", "echo '<notopnsense/>' > /conf/config.xml; /usr/local/etc/rc.reload_all\n", 1, "", "Configuration reload failed"},
	}
	for _, c := range cases {
		r := w.fwRun(c.cmd, c.stdin)
		if r.code != c.code || (c.out != "" && r.out != c.out) || !strings.Contains(r.err, c.errSub) {
			t.Errorf("%s: got %+v want code %d out %q err~%q", c.name, r, c.code, c.out, c.errSub)
		}
	}
	// A failed reload leaves the applied configuration (and so SSH) alone.
	_, pwOK := vm.Authorizer(vm.OPNsense, w.fwFS)
	if !pwOK("root", "opnsense") {
		t.Fatal("a failed reload changed the SSH policy")
	}
	if r := w.fwRun("reboot", ""); r.code != 0 || w.reboots != 1 {
		t.Fatalf("firewall reboot: %+v %d", r, w.reboots)
	}
}

func TestJq(t *testing.T) {
	t.Parallel()
	in := shell.New(shell.NewMemFS())
	w := newWorld(t, "x")
	_ = in
	cases := []struct{ filter, input, out string }{
		{`-r '.[].node'`, `[{"node":"a"},{"node":"b"}]`, "a\nb\n"},
		{`-c '.a'`, `{"a":{"b":[1,2]}}`, `{"b":[1,2]}` + "\n"},
		{`'.a.b[1]'`, `{"a":{"b":[1,2]}}`, "2\n"},
		{`-r '.[] | select(.type == "node") | .id'`, `[{"type":"node","id":"n1"},{"type":"qemu","id":"q"}]`, "n1\n"},
		{`'.missing // "dflt"'`, `{}`, "\"dflt\"\n"},
		{`'length'`, `[1,2,3]`, "3\n"},
		{`-c 'keys'`, `{"b":1,"a":2}`, `["a","b"]` + "\n"},
		// Beyond paths: what upstream's scripts also use.
		{`-c 'map(.x)'`, `[{"x":1},{"x":2}]`, "[1,2]\n"},
		{`-r '"\(.a)-\(.b)"'`, `{"a":"x","b":2}`, "x-2\n"},
		{`-r --arg n b '.[] | select(.node == $n) | .id'`, `[{"node":"a","id":1},{"node":"b","id":2}]`, "2\n"},
	}
	for _, c := range cases {
		r := w.cicdRun("tappaas", "printf '%s' '"+c.input+"' | jq "+c.filter)
		if r.code != 0 || r.out != c.out {
			t.Errorf("jq %s on %s: %+v want %q", c.filter, c.input, r, c.out)
		}
	}
	if r := w.cicdRun("tappaas", "echo '{}' | jq -e .missing"); r.code != 1 || r.out != "null\n" {
		t.Errorf("-e on null: %+v", r)
	}
	if r := w.cicdRun("tappaas", "echo '[]' | jq -e '.[]'"); r.code != 4 {
		t.Errorf("-e with no output: %+v", r)
	}
	if r := w.cicdRun("tappaas", "echo '{}' | jq '.['"); r.code != 3 || !strings.Contains(r.err, "compile error") {
		t.Errorf("syntax error: %+v", r)
	}
	if r := w.cicdRun("tappaas", "echo '{}' | jq --bogus ."); r.code != 2 || !strings.Contains(r.err, "Unknown option") {
		t.Errorf("unknown option: %+v", r)
	}
	// jq 1.7 exits 2 on input it cannot parse (jq 1.6, Debian 12's, said 4; the
	// guests ship 1.7.1), so this case is not in the differential table.
	if r := w.cicdRun("tappaas", "echo 'not json' | jq ."); r.code != 2 {
		t.Errorf("bad input: %+v", r)
	}
}

func TestNewGuestUnknownKind(t *testing.T) {
	t.Parallel()
	if _, err := vm.NewGuest("windows", shell.NewMemFS(), vm.Hooks{}); !errors.Is(err, vm.ErrUnknownKind) {
		t.Fatalf("%v", err)
	}
	if err := vm.Seed("windows", shell.NewMemFS(), vm.SeedOptions{}); !errors.Is(err, vm.ErrUnknownKind) {
		t.Fatalf("%v", err)
	}
}

func TestSeedSurvivesSnapshot(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "tappaas-cicd")
	w.cicdRun("tappaas", "git clone https://github.com/TAPPaaS/TAPPaaS.git 2>/dev/null")
	snap, err := w.cicdFS.Snapshot()
	must(t, err)
	var restored shell.MemFS
	must(t, restored.Restore(snap))
	g, err := vm.NewGuest(vm.NixOS, &restored, vm.Hooks{Sleep: noSleep})
	must(t, err)
	var out bytes.Buffer
	code := vm.Handler(vm.NixOS, g)(context.Background(), "tappaas", "cd TAPPaaS && git rev-parse --abbrev-ref HEAD && hostname", nil, &out, io.Discard)
	if code != 0 || out.String() != "main\ntappaas-cicd\n" {
		t.Fatalf("%d %q", code, out.String())
	}
}

// FuzzJq: the lab jq never panics on any filter or input.
func FuzzJq(f *testing.F) {
	for _, s := range []string{`.[].node`, `.a.b[1]`, `.[] | select(.type == "node") | .id`, `.x // "d"`, `keys`, `length`, `.["k"]`, `.[`} {
		f.Add(s, `[{"node":"a","type":"node","a":{"b":[1,2]}}]`)
	}
	in, err := vm.NewGuest(vm.NixOS, shell.NewMemFS(), vm.Hooks{Sleep: noSleep})
	if err != nil {
		f.Fatal(err)
	}
	jq, _ := in.Lookup("jq")
	f.Fuzz(func(t *testing.T, filter, input string) {
		// A filter may run forever (repeat, recursion), as in real jq; the
		// command's context bounds it, as the lab's shell does.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		e := &shell.Env{Ctx: ctx, Args: []string{"jq", "-c", filter}, Stdin: strings.NewReader(input),
			Stdout: io.Discard, Stderr: io.Discard, FS: shell.NewMemFS(), Vars: map[string]string{}, User: "root", Dir: "/"}
		if code := jq(e); code < 0 || code > 255 {
			t.Fatalf("status %d", code)
		}
	})
}

func TestGuestNetworkView(t *testing.T) {
	t.Parallel()
	fsys := shell.NewMemFS()
	must(t, vm.Seed(vm.NixOS, fsys, vm.SeedOptions{Hostname: "tappaas-cicd"}))
	ip := "10.0.0.100"
	in, err := vm.NewGuest(vm.NixOS, fsys, vm.Hooks{Sleep: noSleep, IPs: func() []string { return []string{ip} }})
	must(t, err)
	var out bytes.Buffer
	code := vm.Handler(vm.NixOS, in)(context.Background(), "tappaas", "hostname -I; ip -4 -o addr show | grep eth0 | cut -d' ' -f7; cloud-init status --wait; systemctl is-system-running", nil, &out, io.Discard)
	if code != 0 || out.String() != "10.0.0.100 \n10.0.0.100/24\nstatus: done\nrunning\n" {
		t.Fatalf("%d %q", code, out.String())
	}
}

// TestProductInstall1Commands runs the command lines steps/platform
// (Install1.Apply) sends to tappaas-cicd, in order, including the
// executor's atomic WriteFile shape (as the connecting user, no sudo) for
// the key it installs first.
func TestProductInstall1Commands(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "tappaas-cicd")
	h := vm.Handler(vm.NixOS, w.cicd)
	key := w.nodePEM // any private key will do
	write := func(p string, data []byte, mode string) {
		t.Helper()
		tmp := p + ".tmp-lab"
		inner := "mkdir -p '" + p[:strings.LastIndexByte(p, '/')] + "' && umask 077 && cat > '" + tmp + "' && chmod " + mode + " '" + tmp + "' && { sync '" + tmp + "' 2>/dev/null || :; } && mv -f '" + tmp + "' '" + p + "' || { rm -f '" + tmp + "'; exit 1; }"
		r := w.on(h, "tappaas", "/bin/sh -c '"+strings.ReplaceAll(inner, "'", `'\''`)+"'", string(data))
		if r.code != 0 {
			t.Fatalf("write %s: %+v", p, r)
		}
		if fi, err := w.cicdFS.Stat(p); err != nil || fi.UID != 1000 || fi.GID != 100 {
			t.Fatalf("%s is not tappaas:users: %+v %v", p, fi, err)
		}
	}
	write("/home/tappaas/.ssh/id_ed25519", key, "0600")
	write("/home/tappaas/.ssh/id_ed25519.pub", []byte(authorizedLine(w.nodeKey)+" tappaas-cicd\n"), "0644")
	for _, c := range []string{
		"cd /home/tappaas && { test -d TAPPaaS/.git || git clone 'https://github.com/TAPPaaS/TAPPaaS.git' TAPPaaS; }",
		"cd /home/tappaas/TAPPaaS && git fetch --quiet origin && git checkout -f 'main' && { git pull --ff-only --quiet || true; }",
		"test -f /etc/nixos/hardware-configuration.nix || sudo -n nixos-generate-config --show-hardware-config | sudo -n tee /etc/nixos/hardware-configuration.nix >/dev/null",
		"cd /home/tappaas/TAPPaaS/src/foundation/tappaas-cicd && sudo -n nixos-rebuild switch --flake .#tappaas-cicd --impure",
		"test -f /home/tappaas/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -f /home/tappaas/.ssh/id_ed25519 -N '' -C tappaas-cicd",
	} {
		if r := w.cicdRun("tappaas", c); r.code != 0 {
			t.Fatalf("%s: %+v", c, r)
		}
	}
	got, _ := w.cicdFS.ReadFile("/home/tappaas/.ssh/id_ed25519")
	if !bytes.Equal(got, key) {
		t.Fatal("ssh-keygen replaced the installed key")
	}
	if r := w.cicdRun("tappaas", "hostname && test -f /run/current-system/lab-settings && echo rebuilt"); r.out != "tappaas-cicd\nrebuilt\n" {
		t.Fatalf("%+v", r)
	}
	// Running the list again changes nothing and succeeds (idempotence).
	if r := w.cicdRun("tappaas", "cd /home/tappaas && { test -d TAPPaaS/.git || git clone 'https://github.com/TAPPaaS/TAPPaaS.git' TAPPaaS; }"); r.code != 0 || r.err != "" {
		t.Fatalf("second clone step: %+v", r)
	}
}

// cshCases are command lines with what tcsh 6.24 (FreeBSD's /bin/csh)
// says about them ("" = accepted); TestCshAgainstRealTcsh checks this
// table against a real tcsh when one is installed.
var cshCases = []struct {
	line    string
	strict  string // message in CshStrict mode
	lenient string // message in CshLenient mode
}{
	{"echo a; { echo b; }", "{: Command not found.", ""},
	{"export X=1; echo ok", "export: Command not found.", ""},
	{"echo $NOPE_LAB_VAR", "NOPE_LAB_VAR: Undefined variable.", ""},
	{"echo 'a!b'", "b: Event not found.", ""},
	{"echo $(hostname)", "Illegal variable name.", "Illegal variable name."},
	{"FOO=1 env", "FOO=1: Command not found.", "FOO=1: Command not found."},
	{"if [ -f /etc/passwd ]; then echo y; fi", "if: Expression Syntax.", "if: Expression Syntax."},
	{"echo 'x\ny'", "Unmatched '''.", "Unmatched '''."},
	{"echo \"x\ny\"", `Unmatched '"'.`, `Unmatched '"'.`},
	{"/bin/sh -c 'x=$(hostname); { echo $x; }'", "", ""},
	{"echo $HOME; true && echo ok", "", ""},
	{`printf '%s\n' abc | cat; : ; echo c`, "", ""},
	{"cat /etc/hostname > /dev/null && echo ok", "", ""},
	// The product's atomic WriteFile (backends/ssh) as a plain command:
	// tcsh runs mkdir/umask/cat, then fails on the { … } group.
	{"mkdir -p '/tmp' && umask 077 && cat > '/tmp/.x.tmp' && chmod 0600 '/tmp/.x.tmp' && { sync '/tmp/.x.tmp' 2>/dev/null || :; } && mv -f '/tmp/.x.tmp' '/tmp/x' || { rm -f '/tmp/.x.tmp'; exit 1; }", "{: Command not found.", ""},
}

func TestCshModes(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"HOME": "/root", "USER": "root"}
	for _, c := range cshCases {
		if got := vm.CshCheckForTest(c.line, vm.CshStrict, vars); got != c.strict {
			t.Errorf("strict %q: got %q want %q", c.line, got, c.strict)
		}
		if got := vm.CshCheckForTest(c.line, vm.CshLenient, vars); got != c.lenient {
			t.Errorf("lenient %q: got %q want %q", c.line, got, c.lenient)
		}
	}
	// Through the handler: strict mode refuses the WriteFile shape.
	w := newWorld(t, "tappaas-cicd")
	h := vm.HandlerWith(vm.OPNsense, w.fw, vm.HandlerOptions{Csh: vm.CshStrict})
	writeFile := cshCases[len(cshCases)-1].line
	r := w.on(h, "root", writeFile, "data")
	if r.code != 1 || r.err != "{: Command not found.\n" {
		t.Fatalf("%+v", r)
	}
	// The fix: the same script under /bin/sh -c (one line) is accepted.
	r = w.on(h, "root", "/bin/sh -c "+shellQuoteT(writeFile), "data")
	if r.code != 0 {
		t.Fatalf("wrapped: %+v", r)
	}
	if b, _ := w.fwFS.ReadFile("/tmp/x"); string(b) != "data" {
		t.Fatalf("wrapped write: %q", b)
	}
}

func shellQuoteT(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestCshAgainstRealTcsh keeps cshCases honest: each strict-mode verdict
// must match what a real tcsh prints (skipped without tcsh).
func TestCshAgainstRealTcsh(t *testing.T) {
	t.Parallel()
	tcsh, err := exec.LookPath("tcsh")
	if err != nil {
		t.Skip("tcsh not installed")
	}
	for _, c := range cshCases {
		if strings.Contains(c.line, "/tmp/x") {
			continue // writes files; checked through the lab only
		}
		cmd := exec.Command(tcsh, "-f", "-c", c.line)
		cmd.Env = []string{"HOME=/root", "USER=root", "PATH=/usr/bin:/bin"}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		cmd.Stdout = io.Discard
		_ = cmd.Run()
		got := errb.String()
		if c.strict == "" {
			for _, bad := range []string{"Command not found", "Undefined variable", "Event not found", "Unmatched", "Illegal variable", "Expression Syntax"} {
				if strings.Contains(got, bad) {
					t.Errorf("tcsh refuses %q (%q) but the lab accepts it", c.line, got)
				}
			}
			continue
		}
		if !strings.Contains(got, c.strict) {
			t.Errorf("tcsh on %q says %q, the lab says %q", c.line, got, c.strict)
		}
	}
}

// What a sudo'd write left in tappaas's home (root:root 0600) stops the
// upstream steps that run as tappaas, as on a real NixOS host: reading the
// key (install2's scp), configuration.json (pre-update's jq) and chmod of
// the credentials (pre-update.sh:199 under set -e).
func TestRootOwnedFilesStopUpstreamSteps(t *testing.T) {
	t.Parallel()
	fsys := shell.NewMemFS()
	must(t, vm.Seed(vm.NixOS, fsys, vm.SeedOptions{Hostname: "tappaas-cicd"}))
	in, err := vm.NewGuest(vm.NixOS, fsys, vm.Hooks{Sleep: noSleep})
	must(t, err)
	h := vm.Handler(vm.NixOS, in)
	must(t, fsys.MkdirAll("/home/tappaas/config", 0o755))
	must(t, fsys.Chown("/home/tappaas/config", 1000, 100))
	for _, f := range []string{".ssh/id_ed25519", ".opnsense-credentials.txt", "config/configuration.json"} {
		must(t, fsys.WriteFile("/home/tappaas/"+f, []byte(`{"tappaas":{}}`), 0o600))
	}
	for _, c := range []struct{ cmd, want string }{
		{"cat ~/.ssh/id_ed25519", "cat: /home/tappaas/.ssh/id_ed25519: Permission denied"},
		{"jq -e .tappaas ~/config/configuration.json", "Permission denied"},
		{"set -e; chmod 600 ~/.opnsense-credentials.txt; echo unreachable", "chmod: changing permissions of '/home/tappaas/.opnsense-credentials.txt': Operation not permitted"},
	} {
		var out, errb bytes.Buffer
		code := h(context.Background(), "tappaas", c.cmd, strings.NewReader(""), &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), c.want) || out.Len() > 0 {
			t.Errorf("%s: %d %q %q", c.cmd, code, out.String(), errb.String())
		}
	}
	// Given back to tappaas, the same steps work.
	for _, f := range []string{".ssh/id_ed25519", ".opnsense-credentials.txt", "config/configuration.json"} {
		must(t, fsys.Chown("/home/tappaas/"+f, 1000, 100))
	}
	var out bytes.Buffer
	if code := h(context.Background(), "tappaas", "cat ~/.ssh/id_ed25519 >/dev/null && jq -e .tappaas ~/config/configuration.json >/dev/null && chmod 600 ~/.opnsense-credentials.txt && echo ok", strings.NewReader(""), &out, io.Discard); code != 0 || out.String() != "ok\n" {
		t.Fatalf("owned by tappaas: %d %q", code, out.String())
	}
}
