package firewall

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/assets"
	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
)

// VMConfig reads `qm config <vmid>`; ok is false when the VM does not exist.
func VMConfig(ctx context.Context, e exec.Executor, vmid int) (map[string]string, bool, error) {
	out, err := node.Query(ctx, e, "qm config "+strconv.Itoa(vmid))
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.Code != 127 && (strings.Contains(ee.Stderr, "does not exist") || ee.Code == 2) {
			return nil, false, nil
		}
		return nil, false, err
	}
	cfg := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(l, ": ")
		if ok {
			cfg[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return cfg, true, nil
}

// VMStatus reads `qm status <vmid>` ("running", "stopped").
func VMStatus(ctx context.Context, e exec.Executor, vmid int) (string, error) {
	out, err := node.Query(ctx, e, "qm status "+strconv.Itoa(vmid))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "status:")), nil
}

// Opts parses a property string ("virtio=AA:..,bridge=lan,tag=2") into
// key → value; the first bare or model=MAC element is kept under "".
func Opts(v string) map[string]string {
	m := map[string]string{}
	for i, part := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			m[""] = part
			continue
		}
		if i == 0 {
			m[""] = k
		}
		m[k] = val
	}
	return m
}

// Trunks returns the VLAN tags the firewall's lan NIC must trunk: every
// Active/Mandatory zone with a tag on bridge lan ("ALL",
// docs/upstream.md#trunks).
func Trunks(zf *zones.File) []int {
	var tags []int
	if zf == nil {
		return nil
	}
	for _, z := range zf.Zones {
		if z.State.Enabled() && z.VLANTag > 0 && (z.Bridge == "" || z.Bridge == "lan") {
			tags = append(tags, z.VLANTag)
		}
	}
	sort.Ints(tags)
	return tags
}

func joinInts(xs []int, sep string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, sep)
}

// VM creates the firewall VM per firewall.json: OVMF with a pre-populated
// EFI vars disk, the imported image as scsi0, serial console, net0 on the
// lan trunk and net1 on wan, in one `qm create` (so an interruption leaves
// either no VM or a complete one).
type VM struct {
	Node  exec.Executor
	Cfg   config.Install
	Image *Image
	Zones *zones.File
}

func (s *VM) ID() string { return "firewall.vm" }

func (s *VM) Title() string { return fmt.Sprintf("Firewall VM %d", s.Cfg.Firewall.VMID) }

func (s *VM) Needs() []string {
	return []string{s.Image.ID(), "network.bridges", "storage.register." + s.Cfg.Storage.VMPool}
}

func (s *VM) Touches() []string { return []string{"vm:" + strconv.Itoa(s.Cfg.Firewall.VMID)} }

func (s *VM) spec() assets.VMSpec {
	sp, err := assets.Module("firewall")
	if err != nil {
		sp = assets.VMSpec{Name: "firewall", BIOS: "ovmf", OSType: "other", Cores: 4, MemoryMB: 8192, DiskSize: "32G", Tags: "TAPPaaS;Foundation"}
	}
	return sp
}

func (s *VM) net0() string {
	n := "virtio,bridge=lan"
	if t := Trunks(s.Zones); len(t) > 0 {
		n += ",trunks=" + joinInts(t, ";")
	}
	return n
}

func (s *VM) Describe(*steps.Runtime) []string {
	sp := s.spec()
	return []string{
		fmt.Sprintf("qm create %d (%s): %d cores, %d MiB, OVMF, disk %s on %s", s.Cfg.Firewall.VMID, sp.Name, sp.Cores, sp.MemoryMB, sp.DiskSize, s.Cfg.Storage.VMPool),
		"net0 " + s.net0() + ", net1 virtio,bridge=wan",
	}
}

func (s *VM) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	cfg, ok, err := VMConfig(ctx, s.Node, s.Cfg.Firewall.VMID)
	if err != nil {
		return steps.Status{}, err
	}
	if !ok {
		return steps.NotDone("VM %d does not exist", s.Cfg.Firewall.VMID), nil
	}
	if cfg["name"] != "firewall" {
		return steps.Status{}, fmt.Errorf("VM %d exists and is %q, not the firewall: free the ID or set firewall.vmid", s.Cfg.Firewall.VMID, cfg["name"])
	}
	for _, k := range []string{"scsi0", "efidisk0", "net0", "net1"} {
		if cfg[k] == "" {
			return steps.NotDone("VM %d lacks %s", s.Cfg.Firewall.VMID, k), nil
		}
	}
	if Opts(cfg["net0"])["bridge"] != "lan" || Opts(cfg["net1"])["bridge"] != "wan" {
		return steps.NotDone("VM %d NICs are not on lan/wan", s.Cfg.Firewall.VMID), nil
	}
	if want := joinInts(Trunks(s.Zones), ";"); Opts(cfg["net0"])["trunks"] != want {
		return steps.NotDone("VM %d net0 trunks %q, want %q", s.Cfg.Firewall.VMID, Opts(cfg["net0"])["trunks"], want), nil
	}
	if !strings.Contains(cfg["scsi0"], "size="+s.spec().DiskSize) {
		return steps.NotDone("VM %d disk is not grown to %s", s.Cfg.Firewall.VMID, s.spec().DiskSize), nil
	}
	return steps.Done("VM %d firewall: net0 lan trunk, net1 wan", s.Cfg.Firewall.VMID), nil
}

