package lab

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/internal/syncbuf"
	"github.com/tappaas/tappaas/lab/opnsense"
)

func bootFirewall(t *testing.T, l *Lab) {
	t.Helper()
	img := l.Info().Images[0]
	sh(t, l, 0, "curl -fsSL -o /root/fw.qcow2.zst "+img.URL+" && zstd -d -q -f /root/fw.qcow2.zst && qm create 110 --name firewall --bios ovmf --serial0 socket --scsihw virtio-scsi-single --scsi0 tanka1:0,import-from=/root/fw.qcow2 --net0 virtio,bridge=lan --net1 virtio,bridge=wan && qm start 110")
}

func TestPersistAndResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l1, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	info1 := l1.Info()
	bootstrapNode(t, l1)
	bootFirewall(t, l1)
	sh(t, l1, 0, "echo kept > /root/tappaas/marker")
	fwFP := l1.Info().FirewallFingerprint
	if fwFP == "" {
		t.Fatal("no firewall fingerprint after boot")
	}
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}

	l2, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	info2 := l2.Info()
	if info2.PVEFingerprint != info1.PVEFingerprint || info2.RootPassword != info1.RootPassword || info2.SSHHostKey != info1.SSHHostKey {
		t.Fatal("identity changed across a resume")
	}
	// A real firewall keeps its certificate: a pinned fingerprint stays valid.
	if got := l2.Info().FirewallFingerprint; got != fwFP {
		t.Fatalf("firewall certificate changed across a resume: %s → %s", fwFP, got)
	}
	if out := sh(t, l2, 0, "cat /root/tappaas/marker"); out != "kept\n" {
		t.Fatalf("file lost: %q", out)
	}
	sh(t, l2, 0, "pvecm status >/dev/null && zpool list -H -o name | grep -q tanka1")
	if out := sh(t, l2, 0, "qm status 110"); out != "status: running\n" {
		t.Fatalf("VM state lost: %q", out)
	}
	if c, err := l2.Dial(context.Background(), "tcp", "10.0.0.10:8006"); err != nil {
		t.Fatalf("network lost: %v", err)
	} else {
		c.Close()
	}
	if c, err := l2.Dial(context.Background(), "tcp", "10.0.0.1:443"); err != nil {
		t.Fatalf("firewall not back: %v", err)
	} else {
		c.Close()
	}

	if err := l2.Close(); err != nil { // one lab per directory at a time
		t.Fatal(err)
	}
	// Reset starts afresh
	l3 := startLab(t, Options{Dir: t.TempDir()})
	_ = l3
	l4, err := Start(context.Background(), Options{Dir: dir, Reset: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l4.Close()
	sh(t, l4, 2, "pvecm status")
	if l4.Info().PVEFingerprint == info1.PVEFingerprint {
		t.Fatal("reset kept the old certificate")
	}
}

func TestCorruptStateRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := writeFile(dir+"/"+modelFile, "{not json"); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(context.Background(), Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "Reset") {
		t.Fatalf("corrupt state: %v", err)
	}
	l := startLab(t, Options{Dir: dir, Reset: true})
	sh(t, l, 0, "pveversion")
}

func TestFaultAPIFailsNTimes(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{Faults: []Fault{{Face: "api", Match: "GET /version", Times: 2, Status: 503, Message: "service unavailable"}}})
	r := tokenRaw(t, l)
	for i := 0; i < 2; i++ {
		if rep := r.do("GET", "/version", nil, false); rep.Code != 503 || rep.Status != "503 service unavailable" {
			t.Fatalf("call %d: %s", i, rep.Status)
		}
	}
	if rep := r.do("GET", "/version", nil, false); rep.Code != 200 {
		t.Fatalf("third call: %s", rep.Status)
	}
}

