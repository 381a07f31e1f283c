// Package storage creates the ZFS pools the operator chose and registers them
// as PVE storage (docs/upstream.md#storage). Nothing is wiped unless
// the disk was named in storage.confirm_wipe; an existing pool is never
// touched.
package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
	"github.com/tappaas/tappaas/steps/preflight"
)

// Pools lists the ZFS pools on the node.
func Pools(ctx context.Context, e exec.Executor) ([]string, error) {
	out, err := node.Query(ctx, e, "zpool list -H -o name")
	if err != nil {
		return nil, err
	}
	return node.Lines(out), nil
}

// ErrWipeNotConfirmed is wrapped when a chosen disk holds data and was not
// named in storage.confirm_wipe.
var ErrWipeNotConfirmed = fmt.Errorf("disk holds data and wiping it was not confirmed")

// Pool creates one ZFS pool.
type Pool struct {
	Node exec.Executor
	Cfg  config.Install
	Pool config.Pool
}

func (s *Pool) ID() string { return "storage.pool." + s.Pool.Name }

func (s *Pool) Title() string { return "ZFS pool " + s.Pool.Name }

// Needs implements steps.Needer: after the cluster exists (a pool made on a
// standalone node is not usable as HA storage,
// TAPPaaS@f54e4fc:src/foundation/cluster/install.sh:565-572).
func (s *Pool) Needs() []string { return []string{"cluster.create"} }

func (s *Pool) Touches() []string {
	t := []string{"zfs:" + s.Pool.Name}
	for _, d := range s.Pool.Disks {
		t = append(t, "disk:"+config.DiskName(d))
	}
	return t
}

func (s *Pool) Describe(*steps.Runtime) []string {
	d := []string{fmt.Sprintf("zpool create %s (%s) on %s", s.Pool.Name, s.Pool.Layout, strings.Join(s.Pool.Disks, ", "))}
	for _, disk := range s.Pool.Disks {
		if s.Cfg.WipeConfirmed(disk) {
			d = append(d, "WIPE "+disk+" (confirmed in storage.confirm_wipe)")
		}
	}
	return d
}

func (s *Pool) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	pools, err := Pools(ctx, s.Node)
	if err != nil {
		return steps.Status{}, err
	}
	if slices.Contains(pools, s.Pool.Name) {
		return steps.Done("pool %s exists", s.Pool.Name), nil
	}
	return steps.NotDone("pool %s does not exist", s.Pool.Name), nil
}

func (s *Pool) Apply(ctx context.Context, rt *steps.Runtime) error {
	inv, err := preflight.Gather(ctx, s.Node)
	if err != nil {
		return err
	}
	if slices.Contains(inv.Pools, s.Pool.Name) {
		return nil
	}
	var devs []string
	for _, d := range s.Pool.Disks {
		name := config.DiskName(d)
		disk, ok := inv.Disk(name)
		if !ok {
			return fmt.Errorf("storage.pools %s: disk %s is not on this node", s.Pool.Name, d)
		}
		if disk.System {
			return fmt.Errorf("storage.pools %s: disk %s holds the system; choose another", s.Pool.Name, d)
		}
		if disk.Pool != "" {
			return fmt.Errorf("storage.pools %s: disk %s belongs to pool %s; tappaas never destroys a pool", s.Pool.Name, d, disk.Pool)
		}
		if disk.HasData {
			if !s.Cfg.WipeConfirmed(name) {
				return fmt.Errorf("storage.pools %s: %s: %w — add %q to storage.confirm_wipe", s.Pool.Name, d, ErrWipeNotConfirmed, name)
			}
			rt.Printf("wiping %s (confirmed in storage.confirm_wipe)", name)
			if _, err := node.Run(ctx, rt, s.Node, "wipefs -a "+exec.Quote("/dev/"+name)); err != nil {
				return err
			}
		}
		// By its stable /dev/disk/by-id name: sdX names can change
		// across boots, and ZFS records the path it was given.
		devs = append(devs, disk.Path())
	}
	args := []string{"zpool", "create", "-f", "-o", "ashift=12", "-o", "autotrim=on", "-O", "compression=lz4", "-O", "atime=off", "-O", "xattr=sa", s.Pool.Name}
	switch s.Pool.Layout {
	case "mirror", "raidz", "raidz2":
		args = append(args, s.Pool.Layout)
	}
	args = append(args, devs...)
	_, err = node.Run(ctx, rt, s.Node, exec.Join(args...))
	return err
}

// StorageEntry is one PVE storage as `pvesh get /storage` reports it.
type StorageEntry struct {
	Storage string `json:"storage"`
	Type    string `json:"type"`
	Content string `json:"content"`
	Pool    string `json:"pool"`
	Nodes   string `json:"nodes"`
}

// Storages lists PVE storages.
func Storages(ctx context.Context, e exec.Executor) (map[string]StorageEntry, error) {
	out, err := node.Query(ctx, e, "pvesh get /storage --output-format json")
	if err != nil {
		return nil, err
	}
	var list []StorageEntry
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("storage list: unexpected output: %w", err)
	}
	m := map[string]StorageEntry{}
	for _, s := range list {
		m[s.Storage] = s
	}
	return m, nil
}

// Register adds a pool as zfspool storage for VM disks.
type Register struct {
	Node     exec.Executor
	Pool     string
	Hostname string
}

func (s *Register) ID() string { return "storage.register." + s.Pool }

func (s *Register) Title() string { return "PVE storage " + s.Pool }

func (s *Register) Needs() []string { return []string{"storage.pool." + s.Pool} }

func (s *Register) Touches() []string { return []string{"pve:storage"} }

func (s *Register) Describe(*steps.Runtime) []string {
	return []string{"pvesm add zfspool " + s.Pool + " (images, rootdir) on " + s.Hostname}
}

func (s *Register) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	st, err := Storages(ctx, s.Node)
	if err != nil {
		return steps.Status{}, err
	}
	e, ok := st[s.Pool]
	if !ok {
		return steps.NotDone("storage %s is not defined", s.Pool), nil
	}
	if e.Type != "zfspool" {
		return steps.Status{}, fmt.Errorf("storage %s exists with type %s, not zfspool: rename storage.pools or remove it (pvesm remove %s)", s.Pool, e.Type, s.Pool)
	}
	if e.Nodes != "" && !slices.Contains(strings.Split(e.Nodes, ","), s.Hostname) {
		return steps.NotDone("storage %s is restricted to nodes %s", s.Pool, e.Nodes), nil
	}
	return steps.Done("zfspool storage %s defined", s.Pool), nil
}

func (s *Register) Apply(ctx context.Context, rt *steps.Runtime) error {
	st, err := Storages(ctx, s.Node)
	if err != nil {
		return err
	}
	if e, ok := st[s.Pool]; ok {
		if e.Nodes != "" && !slices.Contains(strings.Split(e.Nodes, ","), s.Hostname) {
			_, err := node.Run(ctx, rt, s.Node, exec.Join("pvesm", "set", s.Pool, "--nodes", e.Nodes+","+s.Hostname))
			return err
		}
		return nil
	}
	_, err = node.Run(ctx, rt, s.Node, exec.Join("pvesm", "add", "zfspool", s.Pool, "--pool", s.Pool, "--content", "images,rootdir", "--nodes", s.Hostname))
	return err
}
