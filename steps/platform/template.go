// Package platform builds the TAPPaaS control plane: the NixOS template
// (VM 8080), the tappaas-cicd VM (130) cloned from it with cloud-init user
// tappaas and keys, its address from the guest agent, install1 → reboot →
// install2 over SSH with output streamed, and configuration.json
// (bootstrap.md §1 Steps 11-16, §2.1).
package platform

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/assets"
	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/firewall"
	"github.com/tappaas/tappaas/steps/node"
)

// Facts learned by the platform steps.
var (
	// FactCICDIP is tappaas-cicd's address (from the guest agent).
	FactCICDIP = steps.Key[string]("platform.cicd_ip")
)

// SecretInstallerKey is the installer's own SSH key (PEM) for the tappaas
// user on cicd; its public half goes in via cloud-init.
const SecretInstallerKey = "ssh.installer_key"

// InstallerKey returns the installer's SSH signer, generating and storing
// it on first use.
func InstallerKey(rt *steps.Runtime) (gossh.Signer, error) {
	if p, ok := rt.Secrets.Secret(SecretInstallerKey); ok {
		s, err := gossh.ParsePrivateKey([]byte(p))
		if err != nil {
			return nil, fmt.Errorf("installer SSH key in the secrets file is unreadable: %w", err)
		}
		return s, nil
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	blk, err := gossh.MarshalPrivateKey(priv, "tappaas-installer")
	if err != nil {
		return nil, err
	}
	if err := rt.Secrets.SetSecret(SecretInstallerKey, string(pem.EncodeToMemory(blk))); err != nil {
		return nil, fmt.Errorf("store the installer SSH key: %w", err)
	}
	return gossh.NewSignerFromKey(priv)
}

// Template creates the NixOS template VM from the verified image.
type Template struct {
	Node  exec.Executor
	Cfg   config.Install
	Image *firewall.Image
	VMID  int // default 8080
}

func (s *Template) vmid() int {
	if s.VMID == 0 {
		return config.TemplateVMID
	}
	return s.VMID
}

func (s *Template) spec() assets.VMSpec {
	sp, err := assets.Module("tappaas-nixos")
	if err != nil {
		sp = assets.VMSpec{Name: "tappaas-nixos", BIOS: "ovmf", OSType: "l26", Cores: 2, MemoryMB: 4096, DiskSize: "16G", Tags: "TAPPaaS;Foundation"}
	}
	return sp
}

// ID implements steps.Step.
func (s *Template) ID() string { return "platform.template" }

// Title implements steps.Step.
func (s *Template) Title() string { return fmt.Sprintf("NixOS template %d", s.vmid()) }

// Needs implements steps.Needer.
func (s *Template) Needs() []string {
	return []string{s.Image.ID(), "network.bridges", "storage.register." + s.Cfg.Storage.VMPool}
}

// Touches implements steps.Toucher.
func (s *Template) Touches() []string { return []string{"vm:" + strconv.Itoa(s.vmid())} }

// Describe implements steps.Describer.
func (s *Template) Describe(*steps.Runtime) []string {
	sp := s.spec()
	return []string{fmt.Sprintf("qm create %d (%s) from %s, disk %s, cloud-init drive; qm template", s.vmid(), sp.Name, s.Image.ImportName(), sp.DiskSize)}
}

// Check implements steps.Step.
func (s *Template) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	cfg, ok, err := firewall.VMConfig(ctx, s.Node, s.vmid())
	if err != nil {
		return steps.Status{}, err
	}
	if !ok {
		return steps.NotDone("VM %d does not exist", s.vmid()), nil
	}
	if cfg["name"] != s.spec().Name {
		return steps.Status{}, fmt.Errorf("VM %d exists and is %q, not %s: free the ID", s.vmid(), cfg["name"], s.spec().Name)
	}
	if cfg["template"] != "1" {
		return steps.NotDone("VM %d is not a template yet", s.vmid()), nil
	}
	return steps.Done("template %d (%s)", s.vmid(), cfg["name"]), nil
}

