// Package dashboard gathers the state of an installed platform — cluster,
// nodes, VMs, backups, zone drift — for `tappaas status` and the dashboard
// screen. Every source is read concurrently under its own timeout; a source
// that fails or hangs is reported "stale since …" with its error, and its
// panel keeps the previous gather's rows, while the other panels are shown.
// Colours come from the rule tables in rules.go. The PVE reads use
// go-proxmox's typed calls over backends/pve's pinned, token-authenticated
// transport.
package dashboard

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"

	cz "github.com/tappaas/tappaas/config/zones"
)

// Source names, as they appear in Dashboard.Sources.
const (
	SrcCluster   = "cluster"   // GET /cluster/status
	SrcResources = "resources" // GET /cluster/resources
	SrcNodes     = "nodes"     // GET /nodes, /nodes/{n}/status
	SrcHA        = "ha"        // GET /cluster/ha/status/current
	SrcBackups   = "backups"   // GET /nodes/{n}/tasks?typefilter=vzdump
	SrcZones     = "zones"     // live zones.json vs a firewall snapshot
)

// Cluster is the cluster panel.
type Cluster struct {
	Name    string `json:"name,omitempty"` // "" a single node without a cluster
	Quorate bool   `json:"quorate"`
	Nodes   int    `json:"nodes"`
	Level   Level  `json:"level"`
	Reason  string `json:"reason,omitempty"`
}

// Node is one row of the nodes panel.
type Node struct {
	Name       string  `json:"name"`
	Online     bool    `json:"online"`
	PVEVersion string  `json:"pve_version,omitempty"`
	CPU        float64 `json:"cpu"` // 0..1
	MemUsed    uint64  `json:"mem_used"`
	MemTotal   uint64  `json:"mem_total"`
	DiskUsed   uint64  `json:"disk_used"` // root file system
	DiskTotal  uint64  `json:"disk_total"`
	Uptime     uint64  `json:"uptime"` // seconds
	Level      Level   `json:"level"`
	Reason     string  `json:"reason,omitempty"`
}

// VM is one row of the VMs panel.
type VM struct {
	VMID     int    `json:"vmid"`
	Name     string `json:"name"`
	Node     string `json:"node"`
	Status   string `json:"status"`
	Uptime   uint64 `json:"uptime"`
	Template bool   `json:"template,omitempty"`
	// HAState is the CRM's state of the HA service ("" not HA managed);
	// HARequest the requested state.
	HAState   string `json:"ha_state,omitempty"`
	HARequest string `json:"ha_request,omitempty"`
	Level     Level  `json:"level"`
	Reason    string `json:"reason,omitempty"`
}

// Backup is one row of the backups panel: the newest vzdump task of a VM.
type Backup struct {
	VMID int    `json:"vmid"`
	Name string `json:"name,omitempty"`
	// Last is when the newest vzdump task started; Result its end status
	// ("OK", the error, "running"; "" none).
	Last   time.Time `json:"last,omitzero"`
	Result string    `json:"result,omitempty"`
	// LastOK is the start of the newest successful one; Age its age at
	// the gather.
	LastOK time.Time     `json:"last_ok,omitzero"`
	Age    time.Duration `json:"age_ns,omitempty"`
	Level  Level         `json:"level"`
	Reason string        `json:"reason,omitempty"`
}

// Zones is the zones panel: the changes `tappaas zones apply` would make.
type Zones struct {
	Zones   int      `json:"zones"` // zones in the live file
	Changes []string `json:"changes"`
	Level   Level    `json:"level"`
	Reason  string   `json:"reason,omitempty"`
}

// Source is how one source fared.
type Source struct {
	Name string `json:"name"`
	// LastOK is the end of its last successful read (zero: never).
	LastOK time.Time `json:"last_ok,omitzero"`
	// Stale: this gather failed; Error says why and the panel shows the
	// rows of LastOK.
	Stale bool          `json:"stale,omitempty"`
	Error string        `json:"error,omitempty"`
	Took  time.Duration `json:"took_ns"`
}

// StaleText is "stale since 08:12:03: <error>" ("never read" when no read
// ever succeeded).
func (s Source) StaleText() string {
	if !s.Stale {
		return ""
	}
	since := "never read"
	if !s.LastOK.IsZero() {
		since = "stale since " + s.LastOK.Format("15:04:05")
	}
	return since + ": " + s.Error
}

