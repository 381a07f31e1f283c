package lab

import (
	"context"
	"testing"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"
)

func ptr[T any](v T) *T { return &v }

// The go-proxmox calls the bootstrap makes, end to end against the lab:
// every reply must decode into the library's types.
func TestGoProxmoxBootstrapCalls(t *testing.T) {
	t.Parallel()
	l := startLab(t, Options{})
	ctx := context.Background()
	gp := tokenGP(t, l)
	node, err := gp.Node(ctx, "tappaas1")
	if err != nil {
		t.Fatal(err)
	}
	// network: NewNetwork stages and applies in one go
	task, err := node.NewNetwork(ctx, &proxmox.NodeNetwork{Iface: "lan", Type: "bridge", BridgePorts: "enp2s0", CIDR: "10.0.0.10/24", Autostart: 1, BridgeVLANAware: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx, 10*time.Millisecond, 5*time.Second); err != nil || !task.IsSuccessful {
		t.Fatalf("network apply: %v %+v", err, task)
	}
	// ZFS
	task, err = node.NewZFSPool(ctx, &proxmox.NodeZFSPoolOptions{Name: "tanka1", Devices: "/dev/sdb /dev/sdc", RaidLevel: "mirror", Ashift: 12, Compression: "lz4", AddStorage: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx, 10*time.Millisecond, 5*time.Second); err != nil || !task.IsSuccessful {
		t.Fatalf("zfs: %v %+v", err, task)
	}
	pools, err := node.ZFSPools(ctx)
	if err != nil || len(pools) != 1 || pools[0].Name != "tanka1" || pools[0].Health != "ONLINE" {
		t.Fatalf("pools: %v %+v", err, pools)
	}
	if _, err := node.ZFSPool(ctx, "tanka1"); err != nil {
		t.Fatal(err)
	}
	disks, err := node.Disks(ctx, false, true, "")
	if err != nil || len(disks) != 3 {
		t.Fatalf("disks: %v %d", err, len(disks))
	}
	// VM create / config / clone / template / delete
	task, err = node.NewVirtualMachine(ctx, 8080, proxmox.VirtualMachineOption{Name: "name", Value: "tpl"}, proxmox.VirtualMachineOption{Name: "scsi0", Value: "tanka1:4"},
		proxmox.VirtualMachineOption{Name: "net0", Value: "virtio,bridge=lan"}, proxmox.VirtualMachineOption{Name: "agent", Value: 1}, proxmox.VirtualMachineOption{Name: "ide2", Value: "tanka1:cloudinit"},
		proxmox.VirtualMachineOption{Name: "sshkeys", Value: proxmox.EncodeSSHKeys(l.Info().ClientPublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx, 10*time.Millisecond, 5*time.Second); err != nil || !task.IsSuccessful {
		t.Fatalf("create: %v %+v", err, task)
	}
	vm, err := node.VirtualMachine(ctx, 8080)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.ConfigSync(ctx, proxmox.VirtualMachineOption{Name: "cores", Value: 2}); err != nil {
		t.Fatal(err)
	}
	task, err = vm.ConvertToTemplate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = task.Wait(ctx, 10*time.Millisecond, 5*time.Second)
	newid, task, err := vm.Clone(ctx, &proxmox.VirtualMachineCloneOptions{NewID: 130, Name: "tappaas-cicd", Full: true})
	if err != nil || newid != 130 {
		t.Fatalf("clone: %v %d", err, newid)
	}
	if err := task.Wait(ctx, 10*time.Millisecond, 5*time.Second); err != nil || !task.IsSuccessful {
		t.Fatalf("clone task: %v %+v", err, task)
	}
	vms, err := node.VirtualMachines(ctx)
	if err != nil || len(vms) != 2 {
		t.Fatalf("vms: %v %d", err, len(vms))
	}
	c130, err := node.VirtualMachine(ctx, 130)
	if err != nil || c130.VirtualMachineConfig.Cores == nil || *c130.VirtualMachineConfig.Cores != 2 {
		t.Fatalf("clone config: %v %+v", err, c130)
	}
	// HA, users, tokens, ACL
	cl, err := gp.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.NewHAResource(ctx, &proxmox.HAResourceCreateOption{SID: "vm:130", State: ptr("started")}); err != nil {
		t.Fatal(err)
	}
	has, err := cl.HAResources(ctx, "vm")
	if err != nil || len(has) != 1 || *has[0].State != "started" {
		t.Fatalf("ha: %v %+v", err, has)
	}
	if err := gp.NewUser(ctx, &proxmox.NewUser{UserID: "tappaas@pve", Comment: "installer", Enable: true}); err != nil {
		t.Fatal(err)
	}
	u, err := gp.User(ctx, "tappaas@pve")
	if err != nil {
		t.Fatal(err)
	}
	nt, err := u.NewAPIToken(ctx, proxmox.Token{TokenID: "installer", Privsep: false})
	if err != nil || nt.Value == "" || nt.FullTokenID != "tappaas@pve!installer" {
		t.Fatalf("token: %v %+v", err, nt)
	}
	if err := gp.UpdateACL(ctx, proxmox.ACLOptions{Path: "/", Roles: "Administrator", Users: "tappaas@pve", Propagate: true}); err != nil {
		t.Fatal(err)
	}
	acls, err := gp.ACL(ctx)
	if err != nil || len(acls) != 1 {
		t.Fatalf("acl: %v %+v", err, acls)
	}
	// the new token works
	gp2 := proxmox.NewClient(base, proxmox.WithHTTPClient(httpClient(l)), proxmox.WithAPIToken(nt.FullTokenID, nt.Value))
	if _, err := gp2.Version(ctx); err != nil {
		t.Fatal(err)
	}
	// tasks list and resources
	if _, err := node.Tasks(ctx, nil); err != nil {
		t.Fatal(err)
	}
	res, err := cl.Resources(ctx, "vm")
	if err != nil || len(res) != 2 {
		t.Fatalf("resources: %v %d", err, len(res))
	}
	// delete: HA-managed needs purge
	task, err = c130.Delete(ctx, &proxmox.VirtualMachineDeleteOptions{Purge: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = task.Wait(ctx, 10*time.Millisecond, 5*time.Second)
	if _, err := node.VirtualMachine(ctx, 130); err == nil {
		t.Fatal("VM 130 still exists")
	}
}
