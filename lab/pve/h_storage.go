package pve

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

var storageIDRe = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9\-_.]*[a-zA-Z0-9]$`)

func hDisks(c *call) (any, error) {
	if err := c.n.checkNode(c); err != nil {
		return nil, err
	}
	out := []any{}
	for _, d := range c.n.m.Disks {
		used := ""
		switch {
		case d.Use == "system":
			used = "BIOS boot"
		case strings.HasPrefix(d.Use, "zfs:"):
			used = "ZFS"
		case d.Use != "":
			used = "partitions"
		}
		row := map[string]any{"devpath": d.Dev, "size": d.Size, "model": d.Model, "serial": d.Serial, "wwn": d.WWN,
			"type": "ssd", "health": "PASSED", "gpt": 1, "vendor": "ATA", "rpm": 0, "osdid": -1, "osdid-list": nil,
			"by_id_link": "/dev/disk/by-id/ata-" + strings.ReplaceAll(d.Model, " ", "_") + "_" + d.Serial}
		if used != "" {
			row["used"] = used
		}
		out = append(out, row)
	}
	return out, nil
}

// createPool is POST /disks/zfs and zpool create.
func (n *Node) createPool(name, raid string, devs []string, ashift int, compression string) error {
	if !storageIDRe.MatchString(name) {
		return paramErr("name", "invalid format - storage ID '"+name+"' contains illegal characters")
	}
	if n.m.pool(name) != nil {
		return runErr("pool '%s' already exists on node '%s'", name, n.m.Hostname)
	}
	minDisks := map[string]int{"single": 1, "mirror": 2, "raid10": 4, "raidz": 3, "raidz2": 4, "raidz3": 5, "stripe": 1, "draid": 3, "draid2": 4, "draid3": 5}
	if len(devs) < minDisks[raid] {
		return runErr("%s needs at least %d disks", raid, minDisks[raid])
	}
	if raid == "single" && len(devs) != 1 {
		return runErr("single needs exactly one disk")
	}
	var disks []*Disk
	for _, dv := range devs {
		d := n.m.disk(dv)
		if d == nil {
			return runErr("unable to get device info for '%s'", dv)
		}
		if d.Use != "" {
			return runErr("device '%s' is already in use", d.Dev)
		}
		disks = append(disks, d)
	}
	minSize := disks[0].Size
	var sum int64
	for _, d := range disks {
		sum += d.Size
		if d.Size < minSize {
			minSize = d.Size
		}
	}
	size := sum
	switch raid {
	case "mirror":
		size = minSize
	case "raid10":
		size = minSize * int64(len(disks)/2)
	case "raidz", "draid":
		size = minSize * int64(len(disks)-1)
	case "raidz2", "draid2":
		size = minSize * int64(len(disks)-2)
	case "raidz3", "draid3":
		size = minSize * int64(len(disks)-3)
	}
	p := &Pool{Name: name, Raid: raid, Ashift: ashift, Compression: compression, Autotrim: "off", Size: size * 96 / 100, Props: map[string]string{}}
	for i, d := range disks {
		d.Use = "zfs:" + name
		// ZFS keeps the path it was given (a by-id link stays one).
		dv := devs[i]
		if !strings.HasPrefix(dv, "/dev/") {
			dv = "/dev/" + dv
		}
		p.Devices = append(p.Devices, dv)
	}
	n.m.Pools = append(n.m.Pools, p)
	n.m.Datasets = append(n.m.Datasets, name)
	_ = n.fs.MkdirAll("/"+name, 0o755)
	return nil
}

func hZFSList(c *call) (any, error) {
	if err := c.n.checkNode(c); err != nil {
		return nil, err
	}
	out := []any{}
	for _, p := range c.n.m.Pools {
		alloc := c.n.poolUsed(p.Name)
		out = append(out, map[string]any{"name": p.Name, "size": p.Size, "alloc": alloc, "free": p.Size - alloc, "frag": 0, "dedup": 1.0, "health": "ONLINE"})
	}
	return out, nil
}

func (n *Node) poolUsed(name string) int64 {
	var used int64
	for _, v := range n.m.Volumes {
		if strings.HasPrefix(v.ID, name+":") {
			used += v.Size / 10
		}
	}
	return used
}

func hZFSGet(c *call) (any, error) {
	p := c.n.m.pool(c.p["name"])
	if p == nil {
		return nil, runErr("zpool error: cannot open '%s': no such pool", c.p["name"])
	}
	var kids []any
	for _, d := range p.Devices {
		kids = append(kids, map[string]any{"name": vdevName(d, false), "state": "ONLINE", "read": 0, "write": 0, "cksum": 0, "msg": ""})
	}
	top := kids
	if p.Raid != "single" && p.Raid != "stripe" {
		top = []any{map[string]any{"name": p.Raid + "-0", "state": "ONLINE", "read": 0, "write": 0, "cksum": 0, "msg": "", "children": kids}}
	}
	return map[string]any{"name": p.Name, "state": "ONLINE", "status": "", "action": "", "scan": "none requested", "errors": "No known data errors",
		"children": []any{map[string]any{"name": p.Name, "state": "ONLINE", "read": 0, "write": 0, "cksum": 0, "msg": "", "children": top}}}, nil
}

func hZFSCreate(c *call) (any, error) {
	n := c.n
	if err := n.checkNode(c); err != nil {
		return nil, err
	}
	name := c.p["name"]
	if c.bool("add_storage") && n.m.storage(name) != nil {
		return nil, runErr("storage ID '%s' already defined", name)
	}
	devs := splitList(c.p["devices"])
	comp := c.p["compression"]
	if comp == "" {
		comp = "on"
	}
	if err := n.createPool(name, c.p["raidlevel"], devs, c.int("ashift", 12), comp); err != nil {
		return nil, err
	}
	lines := []string{fmt.Sprintf("# /sbin/zpool create -o ashift=%d %s %s %s", c.int("ashift", 12), name, c.p["raidlevel"], strings.Join(devs, " ")),
		fmt.Sprintf("# /sbin/zfs set compression=%s %s", comp, name), "# systemctl enable zfs-import@" + name + ".service"}
	if c.bool("add_storage") {
		n.m.Storages = append(n.m.Storages, &Storage{ID: name, Type: "zfspool", Config: map[string]string{"pool": name, "content": "images,rootdir", "mountpoint": "/" + name, "nodes": n.m.Hostname}})
	}
	t := n.newTask("zfscreate", name, c.auth.authID(), 3*time.Second, lines, "")
	return t.UPID, nil
}

// --- storage.cfg ---

var storageTypeParams = map[string][]string{
	"dir":     {"path", "content", "nodes", "disable", "shared", "mkdir", "prune-backups", "create-base-path", "create-subdirs", "preallocation", "is_mountpoint", "max-protected-backups"},
	"zfspool": {"pool", "blocksize", "sparse", "content", "nodes", "disable", "mountpoint"},
	"lvmthin": {"vgname", "thinpool", "content", "nodes", "disable"},
	"pbs":     {"server", "datastore", "username", "password", "fingerprint", "port", "namespace", "encryption-key", "master-pubkey", "content", "nodes", "disable", "prune-backups", "max-protected-backups", "keyring"},
	"nfs":     {"server", "export", "path", "content", "nodes", "disable", "options", "prune-backups"},
}

var storageContent = map[string][]string{
	"dir": {"images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"}, "zfspool": {"images", "rootdir"},
	"lvmthin": {"images", "rootdir"}, "pbs": {"backup"}, "nfs": {"images", "rootdir", "vztmpl", "iso", "backup", "snippets", "import"},
}

var storageParams = func() map[string]P {
	m := map[string]P{"storage": {T: "string", Req: true}, "type": {T: "string", Req: true, Enum: []string{"btrfs", "cephfs", "cifs", "dir", "esxi", "iscsi", "iscsidirect", "lvm", "lvmthin", "nfs", "pbs", "rbd", "zfs", "zfspool"}}}
	for _, ps := range storageTypeParams {
		for _, p := range ps {
			m[p] = pStr()
		}
	}
	m["port"] = pInt(1, 65535)
	m["disable"] = pBool()
	m["shared"] = pBool()
	m["sparse"] = pBool()
	m["mkdir"] = pBool()
	m["fingerprint"] = pFmt(func(v string) string {
		if !fpRe.MatchString(v) {
			return "invalid format - value does not look like a valid SSL certificate fingerprint"
		}
		return ""
	})
	return m
}()

var fpRe = regexp.MustCompile(`^(?:[A-Fa-f0-9]{2}:){31}[A-Fa-f0-9]{2}$`)

func storageJSON(s *Storage) map[string]any {
	out := map[string]any{"storage": s.ID, "type": s.Type, "digest": hashSecret(s.ID + s.Type)[:40]}
	for k, v := range s.Config {
		if k == "password" {
			continue
		}
		if k == "port" || k == "disable" || k == "shared" || k == "sparse" {
			var i int
			fmt.Sscan(v, &i)
			out[k] = i
			continue
		}
		out[k] = v
	}
	return out
}

func hStorageList(c *call) (any, error) {
	out := []any{}
	for _, s := range c.n.m.Storages {
		if t := c.p["type"]; t != "" && s.Type != t {
			continue
		}
		out = append(out, storageJSON(s))
	}
	return out, nil
}

func hStorageGet(c *call) (any, error) {
	s := c.n.m.storage(c.p["storage"])
	if s == nil {
		return nil, runErr("storage '%s' does not exist", c.p["storage"])
	}
	return storageJSON(s), nil
}

// addStorage is POST /storage and pvesm add.
func (n *Node) addStorage(p map[string]string) (map[string]any, error) {
	id, typ := p["storage"], p["type"]
	if !storageIDRe.MatchString(id) {
		return nil, paramErr("storage", "invalid format - storage ID '"+id+"' contains illegal characters")
	}
	allowed := storageTypeParams[typ]
	if allowed == nil {
		return nil, runErr("create storage failed: storage type '%s' is not available in the lab", typ)
	}
	for k := range p {
		if k == "storage" || k == "type" {
			continue
		}
		ok := false
		for _, a := range allowed {
			if a == k {
				ok = true
			}
		}
		if !ok {
			return nil, paramErr(k, fmt.Sprintf("unexpected property '%s' for storage type '%s'", k, typ))
		}
	}
	if n.m.storage(id) != nil {
		return nil, runErr("create storage failed: storage ID '%s' already defined", id)
	}
	cfg := map[string]string{}
	for k, v := range p {
		if k != "storage" && k != "type" && k != "password" {
			cfg[k] = v
		}
	}
	if ct, ok := p["content"]; ok {
		for _, x := range splitList(ct) {
			okc := false
			for _, a := range storageContent[typ] {
				if a == x {
					okc = true
				}
			}
			if !okc {
				return nil, paramErr("content", fmt.Sprintf("storage does not support content type '%s'", x))
			}
		}
	} else {
		cfg["content"] = strings.Join(storageContent[typ][:1], ",")
		if typ == "zfspool" {
			cfg["content"] = "images,rootdir"
		}
	}
	switch typ {
	case "zfspool":
		if p["pool"] == "" {
			return nil, paramErr("pool", "property is missing and it is not optional")
		}
		base := strings.SplitN(p["pool"], "/", 2)[0]
		if n.m.pool(base) == nil {
			return nil, runErr("create storage failed: zfs error: cannot open '%s': dataset does not exist", p["pool"])
		}
	case "dir":
		if p["path"] == "" {
			return nil, paramErr("path", "property is missing and it is not optional")
		}
	case "pbs":
		for _, k := range []string{"server", "datastore", "username"} {
			if p[k] == "" {
				return nil, paramErr(k, "property is missing and it is not optional")
			}
		}
		if err := n.pbsCheck(id, p); err != nil {
			return nil, err
		}
		_ = n.fs.MkdirAll("/etc/pve/priv/storage", 0o700)
		_ = n.fs.WriteFile("/etc/pve/priv/storage/"+id+".pw", []byte(p["password"]+"\n"), 0o600)
	}
	n.m.Storages = append(n.m.Storages, &Storage{ID: id, Type: typ, Config: cfg})
	return map[string]any{"storage": id, "type": typ}, nil
}

func hStorageCreate(c *call) (any, error) { return c.n.addStorage(c.p) }

// setStorage is PUT /storage/{id} and pvesm set.
func (n *Node) setStorage(p map[string]string) error {
	s := n.m.storage(p["storage"])
	if s == nil {
		return runErr("update storage failed: error with cfs lock 'file-storage_cfg': storage '%s' does not exist", p["storage"])
	}
	for _, d := range splitList(p["delete"]) {
		delete(s.Config, d)
	}
	for k, v := range p {
		if k == "storage" || k == "delete" || k == "digest" {
			continue
		}
		if k == "type" {
			return paramErr("type", "can't change storage type")
		}
		ok := false
		for _, a := range storageTypeParams[s.Type] {
			if a == k {
				ok = true
			}
		}
		if !ok {
			return paramErr(k, fmt.Sprintf("unexpected property '%s' for storage type '%s'", k, s.Type))
		}
		if k == "content" {
			for _, x := range splitList(v) {
				okc := false
				for _, a := range storageContent[s.Type] {
					okc = okc || a == x
				}
				if !okc {
					return paramErr("content", fmt.Sprintf("storage does not support content type '%s'", x))
				}
			}
		}
		if k == "password" {
			_ = n.fs.WriteFile("/etc/pve/priv/storage/"+s.ID+".pw", []byte(v+"\n"), 0o600)
			continue
		}
		s.Config[k] = v
	}
	return nil
}

func hStorageUpdate(c *call) (any, error) {
	if err := c.n.setStorage(c.p); err != nil {
		return nil, err
	}
	return map[string]any{"storage": c.p["storage"], "type": c.n.m.storage(c.p["storage"]).Type}, nil
}

func (n *Node) removeStorage(id string) error {
	out := n.m.Storages[:0]
	found := false
	for _, s := range n.m.Storages {
		if s.ID == id {
			found = true
			continue
		}
		out = append(out, s)
	}
	if !found {
		return runErr("delete storage failed: storage '%s' does not exist", id)
	}
	n.m.Storages = out
	_ = n.fs.Remove("/etc/pve/priv/storage/" + id + ".pw")
	return nil
}

func hStorageDelete(c *call) (any, error) { return nil, c.n.removeStorage(c.p["storage"]) }

func (n *Node) storageStatus(s *Storage) map[string]any {
	total, used := int64(68<<30), int64(5<<30)
	active := 1
	switch s.Type {
	case "zfspool":
		if p := n.m.pool(strings.SplitN(s.Config["pool"], "/", 2)[0]); p != nil {
			total, used = p.Size, n.poolUsed(p.Name)
		} else {
			active = 0
		}
	case "lvmthin":
		total, used = 140<<30, 0
	case "pbs":
		if n.pbsCheck(s.ID, s.Config) != nil {
			active = 0
		}
		total, used = 1<<40, 1<<30
	}
	en := 1
	if s.Config["disable"] == "1" {
		en = 0
	}
	return map[string]any{"storage": s.ID, "type": s.Type, "content": s.Config["content"], "active": active, "enabled": en,
		"shared": 0, "total": total, "used": used, "avail": total - used, "used_fraction": float64(used) / float64(total)}
}

func hNodeStorage(c *call) (any, error) {
	if err := c.n.checkNode(c); err != nil {
		return nil, err
	}
	out := []any{}
	for _, s := range c.n.m.Storages {
		if st := c.p["storage"]; st != "" && s.ID != st {
			continue
		}
		if ct := c.p["content"]; ct != "" && !strings.Contains(","+s.Config["content"]+",", ","+ct+",") {
			continue
		}
		out = append(out, c.n.storageStatus(s))
	}
	return out, nil
}

func hNodeStorageStatus(c *call) (any, error) {
	s := c.n.m.storage(c.p["storage"])
	if s == nil {
		return nil, runErr("storage '%s' does not exist", c.p["storage"])
	}
	return c.n.storageStatus(s), nil
}

func hStorageContent(c *call) (any, error) {
	s := c.n.m.storage(c.p["storage"])
	if s == nil {
		return nil, runErr("storage '%s' does not exist", c.p["storage"])
	}
	out := []any{}
	for _, k := range sortedKeys(c.n.m.Volumes) {
		v := c.n.m.Volumes[k]
		if strings.HasPrefix(v.ID, s.ID+":") {
			out = append(out, map[string]any{"volid": v.ID, "size": v.Size, "format": "raw", "vmid": v.VMID, "content": "images"})
		}
	}
	return out, nil
}
