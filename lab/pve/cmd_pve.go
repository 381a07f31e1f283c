package pve

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/lab/shell"
)

func (n *Node) cmdPvesm(e *shell.Env) int {
	if len(e.Args) < 2 {
		return usage(e, "USAGE: pvesm <COMMAND> [ARGS] [OPTIONS]")
	}
	sub := e.Args[1]
	c := parseCLI(e.Args[2:])
	switch sub {
	case "status":
		n.lock()
		defer n.unlock()
		if id := c.opts["storage"]; id != "" && n.m.storage(id) == nil {
			fmt.Fprintf(e.Stderr, "storage '%s' does not exist\n", id)
			return 255
		}
		fmt.Fprintf(e.Stdout, "%-16s %-10s %-8s %15s %15s %15s %8s\n", "Name", "Type", "Status", "Total", "Used", "Available", "%")
		for _, s := range n.m.Storages {
			if id := c.opts["storage"]; id != "" && s.ID != id {
				continue
			}
			st := n.storageStatus(s)
			status := "active"
			if st["active"] == 0 {
				status = "inactive"
			}
			tot, used := st["total"].(int64), st["used"].(int64)
			fmt.Fprintf(e.Stdout, "%-16s %-10s %-8s %15d %15d %15d %7.2f%%\n", s.ID, s.Type, status, tot>>10, used>>10, (tot-used)>>10, float64(used)*100/float64(tot))
		}
		return 0
	case "add":
		if len(c.pos) < 2 {
			return usage(e, "pvesm add <type> <storage> [OPTIONS]")
		}
		// pvesm maps --password interactively for add and set
		// (proxmox/pve-storage src/PVE/CLI/pvesm.pm param_mapping
		// 'create'/'update').
		if !interactivePassword(e, c) {
			return 255
		}
		p := map[string]string{"type": c.pos[0], "storage": c.pos[1]}
		for k, v := range c.opts {
			p[k] = v
		}
		if e2 := checkStorageCLI(p); e2 != nil {
			return fail(e, e2)
		}
		err := n.withLock(true, func() error { _, err := n.addStorage(p); return err })
		if err != nil {
			return fail(e, err)
		}
		return 0
	case "set":
		if len(c.pos) < 1 {
			return usage(e, "pvesm set <storage> [OPTIONS]")
		}
		if !interactivePassword(e, c) {
			return 255
		}
		p := map[string]string{"storage": c.pos[0]}
		for k, v := range c.opts {
			p[k] = v
		}
		if err := n.withLock(true, func() error { return n.setStorage(p) }); err != nil {
			return fail(e, err)
		}
		return 0
	case "remove":
		if len(c.pos) < 1 {
			return usage(e, "pvesm remove <storage>")
		}
		if err := n.withLock(true, func() error { return n.removeStorage(c.pos[0]) }); err != nil {
			return fail(e, err)
		}
		return 0
	case "alloc":
		if len(c.pos) < 4 {
			return usage(e, "pvesm alloc <storage> <vmid> <filename> <size> [OPTIONS]")
		}
		vmid, _ := strconv.Atoi(c.pos[1])
		var id string
		err := n.withLock(true, func() error {
			if _, err := n.imageStorage(c.pos[0]); err != nil {
				return err
			}
			name := c.pos[2]
			if name == "" {
				id = n.nextDiskName(c.pos[0], vmid, "vm")
			} else {
				id = c.pos[0] + ":" + name
			}
			if n.m.Volumes[id] != nil {
				return runErr("unable to create volume '%s' - already exists", id)
			}
			sz, ok := parseSize(c.pos[3])
			if !ok {
				return paramErr("size", "invalid format - value does not match the regex pattern")
			}
			if !strings.ContainsAny(c.pos[3], "KMGT") {
				sz = sz / (1 << 30) * 1024
			}
			n.m.Volumes[id] = &Volume{ID: id, Size: sz, VMID: vmid}
			return nil
		})
		if err != nil {
			return fail(e, err)
		}
		fmt.Fprintf(e.Stdout, "successfully created '%s'\n", id)
		return 0
	case "list":
		if len(c.pos) < 1 {
			return usage(e, "pvesm list <storage>")
		}
		n.lock()
		defer n.unlock()
		fmt.Fprintf(e.Stdout, "%-40s %-8s %-8s %15s %6s\n", "Volid", "Format", "Type", "Size", "VMID")
		for _, k := range sortedKeys(n.m.Volumes) {
			v := n.m.Volumes[k]
			if strings.HasPrefix(k, c.pos[0]+":") {
				fmt.Fprintf(e.Stdout, "%-40s %-8s %-8s %15d %6d\n", k, "raw", "images", v.Size, v.VMID)
			}
		}
		return 0
	case "path":
		if len(c.pos) < 1 {
			return usage(e, "pvesm path <volume>")
		}
		n.lock()
		defer n.unlock()
		st, name, _ := strings.Cut(c.pos[0], ":")
		s := n.m.storage(st)
		if s == nil {
			fmt.Fprintf(e.Stderr, "storage '%s' does not exist\n", st)
			return 255
		}
		switch s.Type {
		case "zfspool":
			fmt.Fprintf(e.Stdout, "/dev/zvol/%s/%s\n", s.Config["pool"], name)
		case "dir":
			fmt.Fprintf(e.Stdout, "%s/%s\n", s.Config["path"], name)
		default:
			fmt.Fprintf(e.Stdout, "/dev/%s/%s\n", s.Config["vgname"], name)
		}
		return 0
	}
	fmt.Fprintf(e.Stderr, "unknown command 'pvesm %s'\n", sub)
	return 255
}