func TestFaultSlowAndCommandFailure(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{Faults: []Fault{
		{Face: "api", Match: "GET /nodes", Delay: 120 * time.Millisecond, Times: -1},
		{Face: "ssh", Match: "qm start", Exit: 2, Message: "lab: qm start failed"},
	}})
	r := tokenRaw(t, l)
	t0 := time.Now()
	r.do("GET", "/nodes", nil, false)
	if d := time.Since(t0); d < 120*time.Millisecond {
		t.Fatalf("slow call took %v", d)
	}
	if out := sh(t, l, 2, "qm start 110"); !strings.Contains(out, "lab: qm start failed") {
		t.Fatalf("failed command: %s", out)
	}
	// fired once: now the real command runs (and fails because 110 does not exist)
	sh(t, l, 255, "qm start 110")
}

func nodeSSH(t *testing.T, l *Lab) *ssh.Client { return nodeSSHB(t, l) }

func nodeSSHB(t testing.TB, l *Lab) *ssh.Client {
	t.Helper()
	info := l.Info()
	signer, err := ssh.ParsePrivateKey(info.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	hk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(info.SSHHostKey))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := l.Dial(context.Background(), "tcp", info.NodeAddr+":22")
	if err != nil {
		t.Fatal(err)
	}
	c, chans, reqs, err := ssh.NewClientConn(nc, info.NodeAddr+":22", &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.FixedHostKey(hk), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return ssh.NewClient(c, chans, reqs)
}

func run(c *ssh.Client, cmd string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	b, err := s.CombinedOutput(cmd)
	return string(b), err
}

func TestFaultDropSSHAtK(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{Faults: []Fault{{Face: "ssh", DropAt: 3}}})
	c := nodeSSH(t, l)
	for i := 1; i <= 2; i++ {
		if out, err := run(c, "hostname"); err != nil || out != "tappaas1\n" {
			t.Fatalf("command %d: %q %v", i, out, err)
		}
	}
	if _, err := run(c, "touch /root/third"); err == nil {
		t.Fatal("third command survived the drop")
	}
	c.Close()
	if _, err := l.node.FS().Stat("/root/third"); err == nil {
		t.Fatal("dropped-before command ran")
	}
	c2 := nodeSSH(t, l)
	defer c2.Close()
	if out, err := run(c2, "echo back"); err != nil || out != "back\n" {
		t.Fatalf("after reconnect: %q %v", out, err)
	}
	// password auth with the root password works too; a wrong one does not
	nc, _ := l.Dial(context.Background(), "tcp", "192.168.1.10:22")
	hk, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(l.Info().SSHHostKey))
	if _, _, _, err := ssh.NewClientConn(nc, "x", &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.Password("wrong")}, HostKeyCallback: ssh.FixedHostKey(hk)}); err == nil {
		t.Fatal("wrong password accepted")
	}
}

func TestAccessLogMasksSecretsAndCounters(t *testing.T) {
	t.Parallel()
	var buf syncbuf.Buffer
	l := startLab(t, Options{AccessLog: &buf})
	r := tokenRaw(t, l)
	before := l.Counters()
	r.do("GET", "/nodes", nil, false)
	r.do("GET", "/cluster/status", nil, false)
	if c := l.Counters(); c.APIMutations != before.APIMutations {
		t.Fatalf("GETs counted as mutations: %+v → %+v", before, c)
	}
	r.do("POST", "/access/users", map[string]any{"userid": "u@pve", "password": "TopSecret1"}, false)
	if c := l.Counters(); c.APIMutations != before.APIMutations+1 {
		t.Fatalf("POST not counted: %+v", c)
	}
	cl := nodeSSH(t, l)
	defer cl.Close()
	if _, err := run(cl, "pveum user add v@pve --password TopSecret2"); err != nil {
		t.Fatal(err)
	}
	if l.Counters().SSHCommands != 1 {
		t.Fatalf("ssh mutations %d", l.Counters().SSHCommands)
	}
	time.Sleep(20 * time.Millisecond)
	log := buf.String()
	if strings.Contains(log, "TopSecret") || strings.Contains(log, l.Info().RootPassword) {
		t.Fatalf("secret in access log:\n%s", log)
	}
	sc := bufio.NewScanner(strings.NewReader(log))
	faces := map[string]int{}
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		faces[e["face"].(string)]++
		if e["time"] == nil {
			t.Fatalf("no time: %s", sc.Text())
		}
	}
	if faces["api"] < 4 || faces["ssh"] != 1 || !strings.Contains(log, `"password":"***"`) || !strings.Contains(log, "--password ***") {
		t.Fatalf("log: %v\n%s", faces, log)
	}
}

