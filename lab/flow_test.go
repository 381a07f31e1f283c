package lab

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// sh runs a command line on the node and fails the test unless it exits want.
func sh(t *testing.T, l *Lab, want int, cmd string) string {
	t.Helper()
	var out, errb bytes.Buffer
	rc := l.Run(context.Background(), cmd, nil, &out, &errb)
	if rc != want {
		t.Fatalf("%s: exit %d (want %d)\nstdout: %s\nstderr: %s", cmd, rc, want, out.String(), errb.String())
	}
	return out.String() + errb.String()
}

const noSubSources = `cat > /etc/apt/sources.list.d/pve-enterprise.sources <<'EOF'
Types: deb
URIs: https://enterprise.proxmox.com/debian/pve
Suites: trixie
Components: pve-enterprise
Enabled: false
EOF
rm -f /etc/apt/sources.list.d/ceph.sources
printf 'Types: deb\nURIs: http://download.proxmox.com/debian/pve\nSuites: trixie\nComponents: pve-no-subscription\nSigned-By: /usr/share/keyrings/proxmox-archive-keyring.gpg\n' > /etc/apt/sources.list.d/proxmox.sources`

const bridges = `cat > /etc/network/interfaces <<'EOF'
auto lo
iface lo inet loopback

iface enp1s0 inet manual

iface enp2s0 inet manual

auto wan
iface wan inet static
	address 192.168.1.10/24
	gateway 192.168.1.1
	bridge-ports enp1s0
	bridge-stp off
	bridge-fd 0

auto lan
iface lan inet static
	address 10.0.0.10/24
	bridge-ports enp2s0
	bridge-stp off
	bridge-fd 0
	bridge-vlan-aware yes
	bridge-vids 2-4094

source /etc/network/interfaces.d/*
EOF
ifreload -a`

// bootstrapNode runs upstream's base post-install, bridge, cluster and storage
// phases on the node's shell (docs/upstream.md#apt-repositories to
// #storage).
func bootstrapNode(t *testing.T, l *Lab) {
	t.Helper()
	sh(t, l, 0, noSubSources)
	sh(t, l, 0, "apt-get update && apt-get install -y jq")
	sh(t, l, 0, bridges)
	sh(t, l, 0, "pvecm create TAPPaaS --link0 10.0.0.10")
	sh(t, l, 0, "zpool create -f -o ashift=12 -o autotrim=on -O compression=lz4 tanka1 mirror /dev/sdb /dev/sdc")
	sh(t, l, 0, "pvesm add zfspool tanka1 -pool tanka1 -content images,rootdir -nodes tappaas1")
}

