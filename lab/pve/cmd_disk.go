package pve

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tappaas/tappaas/lab/shell"
)

func humanSize(b int64) string {
	units := []string{"B", "K", "M", "G", "T", "P"}
	f := float64(b)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if f >= 100 || i == 0 {
		return fmt.Sprintf("%.0f%s", f, units[i])
	}
	return fmt.Sprintf("%.1f%s", f, units[i])
}

// vdevName is how zpool status shows a whole-disk vdev created from path
// (a disk ZFS partitions itself, data on partition 1): -P prints the full
// path of that partition (/dev/sdb1, /dev/disk/by-id/wwn-…-part1), plain
// status its last component without the partition (sdb, wwn-…)
// (openzfs/zfs@zfs-2.3.4:lib/libzfs/libzfs_pool.c:4485-4500,
// zpool_vdev_name).
func vdevName(path string, full bool) string {
	if !full {
		return path[strings.LastIndexByte(path, '/')+1:]
	}
	if strings.HasPrefix(path, ByIDDir) {
		return path + "-part1"
	}
	if strings.HasPrefix(path, "/dev/nvme") {
		return path + "p1"
	}
	return path + "1"
}

func (n *Node) cmdZpool(e *shell.Env) int {
	if len(e.Args) < 2 {
		fmt.Fprintln(e.Stderr, "missing command\nusage: zpool command args ...")
		return 2
	}
	sub := e.Args[1]
	args := e.Args[2:]
	switch sub {
	case "create":
		props := map[string]string{}
		force := false
		var pos []string
		for i := 0; i < len(args); i++ {
			a := args[i]
			switch {
			case a == "-f":
				force = true
			case (a == "-o" || a == "-O" || a == "-m") && i+1 < len(args):
				if a == "-m" {
					props["mountpoint"] = args[i+1]
				} else {
					k, v, _ := strings.Cut(args[i+1], "=")
					props[k] = v
				}
				i++
			case strings.HasPrefix(a, "-"):
			default:
				pos = append(pos, a)
			}
		}
		_ = force
		if len(pos) < 2 {
			fmt.Fprintln(e.Stderr, "missing vdev specification\nusage:\n\tcreate [-fnd] [-o property=value] ... <pool> <vdev> ...")
			return 2
		}
		name := pos[0]
		raid := "stripe"
		devs := pos[1:]
		if len(devs) == 1 {
			raid = "single"
		}
		switch devs[0] {
		case "mirror", "raidz", "raidz1", "raidz2", "raidz3":
			raid = strings.Replace(devs[0], "raidz1", "raidz", 1)
			devs = devs[1:]
		}
		var msg string
		err := n.withLock(true, func() error {
			if n.m.pool(name) != nil {
				msg = fmt.Sprintf("cannot create '%s': pool already exists", name)
				return fmt.Errorf("x")
			}
			for _, d := range devs {
				dk := n.m.disk(d)
				if dk == nil {
					msg = fmt.Sprintf("cannot open '%s': No such device or address", d)
					return fmt.Errorf("x")
				}
				if strings.HasPrefix(dk.Use, "zfs:") {
					msg = fmt.Sprintf("invalid vdev specification\nuse '-f' to override the following errors:\n%s is part of active pool '%s'", dk.Dev, strings.TrimPrefix(dk.Use, "zfs:"))
					return fmt.Errorf("x")
				}
				if dk.Use != "" {
					msg = fmt.Sprintf("cannot open '%s': Device or resource busy\ncannot create '%s': one or more devices is currently unavailable", dk.Dev, name)
					return fmt.Errorf("x")
				}
			}
			if raid == "mirror" && len(devs) < 2 {
				msg = "invalid vdev specification: mirror requires at least 2 devices"
				return fmt.Errorf("x")
			}
			if err := n.createPool(name, raid, devs, atoiDef(props["ashift"], 12), orDef(props["compression"], "off")); err != nil {
				msg = fmt.Sprintf("cannot create '%s': %s", name, err.(*APIError).Msg)
				return err
			}
			p := n.m.pool(name)
			if v := props["autotrim"]; v != "" {
				p.Autotrim = v
			}
			for k, v := range props {
				p.Props[k] = v
			}
			return nil
		})
		if err != nil {
			fmt.Fprintln(e.Stderr, msg)
			return 1
		}
		return 0
	case "list":
		return n.zpoolList(e, args)
	case "status":
		n.lock()
		defer n.unlock()
		var names []string
		fullPaths := false
		for _, a := range args {
			if !strings.HasPrefix(a, "-") {
				names = append(names, a)
			} else if strings.Contains(a, "P") {
				fullPaths = true
			}
		}
		if len(n.m.Pools) == 0 && len(names) == 0 {
			// On standard error, status 0
			// (openzfs/zfs@zfs-2.3.4:cmd/zpool/zpool_main.c:11202-11204).
			fmt.Fprintln(e.Stderr, "no pools available")
			return 0
		}
		for _, p := range n.m.Pools {
			if len(names) > 0 && !contains(names, p.Name) {
				continue
			}
			fmt.Fprintf(e.Stdout, "  pool: %s\n state: ONLINE\nconfig:\n\n\tNAME        STATE     READ WRITE CKSUM\n\t%-11s ONLINE       0     0     0\n", p.Name, p.Name)
			ind := "\t  "
			if p.Raid != "single" && p.Raid != "stripe" {
				// OpenZFS names a raidz vdev with its parity: "raidz1-0",
				// "raidz2-0" (zpool_vdev_name, lib/libzfs/libzfs_pool.c,
				// openzfs/zfs@zfs-2.2.7).
				vdev := p.Raid
				if vdev == "raidz" {
					vdev = "raidz1"
				}
				fmt.Fprintf(e.Stdout, "\t  %-9s ONLINE       0     0     0\n", vdev+"-0")
				ind = "\t    "
			}
			for _, d := range p.Devices {
				fmt.Fprintf(e.Stdout, "%s%-9s ONLINE       0     0     0\n", ind, vdevName(d, fullPaths))
			}
			fmt.Fprintln(e.Stdout, "\nerrors: No known data errors")
		}
		for _, nm := range names {
			if n.m.pool(nm) == nil {
				fmt.Fprintf(e.Stderr, "cannot open '%s': no such pool\n", nm)
				return 1
			}
		}
		return 0
	case "get":
		var pos []string
		for _, a := range args {
			if !strings.HasPrefix(a, "-") && a != "value" && a != "name,property,value,source" {
				pos = append(pos, a)
			}
		}
		if len(pos) < 2 {
			fmt.Fprintln(e.Stderr, "missing property argument")
			return 2
		}
		n.lock()
		defer n.unlock()
		p := n.m.pool(pos[1])
		if p == nil {
			fmt.Fprintf(e.Stderr, "cannot open '%s': no such pool\n", pos[1])
			return 1
		}
		v := p.Props[pos[0]]
		switch pos[0] {
		case "autotrim":
			v = p.Autotrim
		case "ashift":
			v = fmt.Sprint(p.Ashift)
		case "size":
			v = humanSize(p.Size)
		case "health":
			v = "ONLINE"
		}
		if v == "" {
			v = "-"
		}
		if contains(args, "-H") {
			fmt.Fprintln(e.Stdout, v)
		} else {
			fmt.Fprintf(e.Stdout, "NAME    PROPERTY  VALUE  SOURCE\n%s  %s  %s  local\n", p.Name, pos[0], v)
		}
		return 0
	case "set":
		if len(args) < 2 {
			fmt.Fprintln(e.Stderr, "missing property=value argument")
			return 2
		}
		k, v, _ := strings.Cut(args[0], "=")
		var bad bool
		_ = n.withLock(true, func() error {
			p := n.m.pool(args[1])
			if p == nil {
				bad = true
				return fmt.Errorf("x")
			}
			if k == "autotrim" {
				p.Autotrim = v
			} else {
				p.Props[k] = v
			}
			return nil
		})
		if bad {
			fmt.Fprintf(e.Stderr, "cannot open '%s': no such pool\n", args[1])
			return 1
		}
		return 0
	case "labelclear":
		dev := args[len(args)-1]
		n.lock()
		defer n.unlock()
		d := n.m.disk(dev)
		if d == nil {
			fmt.Fprintf(e.Stderr, "failed to open %s: No such file or directory\n", dev)
			return 1
		}
		if strings.HasPrefix(d.Use, "zfs:") {
			fmt.Fprintf(e.Stderr, "labelclear operation failed.\n\tVdev %s is a member (ACTIVE), of pool \"%s\".\n", d.Dev, strings.TrimPrefix(d.Use, "zfs:"))
			return 1
		}
		return 0
	case "destroy":
		name := args[len(args)-1]
		var bad bool
		_ = n.withLock(true, func() error {
			p := n.m.pool(name)
			if p == nil {
				bad = true
				return fmt.Errorf("x")
			}
			for _, d := range p.Devices {
				if dk := n.m.disk(d); dk != nil {
					dk.Use = ""
				}
			}
			out := n.m.Pools[:0]
			for _, x := range n.m.Pools {
				if x != p {
					out = append(out, x)
				}
			}
			n.m.Pools = out
			ds := n.m.Datasets[:0]
			for _, d := range n.m.Datasets {
				if d != name && !strings.HasPrefix(d, name+"/") {
					ds = append(ds, d)
				}
			}
			n.m.Datasets = ds
			return nil
		})
		if bad {
			fmt.Fprintf(e.Stderr, "cannot open '%s': no such pool\n", name)
			return 1
		}
		return 0
	case "import":
		fmt.Fprintln(e.Stderr, "no pools available to import")
		return 1
	}
	fmt.Fprintf(e.Stderr, "unrecognized command '%s'\n", sub)
	return 2
}