func TestSystemdRunTimerRollback(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	sh(t, l, 0, `printf 'test -e /run/tappaas-net-ok || touch /root/rolled-back\n' > /usr/local/sbin/rb.sh`)
	sh(t, l, 0, "systemd-run --unit=tappaas-net-rollback --on-active=90 /bin/sh /usr/local/sbin/rb.sh")
	sh(t, l, 1, "systemd-run --unit=tappaas-net-rollback --on-active=90 /bin/sh /usr/local/sbin/rb.sh")
	if len(l.Node().PendingTimers()) != 1 {
		t.Fatal("timer not armed")
	}
	l.Node().FireTimers()
	sh(t, l, 0, "test -e /root/rolled-back")
	// a cancelled timer does not fire
	sh(t, l, 0, "systemd-run --unit=t2 --on-active=90 /bin/sh -c 'touch /root/t2' && systemctl stop t2.timer")
	l.Node().FireTimers()
	sh(t, l, 1, "test -e /root/t2")
}

func TestFirewallFingerprintFromNode(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	bootstrapNode(t, l)
	sh(t, l, 1, "openssl s_client -connect 10.0.0.1:443 </dev/null")
	bootFirewall(t, l)
	out := sh(t, l, 0, "openssl s_client -connect 10.0.0.1:443 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256")
	fp := strings.TrimSpace(strings.TrimPrefix(out, "sha256 Fingerprint="))
	if want := l.Info().FirewallFingerprint; fp != want || fp == "" {
		t.Fatalf("firewall fp %q, want %q", fp, want)
	}
	// the OPNsense API answers the image's bootstrap key, pinned by that fingerprint
	info := l.Info()
	req, _ := http.NewRequest("GET", "https://10.0.0.1/api/core/firmware/status", nil)
	req.SetBasicAuth(info.FirewallKey, info.FirewallSecret)
	resp, err := opnClient(l, info.FirewallFingerprint).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("firmware status: %s", resp.Status)
	}
}

// A replaced firewall certificate is what the node and every client see,
// and it survives a restart like the first one.
func TestReplaceFirewallCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l1, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	bootstrapNode(t, l1)
	bootFirewall(t, l1)
	sh(t, l1, 0, "openssl s_client -connect 10.0.0.1:443 </dev/null") // booted
	old := l1.Info().FirewallFingerprint
	fp, err := l1.ReplaceFirewallCertificate()
	if err != nil || fp == old || l1.Info().FirewallFingerprint != fp {
		t.Fatalf("replace: %q (was %q) %v", fp, old, err)
	}
	out := sh(t, l1, 0, "openssl s_client -connect 10.0.0.1:443 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256")
	if got := strings.TrimSpace(strings.TrimPrefix(out, "sha256 Fingerprint=")); got != fp {
		t.Fatalf("the node sees %q, want %q", got, fp)
	}
	before := l1.Counters().OPNsenseRequests
	if _, err := opnClient(l1, old).Get("https://10.0.0.1/api/core/firmware/status"); err == nil {
		t.Fatal("a client pinned to the old certificate connected")
	}
	resp, err := opnClient(l1, fp).Get("https://10.0.0.1/api/core/firmware/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if n := l1.Counters().OPNsenseRequests - before; n != 1 {
		t.Fatalf("OPNsenseRequests counted %d, want 1", n)
	}
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	if got := startLab(t, Options{Dir: dir}).Info().FirewallFingerprint; got != fp {
		t.Fatalf("after a restart the firewall presents %q, want %q", got, fp)
	}
}

// opnClient pins the OPNsense certificate ("AA:BB:…" fingerprint).
func opnClient(l *Lab, fp string) *http.Client {
	return pinnedClientWith(l, func(der []byte) bool { return fingerprintOf(der) == fp })
}