// Apply implements steps.Step.
func (s *Template) Apply(ctx context.Context, rt *steps.Runtime) error {
	id := strconv.Itoa(s.vmid())
	sp := s.spec()
	pool := s.Cfg.Storage.VMPool
	cfg, ok, err := firewall.VMConfig(ctx, s.Node, s.vmid())
	if err != nil {
		return err
	}
	if ok && cfg["name"] != sp.Name {
		return fmt.Errorf("VM %s exists and is %q, not %s: free the ID", id, cfg["name"], sp.Name)
	}
	if !ok {
		// localtime 0: NixOS keeps the RTC in UTC (upstream #166, §6.25).
		args := []string{"qm", "create", id, "--name", sp.Name, "--bios", sp.BIOS, "--ostype", sp.OSType, "--cpu", "host",
			"--cores", strconv.Itoa(sp.Cores), "--memory", strconv.Itoa(sp.MemoryMB), "--scsihw", "virtio-scsi-single",
			"--agent", "enabled=1", "--serial0", "socket", "--localtime", "0",
			"--efidisk0", pool + ":1,efitype=4m,pre-enrolled-keys=0",
			"--scsi0", pool + ":0,import-from=" + s.Image.VolID(),
			"--ide2", pool + ":cloudinit", "--boot", "order=scsi0", "--net0", "virtio,bridge=lan",
			"--tags", sp.Tags, "--description", "TAPPaaS NixOS template, created by tappaas"}
		if _, err := node.Run(ctx, rt, s.Node, exec.Join(args...)); err != nil {
			return err
		}
		if cfg, _, err = firewall.VMConfig(ctx, s.Node, s.vmid()); err != nil {
			return err
		}
	}
	if !strings.Contains(cfg["scsi0"], "size="+sp.DiskSize) {
		if _, err := node.Run(ctx, rt, s.Node, exec.Join("qm", "resize", id, "scsi0", sp.DiskSize)); err != nil {
			return err
		}
	}
	if cfg["template"] != "1" {
		if st, err := firewall.VMStatus(ctx, s.Node, s.vmid()); err == nil && st == "running" {
			if _, err := node.Run(ctx, rt, s.Node, "qm stop "+id); err != nil {
				return err
			}
		}
		if _, err := node.Run(ctx, rt, s.Node, "qm template "+id); err != nil {
			return err
		}
	}
	return nil
}

// CICD creates tappaas-cicd as a full clone of the template with cloud-init
// user tappaas, the installer's and the node's keys, DHCP on mgmt.
type CICD struct {
	Node     exec.Executor
	Cfg      config.Install
	Template int // default 8080
	VMID     int // default 130
}

func (s *CICD) vmid() int {
	if s.VMID == 0 {
		return config.CICDVMID
	}
	return s.VMID
}

func (s *CICD) tpl() int {
	if s.Template == 0 {
		return config.TemplateVMID
	}
	return s.Template
}

// KeysFile is the authorized_keys file handed to cloud-init.
const KeysFile = "/root/tappaas/cicd-authorized_keys"

// ID implements steps.Step.
func (s *CICD) ID() string { return "platform.cicd" }

// Title implements steps.Step.
func (s *CICD) Title() string { return fmt.Sprintf("tappaas-cicd VM %d", s.vmid()) }

// Needs implements steps.Needer.
func (s *CICD) Needs() []string { return []string{"platform.template"} }

// Touches implements steps.Toucher: the clone locks the template too.
func (s *CICD) Touches() []string {
	return []string{"vm:" + strconv.Itoa(s.vmid()), "vm:" + strconv.Itoa(s.tpl())}
}

// Describe implements steps.Describer.
func (s *CICD) Describe(*steps.Runtime) []string {
	p := s.Cfg.Platform
	return []string{fmt.Sprintf("full clone %d → %d tappaas-cicd: %d cores, %d MiB, disk %d G", s.tpl(), s.vmid(), p.CICDCores, p.CICDMemoryMB, p.CICDDiskGB),
		"cloud-init: user tappaas, DHCP, installer + node SSH keys"}
}

