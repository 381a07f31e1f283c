package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
)

// diskNode fakes a node with disks sdb (blank), sdc (has data) and sda
// (system), plus zpool/wipefs/pvesm.
type diskNode struct {
	*exectest.Fake
	mu     sync.Mutex
	pools  []string
	wiped  []string
	stores map[string]string
}

func newDiskNode() *diskNode {
	d := &diskNode{Fake: exectest.NewFake(), stores: map[string]string{}}
	d.Reply(`^pveversion$`, "pve-manager/9.1.4/5a1f3c9e (running kernel: 6.17.2-1-pve)\n", 0) // a PVE node identifies itself (preflight.Identify)
	d.Reply(`^hostname$`, "tappaas1\n", 0)
	d.Reply(`^ip -j addr show$`, "[]", 0)
	d.Reply(`^ip -j route show default$`, "[]", 0)
	d.Reply(`^ls /sys/class/net$`, "", 0)
	d.On(`^lsblk`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		fs := "null"
		if !contains(d.wiped, "/dev/sdc") {
			fs = `"ext4"`
		}
		fmt.Fprintf(inv.Stdout, `{"blockdevices":[
 {"name":"sda","size":256060514304,"type":"disk","fstype":null,"mountpoint":null,"model":"SSD","children":[{"name":"sda1","size":1,"type":"part","fstype":"ext4","mountpoint":"/"}]},
 {"name":"sdb","size":1000204886016,"type":"disk","fstype":null,"mountpoint":null,"model":"SSD 1TB"},
 {"name":"sdc","size":1000204886016,"type":"disk","fstype":%s,"mountpoint":null,"model":"SSD 1TB"}]}`, fs)
		return 0, nil
	})
	d.On(`^zpool list -H -o name$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, p := range d.pools {
			fmt.Fprintln(inv.Stdout, p)
		}
		return 0, nil
	})
	d.Reply(`^zpool status`, "", 0)
	// udev's links: sdb has a WWN, sdc only its ATA serial.
	d.Reply(`^for l in /dev/disk/by-id/\*`, "ata-SSD_S0 /dev/sda\nata-SSD_S0-part1 /dev/sda1\nata-SSD_1TB_S1 /dev/sdb\nwwn-0x5002538f00000002 /dev/sdb\nata-SSD_1TB_S2 /dev/sdc\n", 0)
	d.On(`^wipefs -a (\S+)$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		d.mu.Lock()
		d.wiped = append(d.wiped, inv.Match[1])
		d.mu.Unlock()
		return 0, nil
	})
	d.On(`^zpool create .* (\S+) (?:mirror|raidz|raidz2 )?`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		f := strings.Fields(inv.Cmd.Script)
		for i, w := range f {
			if w == "xattr=sa" {
				d.mu.Lock()
				d.pools = append(d.pools, f[i+1])
				d.mu.Unlock()
			}
		}
		return 0, nil
	})
	d.On(`^pvesh get /storage --output-format json$`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		d.mu.Lock()
		defer d.mu.Unlock()
		var parts []string
		for id, typ := range d.stores {
			parts = append(parts, fmt.Sprintf(`{"storage":%q,"type":%q}`, id, typ))
		}
		fmt.Fprintf(inv.Stdout, "[%s]", strings.Join(parts, ","))
		return 0, nil
	})
	d.On(`^pvesm add zfspool (\S+)`, func(_ context.Context, inv *exectest.Invocation) (int, error) {
		d.mu.Lock()
		d.stores[inv.Match[1]] = "zfspool"
		d.mu.Unlock()
		return 0, nil
	})
	return d
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func rt() *steps.Runtime { return steps.NewRuntime("t", nil, nil, nil, nil) }

func TestPoolFailureTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		pool    config.Pool
		confirm []string
		want    string
		is      error
	}{
		{"data not confirmed", config.Pool{Name: "tanka1", Layout: "mirror", Disks: []string{"sdb", "sdc"}}, nil, "confirm_wipe", ErrWipeNotConfirmed},
		{"system disk", config.Pool{Name: "tanka1", Layout: "single", Disks: []string{"sda"}}, nil, "holds the system", nil},
		{"missing disk", config.Pool{Name: "tanka1", Layout: "single", Disks: []string{"sdz"}}, nil, "not on this node", nil},
	}
	for _, c := range cases {
		d := newDiskNode()
		cfg := config.Defaults()
		cfg.Storage.Pools = []config.Pool{c.pool}
		cfg.Storage.ConfirmWipe = c.confirm
		err := (&Pool{Node: d, Cfg: cfg, Pool: c.pool}).Apply(context.Background(), rt())
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s: got %v", c.name, err)
		}
		if len(d.wiped) != 0 || len(d.pools) != 0 {
			t.Errorf("%s: something was changed: wiped %v pools %v", c.name, d.wiped, d.pools)
		}
	}
}

func TestPoolWipesOnlyConfirmedAndIsIdempotent(t *testing.T) {
	t.Parallel()
	d := newDiskNode()
	cfg := config.Defaults()
	p := config.Pool{Name: "tanka1", Layout: "mirror", Disks: []string{"sdb", "/dev/sdc"}}
	cfg.Storage.Pools = []config.Pool{p}
	cfg.Storage.ConfirmWipe = []string{"sdc"}
	s := &Pool{Node: d, Cfg: cfg, Pool: p}
	ctx := context.Background()
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	if !contains(d.wiped, "/dev/sdc") || contains(d.wiped, "/dev/sdb") {
		t.Fatalf("wiped %v; want only the confirmed sdc (sdb is blank)", d.wiped)
	}
	// The pool names its disks by /dev/disk/by-id, wwn- first.
	var create string
	for _, sc := range d.Scripts() {
		if strings.HasPrefix(sc, "zpool create") {
			create = sc
		}
	}
	if !strings.HasSuffix(create, " tanka1 mirror /dev/disk/by-id/wwn-0x5002538f00000002 /dev/disk/by-id/ata-SSD_1TB_S2") {
		t.Fatalf("zpool create: %s", create)
	}
	if st, err := s.Check(ctx, rt()); err != nil || !st.Done {
		t.Fatalf("check: %+v %v", st, err)
	}
	n := len(d.Scripts())
	if err := s.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	for _, sc := range d.Scripts()[n:] {
		if strings.HasPrefix(sc, "zpool create") || strings.HasPrefix(sc, "wipefs") {
			t.Fatalf("second Apply changed something: %s", sc)
		}
	}
	r := &Register{Node: d, Pool: "tanka1", Hostname: "tappaas1"}
	if err := r.Apply(ctx, rt()); err != nil {
		t.Fatal(err)
	}
	if st, _ := r.Check(ctx, rt()); !st.Done {
		t.Fatal("storage not registered")
	}
}

func TestRegisterRefusesForeignType(t *testing.T) {
	t.Parallel()
	d := newDiskNode()
	d.stores["tanka1"] = "dir"
	_, err := (&Register{Node: d, Pool: "tanka1", Hostname: "tappaas1"}).Check(context.Background(), rt())
	if err == nil || !strings.Contains(err.Error(), "type dir") {
		t.Fatalf("got %v", err)
	}
}
