package lab

// Contract tests: one per section of docs/pve-api.md, each run with
// plain net/http and with go-proxmox v0.8.2 against a lab.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

const base = "https://192.168.1.10:8006/api2/json"

type raw struct {
	t      testing.TB
	base   string // "" = the tappaas1 install address
	c      *http.Client
	auth   string // Authorization header
	cookie string
	csrf   string
}

type reply struct {
	Status string
	Code   int
	Body   map[string]any
	Raw    string
}

func (r *raw) do(method, path string, body any, form bool) reply {
	r.t.Helper()
	var rd io.Reader
	ct := ""
	if body != nil {
		if form {
			v := url.Values{}
			for k, x := range body.(map[string]string) {
				v.Set(k, x)
			}
			rd, ct = strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
		} else {
			b, _ := json.Marshal(body)
			rd, ct = strings.NewReader(string(b)), "application/json"
		}
	}
	u := r.base
	if u == "" {
		u = base
	}
	req, _ := http.NewRequest(method, u+path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if r.auth != "" {
		req.Header.Set("Authorization", r.auth)
	}
	if r.cookie != "" {
		req.Header.Set("Cookie", "PVEAuthCookie="+r.cookie)
	}
	if r.csrf != "" {
		req.Header.Set("CSRFPreventionToken", r.csrf)
	}
	resp, err := r.c.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := reply{Status: resp.Status, Code: resp.StatusCode, Raw: string(b)}
	_ = json.Unmarshal(b, &out.Body)
	return out
}

// nodeBase is the API base URL of a lab's node.
func nodeBase(l *Lab) string { return "https://" + l.Info().NodeAddr + ":8006/api2/json" }

func ticketRaw(t testing.TB, l *Lab) *raw {
	r := &raw{t: t, c: httpClient(l), base: nodeBase(l)}
	rep := r.do("POST", "/access/ticket", map[string]string{"username": "root@pam", "password": l.Info().RootPassword}, true)
	if rep.Code != 200 {
		t.Fatalf("ticket: %s %s", rep.Status, rep.Raw)
	}
	d := rep.Body["data"].(map[string]any)
	r.cookie, r.csrf = d["ticket"].(string), d["CSRFPreventionToken"].(string)
	return r
}

// rootToken creates root@pam!<name> (privsep 0) and returns id and secret.
func rootToken(t testing.TB, l *Lab, name string) (string, string) {
	r := ticketRaw(t, l)
	rep := r.do("POST", "/access/users/root@pam/token/"+name, map[string]any{"privsep": false}, false)
	if rep.Code != 200 {
		t.Fatalf("token: %s %s", rep.Status, rep.Raw)
	}
	d := rep.Body["data"].(map[string]any)
	return d["full-tokenid"].(string), d["value"].(string)
}

func tokenRaw(t testing.TB, l *Lab) *raw {
	id, secret := rootToken(t, l, "tappaas")
	return &raw{t: t, c: httpClient(l), auth: "PVEAPIToken=" + id + "=" + secret, base: nodeBase(l)}
}

func tokenGP(t testing.TB, l *Lab) *proxmox.Client {
	id, secret := rootToken(t, l, "gp")
	return proxmox.NewClient(base, proxmox.WithHTTPClient(httpClient(l)), proxmox.WithAPIToken(id, secret))
}

// pinnedClient trusts exactly the certificate whose SHA-256 is fp.
func pinnedClient(l *Lab, fp string) *http.Client {
	return pinnedClientWith(l, func(der []byte) bool { return fingerprintOf(der) == fp })
}

func pinnedClientWith(l *Lab, ok func(der []byte) bool) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: l.Dial, TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // test only: verification is the pin below
		VerifyPeerCertificate: func(rawCerts [][]byte, _ [][]*x509.Certificate) error {
			if !ok(rawCerts[0]) {
				return fmt.Errorf("fingerprint mismatch: got %s", fingerprintOf(rawCerts[0]))
			}
			return nil
		}}}}
}