// checkStorageCLI validates pvesm add options against the API schema.
func checkStorageCLI(p map[string]string) *APIError {
	rt := route{params: storageParams}
	return checkParams(&rt, map[string]string{}, p)
}

func (n *Node) cmdPvecm(e *shell.Env) int {
	if len(e.Args) < 2 {
		return usage(e, "USAGE: pvecm <COMMAND> [ARGS] [OPTIONS]")
	}
	sub := e.Args[1]
	c := parseCLI(e.Args[2:])
	switch sub {
	case "create":
		if len(c.pos) < 1 {
			return usage(e, "pvecm create <clustername> [OPTIONS]")
		}
		var t *Task
		err := n.withLock(true, func() error {
			var err error
			t, err = n.createCluster(root, c.pos[0], c.opts["link0"])
			return err
		})
		if err != nil {
			return fail(e, err)
		}
		return n.waitTask(e, t, true)
	case "status", "nodes":
		n.lock()
		defer n.unlock()
		cl := n.m.Cluster
		if cl == nil {
			fmt.Fprintln(e.Stderr, "Error: Corosync config '/etc/pve/corosync.conf' does not exist - is this node part of a cluster?")
			return 2
		}
		if sub == "nodes" {
			fmt.Fprintf(e.Stdout, "\nMembership information\n----------------------\n    Nodeid      Votes Name\n")
			for _, mb := range cl.Members {
				local := ""
				if mb.Name == n.m.Hostname {
					local = " (local)"
				}
				fmt.Fprintf(e.Stdout, "%10d %10d %s%s\n", mb.NodeID, 1, mb.Name, local)
			}
			return 0
		}
		fmt.Fprintf(e.Stdout, "Cluster information\n-------------------\nName:             %s\nConfig Version:   %d\nTransport:        knet\nSecure auth:      on\n\n", cl.Name, cl.Version)
		fmt.Fprintf(e.Stdout, "Quorum information\n------------------\nDate:             %s\nQuorum provider:  corosync_votequorum\nNodes:            %d\nNode ID:          0x00000001\nRing ID:          1.5\nQuorate:          Yes\n\n", cl.Created.Format("Mon Jan  2 15:04:05 2006"), len(cl.Members))
		fmt.Fprintf(e.Stdout, "Votequorum information\n----------------------\nExpected votes:   1\nHighest expected: 1\nTotal votes:      1\nQuorum:           1  \nFlags:            Quorate \n\nMembership information\n----------------------\n    Nodeid      Votes Name\n0x00000001          1 %s (local)\n", cl.Link0)
		return 0
	case "add":
		if len(c.pos) < 1 {
			return usage(e, "pvecm add <hostname> [OPTIONS]")
		}
		// pvecm add asks for the peer's root password, then shows its
		// fingerprint for confirmation (unless --fingerprint is given)
		// (proxmox/pve-cluster src/PVE/CLI/pvecm.pm "add": read_password,
		// one chomped line from a stdin that is not a terminal)
		lines := strings.Split(readAllString(e.Stdin), "\n")
		pw := lines[0]
		fp := c.opts["fingerprint"]
		if fp == "" && (len(lines) < 2 || strings.TrimSpace(lines[1]) != "yes") {
			fmt.Fprintf(e.Stderr, "Please enter superuser (root) password for '%s': \nThe authenticity of host '%s' can't be established.\nAre you sure you want to continue connecting (yes/no)? Aborting.\n", c.pos[0], c.pos[0])
			return 255
		}
		var t *Task
		err := n.withLock(true, func() error {
			var err error
			t, err = n.join(root, c.pos[0], pw, fp, c.opts["link0"])
			return err
		})
		if err != nil {
			return fail(e, err)
		}
		return n.waitTask(e, t, true)
	case "updatecerts":
		err := n.withLock(true, func() error {
			if c.opts["force"] == "1" {
				return n.regenCert()
			}
			return nil
		})
		if err != nil {
			return fail(e, err)
		}
		fmt.Fprintln(e.Stdout, "(re)generate node files\nmerge authorized SSH keys")
		return 0
	}
	fmt.Fprintf(e.Stderr, "unknown command 'pvecm %s'\n", sub)
	return 255
}

