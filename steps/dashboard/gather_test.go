package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

// fakePVE answers the dashboard's reads with fixed data; paths in hang
// never answer (until the client gives up).
func fakePVE(t *testing.T, hang ...string) *proxmox.Client {
	t.Helper()
	now := time.Now().Unix()
	data := map[string]any{
		"/cluster/status": []any{
			map[string]any{"type": "cluster", "id": "cluster", "name": "TAPPaaS", "nodes": 2, "quorate": 1, "version": 2},
			map[string]any{"type": "node", "id": "node/n1", "name": "n1", "online": 1, "local": 1, "nodeid": 1, "ip": "10.0.0.10", "level": ""},
			map[string]any{"type": "node", "id": "node/n2", "name": "n2", "online": 0, "local": 0, "nodeid": 2, "ip": "10.0.0.11", "level": ""},
		},
		"/cluster/resources": []any{
			map[string]any{"id": "node/n1", "type": "node", "node": "n1", "status": "online", "cpu": 0.1, "maxcpu": 4, "mem": 2 << 30, "maxmem": 16 << 30, "disk": 1 << 30, "maxdisk": 60 << 30, "uptime": 100},
			map[string]any{"id": "node/n2", "type": "node", "node": "n2", "status": "offline"},
			map[string]any{"id": "qemu/110", "type": "qemu", "vmid": 110, "name": "firewall", "node": "n1", "status": "running", "uptime": 50, "template": 0, "hastate": "started"},
			map[string]any{"id": "qemu/130", "type": "qemu", "vmid": 130, "name": "cicd", "node": "n1", "status": "stopped", "template": 0},
			map[string]any{"id": "qemu/8080", "type": "qemu", "vmid": 8080, "name": "tmpl", "node": "n1", "status": "stopped", "template": 1},
		},
		"/nodes": []any{
			map[string]any{"node": "n1", "status": "online", "id": "node/n1", "type": "node"},
			map[string]any{"node": "n2", "status": "offline", "id": "node/n2", "type": "node"},
		},
		"/nodes/n1/status": map[string]any{"pveversion": "pve-manager/9.1.4/abc", "cpu": 0.1, "uptime": 100,
			"memory": map[string]any{"total": 16 << 30, "used": 2 << 30}, "rootfs": map[string]any{"total": 60 << 30, "used": 1 << 30}},
		"/cluster/ha/status/current": []any{
			map[string]any{"id": "quorum", "type": "quorum", "node": "n1", "status": "OK", "quorate": 1},
			map[string]any{"id": "service:vm:110", "type": "service", "sid": "vm:110", "node": "n1", "state": "started", "crm_state": "started", "request_state": "started"},
		},
		"/nodes/n1/tasks": []any{
			map[string]any{"upid": "UPID:n1:1:1:1:vzdump:110:root@pam:", "type": "vzdump", "id": "110", "node": "n1", "user": "root@pam", "starttime": now - 3600, "endtime": now - 3500, "status": "OK"},
			map[string]any{"upid": "UPID:n1:2:1:1:vzdump:130:root@pam:", "type": "vzdump", "id": "130", "node": "n1", "user": "root@pam", "starttime": now - 600, "endtime": now - 500, "status": "job errors"},
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, "/api2/json")
		for _, h := range hang {
			if p == h {
				<-r.Context().Done()
				return
			}
		}
		d, ok := data[p]
		if !ok {
			http.Error(w, `{"data":null}`, http.StatusNotImplemented)
			return
		}
		if p == "/nodes/n1/tasks" && r.URL.Query().Get("typefilter") != "vzdump" {
			t.Errorf("tasks read without typefilter=vzdump: %s", r.URL.RawQuery)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"data": d})
	}))
	t.Cleanup(srv.Close)
	return proxmox.NewClient(srv.URL+"/api2/json", proxmox.WithHTTPClient(srv.Client()))
}

func TestGather(t *testing.T) {
	t.Parallel()
	d := Gather(context.Background(), Sources{PVE: fakePVE(t), Timeout: 30 * time.Second}, nil)
	for _, s := range d.Sources {
		if s.Stale || s.LastOK.IsZero() {
			t.Errorf("source %+v: want fresh", s)
		}
	}
	if d.Cluster.Name != "TAPPaaS" || !d.Cluster.Quorate || d.Cluster.Nodes != 2 || d.Cluster.Level != Green {
		t.Errorf("cluster %+v", d.Cluster)
	}
	if len(d.Nodes) != 2 || d.Nodes[0].PVEVersion != "9.1.4" || d.Nodes[0].Level != Green || d.Nodes[1].Level != Red || d.Nodes[1].Reason != "offline" {
		t.Errorf("nodes %+v", d.Nodes)
	}
	if len(d.VMs) != 3 || d.VMs[0].HAState != "started" || d.VMs[0].Level != Green || d.VMs[1].Level != Red || d.VMs[1].Reason != "stopped" || d.VMs[2].Level != Green {
		t.Errorf("VMs %+v", d.VMs)
	}
	if len(d.Backups) != 2 || d.Backups[0].Result != "OK" || d.Backups[0].Level != Green || d.Backups[0].Age < time.Hour ||
		d.Backups[1].Level != Red || !strings.Contains(d.Backups[1].Reason, "job errors") {
		t.Errorf("backups %+v", d.Backups)
	}
	if d.Level != Red {
		t.Errorf("level %s, want red", d.Level)
	}

	// The HA source hangs: it is stale since the previous gather, its
	// data (HA state) is taken from what /cluster/resources says, and
	// the other panels are fresh.
	d2 := Gather(context.Background(), Sources{PVE: fakePVE(t, "/cluster/ha/status/current"), Timeout: 2 * time.Second}, d)
	ha := d2.Source(SrcHA)
	if !ha.Stale || !ha.LastOK.Equal(d.Source(SrcHA).LastOK) || !strings.HasPrefix(ha.StaleText(), "stale since ") || !strings.Contains(ha.Error, "no answer within 2s") {
		t.Errorf("HA source %+v (%s): want stale since the first gather", ha, ha.StaleText())
	}
	if d2.Source(SrcResources).Stale || len(d2.VMs) != 3 || d2.VMs[0].HAState != "started" {
		t.Errorf("with HA hanging: resources %+v, VMs %+v", d2.Source(SrcResources), d2.VMs)
	}

	// The resources source fails: the VM rows of the previous gather stay.
	d3 := Gather(context.Background(), Sources{PVE: fakePVE(t, "/cluster/resources"), Timeout: 2 * time.Second}, d)
	if !d3.Source(SrcResources).Stale || len(d3.VMs) != 3 || d3.VMs[1].Reason != "stopped" || len(d3.Nodes) != 2 || d3.Nodes[1].Level != Red {
		t.Errorf("with resources hanging: VMs %+v, nodes %+v", d3.VMs, d3.Nodes)
	}
}
