package pve

import (
	"encoding/json"
	"strings"
	"testing"
)

// The endpoints the dashboard reads answer in PVE's shape.
func TestDashboardEndpoints(t *testing.T) {
	t.Parallel()
	tn := newTestNode(t)
	tn.run(0, "", "qm create 100 --name fw --memory 1024")
	tn.run(0, "", "qm create 101 --name cicd --memory 1024")

	// HA status without resources: the quorum row only.
	var ha []map[string]any
	if err := json.Unmarshal([]byte(tn.run(0, "", "pvesh get /cluster/ha/status/current --output-format json")), &ha); err != nil {
		t.Fatal(err)
	}
	if len(ha) != 1 || ha[0]["id"] != "quorum" || ha[0]["quorate"] != float64(1) {
		t.Fatalf("ha status without resources = %v, want one quorum row", ha)
	}
	tn.run(0, "", "pvesh create /cluster/ha/resources --sid vm:100 --state started")
	ha = nil
	if err := json.Unmarshal([]byte(tn.run(0, "", "pvesh get /cluster/ha/status/current --output-format json")), &ha); err != nil {
		t.Fatal(err)
	}
	var svc map[string]any
	for _, r := range ha {
		if r["id"] == "service:vm:100" {
			svc = r
		}
	}
	if svc == nil || svc["sid"] != "vm:100" || svc["request_state"] != "started" || svc["crm_state"] != "stopped" || svc["type"] != "service" {
		t.Fatalf("service row = %v (all %v)", svc, ha)
	}

	// /cluster/resources guest rows: maxcpu, not qemu status's cpus/pid.
	tn.run(0, "", "qm start 101")
	var res []map[string]any
	if err := json.Unmarshal([]byte(tn.run(0, "", "pvesh get /cluster/resources --type vm --output-format json")), &res); err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		_, cpus := r["cpus"]
		_, pid := r["pid"]
		if r["maxcpu"] == nil || cpus || pid || r["hastate"] == nil && r["vmid"] == float64(100) {
			t.Errorf("resources row %v: want maxcpu (and hastate on the HA guest), no cpus or pid", r)
		}
	}

	// vzdump: one task per VMID run; unknown VMs fail the task; filters
	// apply before the limit.
	tn.run(0, "Backup job finished successfully", "pvesh create /nodes/tappaas1/vzdump --vmid 100 --storage local")
	tn.run(255, "unable to find VM 999", "pvesh create /nodes/tappaas1/vzdump --vmid 999 --storage local")
	for i := 0; i < 3; i++ {
		tn.run(0, "", "qm set 101 --cores 2")
	}
	var tasks []map[string]any
	if err := json.Unmarshal([]byte(tn.run(0, "", "pvesh get /nodes/tappaas1/tasks --typefilter vzdump --limit 2 --output-format json")), &tasks); err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 || tasks[0]["type"] != "vzdump" || tasks[0]["id"] != "999" || tasks[1]["id"] != "100" ||
		!strings.Contains(tasks[0]["status"].(string), "unable to find VM 999") || tasks[1]["status"] != "OK" {
		t.Fatalf("vzdump tasks = %v", tasks)
	}
	tn.run(255, "does not exist", "pvesh create /nodes/tappaas1/vzdump --vmid 100 --storage nosuch")
}