// regenCert issues a new node certificate (new fingerprint).
func (n *Node) regenCert() error {
	if err := genNodeCerts(&n.m.Certs, n.m.Hostname, []string{n.m.NodeAddr, mgmtIP(n.m.Hostname)}); err != nil {
		return err
	}
	_ = n.fs.WriteFile("/etc/pve/local/pve-ssl.pem", []byte(n.m.Certs.NodePEM), 0o640)
	return n.fs.WriteFile("/etc/pve/local/pve-ssl.key", []byte(n.m.Certs.NodeKeyPEM), 0o600)
}

func printJSON(e *shell.Env, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintln(e.Stdout, string(b))
}

func (n *Node) cmdPveum(e *shell.Env) int {
	args := e.Args[1:]
	if len(args) == 0 {
		return usage(e, "USAGE: pveum <COMMAND> [ARGS] [OPTIONS]")
	}
	// legacy aliases
	switch args[0] {
	case "useradd":
		args = append([]string{"user", "add"}, args[1:]...)
	case "userdel":
		args = append([]string{"user", "delete"}, args[1:]...)
	case "aclmod":
		args = append([]string{"acl", "modify"}, args[1:]...)
	}
	if len(args) < 2 {
		return usage(e, "USAGE: pveum <COMMAND> [ARGS] [OPTIONS]")
	}
	group, sub := args[0], args[1]
	rest := args[2:]
	if group == "user" && sub == "token" && len(rest) > 0 {
		group, sub, rest = "token", rest[0], rest[1:]
	}
	c := parseCLI(rest)
	jsonOut := strings.HasPrefix(c.opts["output-format"], "json")
	delete(c.opts, "output-format")
	switch group + " " + sub {
	case "user add":
		if len(c.pos) < 1 {
			return usage(e, "pveum user add <userid> [OPTIONS]")
		}
		p := map[string]string{"userid": c.pos[0]}
		for k, v := range c.opts {
			p[k] = v
		}
		if err := n.withLock(true, func() error { return n.createUser(p) }); err != nil {
			return fail(e, err)
		}
		return 0
	case "user list":
		n.lock()
		var out []any
		for _, u := range n.m.Users {
			out = append(out, userJSON(u))
		}
		n.unlock()
		if jsonOut {
			printJSON(e, out)
			return 0
		}
		for _, u := range out {
			fmt.Fprintf(e.Stdout, "%s\n", u.(map[string]any)["userid"])
		}
		return 0
	case "user delete":
		if len(c.pos) < 1 {
			return usage(e, "pveum user delete <userid>")
		}
		err := n.withLock(true, func() error {
			_, err := hUserDelete(&call{n: n, auth: root, p: map[string]string{"userid": c.pos[0]}})
			return err
		})
		if err != nil {
			return fail(e, err)
		}
		return 0
	case "token add":
		if len(c.pos) < 2 {
			return usage(e, "pveum user token add <userid> <tokenid> [OPTIONS]")
		}
		var res map[string]any
		err := n.withLock(true, func() error {
			var err error
			res, err = n.createToken(c.pos[0], c.pos[1], c.opts["comment"], c.opts["privsep"] != "0", 0)
			return err
		})
		if err != nil {
			return fail(e, err)
		}
		if jsonOut {
			printJSON(e, res)
			return 0
		}
		fmt.Fprintf(e.Stdout, "┌──────────────┬%s┐\n│ key          │ value %s│\n", strings.Repeat("─", 42), strings.Repeat(" ", 35))
		fmt.Fprintf(e.Stdout, "│ full-tokenid │ %-40s │\n│ value        │ %-40s │\n", res["full-tokenid"], res["value"])
		return 0
	case "token list":
		if len(c.pos) < 1 {
			return usage(e, "pveum user token list <userid>")
		}
		n.lock()
		u := n.m.user(c.pos[0])
		var out []any
		if u != nil {
			for _, k := range sortedKeys(u.Tokens) {
				out = append(out, tokenJSON(k, u.Tokens[k]))
			}
		}
		n.unlock()
		if u == nil {
			return fail(e, runErr("no such user ('%s')", c.pos[0]))
		}
		if jsonOut {
			if out == nil {
				out = []any{}
			}
			printJSON(e, out)
			return 0
		}
		for _, t := range out {
			fmt.Fprintln(e.Stdout, t.(map[string]any)["tokenid"])
		}
		return 0
	case "token remove", "token delete":
		if len(c.pos) < 2 {
			return usage(e, "pveum user token remove <userid> <tokenid>")
		}
		err := n.withLock(true, func() error {
			_, err := hTokenDelete(&call{n: n, auth: root, p: map[string]string{"userid": c.pos[0], "tokenid": c.pos[1]}})
			return err
		})
		if err != nil {
			return fail(e, err)
		}
		return 0
	case "acl modify", "acl delete":
		if len(c.pos) < 1 {
			return usage(e, "pveum acl modify <path> --roles <string> [OPTIONS]")
		}
		p := map[string]string{"path": c.pos[0]}
		for k, v := range c.opts {
			p[k] = v
		}
		if sub == "delete" {
			p["delete"] = "1"
		}
		if p["roles"] == "" {
			return fail(e, paramErr("roles", "property is missing and it is not optional"))
		}
		if err := n.withLock(true, func() error { return n.updateACL(p) }); err != nil {
			return fail(e, err)
		}
		return 0
	case "acl list":
		n.lock()
		data, _ := hACL(&call{n: n})
		n.unlock()
		if jsonOut {
			printJSON(e, data)
			return 0
		}
		for _, a := range data.([]any) {
			m := a.(map[string]any)
			fmt.Fprintf(e.Stdout, "%s %s %s %s %d\n", m["path"], m["type"], m["ugid"], m["roleid"], m["propagate"])
		}
		return 0
	}
	fmt.Fprintf(e.Stderr, "unknown command 'pveum %s'\n", strings.Join(args[:2], " "))
	return 255
}

