package preflight

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
)

// freshNode fakes a fresh PVE node: enp1s0 in vmbr0 with the default
// route, enp2s0 spare, disks sda (system) sdb sdc (blank).
func freshNode(version string) *exectest.Fake {
	f := exectest.NewFake()
	f.Reply(`^id -u$`, "0\n", 0)
	f.Reply(`^hostname$`, "tappaas1\n", 0)
	f.Reply(`^pveversion$`, "pve-manager/"+version+"/5a1f3c9e (running kernel: 6.17.2-1-pve)\n", 0)
	f.Reply(`^ip -j addr show$`, `[{"ifname":"lo","operstate":"UNKNOWN","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8}]},
{"ifname":"enp1s0","operstate":"UP","master":"vmbr0","address":"bc:24:11:5e:10:01","addr_info":[]},
{"ifname":"enp2s0","operstate":"UP","address":"bc:24:11:5e:10:02","addr_info":[]},
{"ifname":"vmbr0","operstate":"UP","addr_info":[{"family":"inet","local":"192.168.1.10","prefixlen":24}]}]`, 0)
	f.Reply(`^ip -j route show default$`, `[{"dst":"default","gateway":"192.168.1.1","dev":"vmbr0"}]`, 0)
	f.Reply(`^ls /sys/class/net$`, "enp1s0\nenp2s0\nlo\nvmbr0\n", 0)
	f.Reply(`^test -e /sys/class/net/enp[12]s0/device$`, "", 0)
	f.Reply(`^test -e `, "", 1)
	f.Reply(`^lsblk`, `{"blockdevices":[{"name":"sda","size":256060514304,"type":"disk","fstype":null,"mountpoint":null,"children":[{"name":"sda3","size":1,"type":"part","fstype":"LVM2_member","mountpoint":"/"}]},
{"name":"sdb","size":1000204886016,"type":"disk","fstype":null,"mountpoint":null},{"name":"sdc","size":1000204886016,"type":"disk","fstype":null,"mountpoint":null}]}`, 0)
	f.Reply(`^zpool list -H -o name$`, "", 0)
	f.Reply(`^for l in /dev/disk/by-id/\*`, "ata-SSD_S0 /dev/sda\nata-SSD_S0-part3 /dev/sda3\nata-SSD_1TB_S1 /dev/sdb\nwwn-0x5002538f00000002 /dev/sdb\nata-SSD_1TB_S2 /dev/sdc\n", 0)
	f.Reply(`^getent hosts`, "151.101.1.1 download.proxmox.com\n", 0)
	f.Reply(`^timedatectl`, "yes\n", 0)
	f.Reply(`^df -P -B1`, "Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/mapper/pve-root 100000000000 5000000000 95000000000 5% /\n", 0)
	return f
}

func cfg() config.Install {
	c := config.Defaults()
	c.Node.LANNIC, c.Node.WANNIC = "enp2s0", "enp1s0"
	c.Storage.Pools = []config.Pool{{Name: "tanka1", Layout: "mirror", Disks: []string{"sdb", "sdc"}}}
	return c
}

func TestPreflightPassesOnFreshNode(t *testing.T) {
	t.Parallel()
	rt := steps.NewRuntime("preflight.checks", nil, nil, nil, nil)
	s := &Checks{Node: freshNode("9.1.4"), Cfg: cfg(), Role: RoleFirst, OperatorAddr: "192.168.1.50"}
	st, err := s.Check(context.Background(), rt)
	if err != nil || !st.Done {
		res, _, _ := s.Run(context.Background())
		t.Fatalf("%+v %v\n%s", st, err, strings.Join(Table(res), "\n"))
	}
	if ip, _ := steps.Get(rt.Facts, FactInstallCIDR); ip != "192.168.1.10/24" {
		t.Fatalf("install cidr fact %q", ip)
	}
	if gw, _ := steps.Get(rt.Facts, FactGateway); gw != "192.168.1.1" {
		t.Fatalf("gateway fact %q", gw)
	}
}