// Dashboard is one gather.
type Dashboard struct {
	At      time.Time `json:"at"`
	Level   Level     `json:"level"`
	Cluster Cluster   `json:"cluster"`
	Nodes   []Node    `json:"nodes"`
	VMs     []VM      `json:"vms"`
	Backups []Backup  `json:"backups"`
	Zones   *Zones    `json:"zones,omitempty"` // nil: no zones source
	Sources []Source  `json:"sources"`
}

// Source returns the named source's report.
func (d *Dashboard) Source(name string) Source {
	for _, s := range d.Sources {
		if s.Name == name {
			return s
		}
	}
	return Source{Name: name}
}

// Sources says where the dashboard reads from.
type Sources struct {
	// PVE is the typed client of the node's API (token auth, pinned TLS:
	// backends/pve.Client.Proxmox).
	PVE *proxmox.Client
	// ZonesFile reads the platform's live zones.json (nil: no zones panel).
	ZonesFile func(ctx context.Context) (*cz.File, error)
	// Firewall opens the zones planner's view of the firewall.
	Firewall func(ctx context.Context) (cz.Firewall, error)
	// Timeout bounds each source (default 10s).
	Timeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// raw is what the sources read, before the rules.
type raw struct {
	cluster   *proxmox.Cluster
	resources proxmox.ClusterResources
	nodes     map[string]*proxmox.Node
	ha        []*proxmox.HAStatusEntry
	tasks     map[string][]*proxmox.Task // by node
	zones     *Zones
}

// Gather reads every source concurrently, each under its own timeout, and
// applies the rules. prev (nil on the first gather) supplies the rows of a
// source that fails this time, and its last success. Gather never fails:
// failures are in Dashboard.Sources.
func Gather(ctx context.Context, src Sources, prev *Dashboard) *Dashboard {
	if src.Timeout <= 0 {
		src.Timeout = 10 * time.Second
	}
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	var (
		mu  sync.Mutex
		r   raw
		wg  sync.WaitGroup
		rep = map[string]Source{}
	)
	run := func(name string, fn func(ctx context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, src.Timeout)
			defer cancel()
			start := time.Now()
			done := make(chan error, 1)
			// fn runs in its own goroutine so that a call ignoring its
			// context cannot hold the gather past the timeout.
			go func() { done <- fn(cctx) }()
			var err error
			select {
			case err = <-done:
			case <-cctx.Done():
				err = cctx.Err()
			}
			if errors.Is(err, context.DeadlineExceeded) {
				err = fmt.Errorf("no answer within %s", src.Timeout)
			}
			s := Source{Name: name, Took: time.Since(start)}
			if err != nil {
				s.Stale, s.Error = true, err.Error()
				if prev != nil {
					s.LastOK = prev.Source(name).LastOK
				}
			} else {
				s.LastOK = now()
			}
			mu.Lock()
			rep[name] = s
			mu.Unlock()
		}()
	}
	set := func(f func()) { mu.Lock(); f(); mu.Unlock() }

	if src.PVE != nil {
		px := src.PVE
		run(SrcCluster, func(ctx context.Context) error {
			cl := (&proxmox.Cluster{}).New(px)
			if err := cl.Status(ctx); err != nil {
				return err
			}
			set(func() { r.cluster = cl })
			return nil
		})
		run(SrcResources, func(ctx context.Context) error {
			cl := (&proxmox.Cluster{}).New(px)
			rs, err := cl.Resources(ctx)
			if err != nil {
				return err
			}
			set(func() { r.resources = rs })
			return nil
		})
		run(SrcNodes, func(ctx context.Context) error {
			list, err := px.Nodes(ctx)
			if err != nil {
				return err
			}
			out := map[string]*proxmox.Node{}
			var errs []error
			for _, ns := range list {
				if ns.Status != "online" {
					continue
				}
				n, err := px.Node(ctx, ns.Node)
				if err != nil {
					errs = append(errs, fmt.Errorf("node %s: %w", ns.Node, err))
					continue
				}
				out[ns.Node] = n
			}
			set(func() { r.nodes = out })
			return errors.Join(errs...)
		})
		run(SrcHA, func(ctx context.Context) error {
			cl := (&proxmox.Cluster{}).New(px)
			st, err := cl.HAStatus(ctx)
			if err != nil {
				return err
			}
			set(func() { r.ha = st })
			return nil
		})
		run(SrcBackups, func(ctx context.Context) error {
			list, err := px.Nodes(ctx)
			if err != nil {
				return err
			}
			out := map[string][]*proxmox.Task{}
			for _, ns := range list {
				if ns.Status != "online" {
					continue
				}
				n, err := nodeHandle(px, ns.Node)
				if err != nil {
					return err
				}
				ts, err := n.Tasks(ctx, &proxmox.NodeTasksOptions{TypeFilter: "vzdump", Limit: 500})
				if err != nil {
					return fmt.Errorf("node %s: %w", ns.Node, err)
				}
				out[ns.Node] = ts
			}
			set(func() { r.tasks = out })
			return nil
		})
	}
	if src.ZonesFile != nil && src.Firewall != nil {
		run(SrcZones, func(ctx context.Context) error {
			f, err := src.ZonesFile(ctx)
			if err != nil {
				return fmt.Errorf("live zones.json: %w", err)
			}
			if err := f.Validate().Err(); err != nil {
				return fmt.Errorf("live zones.json: %w", err)
			}
			fw, err := src.Firewall(ctx)
			if err != nil {
				return fmt.Errorf("firewall: %w", err)
			}
			cur, err := cz.Snapshot(ctx, fw)
			if err != nil {
				return fmt.Errorf("read the firewall: %w", err)
			}
			ch := cz.Plan(f, cur)
			z := &Zones{Zones: len(f.Zones), Changes: []string{}}
			for _, c := range ch.Changes {
				z.Changes = append(z.Changes, strings.TrimSpace(fmt.Sprintf("%s %s %s %s", c.Op, c.Kind, c.Zone, c.ID)))
			}
			set(func() { r.zones = z })
			return nil
		})
	}
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	d := &Dashboard{At: now()}
	for _, name := range []string{SrcCluster, SrcResources, SrcNodes, SrcHA, SrcBackups, SrcZones} {
		if s, ok := rep[name]; ok {
			d.Sources = append(d.Sources, s)
		}
	}
	build(d, &r, prev)
	return d
}