func TestBootstrapFlowOverShell(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	ctx := context.Background()

	if out := sh(t, l, 0, "pveversion"); !strings.HasPrefix(out, "pve-manager/9.1.4/") {
		t.Fatalf("pveversion: %q", out)
	}
	// enterprise repo without subscription: apt-get update fails (401)
	if out := sh(t, l, 100, "apt-get update"); !strings.Contains(out, "401  Unauthorized") {
		t.Fatalf("apt-get update: %s", out)
	}
	sh(t, l, 100, "apt-get install -y proxmox-backup-server")
	sh(t, l, 0, noSubSources)
	sh(t, l, 0, "apt-get update && apt-get install -y jq")
	if out := sh(t, l, 100, "apt-get install -y no-such-package"); !strings.Contains(out, "Unable to locate package no-such-package") {
		t.Fatalf("package not found: %s", out)
	}

	// 10.0.0.10 is not reachable before the network step
	if _, err := l.Dial(ctx, "tcp", "10.0.0.10:8006"); err == nil || !strings.Contains(err.Error(), "no route to host") {
		t.Fatalf("dial before network step: %v", err)
	}
	sh(t, l, 0, bridges)
	conn, err := l.Dial(ctx, "tcp", "10.0.0.10:8006")
	if err != nil {
		t.Fatalf("dial after network step: %v", err)
	}
	conn.Close()
	if out := sh(t, l, 0, "ip -j addr show dev lan"); !strings.Contains(out, `"local":"10.0.0.10"`) {
		t.Fatalf("ip -j addr: %s", out)
	}

	sh(t, l, 2, "pvecm status")
	sh(t, l, 0, "pvecm create TAPPaaS --link0 10.0.0.10")
	sh(t, l, 0, "pvecm status | grep -q 'Quorate:          Yes'")
	sh(t, l, 255, "pvecm create TAPPaaS --link0 10.0.0.10")

	sh(t, l, 1, "zpool create -f -o ashift=12 tanka1 mirror /dev/sda /dev/sdb")
	sh(t, l, 0, "zpool create -f -o ashift=12 -o autotrim=on -O compression=lz4 tanka1 mirror /dev/sdb /dev/sdc")
	if out := sh(t, l, 1, "zpool create -f tanka1 /dev/sdb"); !strings.Contains(out, "pool already exists") {
		t.Fatalf("pool exists: %s", out)
	}
	sh(t, l, 0, "pvesm add zfspool tanka1 -pool tanka1 -content images,rootdir -nodes tappaas1")
	if out := sh(t, l, 0, "lsblk -J -o NAME,TYPE,SIZE,FSTYPE"); !strings.Contains(out, "zfs_member") {
		t.Fatalf("lsblk: %s", out)
	}

	// the firewall VM from the mirror image
	img := l.Info().Images[0]
	sh(t, l, 0, "cd /root/tappaas && curl -fSLo tappaas-firewall.qcow2.zst "+img.URL)
	if out := sh(t, l, 0, "sha256sum /root/tappaas/tappaas-firewall.qcow2.zst"); !strings.HasPrefix(out, img.SHA256) {
		t.Fatalf("sha256: %s vs %s", out, img.SHA256)
	}
	sh(t, l, 0, "cd /root/tappaas && zstd -d --long=27 -f tappaas-firewall.qcow2.zst")
	sh(t, l, 0, "qm create 110 -agent 1 -tablet 0 -localtime 1 -serial0 socket -name firewall -onboot 1 -bios ovmf -ostype other -cpu host -scsihw virtio-scsi-single")
	if out := sh(t, l, 255, "qm create 110 -name again"); !strings.Contains(out, "already exists") {
		t.Fatalf("VM ID taken: %s", out)
	}
	sh(t, l, 0, "qm importdisk 110 /root/tappaas/tappaas-firewall.qcow2 tanka1")
	sh(t, l, 0, "qm set 110 -scsi0 tanka1:vm-110-disk-0 -boot order=scsi0 --cores 4 --memory 8192 --net0 virtio,bridge=lan --net1 virtio,bridge=wan")
	sh(t, l, 255, "qm set 110 --net2 virtio,bridge=lan,bogus=1")
	if _, err := l.Dial(ctx, "tcp", "10.0.0.1:443"); err == nil {
		t.Fatal("firewall reachable before its VM booted")
	}
	sh(t, l, 0, "qm start 110")
	if out := sh(t, l, 0, "qm status 110"); out != "status: running\n" {
		t.Fatalf("status %q", out)
	}
	c, err := l.Dial(ctx, "tcp", "10.0.0.1:443")
	if err != nil {
		t.Fatalf("firewall after boot: %v", err)
	}
	c.Close()

	// NixOS template and the cicd clone
	nix := l.Info().Images[1]
	sh(t, l, 0, "cd /tmp && wget -q -O nixos.qcow2.zst "+nix.URL+" && zstd -d nixos.qcow2.zst && qm create 8080 --name tappaas-nixos --memory 4096 --agent enabled=1 --scsihw virtio-scsi-single --scsi0 tanka1:0,import-from=/tmp/nixos.qcow2 --ide2 tanka1:cloudinit --net0 virtio,bridge=lan && qm template 8080")
	sh(t, l, 255, "qm start 8080")
	sh(t, l, 0, "qm clone 8080 130 --name tappaas-cicd --full 1")
	clientKey := strings.TrimSpace(l.Info().ClientPublicKey)
	sh(t, l, 0, "qm set 130 --ciuser tappaas --ipconfig0 ip=dhcp --sshkeys "+strings.ReplaceAll(url.QueryEscape(clientKey), "+", "%20")+" && qm start 130")
	out := sh(t, l, 0, "qm guest cmd 130 network-get-interfaces")
	if !strings.Contains(out, `"ip-address": "10.0.0.`) {
		t.Fatalf("agent: %s", out)
	}
	ip := out[strings.Index(out, `"ip-address": "10.0.0.`)+15:]
	ip = ip[:strings.Index(ip, `"`)]
	signer, err := ssh.ParsePrivateKey(l.Info().ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	hk, _ := l.GuestHostKey(130)
	want, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(hk))
	nc, err := l.Dial(ctx, "tcp", net.JoinHostPort(ip, "22"))
	if err != nil {
		t.Fatalf("dial cicd: %v", err)
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, ip+":22", &ssh.ClientConfig{User: "tappaas", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(want), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("ssh cicd: %v", err)
	}
	cl := ssh.NewClient(sc, chans, reqs)
	sess, _ := cl.NewSession()
	b, err := sess.Output("hostname")
	if err != nil || strings.TrimSpace(string(b)) != "tappaas-cicd" {
		t.Fatalf("hostname on cicd: %q %v", b, err)
	}
	cl.Close()

	// PBS alongside PVE
	sh(t, l, 127, "proxmox-backup-manager cert info")
	sh(t, l, 0, `printf '\nTypes: deb\nURIs: http://download.proxmox.com/debian/pbs\nSuites: trixie\nComponents: pbs-no-subscription\n' >> /etc/apt/sources.list.d/proxmox.sources && apt-get update && apt-get install -y proxmox-backup-server proxmox-backup-client && rm -f /etc/apt/sources.list.d/pbs-enterprise.sources`)
	fpLine := sh(t, l, 0, "proxmox-backup-manager cert info | grep 'Fingerprint (sha256)'")
	fp := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(fpLine), "Fingerprint (sha256):"))
	if !strings.EqualFold(fp, l.Info().PBSFingerprint) {
		t.Fatalf("pbs fp %q vs %q", fp, l.Info().PBSFingerprint)
	}
	sh(t, l, 0, "zfs create tanka1/backup && proxmox-backup-manager datastore create tappaas_backup /tanka1/backup/store")
	sh(t, l, 0, "proxmox-backup-manager user create tappaas@pbs --password s3cret-pw && proxmox-backup-manager acl update /datastore/tappaas_backup Admin --auth-id tappaas@pbs")
	bad := strings.Repeat("AB:", 31) + "AB"
	if out := sh(t, l, 255, "pvesm add pbs tappaas_backup --server 10.0.0.10 --datastore tappaas_backup --username tappaas@pbs --password s3cret-pw --fingerprint "+bad); !strings.Contains(out, "certificate verify failed") {
		t.Fatalf("wrong fingerprint: %s", out)
	}
	// --password without a value reads one line from stdin (pvesm's
	// interactive mapping), so the secret stays out of argv.
	add := "pvesm add pbs tappaas_backup --server 10.0.0.10 --datastore tappaas_backup --username tappaas@pbs --fingerprint " + fp + " --password"
	if out := sh(t, l, 255, add); !strings.Contains(out, "EOF while reading password") {
		t.Fatalf("no password on stdin: %s", out)
	}
	var addOut bytes.Buffer
	if rc := l.Run(ctx, add, strings.NewReader("s3cret-pw\n"), &addOut, &addOut); rc != 0 {
		t.Fatalf("pvesm add with the password on stdin: exit %d: %s", rc, addOut.String())
	}
	if out := sh(t, l, 0, "pvesm status --storage tappaas_backup"); !strings.Contains(out, "active") {
		t.Fatalf("pvesm status: %s", out)
	}
	// the PBS cert served on :8007 is the one the node reports
	pc, err := l.Dial(ctx, "tcp", "10.0.0.10:8007")
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(pc, &tls.Config{InsecureSkipVerify: true}) // test only: the fingerprint is compared below
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if got := fingerprintOf(tc.ConnectionState().PeerCertificates[0].Raw); got != l.Info().PBSFingerprint {
		t.Fatalf("served PBS cert %s, reported %s", got, l.Info().PBSFingerprint)
	}
	tc.Close()
}