// docs/pve-api.md#transport: TLS on :8006, fingerprint as ssl_fingerprint and
// certificates/info.
func TestContract1Certificate(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	fp := l.Info().PVEFingerprint
	// plain HTTP, pinned by fingerprint
	pc := pinnedClient(l, fp)
	resp, err := pc.Get(base + "/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.ProtoMajor != 1 {
		t.Fatalf("unauthenticated /version: %s %s", resp.Proto, resp.Status)
	}
	r := tokenRaw(t, l)
	nodes := r.do("GET", "/nodes", nil, false).Body["data"].([]any)
	if got := nodes[0].(map[string]any)["ssl_fingerprint"]; got != fp {
		t.Fatalf("ssl_fingerprint %v, served %s", got, fp)
	}
	infos := r.do("GET", "/nodes/tappaas1/certificates/info", nil, false).Body["data"].([]any)
	found := false
	for _, i := range infos {
		m := i.(map[string]any)
		if m["filename"] == "pve-ssl.pem" && m["fingerprint"] == fp {
			found = true
			sans := fmt.Sprint(m["san"])
			if !strings.Contains(sans, "192.168.1.10") || !strings.Contains(sans, "10.0.0.10") {
				t.Fatalf("SANs %s lack the node IPs", sans)
			}
		}
	}
	if !found {
		t.Fatalf("certificates/info has no pve-ssl.pem with %s: %v", fp, infos)
	}
	// the shell reports the same
	if out := sh(t, l, 0, "openssl x509 -in /etc/pve/local/pve-ssl.pem -noout -fingerprint -sha256"); out != "sha256 Fingerprint="+fp+"\n" {
		t.Fatalf("openssl: %q", out)
	}
	// go-proxmox
	gp := tokenGP(t, l)
	ns, err := gp.Nodes(context.Background())
	if err != nil || ns[0].SSLFingerprint != fp {
		t.Fatalf("go-proxmox nodes: %v %+v", err, ns)
	}
	node, err := gp.Node(context.Background(), "tappaas1")
	if err != nil {
		t.Fatal(err)
	}
	certs, err := node.GetCustomCertificates(context.Background())
	if err != nil || certs == nil {
		t.Fatalf("GetCustomCertificates: %v", err)
	}
	// a client pinning another fingerprint is refused by its own check
	if _, err := pinnedClient(l, strings.Repeat("00:", 31)+"00").Get(base + "/version"); err == nil || !strings.Contains(err.Error(), "fingerprint mismatch") {
		t.Fatalf("pinned mismatch: %v", err)
	}
}