func (n *Node) zpoolList(e *shell.Env, args []string) int {
	scripted := false
	cols := []string{"name", "size", "alloc", "free", "ckpoint", "expandsz", "frag", "cap", "dedup", "health", "altroot"}
	var names []string
	parsable := false
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-H":
			scripted = true
		case a == "-p":
			parsable = true
		case a == "-Hp" || a == "-pH":
			scripted, parsable = true, true
		case a == "-o" && i+1 < len(args):
			cols = strings.Split(strings.ToLower(args[i+1]), ",")
			i++
		case strings.HasPrefix(a, "-"):
		default:
			names = append(names, a)
		}
	}
	n.lock()
	defer n.unlock()
	for _, nm := range names {
		if n.m.pool(nm) == nil {
			fmt.Fprintf(e.Stderr, "cannot open '%s': no such pool\n", nm)
			return 1
		}
	}
	if len(n.m.Pools) == 0 {
		// Only the human form says so; scripted (-H) prints nothing
		// (openzfs/zfs@zfs-2.3.4:cmd/zpool/zpool_main.c:7485-7487).
		if !scripted && len(names) == 0 {
			fmt.Fprintln(e.Stdout, "no pools available")
		}
		return 0
	}
	if !scripted {
		var h []string
		for _, c := range cols {
			h = append(h, strings.ToUpper(c))
		}
		fmt.Fprintln(e.Stdout, strings.Join(h, "  "))
	}
	for _, p := range n.m.Pools {
		if len(names) > 0 && !contains(names, p.Name) {
			continue
		}
		used := n.poolUsed(p.Name)
		var row []string
		for _, c := range cols {
			v := "-"
			sz := func(b int64) string {
				if parsable {
					return fmt.Sprint(b)
				}
				return humanSize(b)
			}
			switch c {
			case "name":
				v = p.Name
			case "size":
				v = sz(p.Size)
			case "alloc":
				v = sz(used)
			case "free":
				v = sz(p.Size - used)
			case "frag":
				v = "0%"
			case "cap":
				v = fmt.Sprintf("%d%%", used*100/p.Size)
			case "dedup":
				v = "1.00x"
			case "health":
				v = "ONLINE"
			}
			row = append(row, v)
		}
		sep := "  "
		if scripted {
			sep = "\t"
		}
		fmt.Fprintln(e.Stdout, strings.Join(row, sep))
	}
	return 0
}