func TestPreflightFailureTable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		mutate func(*Checks, *exectest.Fake)
		check  string
	}{
		{"unsupported pve", func(c *Checks, _ *exectest.Fake) { c.Node = freshNode("8.4.1") }, "pve version"},
		{"swapped nics", func(c *Checks, _ *exectest.Fake) { c.Cfg.Node.LANNIC, c.Cfg.Node.WANNIC = "enp1s0", "enp2s0" }, "internet port"},
		{"unknown nic", func(c *Checks, _ *exectest.Fake) { c.Cfg.Node.LANNIC = "eno9" }, "node.lan_nic"},
		{"system disk", func(c *Checks, _ *exectest.Fake) {
			c.Cfg.Storage.Pools = []config.Pool{{Name: "tanka1", Layout: "single", Disks: []string{"sda"}}}
		}, "disk sda"},
		{"operator inside mgmt", func(c *Checks, _ *exectest.Fake) { c.OperatorAddr = "10.0.0.77" }, "operator address"},
		{"wrong hostname", func(c *Checks, _ *exectest.Fake) { c.Cfg.Node.Hostname = "tappaas2" }, "hostname"},
	}
	for _, tc := range cases {
		s := &Checks{Node: freshNode("9.1.4"), Cfg: cfg(), Role: RoleFirst}
		tc.mutate(s, nil)
		err := s.Apply(context.Background(), steps.NewRuntime("p", nil, nil, nil, nil))
		var pe *Error
		if !errors.As(err, &pe) {
			t.Errorf("%s: want *Error, got %v", tc.name, err)
			continue
		}
		found := false
		for _, r := range pe.Failed {
			if r.Name == tc.check {
				found = true
				if r.Fix == "" {
					t.Errorf("%s: failure without a fix", tc.name)
				}
			}
		}
		if !found {
			t.Errorf("%s: %s did not fail: %v", tc.name, tc.check, err)
		}
	}
}

// A node.wan_address other than the address the installer is connected
// through would cut the session at the bridge change: refused, naming the
// field and the fix — unless node.admin_network holds the operator's
// address (then the change is confirmed over a new connection to it).
func TestPreflightRefusesWANAddressThatCutsTheConnection(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		wan         string
		admin       string
		node, op    string
		wantRefused bool
	}{
		{"moved off the connected address", "192.168.1.20/24", "", "192.168.1.10", "192.168.1.50", true},
		{"other subnet", "172.16.0.5/24", "", "192.168.1.10", "192.168.1.50", true},
		{"admin network without the operator", "192.168.1.20/24", "192.168.50.0/24", "192.168.1.10", "192.168.1.50", true},
		{"admin network holds the operator", "192.168.1.20/24", "192.168.1.0/24", "192.168.1.10", "192.168.1.50", false},
		{"same address", "192.168.1.10/24", "", "192.168.1.10", "192.168.1.50", false},
		{"empty keeps the install address", "", "", "192.168.1.10", "192.168.1.50", false},
		{"console", "192.168.1.20/24", "", "", "", false},
	}
	for _, tc := range cases {
		c := cfg()
		c.Node.WANAddress, c.Node.AdminNetwork = tc.wan, tc.admin
		s := &Checks{Node: freshNode("9.1.4"), Cfg: c, Role: RoleFirst, NodeAddr: tc.node, OperatorAddr: tc.op}
		res, _, err := s.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var got *Result
		for i := range res {
			if res[i].Name == "node.wan_address" && res[i].Outcome == Fail {
				got = &res[i]
			}
		}
		if (got != nil) != tc.wantRefused {
			t.Errorf("%s: refused=%v, want %v\n%s", tc.name, got != nil, tc.wantRefused, strings.Join(Table(res), "\n"))
			continue
		}
		if got != nil && (!strings.Contains(got.Detail, tc.node) || !strings.Contains(got.Fix, "node.wan_address to "+tc.node+"/24") || !strings.Contains(got.Fix, "node.admin_network")) {
			t.Errorf("%s: unclear message: %s — %s", tc.name, got.Detail, got.Fix)
		}
	}
}

func TestPreflightUnknownCommandIsCouldNotCheck(t *testing.T) {
	t.Parallel()
	f := exectest.NewFake()
	// Same node without getent/timedatectl/df (exit 127).
	base := freshNode("9.1.4")
	for _, p := range []string{`^id -u$`, `^hostname$`, `^pveversion$`, `^ip -j addr show$`, `^ip -j route show default$`, `^ls /sys/class/net$`, `^test -e /sys/class/net/enp[12]s0/device$`, `^test -e `, `^lsblk`, `^for l in /dev/disk/by-id/\*`, `^zpool list -H -o name$`} {
		pat := p
		f.On(pat, func(ctx context.Context, inv *exectest.Invocation) (int, error) {
			res, err := base.Run(ctx, inv.Cmd)
			inv.Stdout.Write([]byte(res.Stdout))
			if err != nil {
				return res.Code, nil
			}
			return 0, nil
		})
	}
	res, _, err := (&Checks{Node: f, Cfg: cfg(), Role: RoleFirst}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if (r.Name == "dns" || r.Name == "time sync" || r.Name == "free space") && r.Outcome != Unknown {
			t.Errorf("%s: %s, want could not check", r.Name, r.Outcome)
		}
	}
}

func TestParsePVEVersion(t *testing.T) {
	t.Parallel()
	if ma, mi, full, err := ParsePVEVersion("pve-manager/9.1.4/abc (running kernel: x)"); err != nil || ma != 9 || mi != 1 || full != "9.1.4" {
		t.Fatal(ma, mi, full, err)
	}
	if _, _, _, err := ParsePVEVersion("bash: pveversion: command not found"); err == nil {
		t.Fatal("accepted garbage")
	}
}

