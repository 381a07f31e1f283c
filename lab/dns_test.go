package lab

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/tappaas/tappaas/assets"
	"github.com/tappaas/tappaas/lab/opnsense"
	"github.com/tappaas/tappaas/lab/vm"
	"golang.org/x/crypto/ssh"
)

// pushFirewallConfig copies cfg to /conf/config.xml over the image's
// bootstrap SSH (or the pushed key once it is installed) and runs
// rc.reload_all, as the installer's pusher does.
func pushFirewallConfig(t *testing.T, l *Lab, cfg []byte) {
	t.Helper()
	client, _ := ssh.ParsePrivateKey(l.Info().ClientKeyPEM)
	nc, err := l.Dial(context.Background(), "tcp", "10.0.0.1:22")
	if err != nil {
		t.Fatal(err)
	}
	c, chans, reqs, err := ssh.NewClientConn(nc, "10.0.0.1:22", &ssh.ClientConfig{User: "root",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(client), ssh.Password(BootstrapRootPassword)},
		HostKeyCallback: func(string, net.Addr, ssh.PublicKey) error { return nil }, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fw := ssh.NewClient(c, chans, reqs)
	defer fw.Close()
	s, _ := fw.NewSession()
	s.Stdin = bytes.NewReader(cfg)
	if out, err := s.CombinedOutput("cat > /tmp/tappaas-deploy-config.xml && /bin/sh -c 'cp /tmp/tappaas-deploy-config.xml /conf/config.xml && /usr/local/etc/rc.reload_all'"); err != nil {
		t.Fatalf("push: %v %s", err, out)
	}
}

// firewallConfigs renders the configuration of today and of before the
// 26.1 fix (lab/testdata), with the lab client's key authorized.
func firewallConfigs(t *testing.T, l *Lab) (current, before []byte) {
	t.Helper()
	client, _ := ssh.ParsePrivateKey(l.Info().ClientKeyPEM)
	c := assets.FirewallConfig{APIKey: "newkey", APISecretHash: opnsense.CryptSHA512("newsecret", "saltsalt"), RootPasswordHash: opnsense.CryptSHA512("pw", "saltsalt"),
		AuthorizedKeysB64: base64.StdEncoding.EncodeToString(ssh.MarshalAuthorizedKey(client.PublicKey())), LANIP: "10.0.0.1",
		Nodes: []assets.FirewallNode{{Name: "tappaas1", IP: "10.0.0.10"}, {Name: "tappaas2", IP: "10.0.0.11"}}}
	current, err := assets.RenderFirewallConfig(c)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile("testdata/opnsense-config-before-26.1-fix.xml.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := template.Must(template.New("old").Parse(string(old))).Execute(&b, c); err != nil {
		t.Fatal(err)
	}
	return current, b.Bytes()
}

// firewallPID is the firewall VM's QEMU pid as PVE reports it.
func firewallPID(t *testing.T, l *Lab) string {
	t.Helper()
	out := sh(t, l, 0, "pvesh get /nodes/tappaas1/qemu/110/status/current --output-format json")
	var st struct {
		PID json.Number `json:"pid"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.PID == "" {
		t.Fatalf("status/current: %v %s", err, out)
	}
	return st.PID.String()
}

// rebootFirewall is `qm reboot 110` (a new QEMU process, as PVE's
// shutdown-and-start reboot) and the wait for its API.
func rebootFirewall(t *testing.T, l *Lab) {
	t.Helper()
	before := firewallPID(t, l)
	sh(t, l, 0, "qm reboot 110 --timeout 300")
	if after := firewallPID(t, l); after == before {
		t.Fatalf("qm reboot kept QEMU pid %s", before)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := l.Dial(context.Background(), "tcp", "10.0.0.1:443")
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("firewall not back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFirewallDNSFollowsPushedConfig: the node's resolver (10.0.0.1)
// answers by the firewall's configuration. The template of before the fix
// (a legacy <unbound> section) leaves nothing answering on :53 after the
// reload, and a reboot does not help (its migration fails); today's
// template answers mgmt.internal names through the internal → dnsmasq
// forward, before and after a reboot.
func TestFirewallDNSFollowsPushedConfig(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	bootstrapNode(t, l)
	bootFirewall(t, l)
	sh(t, l, 0, "printf 'search mgmt.internal internal\\nnameserver 10.0.0.1\\n' > /etc/resolv.conf")
	// The image (upstream's template) resolves already.
	if out := sh(t, l, 0, "getent ahostsv4 firewall.mgmt.internal"); !strings.HasPrefix(out, "10.0.0.1 ") {
		t.Fatalf("image DNS: %q", out)
	}
	// So does the image's own config.xml, reloaded: the lab's API state
	// and the seeded file agree.
	pushFirewallConfig(t, l, []byte(vm.BootstrapConfigXML("firewall", BootstrapRootPassword)))
	for name, want := range map[string]string{"firewall.mgmt.internal": "10.0.0.1", "tappaas3.mgmt.internal": "10.0.0.12"} {
		if out := sh(t, l, 0, "getent ahostsv4 "+name); !strings.HasPrefix(out, want+" ") {
			t.Fatalf("image config reloaded: %s: %q", name, out)
		}
	}
	current, before := firewallConfigs(t, l)

	pushFirewallConfig(t, l, before)
	sh(t, l, 2, "getent ahostsv4 firewall.mgmt.internal")
	sh(t, l, 2, "getent ahostsv4 download.proxmox.com")
	rebootFirewall(t, l)
	sh(t, l, 2, "getent ahostsv4 firewall.mgmt.internal")

	pushFirewallConfig(t, l, current)
	for name, want := range map[string]string{"firewall.mgmt.internal": "10.0.0.1", "tappaas2.mgmt.internal": "10.0.0.11"} {
		if out := sh(t, l, 0, "getent ahostsv4 "+name); !strings.HasPrefix(out, want+" ") {
			t.Fatalf("%s: %q", name, out)
		}
	}
	sh(t, l, 2, "getent ahostsv4 nothing-here.mgmt.internal")
	rebootFirewall(t, l)
	if out := sh(t, l, 0, "getent ahostsv4 firewall.mgmt.internal"); !strings.HasPrefix(out, "10.0.0.1 ") {
		t.Fatalf("after reboot: %q", out)
	}
	// A DHCP client of dnsmasq resolves as <name>.mgmt.internal.
	ip := bootCICD(t, l)
	if out := sh(t, l, 0, "getent ahostsv4 tappaas-cicd.mgmt.internal"); !strings.HasPrefix(out, ip+" ") {
		t.Fatalf("cicd lease: %q (ip %s)", out, ip)
	}
}

// TestFirewallBootReadsConfigFile: a config.xml copied into /conf without
// a reload is not live (the running system keeps its configuration) until
// the firewall boots, which reads /conf/config.xml
// (opnsense/core@26.1.11:src/etc/rc.bootup).
func TestFirewallBootReadsConfigFile(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	bootstrapNode(t, l)
	bootFirewall(t, l)
	current, _ := firewallConfigs(t, l)
	nc, err := l.Dial(context.Background(), "tcp", "10.0.0.1:22")
	if err != nil {
		t.Fatal(err)
	}
	c, chans, reqs, err := ssh.NewClientConn(nc, "10.0.0.1:22", &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.Password(BootstrapRootPassword)},
		HostKeyCallback: func(string, net.Addr, ssh.PublicKey) error { return nil }, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fw := ssh.NewClient(c, chans, reqs)
	s, _ := fw.NewSession()
	s.Stdin = bytes.NewReader(current)
	if out, err := s.CombinedOutput("cat > /conf/config.xml"); err != nil {
		t.Fatalf("copy: %v %s", err, out)
	}
	fw.Close()
	if l.Firewall().HasKey("newkey", "newsecret") || !l.Firewall().HasKey(opnsense.BootstrapKey, opnsense.BootstrapSecret) {
		t.Fatal("a copied config.xml took effect without a reload or boot")
	}
	rebootFirewall(t, l)
	if !l.Firewall().HasKey("newkey", "newsecret") || l.Firewall().HasKey(opnsense.BootstrapKey, opnsense.BootstrapSecret) {
		t.Fatal("the boot did not load /conf/config.xml")
	}
}