func TestLockoutWhenInstallIPLeavesTheUpstreamNIC(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	// the install address moved onto a bridge of the LAN NIC (no upstream)
	sh(t, l, 0, `cat > /etc/network/interfaces <<'EOF'
auto lo
iface lo inet loopback

iface enp1s0 inet manual

iface enp2s0 inet manual

auto vmbr0
iface vmbr0 inet static
	address 192.168.1.10/24
	gateway 192.168.1.1
	bridge-ports enp2s0
	bridge-stp off
	bridge-fd 0
EOF
ifreload -a`)
	if _, err := l.Dial(context.Background(), "tcp", "192.168.1.10:22"); err == nil || !strings.Contains(err.Error(), "no route to host") {
		t.Fatalf("install address still reachable: %v", err)
	}
	sh(t, l, 1, "ping -c1 -W2 192.168.1.1")
}

func TestFirewallConfigPushOverSSH(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	bootstrapNode(t, l)
	if _, err := l.Dial(context.Background(), "tcp", "10.0.0.1:22"); err == nil {
		t.Fatal("firewall SSH before boot")
	}
	bootFirewall(t, l)
	nc, err := l.Dial(context.Background(), "tcp", "10.0.0.1:22")
	if err != nil {
		t.Fatal(err)
	}
	var hostKey ssh.PublicKey
	c, chans, reqs, err := ssh.NewClientConn(nc, "10.0.0.1:22", &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.Password(BootstrapRootPassword)},
		HostKeyCallback: func(_ string, _ net.Addr, k ssh.PublicKey) error { hostKey = k; return nil }, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fw := ssh.NewClient(c, chans, reqs)
	client, _ := ssh.ParsePrivateKey(l.Info().ClientKeyPEM)
	pub := base64.StdEncoding.EncodeToString(ssh.MarshalAuthorizedKey(client.PublicKey()))
	cfg := `<?xml version="1.0"?><opnsense><system><ssh><enabled>enabled</enabled><permitrootlogin>1</permitrootlogin></ssh><user><name>root</name><authorizedkeys>` + pub + `</authorizedkeys></user><apikeys>newkey|` + opnsense.CryptSHA512("newsecret", "saltsalt") + `</apikeys></system></opnsense>`
	s, _ := fw.NewSession()
	s.Stdin = strings.NewReader(cfg)
	if out, err := s.CombinedOutput("cat > /tmp/tappaas-deploy-config.xml && /bin/sh -c 'cp /tmp/tappaas-deploy-config.xml /conf/config.xml && /usr/local/etc/rc.reload_all'"); err != nil {
		t.Fatalf("push: %v %s", err, out)
	}
	fw.Close()
	if !l.Firewall().HasKey("newkey", "newsecret") || l.Firewall().HasKey("tappaas-bootstrap", "tappaas-bootstrap-rotate-me") {
		t.Fatal("keys not rotated")
	}
	// now key-only: the bootstrap password is refused, the pushed key works
	nc, _ = l.Dial(context.Background(), "tcp", "10.0.0.1:22")
	if _, _, _, err := ssh.NewClientConn(nc, "x", &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.Password(BootstrapRootPassword)}, HostKeyCallback: ssh.FixedHostKey(hostKey)}); err == nil {
		t.Fatal("bootstrap password still accepted")
	}
	nc, _ = l.Dial(context.Background(), "tcp", "10.0.0.1:22")
	if _, _, _, err := ssh.NewClientConn(nc, "x", &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(client)}, HostKeyCallback: ssh.FixedHostKey(hostKey)}); err != nil {
		t.Fatalf("pushed key: %v", err)
	}
}