// debianHost fakes a plain Debian machine reached as root: no pveversion,
// no zpool (both exit 127 like bash), but the ordinary tools work.
func debianHost() *exectest.Fake {
	f := freshNode("9.1.4")
	g := exectest.NewFake()
	g.Name = "root@debian"
	for _, p := range []string{`^id -u$`, `^hostname$`, `^ip -j addr show$`, `^ip -j route show default$`, `^ls /sys/class/net$`, `^lsblk`, `^getent hosts`, `^timedatectl`, `^df -P -B1`} {
		g.On(p, func(ctx context.Context, inv *exectest.Invocation) (int, error) {
			res, err := f.Run(ctx, inv.Cmd)
			inv.Stdout.Write([]byte(res.Stdout))
			if err != nil {
				return res.Code, nil
			}
			return 0, nil
		})
	}
	return g
}

func TestPreflightStopsFirstOnANonPVEMachine(t *testing.T) {
	t.Parallel()
	f := debianHost()
	s := &Checks{Node: f, Cfg: cfg(), Role: RoleFirst}
	_, err := s.Check(context.Background(), steps.NewRuntime("preflight.checks", nil, nil, nil, nil))
	if !errors.Is(err, ErrNotPVE) {
		t.Fatalf("want ErrNotPVE, got %v", err)
	}
	for _, want := range []string{"root@debian is not a Proxmox VE 9 node", "pveversion: command not found", "install Proxmox VE 9"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "zpool") {
		t.Errorf("error mentions zpool: %v", err)
	}
	// Nothing after the identification ran: no zpool, lsblk or ip.
	for _, c := range f.Calls() {
		if c.Script != "id -u" && c.Script != "pveversion" {
			t.Errorf("ran %q on a machine that is not a PVE node", c.Script)
		}
	}
	if _, err := Gather(context.Background(), f); !errors.Is(err, ErrNotPVE) {
		t.Fatalf("Gather: want ErrNotPVE, got %v", err)
	}
}

func TestIdentifyRejectsForeignPveversionOutput(t *testing.T) {
	t.Parallel()
	f := exectest.NewFake()
	f.Reply(`^pveversion$`, "something else\n", 0)
	if _, err := Identify(context.Background(), f); !errors.Is(err, ErrNotPVE) {
		t.Fatalf("want ErrNotPVE, got %v", err)
	}
	f2 := freshNode("9.1.4")
	if v, err := Identify(context.Background(), f2); err != nil || v != "9.1.4" {
		t.Fatalf("Identify on PVE: %q %v", v, err)
	}
}

// Pool members are found by their by-id paths (zpool status -P prints
// /dev/disk/by-id/<id>-part1 for a whole disk given by id) and by kernel
// names; a disk's Path prefers its wwn- link.
func TestInventoryByID(t *testing.T) {
	t.Parallel()
	base := freshNode("9.1.4")
	f := exectest.NewFake()
	f.Reply(`^zpool list -H -o name$`, "tanka1\n", 0)
	f.Reply(`^zpool status -P tanka1$`, "  pool: tanka1\n state: ONLINE\nconfig:\n\n\tNAME                                        STATE\n\ttanka1                                      ONLINE\n\t  /dev/disk/by-id/wwn-0x5002538f00000002-part1  ONLINE       0     0     0\n\nerrors: No known data errors\n", 0)
	f.On(`.`, func(ctx context.Context, inv *exectest.Invocation) (int, error) {
		res, err := base.Run(ctx, inv.Cmd)
		inv.Stdout.Write([]byte(res.Stdout))
		if err != nil {
			return res.Code, nil
		}
		return 0, nil
	})
	inv, err := Gather(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := inv.Disk("sdb")
	c, _ := inv.Disk("sdc")
	if b.Pool != "tanka1" || !b.HasData || c.Pool != "" {
		t.Fatalf("pool members: sdb %+v sdc %+v", b, c)
	}
	if b.Path() != "/dev/disk/by-id/wwn-0x5002538f00000002" || c.Path() != "/dev/disk/by-id/ata-SSD_1TB_S2" {
		t.Fatalf("paths: %s %s", b.Path(), c.Path())
	}
	if (Disk{Name: "vdb"}).Path() != "/dev/vdb" {
		t.Fatal("a disk without by-id links keeps its kernel name")
	}
	for dev, want := range map[string]string{"/dev/sdb1": "sdb", "/dev/sdc": "sdc", "/dev/disk/by-id/ata-SSD_1TB_S2-part9": "sdc", "/dev/sdbz": "", "/dev/disk/by-id/nope": ""} {
		i, ok := inv.memberOf(dev)
		if got := ""; ok {
			got = inv.Disks[i].Name
			if got != want {
				t.Errorf("%s: %s, want %q", dev, got, want)
			}
		} else if want != "" {
			t.Errorf("%s: no disk, want %s", dev, want)
		}
	}
}
