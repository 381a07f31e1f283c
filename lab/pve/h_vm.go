package pve

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var (
	diskKeyRe  = regexp.MustCompile(`^(scsi([0-9]|[12][0-9]|30)|virtio([0-9]|1[0-5])|sata[0-5]|ide[0-3]|efidisk0|tpmstate0)$`)
	netKeyRe   = regexp.MustCompile(`^net([0-9]|[1-2][0-9]|3[01])$`)
	ipcfgKeyRe = regexp.MustCompile(`^ipconfig([0-9]|[1-2][0-9]|3[01])$`)
	serialRe   = regexp.MustCompile(`^serial[0-3]$`)
	unusedRe   = regexp.MustCompile(`^unused\d+$`)
	sshkeysRe  = regexp.MustCompile(`^[-%a-zA-Z0-9_.!~*'()]*$`)
	dnsNameRe  = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9\-]*[a-zA-Z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?$`)
	macRe      = regexp.MustCompile(`^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$`)
)

var nicModels = []string{"e1000", "e1000-82540em", "e1000-82544gc", "e1000-82545em", "e1000e", "i82551", "i82557b", "i82559er", "ne2k_isa", "ne2k_pci", "pcnet", "rtl8139", "virtio", "vmxnet3"}

// vmStatic are the fixed qemu config keys the lab knows (with their types).
var vmStatic = map[string]P{
	"name": pFmt(func(v string) string {
		if !dnsNameRe.MatchString(v) {
			return "invalid format - value does not look like a valid DNS name"
		}
		return ""
	}),
	"memory": pFmt(func(v string) string {
		v = strings.TrimPrefix(v, "current=")
		if i, err := strconv.Atoi(v); err != nil || i < 16 {
			return "invalid format - value does not look like a valid memory size"
		}
		return ""
	}),
	"cores": pInt(1, 1024), "sockets": pInt(1, 16), "vcpus": pInt(1, 1024), "balloon": pInt(0, 1<<30), "cpu": pStr(), "cpulimit": {T: "number"},
	"ostype":   pEnum("other", "wxp", "w2k", "w2k3", "w2k8", "wvista", "win7", "win8", "win10", "win11", "l24", "l26", "solaris"),
	"bios":     pEnum("seabios", "ovmf"),
	"scsihw":   pEnum("lsi", "lsi53c810", "virtio-scsi-pci", "virtio-scsi-single", "megasas", "pvscsi"),
	"machine":  pStr(),
	"agent":    pFmt(checkAgent),
	"boot":     pStr(),
	"bootdisk": pStr(),
	"onboot":   pBool(), "tablet": pBool(), "localtime": pBool(), "numa": pBool(), "kvm": pBool(), "protection": pBool(), "acpi": pBool(), "template": pBool(),
	"vga": pStr(), "tags": pStr(), "description": pStr(), "startup": pStr(), "hotplug": pStr(), "keyboard": pStr(), "args": pStr(), "hookscript": pStr(),
	"citype": pEnum("configdrive2", "nocloud", "opennebula"),
	"ciuser": pStr(), "cipassword": pStr(), "nameserver": pStr(), "searchdomain": pStr(), "ciupgrade": pBool(), "cicustom": pStr(),
	"sshkeys": pFmt(func(v string) string {
		if !sshkeysRe.MatchString(v) {
			return "invalid format - invalid urlencoded string: " + v
		}
		return ""
	}),
	"smbios1": pStr(), "vmgenid": pStr(), "meta": pStr(), "lock": pStr(), "affinity": pStr(), "rng0": pStr(), "watchdog": pStr(), "audio0": pStr(),
}

func checkAgent(v string) string {
	if v == "0" || v == "1" {
		return ""
	}
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		switch k {
		case "enabled", "fstrim_cloned_disks", "freeze-fs-on-backup", "guest-fsfreeze":
			if val != "0" && val != "1" {
				return "invalid format - format error\nagent." + k + ": type check ('boolean') failed - got '" + val + "'"
			}
		case "type":
			if val != "virtio" && val != "isa" {
				return "invalid format - format error\nagent.type: value '" + val + "' does not have a value in the enumeration 'virtio, isa'"
			}
		default:
			return "invalid format - format error\nagent." + k + ": property is not defined in schema and the schema does not allow additional properties"
		}
	}
	return ""
}

// vmParam returns the schema of a qemu config key.
func vmParam(k string) (P, bool) {
	if p, ok := vmStatic[k]; ok {
		return p, true
	}
	switch {
	case netKeyRe.MatchString(k):
		return pFmt(func(v string) string { return checkNet(k, v) }), true
	case diskKeyRe.MatchString(k):
		return pFmt(func(v string) string { return checkDisk(k, v) }), true
	case ipcfgKeyRe.MatchString(k):
		return pFmt(func(v string) string { return checkIPConfig(k, v) }), true
	case serialRe.MatchString(k):
		return pStr(), true
	case unusedRe.MatchString(k):
		return pStr(), true
	}
	return P{}, false
}

func fmtErr(key, sub, msg string) string {
	return "invalid format - format error\n" + key + "." + sub + ": " + msg
}

// checkNet validates a netN property string (qemu-server Network.pm).
func checkNet(key, v string) string {
	model := ""
	for i, kv := range strings.Split(v, ",") {
		k, val, has := strings.Cut(kv, "=")
		if i == 0 || (model == "" && !has) {
			for _, m := range nicModels {
				if k == m {
					model = m
					if has && !macRe.MatchString(val) {
						return fmtErr(key, "macaddr", "value does not look like a valid MAC address")
					}
				}
			}
			if model != "" {
				continue
			}
		}
		switch k {
		case "model":
			model = val
		case "bridge":
			if !regexp.MustCompile(`^[-_.\w\d]+$`).MatchString(val) {
				return fmtErr(key, "bridge", "invalid format")
			}
		case "macaddr":
			if !macRe.MatchString(val) {
				return fmtErr(key, "macaddr", "value does not look like a valid MAC address")
			}
		case "tag":
			if t, err := strconv.Atoi(val); err != nil || t < 1 || t > 4094 {
				return fmtErr(key, "tag", "value must have a minimum value of 1 and a maximum value of 4094")
			}
		case "trunks":
			for _, t := range strings.Split(val, ";") {
				if checkVids(t) != "" && t != "1" {
					return fmtErr(key, "trunks", "invalid format - invalid VLAN ID range '"+t+"'")
				}
			}
		case "firewall", "link_down":
			if val != "0" && val != "1" {
				return fmtErr(key, k, "type check ('boolean') failed - got '"+val+"'")
			}
		case "rate", "queues", "mtu":
			if _, err := strconv.ParseFloat(val, 64); err != nil {
				return fmtErr(key, k, "type check ('number') failed - got '"+val+"'")
			}
		default:
			return fmtErr(key, k, "property is not defined in schema and the schema does not allow additional properties")
		}
	}
	if model == "" {
		return fmtErr(key, "model", "property is missing and it is not optional")
	}
	return ""
}

var diskOpts = map[string]bool{"size": true, "discard": true, "ssd": true, "iothread": true, "cache": true, "format": true, "media": true, "backup": true,
	"replicate": true, "aio": true, "import-from": true, "file": true, "efitype": true, "pre-enrolled-keys": true, "serial": true, "snapshot": true, "ro": true, "wwn": true, "version": true}

func checkDisk(key, v string) string {
	parts := strings.Split(v, ",")
	if parts[0] == "" || strings.Contains(parts[0], "=") && !strings.HasPrefix(parts[0], "file=") {
		return fmtErr(key, "file", "property is missing and it is not optional")
	}
	for _, kv := range parts[1:] {
		k, _, _ := strings.Cut(kv, "=")
		if !diskOpts[k] {
			return fmtErr(key, k, "property is not defined in schema and the schema does not allow additional properties")
		}
	}
	return ""
}

func checkIPConfig(key, v string) string {
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		switch k {
		case "ip":
			if val != "dhcp" {
				if p, err := netip.ParsePrefix(val); err != nil || !p.Addr().Is4() {
					return fmtErr(key, "ip", "invalid format - value does not look like a valid IPv4 network configuration")
				}
			}
		case "gw":
			if a, err := netip.ParseAddr(val); err != nil || !a.Is4() {
				return fmtErr(key, "gw", "invalid format - value does not look like a valid IPv4 address")
			}
		case "ip6", "gw6":
		default:
			return fmtErr(key, k, "property is not defined in schema and the schema does not allow additional properties")
		}
	}
	return ""
}

func vmKeyOpts(v string) (head string, opts map[string]string) {
	opts = map[string]string{}
	parts := strings.Split(v, ",")
	head = parts[0]
	for _, kv := range parts[1:] {
		k, val, _ := strings.Cut(kv, "=")
		opts[k] = val
	}
	return
}

func (n *Node) vmArg(p map[string]string) (*VM, int, error) {
	id, err := strconv.Atoi(p["vmid"])
	if err != nil {
		return nil, 0, paramErr("vmid", "type check ('integer') failed - got '"+p["vmid"]+"'")
	}
	vm := n.m.VMs[id]
	if vm == nil {
		return nil, id, runErr("Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist", n.m.Hostname, id)
	}
	return vm, id, nil
}

func (n *Node) randMAC() string {
	h := randHex(3)
	return strings.ToUpper(fmt.Sprintf("BC:24:11:%s:%s:%s", h[0:2], h[2:4], h[4:6]))
}

func (n *Node) nextDiskName(st string, vmid int, prefix string) string {
	for i := 0; ; i++ {
		id := fmt.Sprintf("%s:%s-%d-disk-%d", st, prefix, vmid, i)
		if n.m.Volumes[id] == nil {
			return id
		}
	}
}

func parseSize(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	mult := int64(1 << 30)
	switch {
	case strings.HasSuffix(s, "T"):
		mult, s = 1<<40, strings.TrimSuffix(s, "T")
	case strings.HasSuffix(s, "G"):
		s = strings.TrimSuffix(s, "G")
	case strings.HasSuffix(s, "M"):
		mult, s = 1<<20, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "K"):
		mult, s = 1<<10, strings.TrimSuffix(s, "K")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return int64(f * float64(mult)), true
}

func sizeStr(b int64) string {
	switch {
	case b%(1<<30) == 0:
		return fmt.Sprintf("%dG", b>>30)
	case b%(1<<20) == 0:
		return fmt.Sprintf("%dM", b>>20)
	}
	return fmt.Sprintf("%dK", b>>10)
}

func (n *Node) imageStorage(id string) (*Storage, error) {
	s := n.m.storage(id)
	if s == nil {
		return nil, runErr("storage '%s' does not exist", id)
	}
	if !strings.Contains(","+s.Config["content"]+",", ",images,") {
		return nil, runErr("storage '%s' does not support vm images", id)
	}
	if s.Type == "zfspool" && n.m.pool(strings.SplitN(s.Config["pool"], "/", 2)[0]) == nil {
		return nil, runErr("zfs error: cannot open '%s': no such pool", s.Config["pool"])
	}
	return s, nil
}

// volumePath resolves a volume id of a dir storage to a file path.
func (n *Node) volumePath(volid string) (string, bool) {
	st, name, ok := strings.Cut(volid, ":")
	if !ok {
		return "", false
	}
	s := n.m.storage(st)
	if s == nil || s.Type != "dir" {
		return "", false
	}
	return s.Config["path"] + "/" + name, true
}

// applyDisk allocates/imports the volume a disk key refers to; returns the
// config value to store and log lines.
func (n *Node) applyDisk(auth authInfo, vmid int, key, v string) (string, []string, error) {
	head, opts := vmKeyOpts(v)
	if head == "none" || opts["media"] == "cdrom" && !strings.HasSuffix(head, ":cloudinit") {
		return v, nil, nil
	}
	st, spec, ok := strings.Cut(head, ":")
	if !ok {
		if strings.HasPrefix(head, "/") {
			if auth.authID() != "root@pam" {
				return "", nil, &APIError{Code: 403, Msg: "Only root can pass arbitrary filesystem paths."}
			}
			return v, nil, nil
		}
		return "", nil, paramErr(key, "invalid format - unable to parse volume ID '"+head+"'")
	}
	if spec == "cloudinit" {
		if _, err := n.imageStorage(st); err != nil {
			return "", nil, err
		}
		id := fmt.Sprintf("%s:vm-%d-cloudinit", st, vmid)
		n.m.Volumes[id] = &Volume{ID: id, Size: 4 << 20, VMID: vmid}
		return id + ",media=cdrom", []string{fmt.Sprintf("%s: successfully created disk '%s,media=cdrom'", key, id)}, nil
	}
	if sz, isNum := parseSize(spec); isNum && regexp.MustCompile(`^\d+(\.\d+)?$`).MatchString(spec) {
		if _, err := n.imageStorage(st); err != nil {
			return "", nil, err
		}
		src := opts["import-from"]
		delete(opts, "import-from")
		var vol *Volume
		if src != "" {
			if sz != 0 {
				return "", nil, paramErr(key, "'import-from' requires special syntax - use <storage ID>:0,import-from=<source>")
			}
			srcVol, err := n.importSource(auth, src)
			if err != nil {
				return "", nil, err
			}
			vol = &Volume{Size: srcVol.Size, Guest: srcVol.Guest, Version: srcVol.Version}
		} else {
			if sz == 0 {
				return "", nil, paramErr(key, "invalid format - disk size must be positive")
			}
			vol = &Volume{Size: sz}
		}
		prefix := "vm"
		vol.ID = n.nextDiskName(st, vmid, prefix)
		if key == "efidisk0" {
			vol.Size = 1 << 20
		}
		vol.VMID = vmid
		n.m.Volumes[vol.ID] = vol
		out := vol.ID
		for _, k := range sortedKeys(opts) {
			if k != "size" {
				out += "," + k + "=" + opts[k]
			}
		}
		out += ",size=" + sizeStr(vol.Size)
		return out, []string{fmt.Sprintf("%s: successfully created disk '%s'", key, out)}, nil
	}
	id := head
	vol := n.m.Volumes[id]
	if vol == nil {
		return "", nil, runErr("volume '%s' does not exist", id)
	}
	if vol.VMID != vmid && vol.VMID != 0 {
		return "", nil, runErr("volume '%s' belongs to VM %d", id, vol.VMID)
	}
	out := id
	for _, k := range sortedKeys(opts) {
		if k != "size" {
			out += "," + k + "=" + opts[k]
		}
	}
	return out + ",size=" + sizeStr(vol.Size), nil, nil
}

// importSource resolves import-from (a volume id or, for root only, an absolute path).
func (n *Node) importSource(auth authInfo, src string) (*Volume, error) {
	if strings.HasPrefix(src, "/") {
		if auth.authID() != "root@pam" {
			return nil, &APIError{Code: 403, Msg: "Only root can pass arbitrary filesystem paths."}
		}
		return n.imageFile(src)
	}
	if v := n.m.Volumes[src]; v != nil {
		return v, nil
	}
	if p, ok := n.volumePath(src); ok {
		st, _, _ := strings.Cut(src, ":")
		s := n.m.storage(st)
		if !strings.Contains(s.Config["content"], "import") && !strings.Contains(s.Config["content"], "images") {
			return nil, runErr("storage '%s' does not support content-type 'import'", st)
		}
		return n.imageFile(p)
	}
	return nil, runErr("volume '%s' does not exist", src)
}

// imageFile inspects a disk image file on the node's filesystem.
func (n *Node) imageFile(p string) (*Volume, error) {
	b, err := n.fs.ReadFile(p)
	if err != nil {
		return nil, runErr("unable to parse image '%s': file does not exist", p)
	}
	img, ok := parseImage(b)
	if !ok {
		return nil, runErr("unable to parse image '%s': not a qcow2/raw image (is it still compressed?)", p)
	}
	return &Volume{Size: img.VirtualSize, Guest: img.Guest, Version: img.Version}, nil
}

func (n *Node) checkVMKeys(p map[string]string, allowed map[string]bool) *APIError {
	e := paramErr()
	for k, v := range p {
		if allowed[k] {
			continue
		}
		spec, ok := vmParam(k)
		if !ok {
			e.Errors[k] = "property is not defined in schema and the schema does not allow additional properties"
			continue
		}
		if msg := checkValue(spec, v); msg != "" {
			e.Errors[k] = msg
		}
	}
	if len(e.Errors) > 0 {
		return e
	}
	return nil
}

// setVMKeys applies config keys (disks allocated, MACs filled).
func (n *Node) setVMKeys(auth authInfo, vm *VM, p map[string]string, skip map[string]bool) ([]string, error) {
	var lines []string
	for _, k := range sortedKeys(p) {
		v := p[k]
		if skip[k] {
			continue
		}
		switch {
		case diskKeyRe.MatchString(k):
			nv, l, err := n.applyDisk(auth, vm.VMID, k, v)
			if err != nil {
				return nil, err
			}
			lines = append(lines, l...)
			v = nv
		case netKeyRe.MatchString(k):
			head, _ := vmKeyOpts(v)
			model, mac, hasMAC := strings.Cut(head, "=")
			rest := strings.TrimPrefix(v, head)
			if strings.HasPrefix(head, "model=") {
				model, hasMAC = strings.TrimPrefix(head, "model="), false
			}
			_, opts := vmKeyOpts(v)
			if m, ok := opts["macaddr"]; ok {
				mac, hasMAC = m, true
				rest = strings.Replace(rest, ",macaddr="+m, "", 1)
			}
			if !hasMAC {
				mac = n.randMAC()
			}
			v = model + "=" + strings.ToUpper(mac) + rest
		case k == "sshkeys":
		case k == "template":
			if v == "1" {
				vm.Config["template"] = "1"
			}
			continue
		}
		vm.Config[k] = v
	}
	return lines, nil
}

var vmCreateExtra = map[string]bool{"vmid": true, "node": true, "start": true, "storage": true, "pool": true, "unique": true, "archive": true, "force": true, "live-restore": true, "bwlimit": true, "ha-managed": true}

// createVM is POST /nodes/{n}/qemu and qm create.
func (n *Node) createVM(auth authInfo, p map[string]string) (*Task, error) {
	if e := n.checkVMKeys(p, vmCreateExtra); e != nil {
		return nil, e
	}
	if _, ok := p["vmid"]; !ok {
		return nil, paramErr("vmid", "property is missing and it is not optional")
	}
	for _, b := range []string{"start", "unique", "force", "ha-managed", "live-restore"} {
		if v, ok := p[b]; ok && v != "0" && v != "1" {
			return nil, paramErr(b, "type check ('boolean') failed - got '"+v+"'")
		}
	}
	id, err := strconv.Atoi(p["vmid"])
	if err != nil || id < 100 || id > 999999999 {
		return nil, paramErr("vmid", "value must have a minimum value of 100")
	}
	if n.m.VMs[id] != nil {
		return nil, runErr("unable to create VM %d - VM %d already exists on node '%s'", id, id, n.m.Hostname)
	}
	vm := &VM{VMID: id, Config: map[string]string{}}
	lines, err := n.setVMKeys(auth, vm, p, vmCreateExtra)
	if err != nil {
		// roll back volumes allocated for this VM
		for k, v := range n.m.Volumes {
			if v.VMID == id {
				delete(n.m.Volumes, k)
			}
		}
		return nil, err
	}
	vm.Config["smbios1"] = "uuid=" + newUUID()
	vm.Config["vmgenid"] = newUUID()
	vm.Config["meta"] = fmt.Sprintf("creation-qemu=10.0.2,ctime=%d", time.Now().Unix())
	if vm.Config["boot"] == "" {
		vm.Config["boot"] = "order=" + firstDisk(vm)
	}
	n.m.VMs[id] = vm
	if p["ha-managed"] == "1" {
		n.m.HA = append(n.m.HA, &HAResource{SID: fmt.Sprintf("vm:%d", id), State: "started", MaxRestart: 1, MaxRelocate: 1})
	}
	t := n.newTask("qmcreate", strconv.Itoa(id), auth.authID(), 2*time.Second, lines, "")
	if p["start"] == "1" {
		n.startVM(auth, vm)
	}
	return t, nil
}

func firstDisk(vm *VM) string {
	for _, k := range []string{"scsi0", "virtio0", "sata0", "ide0", "net0"} {
		if _, ok := vm.Config[k]; ok {
			return k
		}
	}
	return ""
}

func hVMList(c *call) (any, error) {
	if err := c.n.checkNode(c); err != nil {
		return nil, err
	}
	out := []any{}
	for _, id := range sortedInts(c.n.m.VMs) {
		out = append(out, c.n.vmStatus(c.n.m.VMs[id], false))
	}
	return out, nil
}

func (n *Node) vmStatus(vm *VM, full bool) map[string]any {
	mem, _ := strconv.Atoi(strings.TrimPrefix(vm.Config["memory"], "current="))
	if mem == 0 {
		mem = 512
	}
	cores, _ := strconv.Atoi(vm.Config["cores"])
	if cores == 0 {
		cores = 1
	}
	var maxdisk int64
	if h, _ := vmKeyOpts(vm.Config[firstDisk(vm)]); h != "" {
		if v := n.m.Volumes[h]; v != nil {
			maxdisk = v.Size
		}
	}
	st := "stopped"
	uptime := 0
	if vm.Running {
		st = "running"
		uptime = int(time.Since(vm.StartedAt).Seconds())
	}
	out := map[string]any{"vmid": vm.VMID, "name": vm.Config["name"], "status": st, "cpus": cores, "maxmem": mem << 20, "mem": 0,
		"maxdisk": maxdisk, "disk": 0, "uptime": uptime, "netin": 0, "netout": 0, "cpu": 0, "diskread": 0, "diskwrite": 0}
	if vm.Running {
		out["pid"] = 10000 + vm.VMID
		if vm.PID != 0 {
			out["pid"] = vm.PID
		}
		out["mem"] = (mem << 20) / 3
	}
	if vm.Config["template"] == "1" {
		out["template"] = 1
	}
	if t := vm.Config["tags"]; t != "" {
		out["tags"] = t
	}
	if vm.Lock != "" {
		out["lock"] = vm.Lock
	}
	if full {
		out["qmpstatus"] = st
		managed := 0
		for _, h := range n.m.HA {
			if h.SID == fmt.Sprintf("vm:%d", vm.VMID) {
				managed = 1
			}
		}
		out["ha"] = map[string]any{"managed": managed}
		if agentOn(vm) {
			out["agent"] = 1
		}
		if vm.Running {
			out["running-machine"] = "pc-i440fx-10.0+pve0"
			out["running-qemu"] = "10.0.2"
		}
	}
	return out
}

func agentOn(vm *VM) bool {
	a := vm.Config["agent"]
	return a == "1" || strings.Contains(a, "enabled=1") || (a != "" && a != "0" && !strings.Contains(a, "enabled=0") && strings.HasPrefix(a, "1"))
}

func hVMStatus(c *call) (any, error) {
	vm, _, err := c.n.vmArg(c.p)
	if err != nil {
		return nil, err
	}
	return c.n.vmStatus(vm, true), nil
}

func hVMConfig(c *call) (any, error) {
	vm, _, err := c.n.vmArg(c.p)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for k, v := range vm.Config {
		switch k {
		case "cores", "sockets", "onboot", "template", "tablet", "localtime", "numa", "kvm", "protection":
			i, _ := strconv.Atoi(v)
			out[k] = i
		default:
			out[k] = v
		}
	}
	if m, ok := vm.Config["memory"]; ok {
		out["memory"] = m
	}
	out["digest"] = configDigest(vm)
	return out, nil
}

func configDigest(vm *VM) string {
	var b strings.Builder
	for _, k := range sortedKeys(vm.Config) {
		b.WriteString(k + "=" + vm.Config[k] + "\n")
	}
	return hashSecret(b.String())[:40]
}

var vmUpdateExtra = map[string]bool{"vmid": true, "node": true, "delete": true, "digest": true, "skiplock": true, "revert": true, "force": true, "background_delay": true}

// updateVM is POST/PUT config and qm set.
func (n *Node) updateVM(auth authInfo, p map[string]string) ([]string, error) {
	if e := n.checkVMKeys(p, vmUpdateExtra); e != nil {
		return nil, e
	}
	vm, _, err := n.vmArg(p)
	if err != nil {
		return nil, err
	}
	if p["skiplock"] == "1" && auth.authID() != "root@pam" {
		return nil, paramErr("skiplock", "Only root may use this option.")
	}
	if d := p["digest"]; d != "" && d != configDigest(vm) {
		return nil, runErr("detected modified configuration - file changed by other user? Try again.")
	}
	if vm.Lock != "" && p["skiplock"] != "1" {
		return nil, runErr("VM is locked (%s)", vm.Lock)
	}
	if vm.Config["template"] == "1" {
		for k := range p {
			if diskKeyRe.MatchString(k) {
				return nil, runErr("unable to change disks of a template")
			}
		}
	}
	for _, d := range splitList(p["delete"]) {
		if _, ok := vmParam(d); !ok {
			return nil, paramErr("delete", "invalid format - unknown option '"+d+"'")
		}
		if diskKeyRe.MatchString(d) {
			h, _ := vmKeyOpts(vm.Config[d])
			if v := n.m.Volumes[h]; v != nil && !strings.HasSuffix(h, "cloudinit") {
				vm.Config[nextUnused(vm)] = h
			} else {
				delete(n.m.Volumes, h)
			}
		}
		delete(vm.Config, d)
	}
	lines, err := n.setVMKeys(auth, vm, p, vmUpdateExtra)
	if err != nil {
		return nil, err
	}
	for k, v := range p {
		if diskKeyRe.MatchString(k) {
			h, _ := vmKeyOpts(v)
			for uk, uv := range vm.Config {
				if unusedRe.MatchString(uk) && uv == h {
					delete(vm.Config, uk)
				}
			}
		}
	}
	if p["boot"] == "" && vm.Config["boot"] == "order=" {
		vm.Config["boot"] = "order=" + firstDisk(vm)
	}
	return lines, nil
}

func nextUnused(vm *VM) string {
	for i := 0; ; i++ {
		k := fmt.Sprintf("unused%d", i)
		if _, ok := vm.Config[k]; !ok {
			return k
		}
	}
}

func hVMConfigSync(c *call) (any, error) {
	_, err := c.n.updateVM(c.auth, c.p)
	return nil, err
}

func hVMConfigAsync(c *call) (any, error) {
	lines, err := c.n.updateVM(c.auth, c.p)
	if err != nil {
		return nil, err
	}
	return c.n.newTask("qmconfig", c.p["vmid"], c.auth.authID(), time.Second, lines, "").UPID, nil
}

// importDisk is qm importdisk / qm disk import.
func (n *Node) importDisk(vmid int, file, storage string) (string, error) {
	vm := n.m.VMs[vmid]
	if vm == nil {
		return "", runErr("Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist", n.m.Hostname, vmid)
	}
	if _, err := n.imageStorage(storage); err != nil {
		return "", err
	}
	src, err := n.imageFile(file)
	if err != nil {
		return "", err
	}
	id := n.nextDiskName(storage, vmid, "vm")
	n.m.Volumes[id] = &Volume{ID: id, Size: src.Size, Guest: src.Guest, Version: src.Version, VMID: vmid}
	k := nextUnused(vm)
	vm.Config[k] = id
	return k + ":" + id, nil
}

func (n *Node) resizeDisk(vm *VM, disk, size string) error {
	v, ok := vm.Config[disk]
	if !ok {
		return paramErr("disk", "disk '"+disk+"' does not exist")
	}
	h, opts := vmKeyOpts(v)
	vol := n.m.Volumes[h]
	if vol == nil {
		return runErr("volume '%s' does not exist", h)
	}
	var ns int64
	if strings.HasPrefix(size, "+") {
		d, ok := parseSize(size[1:])
		if !ok {
			return paramErr("size", "invalid format - value does not match the regex pattern")
		}
		ns = vol.Size + d
	} else {
		s, ok := parseSize(size)
		if !ok {
			return paramErr("size", "invalid format - value does not match the regex pattern")
		}
		ns = s
	}
	if ns < vol.Size {
		return runErr("shrinking disks is not supported")
	}
	vol.Size = ns
	out := h
	for _, k := range sortedKeys(opts) {
		if k != "size" {
			out += "," + k + "=" + opts[k]
		}
	}
	vm.Config[disk] = out + ",size=" + sizeStr(ns)
	return nil
}

func hVMResize(c *call) (any, error) {
	vm, _, err := c.n.vmArg(c.p)
	if err != nil {
		return nil, err
	}
	if err := c.n.resizeDisk(vm, c.p["disk"], c.p["size"]); err != nil {
		return nil, err
	}
	return c.n.newTask("resize", c.p["vmid"], c.auth.authID(), time.Second, nil, "").UPID, nil
}

func (n *Node) templateVM(vm *VM) error {
	if vm.Running {
		return runErr("you can't convert a running VM to a template")
	}
	if vm.Config["template"] == "1" {
		return runErr("VM %d is already a template", vm.VMID)
	}
	vm.Config["template"] = "1"
	for k, v := range vm.Config {
		if !diskKeyRe.MatchString(k) {
			continue
		}
		h, _ := vmKeyOpts(v)
		if vol := n.m.Volumes[h]; vol != nil && strings.Contains(h, ":vm-") && !strings.HasSuffix(h, "cloudinit") {
			nid := strings.Replace(h, ":vm-", ":base-", 1)
			delete(n.m.Volumes, h)
			vol.ID = nid
			n.m.Volumes[nid] = vol
			vm.Config[k] = strings.Replace(v, h, nid, 1)
		}
	}
	return nil
}

func hVMTemplate(c *call) (any, error) {
	vm, _, err := c.n.vmArg(c.p)
	if err != nil {
		return nil, err
	}
	if err := c.n.templateVM(vm); err != nil {
		return nil, err
	}
	return c.n.newTask("qmtemplate", c.p["vmid"], c.auth.authID(), 2*time.Second, nil, "").UPID, nil
}

// cloneVM is POST clone and qm clone.
func (n *Node) cloneVM(auth authInfo, p map[string]string) (*Task, error) {
	src, _, err := n.vmArg(p)
	if err != nil {
		return nil, err
	}
	newid, err := strconv.Atoi(p["newid"])
	if err != nil || newid < 100 {
		return nil, paramErr("newid", "value must have a minimum value of 100")
	}
	if n.m.VMs[newid] != nil {
		return nil, runErr("unable to create VM %d: config file already exists", newid)
	}
	if p["target"] != "" && p["target"] != n.m.Hostname {
		return nil, runErr("target node '%s' does not exist", p["target"])
	}
	if src.Running && src.Config["template"] != "1" && p["full"] == "0" {
		return nil, runErr("Linked clone feature is not supported for a running VM")
	}
	full := p["full"] == "1" || (src.Config["template"] != "1" && p["full"] != "0")
	if !full && src.Config["template"] != "1" {
		return nil, runErr("Linked clone feature is not supported for drive 'scsi0'")
	}
	if p["storage"] != "" && !full {
		return nil, paramErr("storage", "option is only allowed for full clones")
	}
	vm := &VM{VMID: newid, Config: map[string]string{}}
	lines := []string{fmt.Sprintf("create full clone of drive scsi0 (%s)", src.Config["scsi0"])}
	for k, v := range src.Config {
		switch {
		case k == "template" || unusedRe.MatchString(k):
			continue
		case netKeyRe.MatchString(k):
			head, _ := vmKeyOpts(v)
			model, _, _ := strings.Cut(head, "=")
			v = model + "=" + n.randMAC() + strings.TrimPrefix(v, head)
		case diskKeyRe.MatchString(k):
			h, opts := vmKeyOpts(v)
			vol := n.m.Volumes[h]
			if vol == nil {
				break
			}
			st, _, _ := strings.Cut(h, ":")
			if p["storage"] != "" {
				if _, err := n.imageStorage(p["storage"]); err != nil {
					return nil, err
				}
				st = p["storage"]
			}
			var nid string
			if strings.HasSuffix(h, "cloudinit") {
				nid = fmt.Sprintf("%s:vm-%d-cloudinit", st, newid)
			} else {
				nid = n.nextDiskName(st, newid, "vm")
			}
			n.m.Volumes[nid] = &Volume{ID: nid, Size: vol.Size, Guest: vol.Guest, Version: vol.Version, VMID: newid}
			v = nid
			for _, ok := range sortedKeys(opts) {
				v += "," + ok + "=" + opts[ok]
			}
		}
		vm.Config[k] = v
	}
	if nm := p["name"]; nm != "" {
		vm.Config["name"] = nm
	} else {
		vm.Config["name"] = "Copy-of-VM-" + src.Config["name"]
	}
	if d := p["description"]; d != "" {
		vm.Config["description"] = d
	}
	vm.Config["vmgenid"] = newUUID()
	vm.Config["smbios1"] = "uuid=" + newUUID()
	n.m.VMs[newid] = vm
	lines = append(lines, "transferred 32.0 GiB of 32.0 GiB (100.00%)")
	return n.newTask("qmclone", strconv.Itoa(src.VMID), auth.authID(), 8*time.Second, lines, ""), nil
}

func hVMClone(c *call) (any, error) {
	t, err := c.n.cloneVM(c.auth, c.p)
	if err != nil {
		return nil, err
	}
	return t.UPID, nil
}

func hVMCreate(c *call) (any, error) {
	if err := c.n.checkNode(c); err != nil {
		return nil, err
	}
	t, err := c.n.createVM(c.auth, c.p)
	if err != nil {
		return nil, err
	}
	return t.UPID, nil
}

// bootDelay is how long a guest OS takes to come up (scaled).
func bootDelay(guest string) time.Duration {
	switch guest {
	case "opnsense":
		return 45 * time.Second
	case "nixos":
		return 25 * time.Second
	}
	return 15 * time.Second
}

// startVM boots a VM; returns the task. Errors of the start itself land in the task.
func (n *Node) startVM(auth authInfo, vm *VM) *Task {
	id := strconv.Itoa(vm.VMID)
	typ := "qmstart"
	for _, h := range n.m.HA {
		if h.SID == "vm:"+id {
			typ = "hastart"
		}
	}
	if vm.Config["template"] == "1" {
		return n.newTask(typ, id, auth.authID(), time.Second, nil, "you can't start a vm if it's a template")
	}
	if vm.Running {
		return n.newTask(typ, id, auth.authID(), time.Second, nil, fmt.Sprintf("VM %d already running", vm.VMID))
	}
	for k, v := range vm.Config {
		if diskKeyRe.MatchString(k) {
			h, opts := vmKeyOpts(v)
			if h == "none" || opts["media"] == "cdrom" && !strings.Contains(h, "cloudinit") {
				continue
			}
			if n.m.Volumes[h] == nil && !strings.HasPrefix(h, "/") {
				return n.newTask(typ, id, auth.authID(), time.Second, nil, fmt.Sprintf("volume '%s' does not exist", h))
			}
		}
		if netKeyRe.MatchString(k) {
			_, opts := vmKeyOpts(v)
			if br := opts["bridge"]; br != "" && n.m.Links[br] == nil {
				return n.newTask(typ, id, auth.authID(), time.Second, []string{fmt.Sprintf("bridge '%s' does not exist", br)}, "start failed: QEMU exited with code 1")
			}
		}
	}
	guest, version := n.vmGuest(vm)
	vm.Running = true
	vm.StartedAt = time.Now()
	n.m.NextPID += 1 + int(time.Now().UnixNano()%7)
	vm.PID = n.m.NextPID
	vm.ReadyAt = vm.StartedAt.Add(n.scaled(bootDelay(guest)))
	vm.IP = n.guestIP(vm, guest)
	if n.cfg.OnBoot != nil {
		ready := vm.ReadyAt
		vmid := vm.VMID
		n.after(func() { n.cfg.OnBoot(vmid, guest, version, ready) })
	}
	return n.newTask(typ, id, auth.authID(), time.Second, nil, "")
}

func (n *Node) vmGuest(vm *VM) (string, string) {
	for _, k := range []string{"scsi0", "virtio0", "sata0", "ide0"} {
		h, _ := vmKeyOpts(vm.Config[k])
		if v := n.m.Volumes[h]; v != nil && v.Guest != "" {
			return v.Guest, v.Version
		}
	}
	return "", ""
}

// guestIP is the address a booting guest gets: static from ipconfig0, or a
// DHCP lease from the firewall's mgmt pool when a firewall VM is running on
// the same bridge.
func (n *Node) guestIP(vm *VM, guest string) string {
	if guest == "opnsense" {
		return "10.0.0.1"
	}
	ipc := vm.Config["ipconfig0"]
	_, opts := vmKeyOpts("x," + ipc)
	if ip := opts["ip"]; ip != "" && ip != "dhcp" {
		if p, err := netip.ParsePrefix(ip); err == nil {
			return p.Addr().String()
		}
	}
	_, nopts := vmKeyOpts(vm.Config["net0"])
	for _, fw := range n.m.VMs {
		if fw == vm || !fw.Running {
			continue
		}
		if g, _ := n.vmGuest(fw); g != "opnsense" {
			continue
		}
		_, fopts := vmKeyOpts(fw.Config["net0"])
		if fopts["bridge"] == nopts["bridge"] && nopts["tag"] == "" {
			return fmt.Sprintf("10.0.0.%d", 100+vm.VMID%150)
		}
	}
	return ""
}

func (n *Node) stopVM(auth authInfo, vm *VM, typ string) *Task {
	if vm.Running {
		vm.Running = false
		vm.IP = ""
	}
	return n.newTask(typ, strconv.Itoa(vm.VMID), auth.authID(), 2*time.Second, nil, "")
}

func hVMPower(action string) func(c *call) (any, error) {
	return func(c *call) (any, error) {
		n := c.n
		vm, _, err := n.vmArg(c.p)
		if err != nil {
			return nil, err
		}
		if c.p["skiplock"] == "1" && c.auth.authID() != "root@pam" {
			return nil, paramErr("skiplock", "Only root may use this option.")
		}
		if vm.Lock != "" && c.p["skiplock"] != "1" {
			return nil, runErr("VM is locked (%s)", vm.Lock)
		}
		var t *Task
		switch action {
		case "start":
			t = n.startVM(c.auth, vm)
		case "stop":
			t = n.stopVM(c.auth, vm, "qmstop")
		case "shutdown":
			if !vm.Running {
				return nil, runErr("VM %d not running", vm.VMID)
			}
			t = n.stopVM(c.auth, vm, "qmshutdown")
		case "reboot", "reset":
			if !vm.Running {
				return nil, runErr("VM %d not running", vm.VMID)
			}
			vm.Running = false
			n.startVM(c.auth, vm)
			t = n.m.Tasks[len(n.m.Tasks)-1]
			t.Type = "qm" + action
			t.UPID = strings.Replace(t.UPID, ":qmstart:", ":qm"+action+":", 1)
			t.UPID = strings.Replace(t.UPID, ":hastart:", ":qm"+action+":", 1)
		}
		return t.UPID, nil
	}
}

func (n *Node) destroyVM(auth authInfo, vm *VM, purge bool) (*Task, error) {
	if vm.Running {
		return nil, runErr("VM %d is running - destroy failed", vm.VMID)
	}
	sid := fmt.Sprintf("vm:%d", vm.VMID)
	for i, h := range n.m.HA {
		if h.SID == sid {
			if !purge {
				return nil, runErr("unable to remove VM %d - used in HA resources and purge parameter not set.", vm.VMID)
			}
			n.m.HA = append(n.m.HA[:i], n.m.HA[i+1:]...)
			break
		}
	}
	for k, v := range n.m.Volumes {
		if v.VMID == vm.VMID {
			delete(n.m.Volumes, k)
		}
	}
	delete(n.m.VMs, vm.VMID)
	_ = n.fs.Remove(fmt.Sprintf("/etc/pve/nodes/%s/qemu-server/%d.conf", n.m.Hostname, vm.VMID))
	// "Destroy the VM and all used/owned volumes" (PVE API schema, DELETE
	// /nodes/{node}/qemu/{vmid}; qm(1) destroy): the guest OS on them goes too.
	if f := n.cfg.OnDestroy; f != nil {
		id := vm.VMID
		n.after(func() { f(id) })
	}
	return n.newTask("qmdestroy", strconv.Itoa(vm.VMID), auth.authID(), 2*time.Second, nil, ""), nil
}

func hVMDelete(c *call) (any, error) {
	vm, _, err := c.n.vmArg(c.p)
	if err != nil {
		return nil, err
	}
	t, err := c.n.destroyVM(c.auth, vm, c.bool("purge"))
	if err != nil {
		return nil, err
	}
	return t.UPID, nil
}

// agent returns the guest agent's answer for cmd.
func (n *Node) agent(vm *VM, cmd string) (any, error) {
	if !agentOn(vm) {
		return nil, runErr("No QEMU guest agent configured")
	}
	if !vm.Running {
		return nil, runErr("VM %d is not running", vm.VMID)
	}
	guest, ver := n.vmGuest(vm)
	if time.Now().Before(vm.ReadyAt) || (guest == "opnsense" && !vm.AgentUp) || guest == "" {
		return nil, runErr("QEMU guest agent is not running")
	}
	switch cmd {
	case "ping":
		return map[string]any{}, nil
	case "get-host-name":
		return map[string]any{"host-name": vm.Config["name"]}, nil
	case "get-osinfo":
		if guest == "opnsense" {
			return map[string]any{"id": "freebsd", "name": "FreeBSD", "pretty-name": "FreeBSD 14.3-RELEASE-p1", "version-id": "14.3", "kernel-release": "14.3-RELEASE-p1", "machine": "amd64"}, nil
		}
		return map[string]any{"id": "nixos", "name": "NixOS", "pretty-name": "NixOS " + ver, "version-id": ver, "kernel-release": "6.12.41", "machine": "x86_64"}, nil
	case "network-get-interfaces":
		head, _ := vmKeyOpts(vm.Config["net0"])
		_, mac, _ := strings.Cut(head, "=")
		eth := map[string]any{"name": "ens18", "hardware-address": strings.ToLower(mac),
			"statistics": map[string]any{"rx-bytes": 123456, "tx-bytes": 65432, "rx-packets": 900, "tx-packets": 700, "rx-errs": 0, "tx-errs": 0, "rx-dropped": 0, "tx-dropped": 0}}
		addrs := []any{}
		if vm.IP != "" {
			addrs = append(addrs, map[string]any{"ip-address": vm.IP, "ip-address-type": "ipv4", "prefix": 24})
		}
		addrs = append(addrs, map[string]any{"ip-address": "fe80::be24:11ff:fe00:1", "ip-address-type": "ipv6", "prefix": 64})
		eth["ip-addresses"] = addrs
		lo := map[string]any{"name": "lo", "hardware-address": "00:00:00:00:00:00", "ip-addresses": []any{
			map[string]any{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8},
			map[string]any{"ip-address": "::1", "ip-address-type": "ipv6", "prefix": 128}},
			"statistics": map[string]any{"rx-bytes": 0, "tx-bytes": 0, "rx-packets": 0, "tx-packets": 0, "rx-errs": 0, "tx-errs": 0, "rx-dropped": 0, "tx-dropped": 0}}
		return []any{lo, eth}, nil
	}
	return nil, runErr("unknown agent command '%s'", cmd)
}

func hVMAgent(cmd string) func(c *call) (any, error) {
	return func(c *call) (any, error) {
		vm, _, err := c.n.vmArg(c.p)
		if err != nil {
			return nil, err
		}
		r, err := c.n.agent(vm, cmd)
		if err != nil {
			return nil, err
		}
		return map[string]any{"result": r}, nil
	}
}

func hNextID(c *call) (any, error) {
	if v, ok := c.p["vmid"]; ok {
		id, _ := strconv.Atoi(v)
		if c.n.m.VMs[id] != nil {
			return nil, paramErr("vmid", fmt.Sprintf("VM %d already exists", id))
		}
		return v, nil
	}
	for id := 100; ; id++ {
		if c.n.m.VMs[id] == nil {
			return strconv.Itoa(id), nil
		}
	}
}

// SetGuestAgent records that the guest agent inside a VM started or stopped.
func (n *Node) SetGuestAgent(vmid int, up bool) {
	n.lock()
	defer n.unlock()
	if vm := n.m.VMs[vmid]; vm != nil {
		vm.AgentUp = up
		n.changed()
	}
}

// RestartVM is a reboot from inside the guest: running again after the
// boot delay, same address.
func (n *Node) RestartVM(vmid int) {
	n.lock()
	defer n.unlock()
	if vm := n.m.VMs[vmid]; vm != nil && vm.Running {
		guest, _ := n.vmGuest(vm)
		vm.StartedAt = time.Now()
		vm.ReadyAt = vm.StartedAt.Add(n.scaled(bootDelay(guest)))
		n.changed()
	}
}

// StopVM is a poweroff from inside the guest.
func (n *Node) StopVM(vmid int) {
	n.lock()
	defer n.unlock()
	if vm := n.m.VMs[vmid]; vm != nil && vm.Running {
		vm.Running, vm.IP = false, ""
		n.changed()
	}
}

func hVMCloudinitRegen(c *call) (any, error) {
	vm, _, err := c.n.vmArg(c.p)
	if err != nil {
		return nil, err
	}
	for k, v := range vm.Config {
		if diskKeyRe.MatchString(k) && strings.Contains(v, "cloudinit") {
			return nil, nil
		}
	}
	return nil, runErr("no cloudinit drive found for VM %d", vm.VMID)
}

func hVMCloudinitDump(c *call) (any, error) {
	vm, _, err := c.n.vmArg(c.p)
	if err != nil {
		return nil, err
	}
	return cloudInitDump(vm, c.p["type"]), nil
}

// cloudInitDump renders the NoCloud documents PVE generates.
func cloudInitDump(vm *VM, typ string) string {
	name := vm.Config["name"]
	switch typ {
	case "meta":
		return "instance-id: " + hashSecret(configDigest(vm))[:40] + "\n"
	case "network":
		out := "version: 1\nconfig:\n"
		for i := 0; i < 32; i++ {
			k := fmt.Sprintf("net%d", i)
			v, ok := vm.Config[k]
			if !ok {
				continue
			}
			head, _ := vmKeyOpts(v)
			_, mac, _ := strings.Cut(head, "=")
			out += fmt.Sprintf("    - type: physical\n      name: eth%d\n      mac_address: '%s'\n      subnets:\n", i, strings.ToLower(mac))
			_, o := vmKeyOpts("x," + vm.Config[fmt.Sprintf("ipconfig%d", i)])
			if ip := o["ip"]; ip == "dhcp" || ip == "" {
				out += "      - type: dhcp4\n"
			} else {
				out += "      - type: static\n        address: '" + ip + "'\n"
				if gw := o["gw"]; gw != "" {
					out += "        gateway: '" + gw + "'\n"
				}
			}
		}
		return out
	}
	out := "#cloud-config\nhostname: " + name + "\nmanage_etc_hosts: true\nfqdn: " + name + "\n"
	if u := vm.Config["ciuser"]; u != "" {
		out += "user: " + u + "\n"
	}
	if k := vm.Config["sshkeys"]; k != "" {
		out += "ssh_authorized_keys:\n"
		for _, line := range strings.Split(urlDecode(k), "\n") {
			if strings.TrimSpace(line) != "" {
				out += "  - " + line + "\n"
			}
		}
	}
	return out + "chpasswd:\n  expire: False\nusers:\n  - default\npackage_upgrade: true\n"
}
