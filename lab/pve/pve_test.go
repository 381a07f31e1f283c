package pve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/internal/shacrypt"
	"github.com/tappaas/tappaas/lab/shell"
)

type tnode struct {
	t  *testing.T
	n  *Node
	in *shell.Interp
}

func newTestNode(t *testing.T) *tnode {
	t.Helper()
	n, err := New(Config{FS: shell.NewMemFS()})
	if err != nil {
		t.Fatal(err)
	}
	in := shell.New(n.FS())
	for name, c := range n.Commands() {
		in.Register(name, c)
	}
	return &tnode{t: t, n: n, in: in}
}

// run runs cmd and checks the exit status and (when want != "") that the
// combined output contains want.
func (tn *tnode) run(rc int, want, cmd string) string {
	tn.t.Helper()
	var out bytes.Buffer
	got := tn.in.Run(context.Background(), cmd, strings.NewReader(""), &out, &out, map[string]string{"USER": "root"})
	if got != rc || !strings.Contains(out.String(), want) {
		tn.t.Fatalf("%s\nexit %d (want %d), output (want %q):\n%s", cmd, got, rc, want, out.String())
	}
	return out.String()
}

const netUp = `printf 'auto lo\niface lo inet loopback\n\niface enp1s0 inet manual\n\niface enp2s0 inet manual\n\nauto wan\niface wan inet static\n\taddress 192.168.1.10/24\n\tgateway 192.168.1.1\n\tbridge-ports enp1s0\n\tbridge-stp off\n\tbridge-fd 0\n\nauto lan\niface lan inet static\n\taddress 10.0.0.10/24\n\tbridge-ports enp2s0\n\tbridge-stp off\n\tbridge-fd 0\n\tbridge-vlan-aware yes\n\tbridge-vids 2-4094\n' > /etc/network/interfaces && ifreload -a`