// bootCICD creates the NixOS template 8080 and the cicd clone 130 and
// returns the clone's IP (the firewall must be up for DHCP).
func bootCICD(t *testing.T, l *Lab) string {
	t.Helper()
	nix := l.Info().Images[1]
	key := strings.ReplaceAll(url.QueryEscape(strings.TrimSpace(l.Info().ClientPublicKey)), "+", "%20")
	sh(t, l, 0, "curl -fsSL -o /tmp/n.qcow2.zst "+nix.URL+" && zstd -d -q -f -o /tmp/n.qcow2 /tmp/n.qcow2.zst && qm create 8080 --name tappaas-nixos --agent 1 --scsi0 tanka1:0,import-from=/tmp/n.qcow2 --ide2 tanka1:cloudinit --net0 virtio,bridge=lan && qm template 8080 && qm clone 8080 130 --name tappaas-cicd --full 1 && qm set 130 --ciuser tappaas --ipconfig0 ip=dhcp --sshkeys "+key+" && qm start 130")
	out := sh(t, l, 0, "qm guest cmd 130 network-get-interfaces")
	var ifs []struct {
		Name string `json:"name"`
		IPs  []struct {
			IP   string `json:"ip-address"`
			Type string `json:"ip-address-type"`
		} `json:"ip-addresses"`
	}
	if err := json.Unmarshal([]byte(out), &ifs); err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		for _, a := range i.IPs {
			if a.Type == "ipv4" && i.Name != "lo" {
				return a.IP
			}
		}
	}
	t.Fatalf("no IPv4 for cicd: %s", out)
	return ""
}

func guestSSH(t *testing.T, l *Lab, user, ip string) *ssh.Client {
	t.Helper()
	signer, _ := ssh.ParsePrivateKey(l.Info().ClientKeyPEM)
	nc, err := l.Dial(context.Background(), "tcp", net.JoinHostPort(ip, "22"))
	if err != nil {
		t.Fatal(err)
	}
	c, chans, reqs, err := ssh.NewClientConn(nc, ip+":22", &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: func(string, net.Addr, ssh.PublicKey) error { return nil }, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return ssh.NewClient(c, chans, reqs)
}

func TestGuestStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l1, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	bootstrapNode(t, l1)
	bootFirewall(t, l1)
	ip := bootCICD(t, l1)
	hk1, _ := l1.GuestHostKey(130)
	c := guestSSH(t, l1, "tappaas", ip)
	if out, err := run(c, "mkdir -p ~/config && echo done > ~/config/.tappaas-cicd-installed && hostname"); err != nil || out != "tappaas-cicd\n" {
		t.Fatalf("cicd: %q %v", out, err)
	}
	c.Close()
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := startLab(t, Options{Dir: dir})
	if hk2, _ := l2.GuestHostKey(130); hk2 != hk1 || hk2 == "" {
		t.Fatal("cicd host key changed across a lab restart")
	}
	c = guestSSH(t, l2, "tappaas", ip)
	defer c.Close()
	if out, err := run(c, "cat /home/tappaas/config/.tappaas-cicd-installed"); err != nil || out != "done\n" {
		t.Fatalf("marker after restart: %q %v", out, err)
	}
}

// A lab restart is the node starting again: a transient systemd-run timer
// and the files in /run (a tmpfs) are gone, while a unit file on the disk
// stays.
func TestTransientTimerDoesNotSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	l, err := Start(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	sh(t, l, 0, "systemd-run --unit=tappaas-net-rollback --on-active=600 /bin/sh -c 'touch /root/rolled-back'")
	sh(t, l, 0, "touch /run/tappaas-net-pending && printf '[Timer]\\nOnBootSec=60\\n' > /etc/systemd/system/kept.timer")
	if len(l.Node().PendingTimers()) != 1 {
		t.Fatal("timer not armed")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := startLab(t, Options{Dir: dir})
	if p := l2.Node().PendingTimers(); len(p) != 0 {
		t.Fatalf("transient timers survived the restart: %+v", p)
	}
	sh(t, l2, 1, "test -e /run/tappaas-net-pending")
	sh(t, l2, 0, "test -d /run && test -e /etc/systemd/system/kept.timer")
	l2.Node().FireTimers()
	sh(t, l2, 1, "test -e /root/rolled-back")
}