func (n *Node) cmdHAManager(e *shell.Env) int {
	if len(e.Args) < 2 {
		return usage(e, "USAGE: ha-manager <COMMAND> [ARGS] [OPTIONS]")
	}
	sub := e.Args[1]
	c := parseCLI(e.Args[2:])
	call := func(method, path string, p map[string]string) int {
		_, _, err := n.invoke(method, path, p)
		if err != nil {
			return fail(e, err)
		}
		return 0
	}
	switch sub {
	case "add":
		if len(c.pos) < 1 {
			return usage(e, "ha-manager add <sid> [OPTIONS]")
		}
		p := map[string]string{"sid": c.pos[0]}
		for k, v := range c.opts {
			p[k] = v
		}
		return call("POST", "/cluster/ha/resources", p)
	case "set":
		if len(c.pos) < 1 {
			return usage(e, "ha-manager set <sid> [OPTIONS]")
		}
		return call("PUT", "/cluster/ha/resources/"+c.pos[0], c.opts)
	case "remove":
		if len(c.pos) < 1 {
			return usage(e, "ha-manager remove <sid>")
		}
		return call("DELETE", "/cluster/ha/resources/"+c.pos[0], c.opts)
	case "status", "config":
		n.lock()
		defer n.unlock()
		if sub == "status" {
			fmt.Fprintf(e.Stdout, "quorum OK\nmaster %s (active, %s)\nlrm %s (active, %s)\n", n.m.Hostname, "Mon Nov 23 12:00:00 2026", n.m.Hostname, "Mon Nov 23 12:00:00 2026")
		}
		for _, h := range n.m.HA {
			if sub == "status" {
				fmt.Fprintf(e.Stdout, "service %s (%s, %s)\n", h.SID, n.m.Hostname, h.State)
			} else {
				fmt.Fprintf(e.Stdout, "%s\n\tstate %s\n\n", h.SID, h.State)
			}
		}
		return 0
	}
	fmt.Fprintf(e.Stderr, "unknown command 'ha-manager %s'\n", sub)
	return 255
}

func (n *Node) cmdPvenode(e *shell.Env) int {
	if len(e.Args) < 3 || e.Args[1] != "cert" || e.Args[2] != "info" {
		fmt.Fprintln(e.Stderr, "lab: only 'pvenode cert info' is simulated")
		return 255
	}
	n.lock()
	infos := []map[string]any{certInfo("pve-root-ca.pem", n.m.Certs.CAPEM), certInfo("pve-ssl.pem", n.m.Certs.NodePEM)}
	n.unlock()
	if strings.Contains(strings.Join(e.Args, " "), "json") {
		printJSON(e, infos)
		return 0
	}
	for _, i := range infos {
		fmt.Fprintf(e.Stdout, "filename:    %s\nfingerprint: %s\nsubject:     %s\nissuer:      %s\n\n", i["filename"], i["fingerprint"], i["subject"], i["issuer"])
	}
	return 0
}