func (n *Node) cmdZfs(e *shell.Env) int {
	if len(e.Args) < 2 {
		fmt.Fprintln(e.Stderr, "missing command")
		return 2
	}
	sub, args := e.Args[1], e.Args[2:]
	var pos []string
	props := map[string]string{}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case (a == "-o" || a == "-t" || a == "-s" || a == "-d") && i+1 < len(args):
			if a == "-o" && strings.Contains(args[i+1], "=") {
				k, v, _ := strings.Cut(args[i+1], "=")
				props[k] = v
			}
			i++
		case strings.HasPrefix(a, "-"):
		default:
			pos = append(pos, a)
		}
	}
	switch sub {
	case "list":
		n.lock()
		defer n.unlock()
		for _, nm := range pos {
			if !contains(n.m.Datasets, nm) {
				fmt.Fprintf(e.Stderr, "cannot open '%s': dataset does not exist\n", nm)
				return 1
			}
		}
		if !contains(args, "-H") {
			fmt.Fprintln(e.Stdout, "NAME  USED  AVAIL  REFER  MOUNTPOINT")
		}
		for _, d := range n.m.Datasets {
			if len(pos) > 0 && !contains(pos, d) {
				continue
			}
			if contains(args, "-H") {
				fmt.Fprintln(e.Stdout, d)
			} else {
				fmt.Fprintf(e.Stdout, "%s  96K  899G  96K  /%s\n", d, d)
			}
		}
		return 0
	case "create":
		if len(pos) < 1 {
			fmt.Fprintln(e.Stderr, "missing dataset name")
			return 2
		}
		var msg string
		err := n.withLock(true, func() error {
			d := pos[0]
			if contains(n.m.Datasets, d) {
				msg = fmt.Sprintf("cannot create '%s': dataset already exists", d)
				return fmt.Errorf("x")
			}
			parent := d[:max(strings.LastIndex(d, "/"), 0)]
			if parent == "" || !contains(n.m.Datasets, parent) {
				msg = fmt.Sprintf("cannot create '%s': parent does not exist", d)
				return fmt.Errorf("x")
			}
			n.m.Datasets = append(n.m.Datasets, d)
			mp := props["mountpoint"]
			if mp == "" {
				mp = "/" + d
			}
			return n.fs.MkdirAll(mp, 0o755)
		})
		if err != nil {
			fmt.Fprintln(e.Stderr, msg)
			return 1
		}
		return 0
	case "set", "get":
		if len(pos) < 2 {
			fmt.Fprintln(e.Stderr, "missing arguments")
			return 2
		}
		n.lock()
		defer n.unlock()
		if !contains(n.m.Datasets, pos[1]) {
			fmt.Fprintf(e.Stderr, "cannot open '%s': dataset does not exist\n", pos[1])
			return 1
		}
		if sub == "get" {
			fmt.Fprintln(e.Stdout, "-")
		}
		return 0
	}
	fmt.Fprintf(e.Stderr, "unrecognized command '%s'\n", sub)
	return 2
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func atoiDef(s string, d int) int {
	var i int
	if _, err := fmt.Sscan(s, &i); err != nil {
		return d
	}
	return i
}