func TestCommandFailureModes(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	cases := []struct {
		rc   int
		want string
		cmd  string
	}{
		{0, "pve-manager/9.1.4/", "pveversion"},
		{0, "proxmox-backup-client:", "pveversion -v"},
		{127, "command not found", "nosuchcommand --x"},
		// storage
		{1, "Device or resource busy", "zpool create -f tank /dev/sda"},
		{1, "No such device or address", "zpool create -f tank /dev/sdz"},
		{1, "mirror requires at least 2 devices", "zpool create -f tank mirror /dev/sdb"},
		{0, "", "zpool create -f -o ashift=12 tanka1 mirror /dev/sdb /dev/sdc"},
		{1, "pool already exists", "zpool create -f tanka1 /dev/sdb"},
		{1, "is part of active pool 'tanka1'", "zpool create -f other /dev/sdb"},
		{1, "no such pool", "zpool list nosuch"},
		{0, "tanka1\n", "zpool list -H -o name"},
		{1, "is a member (ACTIVE)", "zpool labelclear -f /dev/sdb"},
		{1, "Device or resource busy", "wipefs -a /dev/sdb"},
		{1, "Device or resource busy", "wipefs -a /dev/sda"},
		{0, "", "zpool set autotrim=on tanka1"},
		{0, "on", "zpool get -H -o value autotrim tanka1"},
		{1, "parent does not exist", "zfs create nope/x"},
		{0, "", "zfs create tanka1/backup"},
		{1, "dataset already exists", "zfs create tanka1/backup"},
		{255, "dataset does not exist", "pvesm add zfspool t2 --pool nosuch"},
		{0, "", "pvesm add zfspool tanka1 --pool tanka1 --content images,rootdir"},
		{255, "storage ID 'tanka1' already defined", "pvesm add zfspool tanka1 --pool tanka1"},
		{255, "property is not defined in schema", "pvesm add dir d1 --path /srv --bogus 1"},
		{255, "does not support content type 'iso'", "pvesm set tanka1 --content iso"},
		{255, "storage 'nosuch' does not exist", "pvesm remove nosuch"},
		{0, "tanka1", "pvesm status"},
		{0, "successfully created 'tanka1:vm-100-disk-1'", "pvesm alloc tanka1 100 vm-100-disk-1 4M"},
		// packages
		{100, "Unable to locate package jq", "apt-get install -y jq"},
		{100, "401  Unauthorized", "apt-get update"},
		{0, "", "rm /etc/apt/sources.list.d/pve-enterprise.sources /etc/apt/sources.list.d/ceph.sources"},
		{0, "", "apt-get update -q"},
		{1, "Abort.", "apt-get install jq"},
		{0, "Setting up jq", "apt-get install -y jq"},
		{0, "jq is already the newest version", "apt-get install -y jq"},
		{100, "Unable to locate package proxmox-backup-server", "apt-get install -y proxmox-backup-server"},
		{0, "install ok installed", "dpkg-query -W -f='${Status}' jq"},
		{1, "no packages found matching nosuch", "dpkg-query -W nosuch"},
		// cluster
		{2, "is this node part of a cluster", "pvecm status"},
		{255, "valid cluster name", "pvecm create ThisNameIsWayTooLong"},
		{255, "not found on local node", "pvecm create TAPPaaS --link0 10.0.0.10"},
		{0, "", netUp},
		{0, "Writing corosync config", "pvecm create TAPPaaS --link0 10.0.0.10"},
		{255, "already exists", "pvecm create TAPPaaS"},
		{0, "tappaas1 (local)", "pvecm nodes"},
		// users
		{0, "", "pveum user add tappaas@pve --comment installer"},
		{255, "already exists", "pveum user add tappaas@pve"},
		{0, `"full-tokenid":"tappaas@pve!t1"`, "pveum user token add tappaas@pve t1 --privsep 0 --output-format json"},
		{255, "Token already exists.", "pveum user token add tappaas@pve t1"},
		{255, "role 'Boss' does not exist", "pveum acl modify / --roles Boss --users tappaas@pve"},
		{0, "", "pveum acl modify / --roles Administrator --users tappaas@pve"},
		{0, "Administrator", "pveum acl list"},
		// VMs
		{255, "does not exist", "qm config 100"},
		{255, "does not exist", "qm status 100"},
		{255, "net0.bogus: property is not defined", "qm create 100 --net0 virtio,bridge=lan,bogus=1"},
		{255, "net0.tag", "qm create 100 --net0 virtio,bridge=lan,tag=0"},
		{255, "invalid urlencoded string", "qm create 100 --sshkeys 'ssh-ed25519 AAA'"},
		{255, "storage 'nosuch' does not exist", "qm create 100 --scsi0 nosuch:4"},
		{0, "", "qm create 100 --name vm1 --scsi0 tanka1:4 --net0 virtio,bridge=lan --agent 1"},
		{255, "VM 100 already exists on node 'tappaas1'", "qm create 100 --name again"},
		{0, "net0: virtio=BC:24:11:", "qm config 100"},
		{255, "shrinking disks is not supported", "qm resize 100 scsi0 2G"},
		{0, "", "qm resize 100 scsi0 +4G"},
		{0, "size=8G", "qm config 100"},
		{255, "unable to parse image", "qm importdisk 100 /root/none.qcow2 tanka1"},
		{0, "", "qm start 100"},
		{255, "VM 100 already running", "qm start 100"},
		{255, "QEMU guest agent is not running", "qm guest cmd 100 network-get-interfaces"},
		{255, "is running - destroy failed", "qm destroy 100"},
		{255, "can't convert a running VM to a template", "qm template 100"},
		{0, "", "qm stop 100"},
		{255, "unable to create VM 100: config file already exists", "qm clone 100 100"},
		{0, "", "qm clone 100 101 --name vm2"},
		{0, "status: stopped", "qm status 101"},
		{0, "", "qm destroy 101"},
		{0, "", "ha-manager add vm:100 --state started"},
		{255, "already defined", "ha-manager add vm:100"},
		{255, "used in HA resources", "qm destroy 100"},
		{0, "", "qm destroy 100 --purge"},
		// network tools
		{0, `"dev":"wan","dst":"default","flags":[],"gateway":"192.168.1.1"`, "ip -j route show default"},
		{0, "10.0.0.10/24", "ip -br addr show type bridge"},
		{1, `Cannot find device "nosuch"`, "ip addr add 10.0.0.9/32 dev nosuch"},
		{0, "", "ip addr add 10.0.0.9/32 dev lan"},
		{2, "Address already assigned", "ip addr add 10.0.0.9/32 dev lan"},
		{0, "192.168.1.10 10.0.0.10 10.0.0.9", "hostname -I"},
		{0, "1 received", "ping -c1 -W2 192.168.1.1"},
		{1, "100% packet loss", "ping -c1 -W2 10.0.0.1"},
		{2, "", "getent hosts firewall.mgmt.internal"},
		{0, "212.224.123.70", "getent hosts download.proxmox.com"},
		{0, "yes", "timedatectl show -p NTPSynchronized --value"},
		{5, "Unit nosuch.service not found", "systemctl restart nosuch"},
		{0, "active", "systemctl is-active pveproxy"},
		{3, "inactive", "systemctl is-active proxmox-backup-proxy"},
		// downloads
		{22, "returned error: 404", "curl -fsSL -o /tmp/x https://raw.githubusercontent.com/TAPPaaS/TAPPaaS/main/install.sh"},
		{6, "Could not resolve host", "curl -fsS -o /tmp/x https://nowhere.invalid/x"},
		{0, "", "printf 'garbage' > /tmp/bad.zst"},
		{1, "unknown header", "zstd -d /tmp/bad.zst"},
		{1, "Can't derive the output file name", "cp /tmp/bad.zst /tmp/bad.bin && zstd -d /tmp/bad.bin"},
		// PBS
		{127, "command not found", "proxmox-backup-manager datastore list"},
		// openssl
		{0, "sha256 Fingerprint=", "openssl x509 -in /etc/pve/local/pve-ssl.pem -noout -fingerprint -sha256"},
		{0, "$6$saltsalt$", "openssl passwd -6 -salt saltsalt secret"},
		{1, "Unable to load certificate", "echo nope | openssl x509 -noout -fingerprint -sha256"},
		{1, "No such file or directory", "dd if=/usr/share/pve-edk2-firmware/OVMF_VARS_4M.fd of=/dev/zvol/tanka1/vm-999-disk-1"},
	}
	for _, c := range cases {
		tn.run(c.rc, c.want, c.cmd)
	}
	if out := tn.run(0, "", "openssl rand -hex 16"); len(strings.TrimSpace(out)) != 32 {
		t.Fatalf("rand -hex 16: %q", out)
	}
}