// nodeHandle is a go-proxmox Node for calls on it without reading its
// status first (client.Node would GET /nodes/{n}/status).
func nodeHandle(px *proxmox.Client, name string) (*proxmox.Node, error) {
	if name == "" {
		return nil, errors.New("a node without a name in GET /nodes")
	}
	return (&proxmox.Node{}).New(px, name), nil
}

// build turns what the sources read into panels; a stale source's panel
// keeps prev's rows.
func build(d *Dashboard, r *raw, prev *Dashboard) {
	stale := func(name string) bool { return d.Source(name).Stale }

	// Cluster.
	switch {
	case r.cluster != nil:
		d.Cluster = Cluster{Name: r.cluster.Name, Quorate: r.cluster.Quorate == 1 || r.cluster.Name == "", Nodes: len(r.cluster.Nodes)}
		if r.cluster.Name == "" {
			d.Cluster.Nodes = max(1, len(r.cluster.Nodes))
		}
		d.Cluster.Level, d.Cluster.Reason = Judge(ClusterRules, d.Cluster)
	case prev != nil:
		d.Cluster = prev.Cluster
	}

	// Nodes: /cluster/resources says online and use; /nodes/{n}/status
	// the PVE version and the root file system.
	if r.resources != nil || r.nodes != nil {
		byName := map[string]*Node{}
		var order []string
		get := func(name string) *Node {
			if n := byName[name]; n != nil {
				return n
			}
			byName[name] = &Node{Name: name}
			order = append(order, name)
			return byName[name]
		}
		if r.resources == nil && prev != nil {
			// Resources stale: start from the previous rows, so that a
			// node offline then is not dropped now.
			for _, pn := range prev.Nodes {
				n := pn
				byName[n.Name] = &n
				order = append(order, n.Name)
			}
		}
		for _, res := range r.resources {
			if res.Type != "node" {
				continue
			}
			n := get(res.Node)
			n.Online = res.Status == "online"
			n.CPU, n.MemUsed, n.MemTotal, n.Uptime = res.CPU, res.Mem, res.MaxMem, res.Uptime
			n.DiskUsed, n.DiskTotal = res.Disk, res.MaxDisk
		}
		for name, st := range r.nodes {
			n := get(name)
			if r.resources == nil {
				// Only online nodes are read one by one.
				n.Online = true
				n.CPU, n.MemUsed, n.MemTotal, n.Uptime = st.CPU, st.Memory.Used, st.Memory.Total, st.Uptime
			}
			// "pve-manager/9.1.4/<repoid>" → "9.1.4".
			n.PVEVersion = st.PVEVersion
			if f := strings.Split(st.PVEVersion, "/"); len(f) >= 2 && f[0] == "pve-manager" {
				n.PVEVersion = f[1]
			}
			n.DiskUsed, n.DiskTotal = st.RootFS.Used, st.RootFS.Total
		}
		if stale(SrcNodes) && prev != nil {
			for _, pn := range prev.Nodes {
				if n := byName[pn.Name]; n != nil && n.PVEVersion == "" {
					n.PVEVersion = pn.PVEVersion
				}
			}
		}
		sort.Strings(order)
		for _, name := range order {
			n := *byName[name]
			n.Level, n.Reason = Judge(NodeRules, n)
			d.Nodes = append(d.Nodes, n)
		}
	} else if prev != nil {
		d.Nodes = prev.Nodes
	}

	// VMs: /cluster/resources, HA state from /cluster/ha/status/current.
	ha := map[string]*proxmox.HAStatusEntry{}
	for _, e := range r.ha {
		if e.Type == "service" {
			sid := strings.TrimPrefix(e.ID, "service:")
			ha[sid] = e
		}
	}
	names := map[int]string{}
	if r.resources != nil {
		for _, res := range r.resources {
			if res.Type != "qemu" && res.Type != "lxc" {
				continue
			}
			v := VM{VMID: int(res.VMID), Name: res.Name, Node: res.Node, Status: res.Status, Uptime: res.Uptime, Template: res.Template == 1}
			sid := "vm:" + strconv.Itoa(v.VMID)
			if res.Type == "lxc" {
				sid = "ct:" + strconv.Itoa(v.VMID)
			}
			if e := ha[sid]; e != nil {
				v.HAState, v.HARequest = e.CRMState, e.Request
			} else if res.HAstate != "" && stale(SrcHA) {
				v.HAState = res.HAstate
			}
			v.Level, v.Reason = Judge(VMRules, v)
			d.VMs = append(d.VMs, v)
			names[v.VMID] = v.Name
		}
		sort.Slice(d.VMs, func(i, j int) bool { return d.VMs[i].VMID < d.VMs[j].VMID })
	} else if prev != nil {
		d.VMs = prev.VMs
		for _, v := range prev.VMs {
			names[v.VMID] = v.Name
		}
	}

	// Backups: the newest vzdump task per VMID across the nodes (the task
	// ID is the VMID of a one-guest run), and the newest successful one.
	if r.tasks != nil {
		by := map[int]*Backup{}
		for _, ts := range r.tasks {
			for _, t := range ts {
				id, err := strconv.Atoi(t.ID)
				if err != nil {
					continue
				}
				b := by[id]
				if b == nil {
					b = &Backup{VMID: id}
					by[id] = b
				}
				res := t.Status
				if t.IsRunning || res == "" {
					res = "running"
				}
				if t.StartTime.After(b.Last) {
					b.Last, b.Result = t.StartTime, res
				}
				if res == "OK" && t.StartTime.After(b.LastOK) {
					b.LastOK = t.StartTime
				}
			}
		}
		// Every guest gets a row (no backup is a finding), templates aside.
		for _, v := range d.VMs {
			if !v.Template && by[v.VMID] == nil {
				by[v.VMID] = &Backup{VMID: v.VMID}
			}
		}
		for _, b := range by {
			b.Name = names[b.VMID]
			if !b.LastOK.IsZero() {
				b.Age = d.At.Sub(b.LastOK)
			}
			b.Level, b.Reason = Judge(BackupRules, *b)
			d.Backups = append(d.Backups, *b)
		}
		sort.Slice(d.Backups, func(i, j int) bool { return d.Backups[i].VMID < d.Backups[j].VMID })
	} else if prev != nil {
		d.Backups = prev.Backups
	}

	// Zones.
	switch {
	case r.zones != nil:
		d.Zones = r.zones
		d.Zones.Level, d.Zones.Reason = Judge(ZoneRules, *d.Zones)
	case prev != nil && prev.Zones != nil:
		z := *prev.Zones
		d.Zones = &z
	case d.Source(SrcZones).Name != "" && stale(SrcZones):
		d.Zones = &Zones{Changes: []string{}, Level: Amber}
	}

	// The overall level: the worst row, and amber for a stale source.
	d.Level = d.Cluster.Level
	if d.Level == "" {
		d.Level = Green
	}
	for _, n := range d.Nodes {
		d.Level = Worst(d.Level, n.Level)
	}
	for _, v := range d.VMs {
		d.Level = Worst(d.Level, v.Level)
	}
	for _, b := range d.Backups {
		d.Level = Worst(d.Level, b.Level)
	}
	if d.Zones != nil {
		d.Level = Worst(d.Level, d.Zones.Level)
	}
	for _, s := range d.Sources {
		if s.Stale {
			d.Level = Worst(d.Level, Amber)
		}
	}
}
