package lab

import (
	"context"
	"strings"
	"testing"

	proxmox "github.com/luthermonson/go-proxmox"
)

// docs/pve-api.md#cluster (the join) and docs/upstream.md#join: a
// second node joins the first node's cluster; the joiner's tokens are wiped
// and its certificate changes.
func TestContract9JoinSecondNode(t *testing.T) {
	t.Parallel()
	site := NewSite()
	l1 := startLab(t, Options{Site: site})
	bootstrapNode(t, l1)
	bootFirewall(t, l1)
	l2 := startLab(t, Options{Site: site, Hostname: "tappaas2"})
	i2 := l2.Info()
	if i2.NodeAddr != "10.0.0.11" {
		t.Fatalf("secondary install address %s", i2.NodeAddr)
	}
	// the secondary is reachable from the first lab's network, and routes out via the firewall
	if c, err := l1.Dial(context.Background(), "tcp", "10.0.0.11:8006"); err != nil {
		t.Fatalf("tappaas2 from the site: %v", err)
	} else {
		c.Close()
	}
	sh(t, l2, 0, noSubSources+" && apt-get update")

	// a token made before the join
	id, secret := rootToken(t, l2, "before")
	c2 := func() *raw {
		return &raw{t: t, c: httpClient(l2), auth: "PVEAPIToken=" + id + "=" + secret, base: nodeBase(l2)}
	}
	fp1 := l1.Info().PVEFingerprint
	fpBefore := i2.PVEFingerprint

	// wrong fingerprint and wrong password are refused
	if out := sh(t, l2, 255, "pvesh create /cluster/config/join --hostname tappaas1.mgmt.internal --password "+l1.Info().RootPassword+" --fingerprint "+strings.Repeat("AB:", 31)+"AB"); !strings.Contains(out, "fingerprint mismatch") {
		t.Fatalf("wrong fingerprint: %s", out)
	}
	sh(t, l2, 255, "pvesh create /cluster/config/join --hostname tappaas1.mgmt.internal --password wrong --fingerprint "+fp1)
	out := sh(t, l2, 0, "pvesh create /cluster/config/join --hostname tappaas1.mgmt.internal --password "+l1.Info().RootPassword+" --fingerprint "+fp1+" --link0 10.0.0.11")
	if !strings.Contains(out, "successfully added node 'tappaas2' to cluster.") {
		t.Fatalf("join: %s", out)
	}
	// tokens wiped, certificate regenerated, signed by the cluster CA
	if rep := c2().do("GET", "/version", nil, false); rep.Code != 401 {
		t.Fatalf("token survived the join: %s", rep.Status)
	}
	i2 = l2.Info()
	if i2.PVEFingerprint == fpBefore || string(i2.PVECAPEM) != string(l1.Info().PVECAPEM) {
		t.Fatal("joiner certificate not regenerated under the cluster CA")
	}
	// both sides see two nodes; tappaas1's join info carries tappaas2's new fingerprint
	for _, l := range []*Lab{l1, l2} {
		if out := sh(t, l, 0, "pvecm status"); !strings.Contains(out, "Nodes:            2") {
			t.Fatalf("%s: %s", l.Info().Hostname, out)
		}
	}
	if out := sh(t, l1, 0, "pvesh get /cluster/config/join --output-format json"); !strings.Contains(out, i2.PVEFingerprint) {
		t.Fatalf("join info: %s", out)
	}
	// a ticket issued by tappaas1 is valid on tappaas2 (shared authkey)
	tk := ticketRaw(t, l1)
	tk.c, tk.base = httpClient(l2), nodeBase(l2)
	if rep := tk.do("GET", "/cluster/status", nil, false); rep.Code != 200 {
		t.Fatalf("tappaas1 ticket on tappaas2: %s", rep.Status)
	}
	// go-proxmox on tappaas2 (root@pam is PAM: tappaas2's own password)
	gp := proxmox.NewClient("https://10.0.0.11:8006/api2/json", proxmox.WithHTTPClient(httpClient(l2)),
		proxmox.WithCredentials(&proxmox.Credentials{Username: "root@pam", Password: l2.Info().RootPassword}))
	cl, err := gp.Cluster(context.Background())
	if err != nil || len(cl.Nodes) != 2 || cl.Name != "TAPPaaS" {
		t.Fatalf("go-proxmox on tappaas2: %v %+v", err, cl)
	}
	// replication of a tanka1 guest to the new member
	sh(t, l1, 0, "qm create 150 --name r1 --scsi0 tanka1:4 && qm create 151 --name r2 --scsi0 local-lvm:4")
	sh(t, l1, 0, "pvesr create-local-job 150-0 tappaas2 --schedule '*/15'")
	if out := sh(t, l1, 255, "pvesr create-local-job 150-0 tappaas2"); !strings.Contains(out, "already exists") {
		t.Fatalf("duplicate job: %s", out)
	}
	if out := sh(t, l1, 255, "pvesr create-local-job 151-0 tappaas2"); !strings.Contains(out, "missing replicate feature") {
		t.Fatalf("lvm guest: %s", out)
	}
	sh(t, l1, 255, "pvesr create-local-job 150-1 tappaas9")
	// joining again is refused
	if out := sh(t, l2, 255, "pvesh create /cluster/config/join --hostname tappaas1 --password x --fingerprint "+fp1); !strings.Contains(out, "already a cluster member") {
		t.Fatalf("second join: %s", out)
	}
}