func TestLsblkJSONShape(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	out := tn.run(0, "", "lsblk -J -b -o NAME,SIZE,TYPE,FSTYPE,MOUNTPOINT,MODEL")
	var v struct {
		Blockdevices []struct {
			Name     string `json:"name"`
			Size     int64  `json:"size"`
			Type     string `json:"type"`
			Model    string `json:"model"`
			Children []struct {
				Name     string `json:"name"`
				Children []struct {
					Name       string  `json:"name"`
					Mountpoint *string `json:"mountpoint"`
				} `json:"children"`
			} `json:"children"`
		} `json:"blockdevices"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Blockdevices) != 3 || v.Blockdevices[1].Name != "sdb" || v.Blockdevices[1].Size != 1000204886016 || v.Blockdevices[1].Children != nil {
		t.Fatalf("devices: %+v", v.Blockdevices)
	}
	root := v.Blockdevices[0].Children[2].Children[1]
	if root.Name != "pve-root" || root.Mountpoint == nil || *root.Mountpoint != "/" {
		t.Fatalf("system disk: %+v", v.Blockdevices[0])
	}
}

func TestPBSManager(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	tn.run(0, "", "rm /etc/apt/sources.list.d/pve-enterprise.sources /etc/apt/sources.list.d/ceph.sources; printf 'Types: deb\\nURIs: http://download.proxmox.com/debian/pbs\\nSuites: trixie\\nComponents: pbs-no-subscription\\n' > /etc/apt/sources.list.d/pbs.sources && apt-get update && apt-get install -y proxmox-backup-server")
	tn.run(0, "Fingerprint (sha256): ", "proxmox-backup-manager cert info")
	tn.run(0, "", "proxmox-backup-manager datastore create ds1 /srv/ds1")
	tn.run(255, "already exists", "proxmox-backup-manager datastore create ds1 /srv/ds1")
	tn.run(255, "absolute path", "proxmox-backup-manager datastore create ds2 rel/path")
	tn.run(0, `"name":"ds1"`, "proxmox-backup-manager datastore list --output-format json")
	tn.run(0, "", "proxmox-backup-manager user create tappaas@pbs")
	tn.run(0, `{"tokenid":"tappaas@pbs!pve","value":"`, "proxmox-backup-manager user generate-token tappaas@pbs pve --output-format json")
	tn.run(255, "already exists", "proxmox-backup-manager user generate-token tappaas@pbs pve")
	tn.run(255, "not defined in the enumeration", "proxmox-backup-manager acl update /datastore/ds1 Boss --auth-id 'tappaas@pbs!pve'")
	tn.run(0, "", "proxmox-backup-manager acl update /datastore/ds1 DatastoreBackup --auth-id 'tappaas@pbs!pve'")
	tn.run(0, `"ugid":"tappaas@pbs!pve"`, "proxmox-backup-manager acl list --output-format json")
	tn.run(0, `"tokenid":"tappaas@pbs!pve"`, "proxmox-backup-manager user list-tokens tappaas@pbs --output-format json")
	tn.run(0, "", "proxmox-backup-manager prune-job create pj1 --store ds1 --schedule 02:00 --keep-last 4")
	// Prune jobs and schedules as the API schema checks them.
	for _, c := range []struct{ want, cmd string }{
		{"parameter 'keep-daily': value must have a minimum value of 1 (got 0)", "proxmox-backup-manager prune-job create pj2 --store ds1 --schedule 02:00 --keep-daily 0"},
		{"parameter 'schedule': parameter is missing and it is not optional.", "proxmox-backup-manager prune-job create pj2 --store ds1 --keep-last 1"},
		{"parameter 'schedule': unable to parse calendar event", "proxmox-backup-manager prune-job create pj2 --store ds1 --schedule 'every night'"},
		{"parameter 'schedule': unable to parse calendar event", "proxmox-backup-manager prune-job create pj2 --store ds1 --schedule 25:00"},
		{"parameter 'disable': Unable to parse boolean option.", "proxmox-backup-manager prune-job create pj2 --store ds1 --schedule 02:00 --disable nah"},
		{"parameter 'keep-forever': schema does not allow additional properties.", "proxmox-backup-manager prune-job create pj2 --store ds1 --schedule 02:00 --keep-forever 1"},
		{"parameter 'id': value must be at least 3 characters long", "proxmox-backup-manager prune-job create p --store ds1 --schedule 02:00"},
		{"already exists", "proxmox-backup-manager prune-job create pj1 --store ds1 --schedule daily"},
		{"parameter 'gc-schedule': unable to parse calendar event", "proxmox-backup-manager datastore update ds1 --gc-schedule 3am"},
	} {
		tn.run(255, c.want, c.cmd)
	}
	for _, ok := range []string{"daily", "mon..fri 02:00", "sat,sun *:0/15", "03:00 UTC", "*:30:00"} {
		tn.run(0, "", "proxmox-backup-manager datastore update ds1 --gc-schedule '"+ok+"'")
	}
	tn.run(0, "", "proxmox-backup-manager prune-job update pj1 --keep-last 2 --keep-hourly 3 --disable false")
	tn.run(0, "", "proxmox-backup-manager prune-job update pj1 --delete keep-hourly")
	if out := tn.run(0, "", "proxmox-backup-manager prune-job list --output-format json"); out != `[{"id":"pj1","keep-last":2,"schedule":"02:00","store":"ds1"}]`+"\n" {
		t.Fatalf("prune-job list: %s", out)
	}
	tn.run(0, `"gc-schedule":"*:30:00"`, "proxmox-backup-manager datastore show ds1 --output-format json")
	tn.run(255, "no such datastore", "proxmox-backup-manager verify-job create v1 --store nosuch")
	// the token alone is not enough: its user needs rights too (intersection)
	tn.n.lock()
	vis := tn.n.pbsVisible("tappaas@pbs!pve", "ds1")
	tn.n.unlock()
	if vis {
		t.Fatal("token sees the datastore although its user has no ACL")
	}
	tn.run(0, "", "proxmox-backup-manager acl update /datastore/ds1 DatastoreBackup --auth-id tappaas@pbs")
	tn.n.lock()
	vis = tn.n.pbsVisible("tappaas@pbs!pve", "ds1")
	tn.n.unlock()
	if !vis {
		t.Fatal("token with user and token ACL does not see the datastore")
	}
}

func TestIfreloadRefusesSharedPort(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	tn.run(1, "already in use by bridge", `printf 'auto a1\niface a1 inet manual\n\tbridge-ports enp1s0\n\nauto a2\niface a2 inet manual\n\tbridge-ports enp1s0\n' > /etc/network/interfaces && ifreload -a`)
}

func TestInterfacesRoundTrip(t *testing.T) {
	t.Parallel()
	f, err := ParseInterfaces(initialInterfaces)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Render(); got != initialInterfaces {
		t.Fatalf("render differs:\n%s\n---\n%s", got, initialInterfaces)
	}
}

func FuzzParseInterfaces(f *testing.F) {
	f.Add(initialInterfaces)
	f.Add("auto lan\niface lan inet static\n\taddress 10.0.0.10/24\n\tbridge-ports enp2s0\n")
	f.Add("address 1.2.3.4\n")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseInterfaces(s)
		if err != nil {
			return
		}
		r := p.Render()
		p2, err := ParseInterfaces(r)
		if err != nil {
			t.Fatalf("rendered file does not parse: %v\n%s", err, r)
		}
		if p2.Render() != r {
			t.Fatalf("render not stable:\n%s\n---\n%s", r, p2.Render())
		}
		m, _ := NewModel("tappaas1")
		_, _ = m.applyInterfaces(p)
	})
}