// docs/pve-api.md#auth: tokens and tickets; CSRF on writes; root@pam-only
// endpoints.
func TestContract2Auth(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	id, secret := rootToken(t, l, "auth")
	good := &raw{t: t, c: httpClient(l), auth: "PVEAPIToken=" + id + "=" + secret}
	if rep := good.do("GET", "/version", nil, false); rep.Code != 200 {
		t.Fatalf("token: %s", rep.Status)
	}
	bad := &raw{t: t, c: httpClient(l), auth: "PVEAPIToken=" + id + "=00000000-0000-0000-0000-000000000000"}
	if rep := bad.do("GET", "/version", nil, false); rep.Code != 401 {
		t.Fatalf("wrong token: %s", rep.Status)
	}
	// ticket: GET without CSRF fine, write without CSRF refused
	tk := ticketRaw(t, l)
	if rep := tk.do("GET", "/nodes", nil, false); rep.Code != 200 {
		t.Fatalf("ticket GET: %s", rep.Status)
	}
	noCSRF := &raw{t: t, c: httpClient(l), cookie: tk.cookie}
	if rep := noCSRF.do("POST", "/access/users", map[string]string{"userid": "x@pve"}, false); rep.Code != 401 || !strings.Contains(rep.Status, "invalid csrf token") {
		t.Fatalf("missing CSRF: %s", rep.Status)
	}
	if rep := tk.do("POST", "/access/users", map[string]string{"userid": "x@pve"}, false); rep.Code != 200 {
		t.Fatalf("ticket write with CSRF: %s %s", rep.Status, rep.Raw)
	}
	// wrong password: generic 401
	if rep := (&raw{t: t, c: httpClient(l)}).do("POST", "/access/ticket", map[string]string{"username": "root@pam", "password": "nope"}, true); rep.Code != 401 || !strings.Contains(rep.Status, "authentication failure") {
		t.Fatalf("bad password: %s", rep.Status)
	}
	// cluster create: token refused (403), ticket accepted
	if rep := good.do("POST", "/cluster/config", map[string]string{"clustername": "TAPPaaS"}, false); rep.Code != 403 || !strings.Contains(rep.Status, "user != root@pam") {
		t.Fatalf("token cluster create: %s", rep.Status)
	}
	// allowtoken => 0: a token on /access/ticket is refused
	// (docs/pve-api.md#auth)
	if rep := good.do("POST", "/access/ticket", map[string]string{"username": "root@pam", "password": l.Info().RootPassword}, false); rep.Code != 403 || !strings.Contains(rep.Status, "not available with API token") {
		t.Fatalf("ticket with token header: %s", rep.Status)
	}
	if rep := tk.do("POST", "/cluster/config", map[string]string{"clustername": "TAPPaaS"}, false); rep.Code != 200 {
		t.Fatalf("ticket cluster create: %s %s", rep.Status, rep.Raw)
	}
	// go-proxmox: a wrong token is ErrNotAuthorized; cluster create by token fails
	gpBad := proxmox.NewClient(base, proxmox.WithHTTPClient(httpClient(l)), proxmox.WithAPIToken(id, "wrong"))
	if _, err := gpBad.Version(context.Background()); !errors.Is(err, proxmox.ErrNotAuthorized) {
		t.Fatalf("go-proxmox wrong token: %v", err)
	}
	gp := tokenGP(t, l)
	cl, err := gp.Cluster(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.CreateCluster(context.Background(), &proxmox.ClusterCreateOptions{ClusterName: "X"}); !errors.Is(err, proxmox.ErrNotAuthorized) {
		t.Fatalf("go-proxmox token cluster create: %v", err)
	}
	// a privsep token without ACLs sees nothing
	r := ticketRaw(t, l)
	rep := r.do("POST", "/access/users/root@pam/token/ps", map[string]any{"privsep": 1}, false)
	d := rep.Body["data"].(map[string]any)
	ps := &raw{t: t, c: httpClient(l), auth: "PVEAPIToken=" + d["full-tokenid"].(string) + "=" + d["value"].(string)}
	if rep := ps.do("GET", "/nodes/tappaas1/network", nil, false); rep.Code != 403 {
		t.Fatalf("privsep token without ACL: %s", rep.Status)
	}
	if rep := r.do("PUT", "/access/acl", map[string]any{"path": "/", "roles": "PVEAuditor", "tokens": d["full-tokenid"]}, false); rep.Code != 200 {
		t.Fatalf("acl: %s %s", rep.Status, rep.Raw)
	}
	if rep := ps.do("GET", "/nodes/tappaas1/network", nil, false); rep.Code != 200 {
		t.Fatalf("privsep token with ACL: %s", rep.Status)
	}
}

// docs/pve-api.md#envelope:, reason phrase, 400/500/501.
func TestContract3Envelope(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	r := tokenRaw(t, l)
	if rep := r.do("GET", "/version", nil, false); rep.Body["data"] == nil {
		t.Fatalf("no data key: %s", rep.Raw)
	}
	rep := r.do("GET", "/nodes/tappaas1/qemu/999/config", nil, false)
	want := "500 Configuration file 'nodes/tappaas1/qemu-server/999.conf' does not exist"
	if rep.Status != want || rep.Body["message"] != strings.TrimPrefix(want, "500 ")+"\n" || rep.Body["data"] != nil {
		t.Fatalf("500: %q %s", rep.Status, rep.Raw)
	}
	rep = r.do("POST", "/nodes/tappaas1/qemu", map[string]any{"vmid": 100, "bogus": 1}, false)
	if rep.Code != 400 || rep.Status != "400 Parameter verification failed." {
		t.Fatalf("400: %q", rep.Status)
	}
	if e := rep.Body["errors"].(map[string]any); !strings.Contains(fmt.Sprint(e["bogus"]), "property is not defined in schema") {
		t.Fatalf("errors: %v", e)
	}
	if rep := r.do("GET", "/nodes/tappaas1/nonsense", nil, false); rep.Code != 501 || rep.Status != "501 Method 'GET /nodes/tappaas1/nonsense' not implemented" {
		t.Fatalf("501: %q", rep.Status)
	}
	// go-proxmox sees the status line as the error text
	gp := tokenGP(t, l)
	node, _ := gp.Node(context.Background(), "tappaas1")
	if _, err := node.VirtualMachine(context.Background(), 999); err == nil || err.Error() != "500 Configuration file 'nodes/tappaas1/qemu-server/999.conf' does not exist" {
		t.Fatalf("go-proxmox 500: %v", err)
	}
	_, err := node.NewVirtualMachine(context.Background(), 100, proxmox.VirtualMachineOption{Name: "bogus", Value: 1})
	if err == nil || !strings.HasPrefix(err.Error(), "bad request: 400 Parameter verification failed. - ") || !strings.Contains(err.Error(), "bogus") {
		t.Fatalf("go-proxmox 400: %v", err)
	}
}

// docs/pve-api.md#parameters: JSON and form bodies, unknown params, booleans
// 0/1, numbers as numbers.
func TestContract4Params(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	r := tokenRaw(t, l)
	if rep := r.do("POST", "/access/users", map[string]string{"userid": "form@pve", "enable": "1"}, true); rep.Code != 200 {
		t.Fatalf("form body: %s %s", rep.Status, rep.Raw)
	}
	if rep := r.do("POST", "/access/users", map[string]any{"userid": "json@pve", "enable": true}, false); rep.Code != 200 {
		t.Fatalf("json body: %s %s", rep.Status, rep.Raw)
	}
	rep := r.do("POST", "/access/users", map[string]any{"userid": "yes@pve", "enable": "yes"}, false)
	if rep.Code != 400 || !strings.Contains(fmt.Sprint(rep.Body["errors"]), "type check ('boolean') failed - got 'yes'") {
		t.Fatalf("boolean yes: %s %s", rep.Status, rep.Raw)
	}
	rep = r.do("POST", "/nodes/tappaas1/disks/zfs", map[string]any{"name": "p", "raidlevel": "single", "devices": "/dev/sdb", "ashift": "x"}, false)
	if rep.Code != 400 || !strings.Contains(fmt.Sprint(rep.Body["errors"]), "type check ('integer') failed - got 'x'") {
		t.Fatalf("integer: %s", rep.Raw)
	}
	rep = r.do("GET", "/nodes/tappaas1/status?bogus=1", nil, false)
	if rep.Code != 400 {
		t.Fatalf("unknown query param: %s", rep.Status)
	}
	rep = r.do("GET", "/cluster/status", nil, false)
	if !regexp.MustCompile(`"local":1`).MatchString(rep.Raw) || !regexp.MustCompile(`"nodeid":0`).MatchString(rep.Raw) {
		t.Fatalf("numbers: %s", rep.Raw)
	}
	// go-proxmox decodes the number-strict types
	gp := tokenGP(t, l)
	if _, err := gp.Cluster(context.Background()); err != nil {
		t.Fatalf("go-proxmox Cluster: %v", err)
	}
}

var upidRe = regexp.MustCompile(`^UPID:tappaas1:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[a-z]+:[^:]*:[^:]+:$`)

// docs/pve-api.md#tasks: UPIDs, task state machine, logs.
func TestContract5Tasks(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{Speed: 0.05}) // qmcreate takes 100ms
	r := tokenRaw(t, l)
	mkPool(t, r)
	rep := r.do("POST", "/nodes/tappaas1/qemu", map[string]any{"vmid": 100, "name": "t1", "scsi0": "tanka1:4"}, false)
	upid, _ := rep.Body["data"].(string)
	if !upidRe.MatchString(upid) || !strings.Contains(upid, ":qmcreate:100:root@pam!tappaas:") {
		t.Fatalf("upid %q (%s)", upid, rep.Raw)
	}
	st := r.do("GET", "/nodes/tappaas1/tasks/"+upid+"/status", nil, false).Body["data"].(map[string]any)
	if st["status"] != "running" || st["exitstatus"] != nil || st["tokenid"] != "tappaas" || st["user"] != "root@pam" {
		t.Fatalf("running status: %v", st)
	}
	time.Sleep(150 * time.Millisecond)
	st = r.do("GET", "/nodes/tappaas1/tasks/"+upid+"/status", nil, false).Body["data"].(map[string]any)
	if st["status"] != "stopped" || st["exitstatus"] != "OK" {
		t.Fatalf("stopped status: %v", st)
	}
	lg := r.do("GET", "/nodes/tappaas1/tasks/"+upid+"/log", nil, false)
	lines := lg.Body["data"].([]any)
	if last := lines[len(lines)-1].(map[string]any); last["t"] != "TASK OK" || lg.Body["total"] == nil {
		t.Fatalf("log: %s", lg.Raw)
	}
	if rep := r.do("GET", "/nodes/tappaas1/tasks/UPID:garbled/status", nil, false); rep.Code != 400 {
		t.Fatalf("garbled upid: %s", rep.Status)
	}
	// a failing task: starting a running VM
	r.do("POST", "/nodes/tappaas1/qemu/100/status/start", nil, false)
	time.Sleep(60 * time.Millisecond)
	up2 := r.do("POST", "/nodes/tappaas1/qemu/100/status/start", nil, false).Body["data"].(string)
	time.Sleep(60 * time.Millisecond)
	st = r.do("GET", "/nodes/tappaas1/tasks/"+up2+"/status", nil, false).Body["data"].(map[string]any)
	if st["exitstatus"] != "VM 100 already running" {
		t.Fatalf("failed task: %v", st)
	}
	// go-proxmox: Wait returns nil, the status says failed
	gp := tokenGP(t, l)
	task := proxmox.NewTask(proxmox.UPID(up2), gp)
	if err := task.Wait(context.Background(), 10*time.Millisecond, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if !task.IsFailed || task.ExitStatus != "VM 100 already running" {
		t.Fatalf("go-proxmox task: %+v", task)
	}
	log, err := task.Log(context.Background(), 0, 50)
	if err != nil || !strings.HasPrefix(log[len(log)-1], "TASK ERROR: ") {
		t.Fatalf("go-proxmox log: %v %v", log, err)
	}
}

func mkPool(t testing.TB, r *raw) {
	t.Helper()
	rep := r.do("POST", "/nodes/tappaas1/disks/zfs", map[string]any{"name": "tanka1", "raidlevel": "mirror", "devices": "/dev/sdb,/dev/sdc", "add_storage": 1}, false)
	if rep.Code != 200 {
		t.Fatalf("zfs create: %s %s", rep.Status, rep.Raw)
	}
}

// docs/pve-api.md#network: stage / apply, uniqueness, arbitrary bridge names.
func TestContract6Network(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	r := tokenRaw(t, l)
	rep := r.do("POST", "/nodes/tappaas1/network", map[string]any{"iface": "lan", "type": "bridge", "bridge_ports": "enp2s0", "cidr": "10.0.0.10/24", "bridge_vlan_aware": 1, "bridge_vids": "2-4094", "autostart": 1}, false)
	if rep.Code != 200 || rep.Body["data"] != nil {
		t.Fatalf("stage: %s %s", rep.Status, rep.Raw)
	}
	list := r.do("GET", "/nodes/tappaas1/network", nil, false)
	if !strings.Contains(fmt.Sprint(list.Body["changes"]), "+iface lan inet static") {
		t.Fatalf("changes: %v", list.Body["changes"])
	}
	if _, err := l.Dial(context.Background(), "tcp", "10.0.0.10:8006"); err == nil {
		t.Fatal("staged config is live")
	}
	if rep := r.do("POST", "/nodes/tappaas1/network", map[string]any{"iface": "lan", "type": "bridge"}, false); rep.Code != 400 || !strings.Contains(rep.Raw, "interface already exists") {
		t.Fatalf("exists: %s", rep.Raw)
	}
	if rep := r.do("POST", "/nodes/tappaas1/network", map[string]any{"iface": "wan2", "type": "bridge", "gateway": "10.0.0.1", "cidr": "10.0.1.2/24"}, false); rep.Code != 400 || !strings.Contains(rep.Raw, "Default gateway already exists on interface 'vmbr0'") {
		t.Fatalf("gateway: %s", rep.Raw)
	}
	if rep := r.do("POST", "/nodes/tappaas1/network", map[string]any{"iface": "x1", "type": "bridge", "bridge_ports": "enp1s0"}, false); rep.Code != 400 || !strings.Contains(rep.Raw, "already used on interface 'vmbr0'") {
		t.Fatalf("port in use: %s", rep.Raw)
	}
	up := r.do("PUT", "/nodes/tappaas1/network", nil, false).Body["data"].(string)
	if !strings.Contains(up, ":srvreload:networking:") {
		t.Fatalf("apply upid %s", up)
	}
	if _, err := l.Dial(context.Background(), "tcp", "10.0.0.10:8006"); err != nil {
		t.Fatalf("after apply: %v", err)
	}
	// go-proxmox reads the bridges back
	gp := tokenGP(t, l)
	node, _ := gp.Node(context.Background(), "tappaas1")
	nets, err := node.Networks(context.Background(), "bridge")
	if err != nil {
		t.Fatal(err)
	}
	names := ""
	for _, n := range nets {
		names += n.Iface + " "
	}
	if names != "vmbr0 lan " {
		t.Fatalf("bridges %q", names)
	}
}

// docs/pve-api.md#storage: create reply, PBS validated against the running
// PBS.
func TestContract7Storage(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	r := tokenRaw(t, l)
	mkPool(t, r)
	rep := r.do("POST", "/storage", map[string]any{"storage": "dirstore", "type": "dir", "path": "/srv", "content": "backup,iso"}, false)
	if d, _ := rep.Body["data"].(map[string]any); rep.Code != 200 || d["storage"] != "dirstore" || d["type"] != "dir" {
		t.Fatalf("create: %s %s", rep.Status, rep.Raw)
	}
	if rep := r.do("POST", "/storage", map[string]any{"storage": "dirstore", "type": "dir", "path": "/srv"}, false); rep.Status != "500 create storage failed: storage ID 'dirstore' already defined" {
		t.Fatalf("exists: %s", rep.Status)
	}
	pbs := map[string]any{"storage": "backup", "type": "pbs", "server": "10.0.0.10", "datastore": "ds", "username": "tappaas@pbs", "password": "pw", "fingerprint": strings.Repeat("AA:", 31) + "AA"}
	if rep := r.do("POST", "/storage", pbs, false); rep.Code != 500 || !strings.Contains(rep.Status, "error fetching datastores") {
		t.Fatalf("pbs before install: %s", rep.Status)
	}
	// go-proxmox cannot decode the {storage,type} reply (documented gap)
	gp := tokenGP(t, l)
	_, err := gp.NewClusterStorage(context.Background(), proxmox.ClusterStorageOptions{Name: "storage", Value: "d2"}, proxmox.ClusterStorageOptions{Name: "type", Value: "dir"}, proxmox.ClusterStorageOptions{Name: "path", Value: "/d2"})
	if err == nil || !strings.Contains(err.Error(), "cannot unmarshal object") {
		t.Fatalf("go-proxmox NewClusterStorage: %v", err)
	}
	sts, err := gp.ClusterStorages(context.Background())
	if err != nil || len(sts) != 5 {
		t.Fatalf("storages: %v %d", err, len(sts))
	}
}

// docs/pve-api.md#vms: VM create/clone/start/stop/destroy/agent.
func TestContract8VMs(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	r := tokenRaw(t, l)
	mkPool(t, r)
	rep := r.do("POST", "/nodes/tappaas1/qemu", map[string]any{"vmid": 200, "name": "vm1", "net0": "virtio,bridge=vmbr0,tag=210,firewall=1", "scsi0": "tanka1:8", "agent": "enabled=1", "sshkeys": "ssh-ed25519 AAAA x"}, false)
	if rep.Code != 400 || !strings.Contains(fmt.Sprint(rep.Body["errors"]), "invalid urlencoded string") {
		t.Fatalf("sshkeys charset: %s", rep.Raw)
	}
	rep = r.do("POST", "/nodes/tappaas1/qemu", map[string]any{"vmid": 200, "name": "vm1", "net0": "virtio,bridge=vmbr0,tag=5000"}, false)
	if rep.Code != 400 || !strings.Contains(fmt.Sprint(rep.Body["errors"]), "net0.tag") {
		t.Fatalf("malformed net0: %s", rep.Raw)
	}
	rep = r.do("POST", "/nodes/tappaas1/qemu", map[string]any{"vmid": 200, "name": "vm1", "net0": "virtio,bridge=vmbr0,tag=210", "scsi0": "tanka1:8", "agent": "enabled=1", "ide2": "tanka1:cloudinit", "ciuser": "u", "ipconfig0": "ip=dhcp", "sshkeys": "ssh-ed25519%20AAAA%20x"}, false)
	if !strings.Contains(fmt.Sprint(rep.Body["data"]), ":qmcreate:200:") {
		t.Fatalf("create: %s", rep.Raw)
	}
	cfg := r.do("GET", "/nodes/tappaas1/qemu/200/config", nil, false).Body["data"].(map[string]any)
	if !regexp.MustCompile(`^virtio=BC:24:11:[0-9A-F]{2}:[0-9A-F]{2}:[0-9A-F]{2},bridge=vmbr0,tag=210$`).MatchString(fmt.Sprint(cfg["net0"])) {
		t.Fatalf("net0 %v", cfg["net0"])
	}
	if rep := r.do("POST", "/nodes/tappaas1/qemu", map[string]any{"vmid": 200}, false); rep.Status != "500 unable to create VM 200 - VM 200 already exists on node 'tappaas1'" {
		t.Fatalf("exists: %s", rep.Status)
	}
	if rep := r.do("GET", "/nodes/tappaas1/qemu/200/agent/network-get-interfaces", nil, false); rep.Status != "500 VM 200 is not running" {
		t.Fatalf("agent stopped: %s", rep.Status)
	}
	r.do("POST", "/nodes/tappaas1/qemu/200/status/start", nil, false)
	if rep := r.do("GET", "/nodes/tappaas1/qemu/200/agent/network-get-interfaces", nil, false); rep.Status != "500 QEMU guest agent is not running" {
		t.Fatalf("agent of a blank disk: %s", rep.Status)
	}
	if rep := r.do("DELETE", "/nodes/tappaas1/qemu/200", nil, false); rep.Status != "500 VM 200 is running - destroy failed" {
		t.Fatalf("destroy running: %s", rep.Status)
	}
	r.do("POST", "/nodes/tappaas1/qemu/200/status/stop", nil, false)
	r.do("POST", "/cluster/ha/resources", map[string]any{"sid": "vm:200", "state": "started"}, false)
	if rep := r.do("DELETE", "/nodes/tappaas1/qemu/200", nil, false); rep.Status != "500 unable to remove VM 200 - used in HA resources and purge parameter not set." {
		t.Fatalf("destroy HA: %s", rep.Status)
	}
	if rep := r.do("POST", "/nodes/tappaas1/qemu/200/clone", map[string]any{"newid": 201, "name": "vm2", "full": 1}, false); !strings.Contains(fmt.Sprint(rep.Body["data"]), ":qmclone:200:") {
		t.Fatalf("clone: %s", rep.Raw)
	}
	if rep := r.do("POST", "/nodes/tappaas1/qemu/200/status/start", map[string]any{"skiplock": 1}, false); rep.Code != 400 || !strings.Contains(rep.Raw, "Only root may use this option.") {
		t.Fatalf("skiplock by token: %s", rep.Raw)
	}
	if rep := r.do("DELETE", "/nodes/tappaas1/qemu/200?purge=1", nil, false); rep.Code != 200 {
		t.Fatalf("destroy purge: %s", rep.Status)
	}
	// go-proxmox view of the clone
	gp := tokenGP(t, l)
	node, _ := gp.Node(context.Background(), "tappaas1")
	vm, err := node.VirtualMachine(context.Background(), 201)
	if err != nil || vm.Name != "vm2" || vm.VirtualMachineConfig.Nets["net0"] == cfg["net0"] {
		t.Fatalf("go-proxmox clone: %v %+v", err, vm)
	}
	task, err := vm.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(context.Background(), 10*time.Millisecond, time.Second); err != nil || !task.IsSuccessful {
		t.Fatalf("start: %v %+v", err, task)
	}
	if _, err := vm.AgentGetNetworkIFaces(context.Background()); err == nil || err.Error() != "500 QEMU guest agent is not running" {
		t.Fatalf("go-proxmox agent: %v", err)
	}
}

// docs/pve-api.md#cluster: status standalone vs clustered; join info.
func TestContract9Cluster(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	r := tokenRaw(t, l)
	st := r.do("GET", "/cluster/status", nil, false).Body["data"].([]any)
	if len(st) != 1 || st[0].(map[string]any)["type"] != "node" {
		t.Fatalf("standalone: %v", st)
	}
	if rep := r.do("GET", "/cluster/config/join", nil, false); rep.Code != 424 {
		t.Fatalf("join info standalone: %s", rep.Status)
	}
	tk := ticketRaw(t, l)
	up := tk.do("POST", "/cluster/config", map[string]any{"clustername": "TAPPaaS", "link0": "192.168.1.10"}, false).Body["data"].(string)
	if !strings.Contains(up, ":clustercreate:TAPPaaS:root@pam:") {
		t.Fatalf("create upid %s", up)
	}
	st = r.do("GET", "/cluster/status", nil, false).Body["data"].([]any)
	if len(st) != 2 || st[0].(map[string]any)["type"] != "cluster" || st[0].(map[string]any)["quorate"] != float64(1) {
		t.Fatalf("clustered: %v", st)
	}
	ji := r.do("GET", "/cluster/config/join", nil, false).Body["data"].(map[string]any)
	if fp := ji["nodelist"].([]any)[0].(map[string]any)["pve_fp"]; fp != l.Info().PVEFingerprint {
		t.Fatalf("pve_fp %v", fp)
	}
	gp := tokenGP(t, l)
	cl, err := gp.Cluster(context.Background())
	if err != nil || cl.Name != "TAPPaaS" || cl.Quorate != 1 {
		t.Fatalf("go-proxmox cluster: %v %+v", err, cl)
	}
}

// The refusals issue 3 lists, in one place.
func TestRefusals(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	r := tokenRaw(t, l)
	bad := &raw{t: t, c: httpClient(l), auth: "PVEAPIToken=root@pam!tappaas=bad"}
	if rep := bad.do("GET", "/nodes", nil, false); rep.Code != 401 {
		t.Errorf("wrong token: %s", rep.Status)
	}
	tk := ticketRaw(t, l)
	tk.csrf = ""
	if rep := tk.do("PUT", "/nodes/tappaas1/network", nil, false); rep.Code != 401 {
		t.Errorf("missing CSRF: %s", rep.Status)
	}
	if rep := r.do("PUT", "/nodes/tappaas1/network", map[string]any{"bogus": 1}, false); rep.Code != 400 {
		t.Errorf("unknown parameter: %s", rep.Status)
	}
	if rep := r.do("POST", "/nodes/tappaas1/qemu", map[string]any{"vmid": 300, "net0": "virtio,bridge=lan,color=blue"}, false); rep.Code != 400 || !strings.Contains(rep.Raw, "net0.color") {
		t.Errorf("malformed net0: %s", rep.Raw)
	}
	if _, err := pinnedClient(l, strings.Repeat("11:", 31)+"11").Get(base + "/version"); err == nil {
		t.Error("pinned-fingerprint mismatch accepted")
	}
	if _, err := l.Dial(context.Background(), "tcp", "10.0.0.1:443"); err == nil || !strings.Contains(err.Error(), "no route to host") {
		t.Errorf("OPNsense before its VM booted: %v", err)
	}
	if _, err := l.Dial(context.Background(), "tcp", "8.8.8.8:53"); err == nil || !strings.Contains(err.Error(), "connect: no route to host") {
		t.Errorf("outside the lab: %v", err)
	}
}
