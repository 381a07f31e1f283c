package pve

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// hClusterStatus is GET /cluster/status (PVE API: GET /cluster/status,
// pve-manager PVE/API2/Cluster.pm "get_status"): a "cluster" row (id, name, nodes, quorate, version) when
// clustered, and one "node" row per member (id, name, ip, level, local,
// nodeid, online).
func hClusterStatus(c *call) (any, error) {
	m := c.n.m
	ip := m.NodeAddr
	if m.Cluster != nil && m.Cluster.Link0 != "" {
		ip = m.Cluster.Link0
	}
	node := map[string]any{"type": "node", "id": "node/" + m.Hostname, "name": m.Hostname, "ip": ip, "local": 1, "online": 1, "level": "", "nodeid": 0}
	if m.Cluster == nil {
		return []any{node}, nil
	}
	out := []any{map[string]any{"type": "cluster", "id": "cluster", "name": m.Cluster.Name, "nodes": len(m.Cluster.Members), "version": m.Cluster.Version, "quorate": 1}}
	for _, mb := range m.Cluster.Members {
		local := 0
		if mb.Name == m.Hostname {
			local = 1
		}
		out = append(out, map[string]any{"type": "node", "id": "node/" + mb.Name, "name": mb.Name, "ip": mb.Addr, "local": local, "online": 1, "level": "", "nodeid": mb.NodeID})
	}
	return out, nil
}