func FuzzCheckNet(f *testing.F) {
	for _, s := range []string{"virtio,bridge=lan", "virtio=BC:24:11:00:00:01,bridge=lan,tag=210,trunks=210;220", "e1000,bridge=x,firewall=2", "", ",", "=", "model=virtio"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = checkNet("net0", s)
		_ = checkDisk("scsi0", s)
		_ = checkIPConfig("ipconfig0", s)
		_ = checkAgent(s)
		_ = parseCLI(strings.Fields(s))
	})
}

func FuzzParseParams(f *testing.F) {
	f.Add("application/json", `{"vmid":100,"name":"x","start":true}`, "a=1")
	f.Add("application/x-www-form-urlencoded", "vmid=100&net0=virtio%2Cbridge%3Dlan", "")
	f.Add("application/json", `{"x":[1,2]}`, "")
	f.Fuzz(func(t *testing.T, ct, body, query string) {
		r, err := http.NewRequest("POST", "/api2/json/nodes/tappaas1/qemu?"+query, strings.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", ct)
		p, e := parseParams(r)
		if e != nil {
			if e.Code < 400 || e.Code > 499 {
				t.Fatalf("parse error with status %d", e.Code)
			}
			return
		}
		rt, pp, _ := (&Node{}).routeFor("POST", "/nodes/tappaas1/qemu")
		if rt == nil {
			t.Fatal("no route")
		}
		_ = checkParams(rt, pp, p)
	})
}

func TestDownloadURLIntoImport(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	img := MirrorImages()[2]
	tn.run(255, "checksum mismatch", "pvesh create /nodes/tappaas1/storage/local/download-url --content import --filename n.qcow2 --url "+img.URL+" --checksum "+strings.Repeat("0", 64)+" --checksum-algorithm sha256 --compression zst")
	tn.run(255, "does not support content type 'import'", "pvesh create /nodes/tappaas1/storage/local-lvm/download-url --content import --filename n.qcow2 --url "+img.URL)
	tn.run(0, "finished", "pvesh create /nodes/tappaas1/storage/local/download-url --content import --filename n.qcow2 --url "+img.URL+" --checksum "+img.SHA256+" --checksum-algorithm sha256 --compression zst")
	tn.run(0, "", "zpool create -f tanka1 mirror /dev/sdb /dev/sdc && pvesm add zfspool tanka1 --pool tanka1")
	tn.run(0, "", "qm create 8080 --scsi0 tanka1:0,import-from=local:import/n.qcow2 --name t")
	tn.run(0, "size=8G", "qm config 8080")
}

func TestCloudInit(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	tn.run(0, "", "zpool create -f tanka1 /dev/sdb && pvesm add zfspool tanka1 --pool tanka1 && qm create 130 --name tappaas-cicd --scsi0 tanka1:4 --net0 virtio,bridge=vmbr0 --ciuser tappaas --ipconfig0 ip=dhcp --sshkeys ssh-ed25519%20AAAAC3Nza%20me")
	tn.run(255, "no cloudinit drive", "pvesh set /nodes/tappaas1/qemu/130/cloudinit")
	tn.run(0, "", "qm set 130 --ide2 tanka1:cloudinit && pvesh set /nodes/tappaas1/qemu/130/cloudinit")
	tn.run(0, "  - ssh-ed25519 AAAAC3Nza me", "qm cloudinit dump 130 user")
	tn.run(0, "type: dhcp4", "qm cloudinit dump 130 network")
}

// `openssl passwd -6` prints real SHA-512 crypt (a hash the firewall can
// verify), with the given salt or a random one.
func TestOpenSSLPasswdIsRealSHACrypt(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	want := "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1\n"
	if got := tn.run(0, "", "openssl passwd -6 -salt saltstring 'Hello world!'"); got != want {
		t.Fatalf("got %q, want the specification's vector", got)
	}
	h := strings.TrimSpace(tn.run(0, "", "openssl passwd -6 s3cret"))
	if !shacrypt.Verify(h, "s3cret") || shacrypt.Verify(h, "other") {
		t.Fatalf("random-salt hash %q does not verify", h)
	}
}

// The node reaches GitHub's release API like the real one: a known tag
// lists its assets with the sha256 digest of the bytes served; an unknown
// tag or repository is GitHub's 404, which curl -f turns into exit 22.
func TestReleaseAPIOverCurl(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	out := tn.run(0, `"tag_name":"opnsense-firewall-v1.1"`, `curl -fsSL -H 'Accept: application/vnd.github+json' https://api.github.com/repos/TAPPaaS/TAPPaaS/releases/tags/opnsense-firewall-v1.1`)
	var rel struct {
		Assets []struct {
			Name               string `json:"name"`
			Digest             string `json:"digest"`
			BrowserDownloadURL string `json:"browser_download_url"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rel); err != nil || len(rel.Assets) != 1 {
		t.Fatalf("release JSON: %v\n%s", err, out)
	}
	a := rel.Assets[0]
	data, _, ok := MirrorFetch(a.BrowserDownloadURL)
	sum := sha256.Sum256(data)
	if !ok || a.Name != "tappaas-firewall.qcow2.zst" || a.Digest != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Fatalf("asset %+v does not describe the bytes served", a)
	}
	tn.run(22, "returned error: 404", "curl -fsS https://api.github.com/repos/TAPPaaS/TAPPaaS/releases/tags/opnsense-firewall-v9.9")
	tn.run(22, "returned error: 404", "curl -fsS https://api.github.com/repos/someone/else/releases/tags/opnsense-firewall-v1.1")
	tn.run(0, `"message":"Not Found"`, "curl -sS https://api.github.com/repos/TAPPaaS/TAPPaaS/releases/tags/nope")
}

// Root's authorized_keys on a fresh node is pve-cluster's symlink into
// /etc/pve/priv; appending goes through it, a rename replaces it, and the
// link survives a snapshot.
func TestRootAuthorizedKeysIsClusterLink(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	if out := tn.run(0, "", "readlink /root/.ssh/authorized_keys"); out != ClusterAuthorizedKeys+"\n" {
		t.Fatalf("readlink: %q", out)
	}
	tn.run(0, "", "echo 'ssh-ed25519 AAAAnew x' >> /root/.ssh/authorized_keys")
	if b, _ := tn.n.FS().ReadFile(ClusterAuthorizedKeys); !strings.Contains(string(b), "AAAAnew") || !strings.Contains(string(b), "lab-client") {
		t.Fatalf("cluster file after append: %q", b)
	}
	files, err := SnapshotFS(tn.n.FS())
	if err != nil {
		t.Fatal(err)
	}
	if files[RootAuthorizedKeys].Link != ClusterAuthorizedKeys {
		t.Fatalf("snapshot: %+v", files[RootAuthorizedKeys])
	}
	restored := shell.NewMemFS()
	if err := RestoreFS(restored, files); err != nil {
		t.Fatal(err)
	}
	if l, err := restored.Readlink(RootAuthorizedKeys); err != nil || l != ClusterAuthorizedKeys {
		t.Fatalf("restored link: %q %v", l, err)
	}
	tn.run(0, "", "printf 'x\\n' > /tmp/k && mv -f /tmp/k /root/.ssh/authorized_keys")
	if out := tn.run(1, "", "readlink /root/.ssh/authorized_keys"); out != "" {
		t.Fatalf("mv over the link: %q", out)
	}
}

// With no pools, only the human forms say so: `zpool list -H` prints
// nothing, `zpool status` says it on standard error.
func TestZpoolNoPools(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	for _, c := range []struct{ cmd, out, errOut string }{
		{"zpool list -H -o name", "", ""},
		{"zpool list", "no pools available\n", ""},
		{"zpool status", "", "no pools available\n"},
	} {
		var out, errb bytes.Buffer
		if rc := tn.in.Run(context.Background(), c.cmd, strings.NewReader(""), &out, &errb, map[string]string{"USER": "root"}); rc != 0 || out.String() != c.out || errb.String() != c.errOut {
			t.Errorf("%s: %d %q %q", c.cmd, rc, out.String(), errb.String())
		}
	}
}

// udev's /dev/disk/by-id links exist for every disk (and its partitions),
// zpool create takes them, and zpool status shows the names given.
func TestDiskByIDAndPoolNames(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	ls := tn.run(0, "", `for l in /dev/disk/by-id/*; do printf '%s %s\n' "${l##*/}" "$(readlink -f "$l")"; done`)
	for _, want := range []string{
		"ata-Samsung_SSD_870_EVO_1TB_S6PTNM0T200002 /dev/sdb\n",
		"wwn-0x5002538f00000002 /dev/sdb\n",
		"ata-Samsung_SSD_870_EVO_250GB_S6PENL0T100001-part3 /dev/sda3\n",
	} {
		if !strings.Contains(ls, want) {
			t.Errorf("by-id lacks %q:\n%s", want, ls)
		}
	}
	if strings.Contains(ls, "sdb-part") || strings.Contains(ls, "/dev/sdb1") {
		t.Errorf("a blank disk has no partition links:\n%s", ls)
	}
	tn.run(0, "", "zpool create -f tanka1 mirror /dev/disk/by-id/wwn-0x5002538f00000002 /dev/disk/by-id/ata-Samsung_SSD_870_EVO_1TB_S6PTNM0T200003")
	st := tn.run(0, "", "zpool status tanka1")
	if !strings.Contains(st, "\t    wwn-0x5002538f00000002 ONLINE") || !strings.Contains(st, "\t    ata-Samsung_SSD_870_EVO_1TB_S6PTNM0T200003 ONLINE") {
		t.Errorf("status:\n%s", st)
	}
	st = tn.run(0, "", "zpool status -P tanka1")
	if !strings.Contains(st, "/dev/disk/by-id/wwn-0x5002538f00000002-part1 ") {
		t.Errorf("status -P:\n%s", st)
	}
	if out := tn.run(0, "", "readlink -f /dev/disk/by-id/wwn-0x5002538f00000002-part1"); out != "/dev/sdb1\n" {
		t.Errorf("partition link after create: %q", out)
	}
}

// systemctl keeps whether a unit is enabled apart from whether it runs;
// corosync does not start without a cluster (ConditionPathExists).
func TestSystemctlEnabledState(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	tn.run(0, "", "systemctl disable --now pve-ha-lrm")
	if out := tn.run(0, "", "systemctl is-enabled pve-ha-lrm pve-ha-crm || true"); out != "disabled\nenabled\n" {
		t.Fatalf("is-enabled: %q", out)
	}
	tn.run(3, "inactive", "systemctl is-active pve-ha-lrm")
	tn.run(0, "", "systemctl enable -q --now pve-ha-lrm pve-ha-crm corosync")
	if out := tn.run(0, "", "systemctl is-enabled pve-ha-lrm corosync"); out != "enabled\nenabled\n" {
		t.Fatalf("is-enabled after: %q", out)
	}
	tn.run(0, "active", "systemctl is-active pve-ha-lrm")
	tn.run(3, "inactive", "systemctl is-active corosync")
}

// A fresh node has upgrades once the no-subscription lists are fetched;
// apt-get -s only shows them, dist-upgrade -y installs them.
func TestAptDistUpgrade(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	tn.n.lock()
	tn.n.m.Apt.Fetched = []string{"debian", "pve-no-subscription"}
	tn.n.unlock()
	sim := tn.run(0, "", "apt-get -s -q dist-upgrade")
	for _, want := range []string{"Inst pve-cluster [9.0.6] (9.0.7 ", "Inst proxmox-widget-toolkit [5.1.1] (5.1.2 ", "3 upgraded"} {
		if !strings.Contains(sim, want) {
			t.Errorf("simulate lacks %q:\n%s", want, sim)
		}
	}
	tn.run(1, "Abort.", "apt-get dist-upgrade </dev/null")
	tn.run(0, "Setting up pve-cluster (9.0.7)", "DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold dist-upgrade")
	if sim := tn.run(0, "0 upgraded", "apt-get -s dist-upgrade"); strings.Contains(sim, "Inst ") {
		t.Fatalf("after the upgrade:\n%s", sim)
	}
}
