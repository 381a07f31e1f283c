package pve

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/lab/shell"
)

func (n *Node) cmdQm(e *shell.Env) int {
	if len(e.Args) < 2 {
		fmt.Fprintln(e.Stderr, "ERROR: no command specified\nUSAGE: qm <COMMAND> [ARGS] [OPTIONS]")
		return 255
	}
	sub := e.Args[1]
	c := parseCLI(e.Args[2:])
	vmidArg := func(i int) (int, bool) {
		if len(c.pos) <= i {
			return 0, false
		}
		id, err := strconv.Atoi(c.pos[i])
		return id, err == nil
	}
	if sub == "disk" && len(c.pos) > 0 && c.pos[0] == "import" {
		sub = "importdisk"
		c.pos = c.pos[1:]
	}
	if sub == "guest" && len(c.pos) > 0 && c.pos[0] == "cmd" {
		sub = "agent"
		c.pos = c.pos[1:]
	}
	switch sub {
	case "list":
		n.lock()
		fmt.Fprintf(e.Stdout, "%10s %-20s %-10s %-10s %-12s %-10s\n", "VMID", "NAME", "STATUS", "MEM(MB)", "BOOTDISK(GB)", "PID")
		for _, id := range sortedInts(n.m.VMs) {
			s := n.vmStatus(n.m.VMs[id], false)
			pid := 0
			if p, ok := s["pid"].(int); ok {
				pid = p
			}
			fmt.Fprintf(e.Stdout, "%10d %-20s %-10s %-10d %-12.2f %-10d\n", id, s["name"], s["status"], s["maxmem"].(int)>>20, float64(s["maxdisk"].(int64))/(1<<30), pid)
		}
		n.unlock()
		return 0
	case "create", "set":
		id, ok := vmidArg(0)
		if !ok {
			return usage(e, "qm "+sub+" <vmid> [OPTIONS]")
		}
		p := map[string]string{}
		for k, v := range c.opts {
			p[k] = v
		}
		p["vmid"] = strconv.Itoa(id)
		var t *Task
		err := n.withLock(true, func() error {
			var err error
			if sub == "create" {
				t, err = n.createVM(root, p)
			} else {
				_, err = n.updateVM(root, p)
			}
			return err
		})
		if err != nil {
			if sub == "create" {
				if ae, ok := err.(*APIError); ok && ae.Code == 500 {
					return fail(e, err)
				}
			}
			return fail(e, err)
		}
		if t != nil {
			return n.waitTask(e, t, false)
		}
		return 0
	case "config":
		id, ok := vmidArg(0)
		if !ok {
			return usage(e, "qm config <vmid> [OPTIONS]")
		}
		n.lock()
		vm := n.m.VMs[id]
		var lines []string
		if vm != nil {
			for _, k := range sortedKeys(vm.Config) {
				lines = append(lines, k+": "+vm.Config[k])
			}
		}
		n.unlock()
		if vm == nil {
			return fail(e, runErr("Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist", n.m.Hostname, id))
		}
		fmt.Fprintln(e.Stdout, strings.Join(lines, "\n"))
		return 0
	case "status":
		id, ok := vmidArg(0)
		if !ok {
			return usage(e, "qm status <vmid> [OPTIONS]")
		}
		n.lock()
		vm := n.m.VMs[id]
		st := ""
		if vm != nil {
			st = n.vmStatus(vm, false)["status"].(string)
		}
		n.unlock()
		if vm == nil {
			return fail(e, runErr("Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist", n.m.Hostname, id))
		}
		fmt.Fprintf(e.Stdout, "status: %s\n", st)
		return 0
	case "start", "stop", "shutdown", "reboot", "reset", "destroy", "template":
		id, ok := vmidArg(0)
		if !ok {
			return usage(e, "qm "+sub+" <vmid> [OPTIONS]")
		}
		var t *Task
		err := n.withLock(true, func() error {
			vm := n.m.VMs[id]
			if vm == nil {
				return runErr("Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist", n.m.Hostname, id)
			}
			var err error
			switch sub {
			case "start":
				t = n.startVM(root, vm)
			case "stop":
				t = n.stopVM(root, vm, "qmstop")
			case "shutdown":
				if !vm.Running {
					return runErr("VM %d not running", id)
				}
				t = n.stopVM(root, vm, "qmshutdown")
			case "reboot", "reset":
				if !vm.Running {
					return runErr("VM %d not running", id)
				}
				vm.Running = false
				t = n.startVM(root, vm)
			case "destroy":
				t, err = n.destroyVM(root, vm, c.opts["purge"] == "1")
			case "template":
				err = n.templateVM(vm)
				if err == nil {
					t = n.newTask("qmtemplate", strconv.Itoa(id), "root@pam", 0, nil, "")
				}
			}
			return err
		})
		if err != nil {
			return fail(e, err)
		}
		return n.waitTask(e, t, false)
	case "clone":
		id, ok1 := vmidArg(0)
		nid, ok2 := vmidArg(1)
		if !ok1 || !ok2 {
			return usage(e, "qm clone <vmid> <newid> [OPTIONS]")
		}
		p := map[string]string{}
		for k, v := range c.opts {
			p[k] = v
		}
		p["vmid"], p["newid"] = strconv.Itoa(id), strconv.Itoa(nid)
		var t *Task
		err := n.withLock(true, func() error {
			var err error
			t, err = n.cloneVM(root, p)
			return err
		})
		if err != nil {
			return fail(e, err)
		}
		return n.waitTask(e, t, true)
	case "importdisk":
		id, ok := vmidArg(0)
		if !ok || len(c.pos) < 3 {
			return usage(e, "qm importdisk <vmid> <source> <storage> [OPTIONS]")
		}
		src := e.Abs(c.pos[1])
		var res string
		err := n.withLock(true, func() error {
			var err error
			res, err = n.importDisk(id, src, c.pos[2])
			return err
		})
		if err != nil {
			return fail(e, err)
		}
		fmt.Fprintf(e.Stdout, "importing disk '%s' to VM %d ...\ntransferred 0.0 B of 16.0 GiB (0.00%%)\ntransferred 16.0 GiB of 16.0 GiB (100.00%%)\nSuccessfully imported disk as '%s'\n", src, id, res)
		return 0
	case "resize":
		id, ok := vmidArg(0)
		if !ok || len(c.pos) < 3 {
			return usage(e, "qm resize <vmid> <disk> <size> [OPTIONS]")
		}
		err := n.withLock(true, func() error {
			vm := n.m.VMs[id]
			if vm == nil {
				return runErr("Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist", n.m.Hostname, id)
			}
			return n.resizeDisk(vm, c.pos[1], c.pos[2])
		})
		if err != nil {
			return fail(e, err)
		}
		return 0
	case "agent":
		id, ok := vmidArg(0)
		if !ok || len(c.pos) < 2 {
			return usage(e, "qm guest cmd <vmid> <command>")
		}
		var res any
		err := n.withLock(false, func() error {
			vm := n.m.VMs[id]
			if vm == nil {
				return runErr("Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist", n.m.Hostname, id)
			}
			var err error
			res, err = n.agent(vm, c.pos[1])
			return err
		})
		if err != nil {
			return fail(e, err)
		}
		b, _ := json.MarshalIndent(res, "", "   ")
		fmt.Fprintln(e.Stdout, string(b))
		return 0
	case "cloudinit":
		if len(c.pos) < 2 {
			return usage(e, "qm cloudinit <update|dump|pending> <vmid>")
		}
		id, _ := strconv.Atoi(c.pos[1])
		n.lock()
		vm := n.m.VMs[id]
		var out string
		if vm != nil && c.pos[0] == "dump" {
			typ := "user"
			if len(c.pos) > 2 {
				typ = c.pos[2]
			}
			out = cloudInitDump(vm, typ)
		}
		n.unlock()
		if vm == nil {
			return fail(e, runErr("Configuration file 'nodes/%s/qemu-server/%d.conf' does not exist", n.m.Hostname, id))
		}
		fmt.Fprint(e.Stdout, out)
		return 0
	}
	fmt.Fprintf(e.Stderr, "unknown command 'qm %s'\n", sub)
	return 255
}

func urlDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(v))
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