func (s *CICD) want(cfg map[string]string) []string {
	p := s.Cfg.Platform
	var miss []string
	if cfg["cores"] != strconv.Itoa(p.CICDCores) {
		miss = append(miss, "cores")
	}
	if cfg["memory"] != strconv.Itoa(p.CICDMemoryMB) {
		miss = append(miss, "memory")
	}
	if cfg["ciuser"] != "tappaas" {
		miss = append(miss, "ciuser")
	}
	if cfg["sshkeys"] == "" {
		miss = append(miss, "sshkeys")
	}
	if cfg["ipconfig0"] != "ip=dhcp" {
		miss = append(miss, "ipconfig0")
	}
	if !strings.Contains(cfg["scsi0"], "size="+strconv.Itoa(p.CICDDiskGB)+"G") {
		miss = append(miss, "disk size")
	}
	return miss
}

// Check implements steps.Step.
func (s *CICD) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	cfg, ok, err := firewall.VMConfig(ctx, s.Node, s.vmid())
	if err != nil {
		return steps.Status{}, err
	}
	if !ok {
		return steps.NotDone("VM %d does not exist", s.vmid()), nil
	}
	if cfg["name"] != "tappaas-cicd" {
		return steps.Status{}, fmt.Errorf("VM %d exists and is %q, not tappaas-cicd: free the ID", s.vmid(), cfg["name"])
	}
	if m := s.want(cfg); len(m) > 0 {
		return steps.NotDone("VM %d differs: %s", s.vmid(), strings.Join(m, ", ")), nil
	}
	return steps.Done("VM %d tappaas-cicd configured", s.vmid()), nil
}

// Apply implements steps.Step.
func (s *CICD) Apply(ctx context.Context, rt *steps.Runtime) error {
	id := strconv.Itoa(s.vmid())
	p := s.Cfg.Platform
	cfg, ok, err := firewall.VMConfig(ctx, s.Node, s.vmid())
	if err != nil {
		return err
	}
	if ok && cfg["name"] != "tappaas-cicd" {
		return fmt.Errorf("VM %s exists and is %q, not tappaas-cicd: free the ID", id, cfg["name"])
	}
	if !ok {
		if _, err := node.Run(ctx, rt, s.Node, exec.Join("qm", "clone", strconv.Itoa(s.tpl()), id, "--name", "tappaas-cicd", "--full", "1")); err != nil {
			return err
		}
		if cfg, _, err = firewall.VMConfig(ctx, s.Node, s.vmid()); err != nil {
			return err
		}
	}
	signer, err := InstallerKey(rt)
	if err != nil {
		return err
	}
	keys := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey()))) + " tappaas-installer\n"
	if pub, err := firewall.NodePublicKey(ctx, s.Node); err == nil && pub != "" {
		keys += pub + "\n"
	}
	if _, err := node.WriteIfChanged(ctx, rt, s.Node, KeysFile, []byte(keys), 0o600); err != nil {
		return err
	}
	if m := s.want(cfg); len(m) > 0 {
		args := []string{"qm", "set", id, "--cores", strconv.Itoa(p.CICDCores), "--memory", strconv.Itoa(p.CICDMemoryMB),
			"--ciuser", "tappaas", "--ipconfig0", "ip=dhcp", "--agent", "enabled=1",
			"--tags", "TAPPaaS;Foundation", "--onboot", "1"}
		if _, err := node.Run(ctx, rt, s.Node, exec.Join(args...)); err != nil {
			return err
		}
		// The API takes the keys percent-encoded (apis.md §2.5 sshkeys).
		host, err := node.Query(ctx, s.Node, "hostname")
		if err != nil {
			return err
		}
		path := fmt.Sprintf("/nodes/%s/qemu/%s/config", strings.TrimSpace(host), id)
		if _, err := node.Run(ctx, rt, s.Node, exec.Join("pvesh", "set", path, "--sshkeys", EncodeSSHKeys(keys))); err != nil {
			return err
		}
		if !strings.Contains(cfg["scsi0"], "size="+strconv.Itoa(p.CICDDiskGB)+"G") {
			if _, err := node.Run(ctx, rt, s.Node, exec.Join("qm", "resize", id, "scsi0", strconv.Itoa(p.CICDDiskGB)+"G")); err != nil {
				return err
			}
		}
	}
	return nil
}