var clusterNameRe = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?$`)

var linkParam = pFmt(func(v string) string {
	for _, kv := range strings.Split(v, ",") {
		k, val, has := strings.Cut(kv, "=")
		if !has {
			val, k = k, "address"
		}
		switch k {
		case "address":
			if checkIP(val) != "" && !dnsNameRe.MatchString(val) {
				return "invalid format - format error\nlink0.address: invalid format - value does not look like a valid address: " + val
			}
		case "priority":
			if _, err := strconv.Atoi(val); err != nil {
				return "invalid format - format error\nlink0.priority: type check ('integer') failed - got '" + val + "'"
			}
		default:
			return "invalid format - format error\nlink0." + k + ": property is not defined in schema and the schema does not allow additional properties"
		}
	}
	return ""
})

// createCluster is POST /cluster/config and pvecm create.
func (n *Node) createCluster(auth authInfo, name, link0 string) (*Task, error) {
	if len(name) > 15 || !clusterNameRe.MatchString(name) {
		return nil, paramErr("clustername", "invalid format - value does not look like a valid cluster name")
	}
	if n.m.Cluster != nil {
		return nil, runErr("cluster config '/etc/pve/corosync.conf' already exists")
	}
	addr := strings.TrimPrefix(strings.Split(link0, ",")[0], "address=")
	if addr == "" {
		addr = n.m.NodeAddr
	}
	if !n.hasLocalAddr(addr) {
		return nil, runErr("cannot use IP '%s', not found on local node!", addr)
	}
	if len(n.m.VMs) > 0 && false {
		return nil, runErr("this host already contains virtual guests")
	}
	n.m.Cluster = &Cluster{Name: name, Version: 1, Link0: addr, Created: time.Now().UTC(), NodeID: 1,
		Members: []Member{{Name: n.m.Hostname, NodeID: 1, Addr: addr, FP: PEMFingerprint(n.m.Certs.NodePEM)}}}
	n.m.Services["corosync"] = "active"
	_ = n.fs.WriteFile("/etc/corosync/authkey", []byte(randHex(64)), 0o400)
	lines := []string{"Corosync Cluster Engine Authentication key generator.", "Gathering 2048 bits for key from /dev/urandom.",
		"Writing corosync key to /etc/corosync/authkey.", "Writing corosync config to /etc/pve/corosync.conf", "Restart corosync and cluster filesystem"}
	return n.newTask("clustercreate", name, auth.authID(), 5*time.Second, lines, ""), nil
}

func (n *Node) hasLocalAddr(ip string) bool {
	for _, l := range n.m.Links {
		for _, a := range l.Addrs {
			if strings.SplitN(a, "/", 2)[0] == ip {
				return true
			}
		}
	}
	return false
}

func hClusterCreate(c *call) (any, error) {
	t, err := c.n.createCluster(c.auth, c.p["clustername"], c.p["link0"])
	if err != nil {
		return nil, err
	}
	return t.UPID, nil
}

func hClusterConfig(c *call) (any, error) {
	return []any{map[string]any{"name": "nodes"}, map[string]any{"name": "totem"}, map[string]any{"name": "join"}, map[string]any{"name": "qdevice"}, map[string]any{"name": "apiversion"}}, nil
}

func hJoinInfo(c *call) (any, error) {
	m := c.n.m
	if m.Cluster == nil {
		return nil, &APIError{Code: 424, Msg: "node is not in a cluster, no join info available!"}
	}
	var nl []any
	for _, mb := range m.Cluster.Members {
		fp := mb.FP
		if mb.Name == m.Hostname {
			fp = PEMFingerprint(m.Certs.NodePEM)
		}
		nl = append(nl, map[string]any{"name": mb.Name, "nodeid": strconv.Itoa(mb.NodeID), "ring0_addr": mb.Addr, "quorum_votes": "1", "pve_addr": mb.Addr, "pve_fp": fp})
	}
	return map[string]any{
		"nodelist":       nl,
		"preferred_node": m.Hostname,
		"totem":          map[string]any{"cluster_name": m.Cluster.Name, "config_version": strconv.Itoa(m.Cluster.Version), "version": "2", "secauth": "on", "link_mode": "passive", "ip_version": "ipv4-6", "interface": map[string]any{"0": map[string]any{"linknumber": "0"}}},
		"config_digest":  hashSecret(m.Cluster.Name)[:40],
	}, nil
}

func hJoin(c *call) (any, error) {
	t, err := c.n.join(c.auth, c.p["hostname"], c.p["password"], c.p["fingerprint"], c.p["link0"])
	if err != nil {
		return nil, err
	}
	return t.UPID, nil
}

func hAPIVersion(c *call) (any, error) { return 2, nil }

func hConfigNodes(c *call) (any, error) {
	m := c.n.m
	if m.Cluster == nil {
		return nil, runErr("Corosync config '/etc/pve/corosync.conf' does not exist - is this node part of a cluster?")
	}
	var out []any
	for _, mb := range m.Cluster.Members {
		out = append(out, map[string]any{"node": mb.Name, "name": mb.Name, "nodeid": strconv.Itoa(mb.NodeID), "quorum_votes": "1", "ring0_addr": mb.Addr})
	}
	return out, nil
}

// hResources is GET /cluster/resources (PVE API: GET /cluster/resources,
// pve-manager PVE/API2/Cluster.pm "resources"). The schema's fields: id,
// type, node, status, name, vmid, cpu, maxcpu, mem, maxmem, disk, maxdisk,
// diskread, diskwrite, netin, netout, uptime, template, hastate, lock,
// tags, pool (guests); level, cgroup-mode (nodes); storage, plugintype,
// content, shared (storage). A guest row has "maxcpu", not qemu status's
// "cpus", and no "pid".
func hResources(c *call) (any, error) {
	n := c.n
	m := n.m
	out := []any{}
	t := c.p["type"]
	if m.Cluster != nil && (t == "" || t == "node") {
		for _, mb := range m.Cluster.Members {
			if mb.Name != m.Hostname {
				out = append(out, map[string]any{"id": "node/" + mb.Name, "type": "node", "node": mb.Name, "status": "online", "maxcpu": 4, "maxmem": 16 << 30, "level": ""})
			}
		}
	}
	if t == "" || t == "node" {
		out = append(out, map[string]any{"id": "node/" + m.Hostname, "type": "node", "node": m.Hostname, "status": "online", "maxcpu": 4, "maxmem": 16 << 30, "maxdisk": 68 << 30, "cpu": 0.03, "mem": 3 << 30, "disk": 5 << 30, "uptime": int(time.Since(m.Booted).Seconds()), "level": "", "cgroup-mode": 2})
	}
	if t == "" || t == "vm" {
		for _, id := range sortedInts(m.VMs) {
			vm := m.VMs[id]
			s := n.vmStatus(vm, false)
			s["maxcpu"] = s["cpus"]
			delete(s, "cpus")
			delete(s, "pid")
			s["id"] = fmt.Sprintf("qemu/%d", id)
			s["type"] = "qemu"
			s["node"] = m.Hostname
			s["template"] = 0
			if vm.Config["template"] == "1" {
				s["template"] = 1
			}
			for _, h := range m.HA {
				if h.SID == fmt.Sprintf("vm:%d", id) {
					s["hastate"] = h.State
				}
			}
			out = append(out, s)
		}
	}
	if t == "" || t == "storage" {
		for _, s := range m.Storages {
			st := n.storageStatus(s)
			status := "available"
			if st["active"] == 0 {
				status = "unknown"
			}
			out = append(out, map[string]any{"id": "storage/" + m.Hostname + "/" + s.ID, "type": "storage", "storage": s.ID, "node": m.Hostname,
				"plugintype": s.Type, "content": s.Config["content"], "shared": 0, "status": status, "disk": st["used"], "maxdisk": st["total"]})
		}
	}
	if t != "" && t != "vm" && t != "node" && t != "storage" && t != "sdn" && t != "pool" {
		return nil, paramErr("type", fmt.Sprintf("value '%s' does not have a value in the enumeration 'vm, storage, node, sdn'", t))
	}
	return out, nil
}

// --- HA ---

func normSID(s string) (string, bool) {
	if !strings.Contains(s, ":") {
		s = "vm:" + s
	}
	typ, id, _ := strings.Cut(s, ":")
	if (typ != "vm" && typ != "ct") || id == "" {
		return "", false
	}
	if _, err := strconv.Atoi(id); err != nil {
		return "", false
	}
	return s, true
}

func haJSON(h *HAResource) map[string]any {
	fb := 0
	if h.Failback {
		fb = 1
	}
	out := map[string]any{"sid": h.SID, "type": strings.SplitN(h.SID, ":", 2)[0], "state": h.State, "max_restart": h.MaxRestart, "max_relocate": h.MaxRelocate, "failback": fb, "digest": hashSecret(h.SID + h.State)[:40]}
	if h.Comment != "" {
		out["comment"] = h.Comment
	}
	return out
}

func hHAList(c *call) (any, error) {
	out := []any{}
	for _, h := range c.n.m.HA {
		if t := c.p["type"]; t != "" && !strings.HasPrefix(h.SID, t+":") {
			continue
		}
		out = append(out, haJSON(h))
	}
	return out, nil
}

func (n *Node) haFind(sid string) (*HAResource, int) {
	for i, h := range n.m.HA {
		if h.SID == sid {
			return h, i
		}
	}
	return nil, -1
}

func hHACreate(c *call) (any, error) {
	n := c.n
	sid, ok := normSID(c.p["sid"])
	if !ok {
		return nil, paramErr("sid", "invalid format - unable to parse service id '"+c.p["sid"]+"'")
	}
	if c.has("group") {
		return nil, paramErr("group", "ha groups have been migrated to rules")
	}
	if h, _ := n.haFind(sid); h != nil {
		return nil, runErr("resource ID '%s' already defined", sid)
	}
	id, _ := strconv.Atoi(strings.SplitN(sid, ":", 2)[1])
	if strings.HasPrefix(sid, "vm:") && n.m.VMs[id] == nil {
		return nil, runErr("unable to find VM '%d'", id)
	}
	st := c.p["state"]
	if st == "" {
		st = "started"
	}
	n.m.HA = append(n.m.HA, &HAResource{SID: sid, State: st, MaxRestart: c.int("max_restart", 1), MaxRelocate: c.int("max_relocate", 1), Failback: c.p["failback"] != "0", Comment: c.p["comment"]})
	return nil, nil
}

func hHAGet(c *call) (any, error) {
	sid, _ := normSID(c.p["sid"])
	h, _ := c.n.haFind(sid)
	if h == nil {
		return nil, runErr("no such resource '%s'", c.p["sid"])
	}
	return haJSON(h), nil
}

func hHAUpdate(c *call) (any, error) {
	sid, _ := normSID(c.p["sid"])
	h, _ := c.n.haFind(sid)
	if h == nil {
		return nil, runErr("no such resource '%s'", c.p["sid"])
	}
	if c.has("state") {
		h.State = c.p["state"]
	}
	if c.has("comment") {
		h.Comment = c.p["comment"]
	}
	if c.has("max_restart") {
		h.MaxRestart = c.int("max_restart", 1)
	}
	if c.has("max_relocate") {
		h.MaxRelocate = c.int("max_relocate", 1)
	}
	if c.has("failback") {
		h.Failback = c.bool("failback")
	}
	return nil, nil
}

func hHADelete(c *call) (any, error) {
	sid, _ := normSID(c.p["sid"])
	_, i := c.n.haFind(sid)
	if i < 0 {
		return nil, runErr("cannot delete service '%s', not HA managed!", c.p["sid"])
	}
	c.n.m.HA = append(c.n.m.HA[:i], c.n.m.HA[i+1:]...)
	return nil, nil
}

// hHAStatus is GET /cluster/ha/status/current (PVE API:
// pve-ha-manager src/PVE/API2/HA/Status.pm, method "status"): one "quorum"
// row (id, type, node, status, quorate), then — only once HA resources
// exist, since the CRM is idle without them — a "master" row and one
// "lrm:<node>" row per node (status "<node> (<state>, <time>)", timestamp),
// and one "service:<sid>" row per resource (sid, node, state, crm_state,
// request_state, max_restart, max_relocate, failback, status).
func hHAStatus(c *call) (any, error) {
	m := c.n.m
	now := time.Now().Unix()
	out := []any{map[string]any{"id": "quorum", "type": "quorum", "node": m.Hostname, "status": "OK", "quorate": 1}}
	if len(m.HA) == 0 {
		return out, nil
	}
	out = append(out,
		map[string]any{"id": "master", "type": "master", "node": m.Hostname, "status": fmt.Sprintf("%s (active, %s)", m.Hostname, time.Unix(now, 0).Format(time.ANSIC)), "timestamp": now},
		map[string]any{"id": "lrm:" + m.Hostname, "type": "lrm", "node": m.Hostname, "status": fmt.Sprintf("%s (active, %s)", m.Hostname, time.Unix(now, 0).Format(time.ANSIC)), "timestamp": now})
	for _, h := range m.HA {
		crm := h.State
		if crm == "enabled" {
			crm = "started"
		}
		if id, err := strconv.Atoi(strings.SplitN(h.SID, ":", 2)[1]); err == nil {
			if vm := m.VMs[id]; vm != nil {
				crm = "stopped"
				if vm.Running {
					crm = "started"
				}
			}
		}
		fb := 0
		if h.Failback {
			fb = 1
		}
		out = append(out, map[string]any{"id": "service:" + h.SID, "type": "service", "sid": h.SID, "node": m.Hostname,
			"state": crm, "crm_state": crm, "request_state": h.State, "max_restart": h.MaxRestart, "max_relocate": h.MaxRelocate, "failback": fb,
			"status": fmt.Sprintf("%s (%s, %s)", h.SID, m.Hostname, crm)})
	}
	return out, nil
}
