package pve

import (
	"regexp"
	"strings"
)

func r(method, path string, params map[string]P, h func(*call) (any, error), opts ...string) route {
	rt := route{method: method, pattern: strings.Split(strings.Trim(path, "/"), "/"), params: params, h: h}
	if rt.params == nil {
		rt.params = map[string]P{}
	}
	for _, o := range opts {
		switch {
		case o == "noauth":
			rt.noAuth = true
		case o == "notoken":
			rt.noToken = true
		case o == "root":
			rt.rootOnly = true
		default:
			rt.priv = o
		}
	}
	return rt
}

func with(base map[string]P, kv ...any) map[string]P {
	out := map[string]P{}
	for k, v := range base {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1].(P)
	}
	return out
}

var pveRoutes []route

func init() {
	pveRoutes = []route{
		r("GET", "/version", nil, hVersion),
		r("POST", "/access/ticket", map[string]P{"username": pReq(), "password": pReq(), "realm": pStr(), "otp": pStr(), "path": pStr(), "privs": pStr(), "new-format": pBool(), "tfa-challenge": pStr()}, hTicket, "noauth", "notoken"),
		r("GET", "/access/ticket", nil, func(*call) (any, error) { return nil, nil }, "noauth"),
		r("GET", "/access/domains", nil, hDomains, "noauth"),
		r("GET", "/access/users", map[string]P{"enabled": pBool(), "full": pBool()}, hUsers, "User.Modify@/access"),
		r("POST", "/access/users", map[string]P{"userid": pReq(), "password": pStr(), "comment": pStr(), "email": pStr(), "enable": pBool(), "expire": pInt(0, 1<<31-1), "firstname": pStr(), "lastname": pStr(), "groups": pStr(), "keys": pStr()}, hUserCreate, "User.Modify@/access"),
		r("GET", "/access/users/{userid}", nil, hUser, "User.Modify@/access"),
		r("PUT", "/access/users/{userid}", map[string]P{"comment": pStr(), "email": pStr(), "enable": pBool(), "expire": pInt(0, 1<<31-1), "firstname": pStr(), "lastname": pStr(), "groups": pStr(), "append": pBool(), "keys": pStr()}, hUserUpdate, "User.Modify@/access"),
		r("DELETE", "/access/users/{userid}", nil, hUserDelete, "User.Modify@/access"),
		r("GET", "/access/users/{userid}/token", nil, hTokens, "User.Modify@/access"),
		r("GET", "/access/users/{userid}/token/{tokenid}", nil, hToken, "User.Modify@/access"),
		r("POST", "/access/users/{userid}/token/{tokenid}", map[string]P{"comment": pStr(), "expire": pInt(0, 1<<31-1), "privsep": pBool()}, hTokenCreate, "User.Modify@/access"),
		r("PUT", "/access/users/{userid}/token/{tokenid}", map[string]P{"comment": pStr(), "expire": pInt(0, 1<<31-1), "privsep": pBool()}, hTokenUpdate, "User.Modify@/access"),
		r("DELETE", "/access/users/{userid}/token/{tokenid}", nil, hTokenDelete, "User.Modify@/access"),
		r("GET", "/access/acl", nil, hACL, "Sys.Audit@/access"),
		r("PUT", "/access/acl", map[string]P{"path": pReq(), "roles": pReq(), "users": pStr(), "groups": pStr(), "tokens": pStr(), "propagate": pBool(), "delete": pBool()}, hACLUpdate, "Permissions.Modify@/access"),

		r("GET", "/nodes", nil, hNodes),
		r("GET", "/nodes/{node}/status", nil, hNodeStatus, "Sys.Audit@/nodes/{node}"),
		r("GET", "/nodes/{node}/version", nil, hNodeVersion, "Sys.Audit@/nodes/{node}"),
		r("GET", "/nodes/{node}/certificates/info", nil, hCertInfo),
		r("GET", "/nodes/{node}/network", map[string]P{"type": pStr()}, hNetList, "Sys.Audit@/nodes/{node}"),
		r("POST", "/nodes/{node}/network", netParams, hNetCreate, "Sys.Modify@/nodes/{node}"),
		r("PUT", "/nodes/{node}/network", map[string]P{"regenerate-frr": pBool()}, hNetApply, "Sys.Modify@/nodes/{node}"),
		r("DELETE", "/nodes/{node}/network", nil, hNetRevert, "Sys.Modify@/nodes/{node}"),
		r("GET", "/nodes/{node}/network/{iface}", nil, hNetGet, "Sys.Audit@/nodes/{node}"),
		r("PUT", "/nodes/{node}/network/{iface}", with(netParams, "delete", pStr()), hNetUpdate, "Sys.Modify@/nodes/{node}"),
		r("DELETE", "/nodes/{node}/network/{iface}", nil, hNetDelete, "Sys.Modify@/nodes/{node}"),
		r("GET", "/nodes/{node}/disks/list", map[string]P{"include-partitions": pBool(), "skipsmart": pBool(), "type": pEnum("unused", "journal_disks")}, hDisks, "Sys.Audit@/nodes/{node}"),
		r("GET", "/nodes/{node}/disks/zfs", nil, hZFSList, "Sys.Audit@/nodes/{node}"),
		r("GET", "/nodes/{node}/disks/zfs/{name}", nil, hZFSGet, "Sys.Audit@/nodes/{node}"),
		r("POST", "/nodes/{node}/disks/zfs", map[string]P{"name": pReq(), "raidlevel": {T: "string", Req: true, Enum: []string{"single", "mirror", "raid10", "raidz", "raidz2", "raidz3", "draid", "draid2", "draid3"}}, "devices": pReq(), "ashift": pInt(9, 16), "compression": pEnum("on", "off", "gzip", "lz4", "lzjb", "zle", "zstd"), "add_storage": pBool(), "draid-config": pStr()}, hZFSCreate, "Sys.Modify@/nodes/{node}"),
		r("GET", "/nodes/{node}/storage", map[string]P{"content": pStr(), "enabled": pBool(), "format": pBool(), "storage": pStr(), "target": pStr()}, hNodeStorage),
		r("GET", "/nodes/{node}/storage/{storage}/status", nil, hNodeStorageStatus, "Datastore.Audit@/storage/{storage}"),
		r("GET", "/nodes/{node}/storage/{storage}/content", map[string]P{"content": pStr(), "vmid": pStr()}, hStorageContent, "Datastore.Audit@/storage/{storage}"),
		r("POST", "/nodes/{node}/storage/{storage}/download-url", map[string]P{"content": {T: "string", Req: true, Enum: []string{"iso", "vztmpl", "import"}}, "filename": pReq(), "url": {T: "string", Req: true, Re: regexp.MustCompile(`^https?://`)}, "checksum": pStr(), "checksum-algorithm": pEnum("md5", "sha1", "sha224", "sha256", "sha384", "sha512"), "compression": pEnum("gz", "lzo", "zst", "bz2"), "verify-certificates": pBool()}, hDownloadURL, "Datastore.AllocateTemplate@/storage/{storage}"),
		r("GET", "/nodes/{node}/tasks", map[string]P{"start": pInt(0, 1<<30), "limit": pInt(0, 1<<30), "userfilter": pStr(), "typefilter": pStr(), "vmid": pStr(), "errors": pBool(), "source": pEnum("archive", "active", "all"), "since": pStr(), "until": pStr(), "statusfilter": pStr()}, hTaskList),
		r("GET", "/nodes/{node}/tasks/{upid}/status", nil, hTaskStatus),
		r("GET", "/nodes/{node}/tasks/{upid}/log", map[string]P{"start": pInt(0, 1<<30), "limit": pInt(0, 1<<30), "download": pBool()}, hTaskLog),
		r("DELETE", "/nodes/{node}/tasks/{upid}", nil, hTaskStop),

		r("POST", "/nodes/{node}/vzdump", map[string]P{"vmid": pReq(), "storage": pStr(), "mode": pEnum("snapshot", "suspend", "stop"), "compress": pEnum("0", "1", "gzip", "lzo", "zstd"), "remove": pBool(), "notes-template": pStr(), "protected": pBool()}, hVZDump, "VM.Backup@/vms/{vmid}"),

		r("GET", "/storage", map[string]P{"type": pStr()}, hStorageList, "Datastore.Audit@/storage"),
		r("POST", "/storage", storageParams, hStorageCreate, "Datastore.Allocate@/storage"),
		r("GET", "/storage/{storage}", nil, hStorageGet, "Datastore.Audit@/storage/{storage}"),
		r("PUT", "/storage/{storage}", with(storageParams, "delete", pStr(), "digest", pStr(), "storage", pStr(), "type", pStr()), hStorageUpdate, "Datastore.Allocate@/storage/{storage}"),
		r("DELETE", "/storage/{storage}", nil, hStorageDelete, "Datastore.Allocate@/storage/{storage}"),

		r("GET", "/nodes/{node}/qemu", map[string]P{"full": pBool()}, hVMList),
		vmRoute("POST", "/nodes/{node}/qemu", hVMCreate, "VM.Allocate@/vms"),
		r("GET", "/nodes/{node}/qemu/{vmid}/config", map[string]P{"current": pBool(), "snapshot": pStr()}, hVMConfig, "VM.Audit@/vms/{vmid}"),
		vmRoute("POST", "/nodes/{node}/qemu/{vmid}/config", hVMConfigAsync, "VM.Config.Options@/vms/{vmid}"),
		vmRoute("PUT", "/nodes/{node}/qemu/{vmid}/config", hVMConfigSync, "VM.Config.Options@/vms/{vmid}"),
		r("GET", "/nodes/{node}/qemu/{vmid}/status/current", nil, hVMStatus, "VM.Audit@/vms/{vmid}"),
		r("POST", "/nodes/{node}/qemu/{vmid}/status/start", map[string]P{"timeout": pInt(0, 86400), "skiplock": pBool(), "machine": pStr(), "migratedfrom": pStr(), "migration_type": pStr(), "stateuri": pStr(), "targetstorage": pStr(), "force-cpu": pStr(), "migration_network": pStr()}, hVMPower("start"), "VM.PowerMgmt@/vms/{vmid}"),
		r("POST", "/nodes/{node}/qemu/{vmid}/status/stop", map[string]P{"timeout": pInt(0, 86400), "skiplock": pBool(), "keepActive": pBool(), "migratedfrom": pStr(), "overrule-shutdown": pBool()}, hVMPower("stop"), "VM.PowerMgmt@/vms/{vmid}"),
		r("POST", "/nodes/{node}/qemu/{vmid}/status/shutdown", map[string]P{"timeout": pInt(0, 86400), "skiplock": pBool(), "keepActive": pBool(), "forceStop": pBool()}, hVMPower("shutdown"), "VM.PowerMgmt@/vms/{vmid}"),
		r("POST", "/nodes/{node}/qemu/{vmid}/status/reboot", map[string]P{"timeout": pInt(0, 86400)}, hVMPower("reboot"), "VM.PowerMgmt@/vms/{vmid}"),
		r("POST", "/nodes/{node}/qemu/{vmid}/status/reset", map[string]P{"skiplock": pBool()}, hVMPower("reset"), "VM.PowerMgmt@/vms/{vmid}"),
		r("POST", "/nodes/{node}/qemu/{vmid}/clone", map[string]P{"newid": {T: "integer", Req: true}, "name": pStr(), "target": pStr(), "full": pBool(), "storage": pStr(), "format": pEnum("raw", "qcow2", "vmdk"), "pool": pStr(), "snapname": pStr(), "description": pStr(), "bwlimit": pInt(0, 1<<30)}, hVMClone, "VM.Clone@/vms/{vmid}"),
		r("POST", "/nodes/{node}/qemu/{vmid}/template", map[string]P{"disk": pStr()}, hVMTemplate, "VM.Allocate@/vms/{vmid}"),
		r("PUT", "/nodes/{node}/qemu/{vmid}/resize", map[string]P{"disk": pReq(), "size": pReq(), "digest": pStr(), "skiplock": pBool()}, hVMResize, "VM.Config.Disk@/vms/{vmid}"),
		r("DELETE", "/nodes/{node}/qemu/{vmid}", map[string]P{"purge": pBool(), "destroy-unreferenced-disks": pBool(), "skiplock": pBool()}, hVMDelete, "VM.Allocate@/vms/{vmid}"),
		r("GET", "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces", nil, hVMAgent("network-get-interfaces"), "VM.Monitor@/vms/{vmid}"),
		r("GET", "/nodes/{node}/qemu/{vmid}/agent/get-osinfo", nil, hVMAgent("get-osinfo"), "VM.Monitor@/vms/{vmid}"),
		r("GET", "/nodes/{node}/qemu/{vmid}/agent/get-host-name", nil, hVMAgent("get-host-name"), "VM.Monitor@/vms/{vmid}"),
		r("POST", "/nodes/{node}/qemu/{vmid}/agent/ping", nil, hVMAgent("ping"), "VM.Monitor@/vms/{vmid}"),
		r("PUT", "/nodes/{node}/qemu/{vmid}/cloudinit", nil, hVMCloudinitRegen, "VM.Config.Cloudinit@/vms/{vmid}"),
		r("GET", "/nodes/{node}/qemu/{vmid}/cloudinit/dump", map[string]P{"type": {T: "string", Req: true, Enum: []string{"user", "network", "meta"}}}, hVMCloudinitDump, "VM.Audit@/vms/{vmid}"),
		r("GET", "/cluster/nextid", map[string]P{"vmid": pInt(100, 999999999)}, hNextID),

		r("GET", "/cluster/status", nil, hClusterStatus, "Sys.Audit@/"),
		r("GET", "/cluster/config", nil, hClusterConfig, "Sys.Audit@/"),
		r("POST", "/cluster/config", map[string]P{"clustername": pReq(), "link0": linkParam, "link1": linkParam, "nodeid": pInt(1, 1<<30), "votes": pInt(1, 1<<30), "token-coefficient": pInt(0, 1<<30)}, hClusterCreate, "root"),
		r("GET", "/cluster/config/join", map[string]P{"node": pStr()}, hJoinInfo, "Sys.Audit@/"),
		r("POST", "/cluster/config/join", map[string]P{"hostname": pReq(), "password": pReq(), "fingerprint": pReq(), "link0": linkParam, "link1": linkParam, "nodeid": pInt(1, 1<<30), "votes": pInt(0, 1<<30), "force": pBool()}, hJoin, "root"),
		r("GET", "/cluster/config/apiversion", nil, hAPIVersion, "Sys.Audit@/"),
		r("GET", "/cluster/config/nodes", nil, hConfigNodes, "Sys.Audit@/"),
		r("GET", "/cluster/resources", map[string]P{"type": pStr()}, hResources),
		r("GET", "/cluster/backup", nil, hBackupList, "Sys.Audit@/"),
		r("POST", "/cluster/backup", backupParams, hBackupCreate, "Sys.Modify@/"),
		r("GET", "/cluster/backup/{id}", nil, hBackupGet, "Sys.Audit@/"),
		r("PUT", "/cluster/backup/{id}", backupParams, hBackupUpdate, "Sys.Modify@/"),
		r("DELETE", "/cluster/backup/{id}", nil, hBackupDelete, "Sys.Modify@/"),
		r("GET", "/cluster/replication", nil, hReplList, "Sys.Audit@/"),
		r("POST", "/cluster/replication", map[string]P{"id": pReq(), "target": pReq(), "type": pEnum("local"), "schedule": pStr(), "comment": pStr(), "rate": {T: "number"}, "disable": pBool(), "source": pStr(), "remove_job": pEnum("local", "full")}, hReplCreate, "VM.Allocate@/"),
		r("GET", "/cluster/replication/{id}", nil, hReplGet, "Sys.Audit@/"),
		r("DELETE", "/cluster/replication/{id}", map[string]P{"force": pBool(), "keep": pBool()}, hReplDelete, "VM.Allocate@/"),
		r("GET", "/cluster/ha/status/current", nil, hHAStatus, "Sys.Audit@/"),
		r("GET", "/cluster/ha/resources", map[string]P{"type": pEnum("ct", "vm")}, hHAList, "Sys.Audit@/"),
		r("POST", "/cluster/ha/resources", map[string]P{"sid": pReq(), "state": pEnum("started", "stopped", "enabled", "disabled", "ignored"), "max_restart": pInt(0, 10), "max_relocate": pInt(0, 10), "failback": pBool(), "comment": pStr(), "group": pStr(), "type": pEnum("ct", "vm")}, hHACreate, "Sys.Console@/"),
		r("GET", "/cluster/ha/resources/{sid}", nil, hHAGet, "Sys.Audit@/"),
		r("PUT", "/cluster/ha/resources/{sid}", map[string]P{"state": pEnum("started", "stopped", "enabled", "disabled", "ignored"), "max_restart": pInt(0, 10), "max_relocate": pInt(0, 10), "failback": pBool(), "comment": pStr(), "group": pStr(), "delete": pStr(), "digest": pStr()}, hHAUpdate, "Sys.Console@/"),
		r("DELETE", "/cluster/ha/resources/{sid}", map[string]P{"purge": pBool()}, hHADelete, "Sys.Console@/"),
	}
}

// vmRoute is a route whose parameters are qemu config keys: validated in
// the handler (checkVMKeys) because the key set is open (net0…net31, …).
func vmRoute(method, path string, h func(*call) (any, error), priv string) route {
	rt := r(method, path, nil, h, priv)
	rt.params = nil
	return rt
}