type agentIface struct {
	Name  string `json:"name"`
	MAC   string `json:"hardware-address"`
	Addrs []struct {
		IP   string `json:"ip-address"`
		Type string `json:"ip-address-type"`
	} `json:"ip-addresses"`
}

// GuestIP asks the guest agent for the VM's IPv4 address on net0.
func GuestIP(ctx context.Context, e exec.Executor, vmid int) (string, error) {
	cfg, _, err := firewall.VMConfig(ctx, e, vmid)
	if err != nil {
		return "", err
	}
	mac := strings.ToLower(firewall.Opts(cfg["net0"])["virtio"])
	out, err := node.Query(ctx, e, fmt.Sprintf("qm guest cmd %d network-get-interfaces", vmid))
	if err != nil {
		return "", err
	}
	var ifs []agentIface
	if err := json.Unmarshal([]byte(out), &ifs); err != nil {
		var wrapped struct {
			Result []agentIface `json:"result"`
		}
		if err2 := json.Unmarshal([]byte(out), &wrapped); err2 != nil {
			return "", fmt.Errorf("guest agent: unexpected output: %w", err)
		}
		ifs = wrapped.Result
	}
	first := ""
	for _, i := range ifs {
		for _, a := range i.Addrs {
			if a.Type != "ipv4" || strings.HasPrefix(a.IP, "127.") || strings.HasPrefix(a.IP, "169.254.") {
				continue
			}
			if mac != "" && strings.EqualFold(i.MAC, mac) {
				return a.IP, nil
			}
			if first == "" {
				first = a.IP
			}
		}
	}
	if first == "" {
		return "", errors.New("the guest agent reports no IPv4 address yet")
	}
	return first, nil
}

// Address learns tappaas-cicd's address from the guest agent.
type Address struct {
	Node exec.Executor
	VMID int
	// Wait bounds the wait for the agent (default 10 min).
	Wait time.Duration
}

// ID implements steps.Step.
func (s *Address) ID() string { return "platform.cicd-ip" }

// Title implements steps.Step.
func (s *Address) Title() string { return "tappaas-cicd address (guest agent)" }

// Needs implements steps.Needer.
func (s *Address) Needs() []string { return []string{"platform.cicd-start"} }

// Describe implements steps.Describer.
func (s *Address) Describe(*steps.Runtime) []string {
	return []string{"read the DHCP address of VM " + strconv.Itoa(s.VMID) + " from the QEMU guest agent"}
}

// Check implements steps.Step.
func (s *Address) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	ip, err := GuestIP(ctx, s.Node, s.VMID)
	if err != nil {
		return steps.NotDone("address not known: %v", err), nil
	}
	_ = steps.Set(rt.Facts, FactCICDIP, ip)
	return steps.Done("tappaas-cicd is at %s", ip), nil
}

// Apply implements steps.Step.
func (s *Address) Apply(ctx context.Context, rt *steps.Runtime) error {
	wait := s.Wait
	if wait <= 0 {
		wait = 10 * time.Minute
	}
	var ip string
	err := node.Poll(ctx, rt, fmt.Sprintf("the guest agent of VM %d to report an address", s.VMID), wait, 5*time.Second, func(ctx context.Context) (bool, error) {
		var err error
		ip, err = GuestIP(ctx, s.Node, s.VMID)
		return err == nil, err
	})
	if err != nil {
		return err
	}
	rt.Printf("tappaas-cicd is at %s", ip)
	return steps.Set(rt.Facts, FactCICDIP, ip)
}

// EncodeSSHKeys percent-encodes authorized_keys lines the way PVE's sshkeys
// parameter wants them (every byte outside [-a-zA-Z0-9_.!~*'()] encoded).
func EncodeSSHKeys(keys string) string {
	var b strings.Builder
	for i := 0; i < len(keys); i++ {
		c := keys[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.!~*'()", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