func orDef(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// lsblk -J shape (util-linux 2.41).
func (n *Node) cmdLsblk(e *shell.Env) int {
	jsonOut, noDeps, noHead, bytes, paths := false, false, false, false, false
	cols := []string{"name", "maj:min", "rm", "size", "ro", "type", "mountpoints"}
	var devs []string
	for i := 1; i < len(e.Args); i++ {
		a := e.Args[i]
		switch {
		case a == "-o" || a == "--output":
			if i+1 < len(e.Args) {
				cols = strings.Split(strings.ToLower(e.Args[i+1]), ",")
				i++
			}
		case strings.HasPrefix(a, "--output="):
			cols = strings.Split(strings.ToLower(strings.TrimPrefix(a, "--output=")), ",")
		case a == "--json":
			jsonOut = true
		case a == "--nodeps":
			noDeps = true
		case a == "--noheadings":
			noHead = true
		case a == "--bytes":
			bytes = true
		case strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--"):
			for _, ch := range a[1:] {
				switch ch {
				case 'J':
					jsonOut = true
				case 'd':
					noDeps = true
				case 'n':
					noHead = true
				case 'b':
					bytes = true
				case 'p':
					paths = true
				case 'o':
					if i+1 < len(e.Args) {
						cols = strings.Split(strings.ToLower(e.Args[i+1]), ",")
						i++
					}
				}
			}
		default:
			devs = append(devs, a)
		}
	}
	type dev struct {
		name, typ, fstype, mount, model, serial, wwn string
		size                                         int64
		rota                                         bool
		kids                                         []dev
	}
	n.lock()
	var all []dev
	for i, d := range n.m.Disks {
		base := strings.TrimPrefix(d.Dev, "/dev/")
		dv := dev{name: base, typ: "disk", size: d.Size, model: d.Model, serial: d.Serial, wwn: d.WWN, rota: d.Rota}
		_ = i
		switch {
		case d.Use == "system":
			dv.kids = []dev{{name: base + "1", typ: "part", size: 1031168}, {name: base + "2", typ: "part", size: 1 << 30, fstype: "vfat", mount: "/boot/efi"},
				{name: base + "3", typ: "part", size: d.Size - (1 << 30) - 1031168, fstype: "LVM2_member", kids: []dev{
					{name: "pve-swap", typ: "lvm", size: 8 << 30, fstype: "swap", mount: "[SWAP]"},
					{name: "pve-root", typ: "lvm", size: 68 << 30, fstype: "ext4", mount: "/"},
					{name: "pve-data", typ: "lvm", size: 140 << 30}}}}
		case strings.HasPrefix(d.Use, "zfs:"):
			dv.kids = []dev{{name: base + "1", typ: "part", size: d.Size - 8<<20, fstype: "zfs_member"}, {name: base + "9", typ: "part", size: 8 << 20}}
		}
		if len(devs) == 0 || contains(devs, d.Dev) || contains(devs, base) {
			all = append(all, dv)
		}
	}
	n.unlock()
	var conv func(d dev) map[string]any
	conv = func(d dev) map[string]any {
		m := map[string]any{}
		for _, c := range cols {
			var v any
			switch c {
			case "name", "kname":
				v = d.name
				if paths {
					if d.typ == "lvm" {
						v = "/dev/mapper/" + d.name
					} else {
						v = "/dev/" + d.name
					}
				}
			case "path":
				v = "/dev/" + d.name
			case "maj:min":
				v = "8:0"
			case "rm", "ro", "hotplug":
				v = false
			case "size":
				if bytes {
					v = d.size
				} else {
					v = humanSize(d.size)
				}
			case "type":
				v = d.typ
			case "fstype":
				if d.fstype != "" {
					v = d.fstype
				}
			case "mountpoint":
				if d.mount != "" {
					v = d.mount
				}
			case "mountpoints":
				v = []any{nil}
				if d.mount != "" {
					v = []any{d.mount}
				}
			case "model":
				if d.typ == "disk" {
					v = d.model
				}
			case "serial":
				if d.typ == "disk" {
					v = d.serial
				}
			case "wwn":
				if d.typ == "disk" {
					v = d.wwn
				}
			case "rota":
				v = d.rota
			case "tran":
				if d.typ == "disk" {
					v = "sata"
				}
			case "vendor":
				if d.typ == "disk" {
					v = "ATA     "
				}
			}
			m[c] = v
		}
		if !noDeps && len(d.kids) > 0 {
			var ks []any
			for _, k := range d.kids {
				ks = append(ks, conv(k))
			}
			m["children"] = ks
		}
		return m
	}
	if jsonOut {
		var out []any
		for _, d := range all {
			out = append(out, conv(d))
		}
		b, _ := json.MarshalIndent(map[string]any{"blockdevices": out}, "", "   ")
		fmt.Fprintln(e.Stdout, string(b))
		return 0
	}
	if !noHead {
		var h []string
		for _, c := range cols {
			h = append(h, strings.ToUpper(c))
		}
		fmt.Fprintln(e.Stdout, strings.Join(h, " "))
	}
	var walk func(d dev, depth int)
	walk = func(d dev, depth int) {
		m := conv(d)
		var row []string
		for _, c := range cols {
			v := m[c]
			s := ""
			switch x := v.(type) {
			case nil:
			case bool:
				s = map[bool]string{true: "1", false: "0"}[x]
			case []any:
				if len(x) > 0 && x[0] != nil {
					s = fmt.Sprint(x[0])
				}
			default:
				s = fmt.Sprint(x)
			}
			if c == "name" && depth > 0 && !noHead {
				s = strings.Repeat(" ", depth-1) + "└─" + s
			}
			row = append(row, s)
		}
		fmt.Fprintln(e.Stdout, strings.Join(row, " "))
		if !noDeps {
			for _, k := range d.kids {
				walk(k, depth+1)
			}
		}
	}
	for _, d := range all {
		walk(d, 0)
	}
	return 0
}

func (n *Node) cmdWipe(e *shell.Env) int {
	dev := ""
	for _, a := range e.Args[1:] {
		if strings.HasPrefix(a, "/dev/") {
			dev = a
		}
	}
	if dev == "" {
		fmt.Fprintf(e.Stderr, "%s: no device specified\n", e.Name())
		return 1
	}
	var msg string
	err := n.withLock(true, func() error {
		d := n.m.disk(dev)
		if d == nil {
			msg = fmt.Sprintf("%s: error: %s: probing initialization failed: No such file or directory", e.Name(), dev)
			return fmt.Errorf("x")
		}
		if d.Use == "system" || strings.HasPrefix(d.Use, "zfs:") {
			msg = fmt.Sprintf("%s: error: %s: probing initialization failed: Device or resource busy", e.Name(), dev)
			return fmt.Errorf("x")
		}
		d.Use = ""
		return nil
	})
	if err != nil {
		fmt.Fprintln(e.Stderr, msg)
		return 1
	}
	return 0
}
