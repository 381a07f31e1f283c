package pve

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/lab/shell"
)

var replIDRe = regexp.MustCompile(`^(\d+)-(\d+)$`)

// createRepl is pvesr create-local-job and POST /cluster/replication.
func (n *Node) createRepl(p map[string]string) error {
	m := n.m
	id := p["id"]
	mm := replIDRe.FindStringSubmatch(id)
	if mm == nil {
		return paramErr("id", "invalid format - replication job id '"+id+"' is not of the form <GUEST>-<JOBNUM>")
	}
	for _, j := range m.ReplJobs {
		if j["id"] == id {
			return runErr("replication job '%s' already exists", id)
		}
	}
	vmid, _ := strconv.Atoi(mm[1])
	vm := m.VMs[vmid]
	if vm == nil {
		return runErr("guest '%d' does not exist", vmid)
	}
	target := p["target"]
	if target == m.Hostname {
		return runErr("unable to replicate to local node '%s'", target)
	}
	known := false
	if m.Cluster != nil {
		for _, mb := range m.Cluster.Members {
			known = known || mb.Name == target
		}
	}
	if !known {
		return runErr("no such cluster node '%s'", target)
	}
	for k, v := range vm.Config {
		if !diskKeyRe.MatchString(k) {
			continue
		}
		h, opts := vmKeyOpts(v)
		if opts["media"] == "cdrom" || strings.HasSuffix(h, "cloudinit") || opts["replicate"] == "0" {
			continue
		}
		st, _, _ := strings.Cut(h, ":")
		if s := m.storage(st); s == nil || s.Type != "zfspool" {
			return runErr("missing replicate feature on volume '%s'", h)
		}
	}
	j := map[string]string{"id": id, "type": "local", "target": target, "guest": mm[1], "jobnum": mm[2], "schedule": orDef(p["schedule"], "*/15")}
	for _, k := range []string{"comment", "rate", "disable", "source"} {
		if v, ok := p[k]; ok {
			j[k] = v
		}
	}
	m.ReplJobs = append(m.ReplJobs, j)
	return nil
}

func replJSON(j map[string]string) map[string]any {
	out := map[string]any{}
	for k, v := range j {
		switch k {
		case "guest", "jobnum", "disable":
			out[k] = atoiDef(v, 0)
		default:
			out[k] = v
		}
	}
	return out
}

func hReplList(c *call) (any, error) {
	out := []any{}
	for _, j := range c.n.m.ReplJobs {
		out = append(out, replJSON(j))
	}
	return out, nil
}

func hReplCreate(c *call) (any, error) { return nil, c.n.createRepl(c.p) }

func (n *Node) replIndex(id string) int {
	for i, j := range n.m.ReplJobs {
		if j["id"] == id {
			return i
		}
	}
	return -1
}

func hReplGet(c *call) (any, error) {
	i := c.n.replIndex(c.p["id"])
	if i < 0 {
		return nil, runErr("replication job '%s' does not exist", c.p["id"])
	}
	return replJSON(c.n.m.ReplJobs[i]), nil
}

func hReplDelete(c *call) (any, error) {
	i := c.n.replIndex(c.p["id"])
	if i < 0 {
		return nil, runErr("replication job '%s' does not exist", c.p["id"])
	}
	c.n.m.ReplJobs = append(c.n.m.ReplJobs[:i], c.n.m.ReplJobs[i+1:]...)
	return nil, nil
}

func (n *Node) cmdPvesr(e *shell.Env) int {
	if len(e.Args) < 2 {
		return usage(e, "USAGE: pvesr <COMMAND> [ARGS] [OPTIONS]")
	}
	sub := e.Args[1]
	c := parseCLI(e.Args[2:])
	switch sub {
	case "create-local-job":
		if len(c.pos) < 2 {
			return usage(e, "pvesr create-local-job <id> <target> [OPTIONS]")
		}
		p := map[string]string{"id": c.pos[0], "target": c.pos[1]}
		for k, v := range c.opts {
			p[k] = v
		}
		if err := n.withLock(true, func() error { return n.createRepl(p) }); err != nil {
			return fail(e, err)
		}
		return 0
	case "delete":
		if len(c.pos) < 1 {
			return usage(e, "pvesr delete <id> [OPTIONS]")
		}
		err := n.withLock(true, func() error {
			_, err := hReplDelete(&call{n: n, p: map[string]string{"id": c.pos[0]}})
			return err
		})
		if err != nil {
			return fail(e, err)
		}
		return 0
	case "list", "status":
		n.lock()
		defer n.unlock()
		fmt.Fprintf(e.Stdout, "%-10s %-8s %-12s %-10s %s\n", "JobID", "Enabled", "Target", "Schedule", "State")
		for _, j := range n.m.ReplJobs {
			fmt.Fprintf(e.Stdout, "%-10s %-8s %-12s %-10s %s\n", j["id"], "Yes", "local/"+j["target"], j["schedule"], "OK")
		}
		return 0
	case "update":
		if len(c.pos) < 1 {
			return usage(e, "pvesr update <id> [OPTIONS]")
		}
		err := n.withLock(true, func() error {
			i := n.replIndex(c.pos[0])
			if i < 0 {
				return runErr("replication job '%s' does not exist", c.pos[0])
			}
			for k, v := range c.opts {
				n.m.ReplJobs[i][k] = v
			}
			return nil
		})
		if err != nil {
			return fail(e, err)
		}
		return 0
	}
	fmt.Fprintf(e.Stderr, "unknown command 'pvesr %s'\n", sub)
	return 255
}
