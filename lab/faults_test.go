package lab

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseFault(t *testing.T) {
	t.Parallel()
	good := map[string]Fault{
		"api:POST /nodes/tappaas1/qemu=2": {Face: "api", Match: "POST /nodes/tappaas1/qemu", Times: 2},
		"api:GET /version":                {Face: "api", Match: "GET /version", Times: 1},
		"ssh:qm start":                    {Face: "ssh", Match: "qm start", Times: 1},
		"slow:qm start=20s":               {Match: "qm start", Delay: 20 * time.Second, Times: -1},
		"drop:3":                          {Face: "ssh", DropAt: 3},
		"drop+after:4":                    {Face: "ssh", DropAt: 4, After: true},
		"opnsense:POST /api/firewall/filter/addRule":       {Face: "opnsense", Match: "POST /api/firewall/filter/addRule", Times: 1},
		"opnsense+after:POST /api/firewall/filter/addRule": {Face: "opnsense", Match: "POST /api/firewall/filter/addRule", Times: 1, After: true},
		"ssh+after:qm create 110=2":                        {Face: "ssh", Match: "qm create 110", Times: 2, After: true},
	}
	for in, want := range good {
		got, err := ParseFault(in)
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "api", "api:/x", "api:GET /x=0", "slow:x", "slow:x=-1s", "drop:0", "boom:1", "ssh:x=abc", "slow+after:x=1s", "opnsense:/api/x", "boom+after:x"} {
		if _, err := ParseFault(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseFault(f *testing.F) {
	f.Add("api:GET /version=2")
	f.Add("slow:qm=1s")
	f.Fuzz(func(t *testing.T, s string) { _, _ = ParseFault(s) })
}

func TestSpeedScalesTasks(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{Speed: 0.02}) // zfscreate 3s → 60ms
	t0 := time.Now()
	sh(t, l, 0, "pvesh create /nodes/tappaas1/disks/zfs --name tanka1 --raidlevel mirror --devices /dev/sdb,/dev/sdc")
	if d := time.Since(t0); d < 50*time.Millisecond || d > 2*time.Second {
		t.Fatalf("zfscreate took %v at speed 0.02", d)
	}
}

func TestPBSAPI(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	bootstrapNode(t, l)
	sh(t, l, 0, `printf '\nTypes: deb\nURIs: http://download.proxmox.com/debian/pbs\nSuites: trixie\nComponents: pbs-no-subscription\n' >> /etc/apt/sources.list.d/proxmox.sources && apt-get update && apt-get install -y proxmox-backup-server`)
	sh(t, l, 0, "proxmox-backup-manager datastore create ds /srv/ds && proxmox-backup-manager user create u@pbs && proxmox-backup-manager acl update /datastore/ds DatastoreBackup --auth-id u@pbs")
	out := sh(t, l, 0, "proxmox-backup-manager user generate-token u@pbs t --output-format json && proxmox-backup-manager acl update /datastore/ds DatastoreBackup --auth-id 'u@pbs!t'")
	secret := out[strings.Index(out, `"value":"`)+9:]
	secret = secret[:strings.Index(secret, `"`)]
	c := pinnedClient(l, l.Info().PBSFingerprint)
	get := func(auth string) (int, string) {
		req, _ := http.NewRequest("GET", "https://10.0.0.10:8007/api2/json/admin/datastore", nil)
		req.Header.Set("Authorization", auth)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("PBSAPIToken=u@pbs!t:" + secret); code != 200 || !strings.Contains(body, `"store":"ds"`) {
		t.Fatalf("token: %d %s", code, body)
	}
	if code, body := get("PBSAPIToken u@pbs!t:" + secret); code != 200 || !strings.Contains(body, `"store":"ds"`) {
		t.Fatalf("token (space form): %d %s", code, body)
	}
	if code, _ := get("PBSAPIToken=u@pbs!t:wrong"); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	// the PVE cert is not the PBS cert: pinning the PVE fingerprint fails
	if _, err := pinnedClient(l, l.Info().PVEFingerprint).Get("https://10.0.0.10:8007/api2/json/version"); err == nil {
		t.Fatal("PBS served the PVE certificate")
	}
}

func TestFirewallBootDelay(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{Speed: 0.004}) // 45 s boot → 180 ms
	bootstrapNode(t, l)
	bootFirewall(t, l)
	if _, err := l.Dial(context.Background(), "tcp", "10.0.0.1:443"); err == nil {
		t.Fatal("firewall answers while still booting")
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := l.Dial(context.Background(), "tcp", "10.0.0.1:443")
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("firewall never came up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeAndConnect(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, dir) }()
	var r *Remote
	for i := 0; i < 100; i++ {
		var err error
		if r, err = Connect(dir); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r == nil {
		t.Fatal("no endpoint")
	}
	info, err := r.Info(context.Background())
	if err != nil || info.PVEFingerprint != l.Info().PVEFingerprint {
		t.Fatalf("remote info: %v", err)
	}
	c, err := r.Dial(context.Background(), "tcp", "192.168.1.10:8006")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := r.Dial(context.Background(), "tcp", "10.0.0.1:443"); err == nil || !strings.Contains(err.Error(), "no route to host") {
		t.Fatalf("remote dial outside: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := Connect(dir); err == nil {
		t.Fatal("endpoint left behind")
	}
}