func (s *VM) Apply(ctx context.Context, rt *steps.Runtime) error {
	id := strconv.Itoa(s.Cfg.Firewall.VMID)
	sp := s.spec()
	pool := s.Cfg.Storage.VMPool
	cfg, ok, err := VMConfig(ctx, s.Node, s.Cfg.Firewall.VMID)
	if err != nil {
		return err
	}
	if ok && cfg["name"] != "firewall" {
		return fmt.Errorf("VM %s exists and is %q, not the firewall: free the ID or set firewall.vmid", id, cfg["name"])
	}
	if !ok {
		args := []string{"qm", "create", id, "--name", "firewall", "--bios", sp.BIOS, "--ostype", sp.OSType, "--cpu", "host",
			"--cores", strconv.Itoa(sp.Cores), "--memory", strconv.Itoa(sp.MemoryMB), "--scsihw", "virtio-scsi-single",
			"--agent", "enabled=1", "--serial0", "socket", "--onboot", "1", "--tablet", "0",
			"--efidisk0", pool + ":1,efitype=4m,pre-enrolled-keys=0",
			"--scsi0", pool + ":0,import-from=" + s.Image.VolID(),
			"--boot", "order=scsi0", "--net0", s.net0(), "--net1", "virtio,bridge=wan",
			"--tags", sp.Tags, "--description", "TAPPaaS firewall (OPNsense), created by tappaas"}
		if _, err := node.Run(ctx, rt, s.Node, exec.Join(args...)); err != nil {
			return err
		}
		if cfg, _, err = VMConfig(ctx, s.Node, s.Cfg.Firewall.VMID); err != nil {
			return err
		}
	}
	if Opts(cfg["net0"])["trunks"] != joinInts(Trunks(s.Zones), ";") || Opts(cfg["net1"])["bridge"] != "wan" {
		if _, err := node.Run(ctx, rt, s.Node, exec.Join("qm", "set", id, "--net0", s.keepMAC(cfg["net0"], s.net0()), "--net1", s.keepMAC(cfg["net1"], "virtio,bridge=wan"))); err != nil {
			return err
		}
	}
	if !strings.Contains(cfg["scsi0"], "size="+sp.DiskSize) {
		if _, err := node.Run(ctx, rt, s.Node, exec.Join("qm", "resize", id, "scsi0", sp.DiskSize)); err != nil {
			return err
		}
	}
	return nil
}

// keepMAC rewrites want ("virtio,bridge=…") to keep the MAC PVE assigned.
func (s *VM) keepMAC(cur, want string) string {
	o := Opts(cur)
	if mac := o["virtio"]; mac != "" {
		return "virtio=" + mac + strings.TrimPrefix(want, "virtio")
	}
	return want
}

// Start boots a VM and waits until PVE reports it running.
type Start struct {
	Node   exec.Executor
	StepID string
	VMID   int
	Needed []string
}

func (s *Start) ID() string { return s.StepID }

func (s *Start) Title() string { return fmt.Sprintf("Start VM %d", s.VMID) }

func (s *Start) Needs() []string { return s.Needed }

func (s *Start) Touches() []string { return []string{"vm:" + strconv.Itoa(s.VMID)} }

func (s *Start) Describe(*steps.Runtime) []string {
	return []string{fmt.Sprintf("qm start %d", s.VMID)}
}

func (s *Start) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	st, err := VMStatus(ctx, s.Node, s.VMID)
	if err != nil {
		return steps.Status{}, err
	}
	if st == "running" {
		return steps.Done("VM %d is running", s.VMID), nil
	}
	return steps.NotDone("VM %d is %s", s.VMID, st), nil
}

func (s *Start) Apply(ctx context.Context, rt *steps.Runtime) error {
	if st, err := VMStatus(ctx, s.Node, s.VMID); err != nil {
		return err
	} else if st == "running" {
		return nil
	}
	if _, err := node.Run(ctx, rt, s.Node, fmt.Sprintf("qm start %d", s.VMID)); err != nil {
		return err
	}
	return node.Poll(ctx, rt, fmt.Sprintf("VM %d to run", s.VMID), 2*60e9, 2e9, func(ctx context.Context) (bool, error) {
		st, err := VMStatus(ctx, s.Node, s.VMID)
		return st == "running", err
	})
}
