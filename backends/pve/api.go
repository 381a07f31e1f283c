package pve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	proxmox "github.com/luthermonson/go-proxmox"

	"github.com/tappaas/tappaas/backends/tlspin"
)

func esc(s string) string { return url.PathEscape(s) }

func nodePath(node string) string { return "/nodes/" + esc(node) }

func vmPath(node string, vmid int) string {
	return nodePath(node) + "/qemu/" + strconv.Itoa(vmid)
}

// upidCall runs a call whose data is a UPID and parses it strictly.
func (c *Client) upidCall(ctx context.Context, method, path string, p any) (string, error) {
	var s string
	if err := c.Do(ctx, method, path, p, &s); err != nil {
		return "", err
	}
	if _, err := ParseUPID(s); err != nil {
		return "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	return s, nil
}

// ---- version, nodes -------------------------------------------------------

// Version is GET /version (through go-proxmox).
func (c *Client) Version(ctx context.Context) (*proxmox.Version, error) {
	v, err := c.px.Version(ctx)
	return v, fix(err)
}

// Node is one entry of GET /nodes.
type Node struct {
	Node           string `json:"node"`
	Status         string `json:"status"`
	SSLFingerprint string `json:"ssl_fingerprint"`
	Uptime         Int    `json:"uptime"`
}

// Nodes is GET /nodes.
func (c *Client) Nodes(ctx context.Context) ([]Node, error) {
	var out []Node
	return out, c.Do(ctx, http.MethodGet, "/nodes", nil, &out)
}

// CertInfo is one entry of GET /nodes/{node}/certificates/info.
type CertInfo struct {
	Filename    string   `json:"filename"`
	Fingerprint string   `json:"fingerprint"`
	Subject     string   `json:"subject"`
	Issuer      string   `json:"issuer"`
	SAN         []string `json:"san"`
	PEM         string   `json:"pem"`
	NotAfter    Int      `json:"notafter"`
}

// Certificates is GET /nodes/{node}/certificates/info.
func (c *Client) Certificates(ctx context.Context, node string) ([]CertInfo, error) {
	var out []CertInfo
	return out, c.Do(ctx, http.MethodGet, nodePath(node)+"/certificates/info", nil, &out)
}

// ---- network ---------------------------------------------------------------

// Iface is one entry of GET /nodes/{node}/network (raw: go-proxmox's
// NodeNetwork has no bridge_vids).
type Iface struct {
	Iface           string   `json:"iface"`
	Type            string   `json:"type"`
	Method          string   `json:"method"`
	Families        []string `json:"families"`
	Autostart       Flag     `json:"autostart"`
	Active          Flag     `json:"active"`
	Exists          Flag     `json:"exists"`
	BridgePorts     string   `json:"bridge_ports"`
	BridgeVlanAware Flag     `json:"bridge_vlan_aware"`
	BridgeVids      string   `json:"bridge_vids"`
	Address         string   `json:"address"`
	Netmask         string   `json:"netmask"`
	CIDR            string   `json:"cidr"`
	Gateway         string   `json:"gateway"`
	Comments        string   `json:"comments"`
	MTU             Str      `json:"mtu"`
}

// NetworkList is GET /nodes/{node}/network (typ "" = all, else bridge,
// eth, any_bridge, …). changes is the pending diff (interfaces.new), which
// go-proxmox discards.
func (c *Client) NetworkList(ctx context.Context, node, typ string) (ifaces []Iface, changes string, err error) {
	var p map[string]any
	if typ != "" {
		p = map[string]any{"type": typ}
	}
	env, err := c.doEnv(ctx, http.MethodGet, nodePath(node)+"/network", p)
	if err != nil {
		return nil, "", err
	}
	if len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, &ifaces); err != nil {
			return nil, "", fmt.Errorf("network list: %w", err)
		}
	}
	if len(env.Changes) > 0 {
		_ = json.Unmarshal(env.Changes, &changes)
	}
	return ifaces, changes, nil
}

// NetworkConfig is an interface definition for NetworkCreate/Update.
type NetworkConfig struct {
	Type            string // "bridge" (required on create), "vlan", …
	BridgePorts     string // "enp1s0"
	BridgeVlanAware bool
	BridgeVids      string // "2-4094"
	CIDR            string // "10.0.0.10/24"
	Gateway         string
	Autostart       bool
	MTU             int
	Comments        string
}

func (n NetworkConfig) params() Params {
	p := Params{}
	set := func(k, v string) {
		if v != "" {
			p[k] = v
		}
	}
	set("type", n.Type)
	set("bridge_ports", n.BridgePorts)
	set("bridge_vids", n.BridgeVids)
	set("cidr", n.CIDR)
	set("gateway", n.Gateway)
	set("comments", n.Comments)
	if n.BridgeVlanAware {
		p["bridge_vlan_aware"] = 1
	}
	if n.Autostart {
		p["autostart"] = 1
	}
	if n.MTU > 0 {
		p["mtu"] = n.MTU
	}
	return p
}

// NetworkCreate stages a new interface (POST; written to
// interfaces.new, not live). go-proxmox's NewNetwork applies at once.
func (c *Client) NetworkCreate(ctx context.Context, node, iface string, n NetworkConfig) error {
	p := n.params()
	p["iface"] = iface
	return c.Do(ctx, http.MethodPost, nodePath(node)+"/network", p, nil)
}

// NetworkUpdate stages changes to an interface (PUT); del lists
// parameters to remove.
func (c *Client) NetworkUpdate(ctx context.Context, node, iface string, n NetworkConfig, del ...string) error {
	p := n.params()
	if len(del) > 0 {
		p["delete"] = strings.Join(del, ",")
	}
	return c.Do(ctx, http.MethodPut, nodePath(node)+"/network/"+esc(iface), p, nil)
}

// NetworkApply applies the staged configuration (PUT /network → UPID of
// the srvreload task). Wait for it with WaitTask.
func (c *Client) NetworkApply(ctx context.Context, node string) (string, error) {
	return c.upidCall(ctx, http.MethodPut, nodePath(node)+"/network", nil)
}

// NetworkRevert drops the staged configuration.
func (c *Client) NetworkRevert(ctx context.Context, node string) error {
	return c.Do(ctx, http.MethodDelete, nodePath(node)+"/network", nil, nil)
}

// ---- storage -----------------------------------------------------------------

// Storage is one entry of GET /storage.
type Storage struct {
	Storage     string `json:"storage"`
	Type        string `json:"type"`
	Content     string `json:"content"`
	Path        string `json:"path"`
	Pool        string `json:"pool"`
	Server      string `json:"server"`
	Datastore   string `json:"datastore"`
	Username    string `json:"username"`
	Fingerprint string `json:"fingerprint"`
	Nodes       string `json:"nodes"`
	Disable     Flag   `json:"disable"`
	Digest      string `json:"digest"`
}

// StorageList is GET /storage (typ "" = all).
func (c *Client) StorageList(ctx context.Context, typ string) ([]Storage, error) {
	var p map[string]any
	if typ != "" {
		p = map[string]any{"type": typ}
	}
	var out []Storage
	return out, c.Do(ctx, http.MethodGet, "/storage", p, &out)
}

// StorageCreated is the reply of POST /storage.
type StorageCreated struct {
	Storage string         `json:"storage"`
	Type    string         `json:"type"`
	Config  map[string]any `json:"config,omitempty"`
}

// StorageCreate is POST /storage (raw: go-proxmox decodes the reply into a
// UPID and fails). p needs "storage" and "type"; for PBS also server,
// datastore, username, password, fingerprint. PVE contacts PBS during the
// call.
func (c *Client) StorageCreate(ctx context.Context, p Params) (StorageCreated, error) {
	var out StorageCreated
	if p["storage"] == nil || p["type"] == nil {
		return out, fmt.Errorf("storage create: parameters storage and type are required")
	}
	return out, c.Do(ctx, http.MethodPost, "/storage", p, &out)
}

// StorageDelete is DELETE /storage/{id}.
func (c *Client) StorageDelete(ctx context.Context, id string) error {
	return c.Do(ctx, http.MethodDelete, "/storage/"+esc(id), nil, nil)
}

// ZFSPool is one entry of GET /nodes/{node}/disks/zfs.
type ZFSPool struct {
	Name   string `json:"name"`
	Size   Int    `json:"size"`
	Free   Int    `json:"free"`
	Health string `json:"health"`
}

// ZFSList lists the node's pools.
func (c *Client) ZFSList(ctx context.Context, node string) ([]ZFSPool, error) {
	var out []ZFSPool
	return out, c.Do(ctx, http.MethodGet, nodePath(node)+"/disks/zfs", nil, &out)
}

// ZFSCreate creates a pool (→ UPID of zfscreate). raidlevel: single,
// mirror, raidz, …; devices: /dev/sdb …
func (c *Client) ZFSCreate(ctx context.Context, node, name, raidlevel string, devices []string, addStorage bool) (string, error) {
	p := Params{"name": name, "raidlevel": raidlevel, "devices": strings.Join(devices, ","), "add_storage": addStorage}
	return c.upidCall(ctx, http.MethodPost, nodePath(node)+"/disks/zfs", p)
}

// ---- cluster -----------------------------------------------------------------

// ClusterNode is a node entry of /cluster/status.
type ClusterNode struct {
	Name   string `json:"name"`
	ID     string `json:"id"`
	IP     string `json:"ip"`
	NodeID Int    `json:"nodeid"`
	Local  Flag   `json:"local"`
	Online Flag   `json:"online"`
}

// ClusterStatus is /cluster/status, decoded leniently (go-proxmox panics
// on some number encodings).
type ClusterStatus struct {
	Clustered bool // a "cluster" entry exists (standalone nodes have none)
	Name      string
	Quorate   bool
	Version   int
	Nodes     []ClusterNode
}

// LocalNode returns the node this API runs on.
func (s ClusterStatus) LocalNode() (ClusterNode, bool) {
	for _, n := range s.Nodes {
		if n.Local {
			return n, true
		}
	}
	return ClusterNode{}, false
}

// ClusterStatus is GET /cluster/status.
func (c *Client) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	var raw []struct {
		Type    string `json:"type"`
		Name    string `json:"name"`
		Quorate Flag   `json:"quorate"`
		Version Int    `json:"version"`
		ClusterNode
	}
	var st ClusterStatus
	if err := c.Do(ctx, http.MethodGet, "/cluster/status", nil, &raw); err != nil {
		return st, err
	}
	for _, e := range raw {
		switch e.Type {
		case "cluster":
			st.Clustered, st.Name, st.Quorate, st.Version = true, e.Name, bool(e.Quorate), int(e.Version)
		case "node":
			n := e.ClusterNode
			n.Name = e.Name
			st.Nodes = append(st.Nodes, n)
		}
	}
	return st, nil
}

// ClusterCreate is POST /cluster/config (root@pam ticket only) → UPID of
// clustercreate; go-proxmox returns it as a "status" string and never
// waits. links are link0, link1, … values ("10.0.0.10").
func (c *Client) ClusterCreate(ctx context.Context, name string, links ...string) (string, error) {
	p := Params{"clustername": name}
	for i, l := range links {
		p["link"+strconv.Itoa(i)] = l
	}
	return c.upidCall(withAuth(ctx, authTicket), http.MethodPost, "/cluster/config", p)
}

// JoinInfo is GET /cluster/config/join on a member.
type JoinInfo struct {
	PreferredNode string `json:"preferred_node"`
	ConfigDigest  string `json:"config_digest"`
	NodeList      []struct {
		Name      string `json:"name"`
		NodeID    Str    `json:"nodeid"`
		Ring0Addr string `json:"ring0_addr"`
		PVEAddr   string `json:"pve_addr"`
		PVEFP     string `json:"pve_fp"`
	} `json:"nodelist"`
}

// ClusterJoinInfo returns what a joining node needs (424 on a standalone
// node: *APIError with Status 424).
func (c *Client) ClusterJoinInfo(ctx context.Context) (JoinInfo, error) {
	var out JoinInfo
	return out, c.Do(ctx, http.MethodGet, "/cluster/config/join", nil, &out)
}

// JoinParams are the parameters of ClusterJoin.
type JoinParams struct {
	Hostname    string   // an existing member's address
	Password    string   // that member's root@pam password (never logged)
	Fingerprint string   // the member's pve_fp
	Links       []string // link0.. of the joining node
	Force       bool
}

// ClusterJoin is POST /cluster/config/join on the joining node (root@pam
// ticket only) → UPID of clusterjoin. Afterwards the node has a new
// certificate and the cluster's users/tokens: re-pin (SetFingerprint) and
// re-authenticate (Relogin / SetToken).
func (c *Client) ClusterJoin(ctx context.Context, j JoinParams) (string, error) {
	fp, err := tlspin.Normalize(j.Fingerprint)
	if err != nil {
		return "", fmt.Errorf("cluster join: %w", err)
	}
	p := Params{"hostname": j.Hostname, "password": j.Password, "fingerprint": fp}
	for i, l := range j.Links {
		p["link"+strconv.Itoa(i)] = l
	}
	if j.Force {
		p["force"] = true
	}
	return c.upidCall(withAuth(ctx, authTicket), http.MethodPost, "/cluster/config/join", p)
}

// ClusterJoinWait runs ClusterJoin and waits for it, surviving what the
// join does to the joining node's API: pveproxy restarts with a new
// certificate (the old pin is refused) and old tickets stop working. When
// the wait fails that way (or the API is briefly unreachable), it asks
// learnFingerprint for the new certificate fingerprint — read it over the
// trusted SSH channel, e.g. `openssl x509 -in /etc/pve/local/pve-ssl.pem
// -noout -fingerprint -sha256` —, re-pins, logs in again (LoginTicket must
// have been called) and resumes waiting without repeating log lines. A
// failed join is *TaskError.
func (c *Client) ClusterJoinWait(ctx context.Context, j JoinParams, learnFingerprint func(ctx context.Context) (string, error), out func(line string)) error {
	upid, err := c.ClusterJoin(ctx, j)
	if err != nil {
		return err
	}
	seen := 0
	count := func(l string) {
		seen++
		if out != nil {
			out(l)
		}
	}
	var last error
	for attempt := 0; attempt < 30; attempt++ {
		err := c.WaitTaskWith(ctx, upid, WaitOptions{Out: count, From: seen})
		var te *TaskError
		switch {
		case err == nil || errors.As(err, &te) || ctx.Err() != nil:
			return err
		case errors.Is(err, tlspin.ErrMismatch) || errors.Is(err, ErrUnauthorized) || isNetError(err):
		default:
			return err
		}
		last = err
		if errors.Is(err, tlspin.ErrMismatch) || errors.Is(err, ErrUnauthorized) {
			fp, ferr := learnFingerprint(ctx)
			if ferr != nil {
				return fmt.Errorf("cluster join: learning the new certificate fingerprint: %w", ferr)
			}
			if fp != c.Fingerprint() {
				if err := c.SetFingerprint(fp, nil); err != nil {
					return fmt.Errorf("cluster join: %w", err)
				}
			}
			if err := c.Relogin(ctx); err == nil {
				continue
			} else {
				last = err
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster join: %w (last error: %v)", ctx.Err(), last)
		case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
		}
	}
	return fmt.Errorf("cluster join: the node's API did not come back: %w", last)
}

func isNetError(err error) bool {
	var ne *NetError
	return errors.As(err, &ne)
}

// NextID is GET /cluster/nextid.
func (c *Client) NextID(ctx context.Context) (int, error) {
	var s Str
	if err := c.Do(ctx, http.MethodGet, "/cluster/nextid", nil, &s); err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(s))
	if err != nil {
		return 0, fmt.Errorf("next id %q: %w", s, err)
	}
	return n, nil
}

// ---- VMs -----------------------------------------------------------------------

// VM is one entry of GET /nodes/{node}/qemu.
type VM struct {
	VMID     Int    `json:"vmid"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Template Flag   `json:"template"`
	Tags     string `json:"tags"`
	Lock     string `json:"lock"`
}

// VMList lists the node's VMs.
func (c *Client) VMList(ctx context.Context, node string) ([]VM, error) {
	var out []VM
	return out, c.Do(ctx, http.MethodGet, nodePath(node)+"/qemu", nil, &out)
}

// VMStatus is GET …/status/current.
type VMStatus struct {
	VMID      Int    `json:"vmid"`
	Name      string `json:"name"`
	Status    string `json:"status"` // running | stopped
	QMPStatus string `json:"qmpstatus"`
	Agent     Flag   `json:"agent"`
	Lock      string `json:"lock"`
	Template  Flag   `json:"template"`
	Uptime    Int    `json:"uptime"`
	HA        struct {
		Managed Flag `json:"managed"`
	} `json:"ha"`
}

// VMStatus reads a VM's status; a missing VM is ErrNotFound.
func (c *Client) VMStatus(ctx context.Context, node string, vmid int) (VMStatus, error) {
	var out VMStatus
	return out, c.Do(ctx, http.MethodGet, vmPath(node, vmid)+"/status/current", nil, &out)
}

// VMCreate is POST /nodes/{node}/qemu (→ UPID of qmcreate). p uses PVE's
// parameter names (name, memory, cores, scsi0, net0, ide2, ciuser,
// sshkeys — percent-encoded, see proxmox.EncodeSSHKeys —, ipconfig0, …).
func (c *Client) VMCreate(ctx context.Context, node string, vmid int, p Params) (string, error) {
	q := Params{}
	for k, v := range p {
		q[k] = v
	}
	q["vmid"] = vmid
	return c.upidCall(ctx, http.MethodPost, nodePath(node)+"/qemu", q)
}

// VMConfig returns the VM's configuration decoded by go-proxmox.
func (c *Client) VMConfig(ctx context.Context, node string, vmid int) (*proxmox.VirtualMachineConfig, error) {
	var cfg proxmox.VirtualMachineConfig
	if err := fix(c.px.Get(ctx, vmPath(node, vmid)+"/config", &cfg)); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// VMConfigRaw returns the VM's configuration as PVE's flat key → value map.
func (c *Client) VMConfigRaw(ctx context.Context, node string, vmid int) (map[string]any, error) {
	var out map[string]any
	return out, c.Do(ctx, http.MethodGet, vmPath(node, vmid)+"/config", nil, &out)
}

// VMSetConfig is the synchronous PUT …/config; del lists keys to remove.
func (c *Client) VMSetConfig(ctx context.Context, node string, vmid int, p Params, del ...string) error {
	q := Params{}
	for k, v := range p {
		q[k] = v
	}
	if len(del) > 0 {
		q["delete"] = strings.Join(del, ",")
	}
	return c.Do(ctx, http.MethodPut, vmPath(node, vmid)+"/config", q, nil)
}

// VMStart is POST …/status/start with options (timeout, skiplock — raw:
// go-proxmox's Start takes none) → UPID.
func (c *Client) VMStart(ctx context.Context, node string, vmid int, p Params) (string, error) {
	return c.upidCall(ctx, http.MethodPost, vmPath(node, vmid)+"/status/start", p)
}

// VMStop is POST …/status/stop (hard stop) → UPID.
func (c *Client) VMStop(ctx context.Context, node string, vmid int, p Params) (string, error) {
	return c.upidCall(ctx, http.MethodPost, vmPath(node, vmid)+"/status/stop", p)
}

// VMShutdown is POST …/status/shutdown (ACPI; p may set timeout,
// forceStop) → UPID.
func (c *Client) VMShutdown(ctx context.Context, node string, vmid int, p Params) (string, error) {
	return c.upidCall(ctx, http.MethodPost, vmPath(node, vmid)+"/status/shutdown", p)
}

// VMClone is POST …/clone (newid, name, full, storage, target, …) → UPID.
func (c *Client) VMClone(ctx context.Context, node string, vmid, newid int, p Params) (string, error) {
	q := Params{}
	for k, v := range p {
		q[k] = v
	}
	q["newid"] = newid
	return c.upidCall(ctx, http.MethodPost, vmPath(node, vmid)+"/clone", q)
}

// VMTemplate converts a VM into a template (POST …/template → UPID).
func (c *Client) VMTemplate(ctx context.Context, node string, vmid int) (string, error) {
	return c.upidCall(ctx, http.MethodPost, vmPath(node, vmid)+"/template", nil)
}

// VMDelete is DELETE /nodes/{node}/qemu/{vmid} (purge,
// destroy-unreferenced-disks, skiplock as p) → UPID.
func (c *Client) VMDelete(ctx context.Context, node string, vmid int, p Params) (string, error) {
	return c.upidCall(ctx, http.MethodDelete, vmPath(node, vmid), p)
}

// AgentAddr is one guest IP address.
type AgentAddr struct {
	IP     string `json:"ip-address"`
	Type   string `json:"ip-address-type"` // ipv4 | ipv6
	Prefix int    `json:"prefix"`
}

// AgentIface is one guest interface from the QEMU guest agent.
type AgentIface struct {
	Name  string      `json:"name"`
	MAC   string      `json:"hardware-address"`
	Addrs []AgentAddr `json:"ip-addresses"`
}

// AgentNetwork is GET …/agent/network-get-interfaces (the reply's extra
// "result" wrapper is removed; "lo" is kept). An agent that is not up yet
// is ErrAgentNotRunning.
func (c *Client) AgentNetwork(ctx context.Context, node string, vmid int) ([]AgentIface, error) {
	var out struct {
		Result []AgentIface `json:"result"`
	}
	if err := c.Do(ctx, http.MethodGet, vmPath(node, vmid)+"/agent/network-get-interfaces", nil, &out); err != nil {
		return nil, err
	}
	return out.Result, nil
}

// GuestIPv4 returns the guest's IPv4 addresses outside loopback and
// link-local, in the agent's order.
func (c *Client) GuestIPv4(ctx context.Context, node string, vmid int) ([]string, error) {
	ifs, err := c.AgentNetwork(ctx, node, vmid)
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, i := range ifs {
		if i.Name == "lo" {
			continue
		}
		for _, a := range i.Addrs {
			if a.Type == "ipv4" && !strings.HasPrefix(a.IP, "127.") && !strings.HasPrefix(a.IP, "169.254.") {
				ips = append(ips, a.IP)
			}
		}
	}
	return ips, nil
}

// ---- access ------------------------------------------------------------------

// User is one entry of GET /access/users.
type User struct {
	UserID  string `json:"userid"`
	Enable  Flag   `json:"enable"`
	Comment string `json:"comment"`
}

// Users is GET /access/users.
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var out []User
	return out, c.Do(ctx, http.MethodGet, "/access/users", nil, &out)
}

// UserCreate is POST /access/users (password only for the pve realm; ""
// for none).
func (c *Client) UserCreate(ctx context.Context, userid, password, comment string) error {
	p := Params{"userid": userid}
	if password != "" {
		p["password"] = password
	}
	if comment != "" {
		p["comment"] = comment
	}
	return c.Do(ctx, http.MethodPost, "/access/users", p, nil)
}

// Token is one API token of a user.
type Token struct {
	TokenID string `json:"tokenid"`
	Comment string `json:"comment"`
	Privsep Flag   `json:"privsep"`
	Expire  Int    `json:"expire"`
}

// Tokens is GET /access/users/{userid}/token.
func (c *Client) Tokens(ctx context.Context, userid string) ([]Token, error) {
	var out []Token
	return out, c.Do(ctx, http.MethodGet, "/access/users/"+esc(userid)+"/token", nil, &out)
}

// NewToken is a created token; Value is the secret, shown only once.
type NewToken struct {
	FullTokenID string `json:"full-tokenid"`
	Value       string `json:"value"`
}

// TokenCreate is POST /access/users/{userid}/token/{tokenid}. An existing
// token is a *ParamError on "tokenid".
func (c *Client) TokenCreate(ctx context.Context, userid, tokenid, comment string, privsep bool) (NewToken, error) {
	p := Params{"privsep": privsep}
	if comment != "" {
		p["comment"] = comment
	}
	var out NewToken
	return out, c.Do(ctx, http.MethodPost, "/access/users/"+esc(userid)+"/token/"+esc(tokenid), p, &out)
}

// TokenDelete is DELETE /access/users/{userid}/token/{tokenid}.
func (c *Client) TokenDelete(ctx context.Context, userid, tokenid string) error {
	return c.Do(ctx, http.MethodDelete, "/access/users/"+esc(userid)+"/token/"+esc(tokenid), nil, nil)
}

// ACL is one access control entry (PUT /access/acl).
type ACL struct {
	Path      string
	Roles     string // "PVEAdmin" or comma list
	Users     string
	Tokens    string // "user@pve!tok"
	Groups    string
	Propagate bool
	Delete    bool
}

// ACLSet is PUT /access/acl.
func (c *Client) ACLSet(ctx context.Context, a ACL) error {
	p := Params{"path": a.Path, "roles": a.Roles, "propagate": a.Propagate}
	if a.Users != "" {
		p["users"] = a.Users
	}
	if a.Tokens != "" {
		p["tokens"] = a.Tokens
	}
	if a.Groups != "" {
		p["groups"] = a.Groups
	}
	if a.Delete {
		p["delete"] = true
	}
	return c.Do(ctx, http.MethodPut, "/access/acl", p, nil)
}

// ACLEntry is one entry of GET /access/acl.
type ACLEntry struct {
	Path      string `json:"path"`
	RoleID    string `json:"roleid"`
	Type      string `json:"type"` // user | token | group
	UGID      string `json:"ugid"`
	Propagate Flag   `json:"propagate"`
}

// ACLList is GET /access/acl.
func (c *Client) ACLList(ctx context.Context) ([]ACLEntry, error) {
	var out []ACLEntry
	return out, c.Do(ctx, http.MethodGet, "/access/acl", nil, &out)
}

// ---- PBS (Config.PBS) ------------------------------------------------------------

// Datastore is one entry of PBS's GET /admin/datastore.
type Datastore struct {
	Store   string `json:"store"`
	Comment string `json:"comment"`
}

// PBSDatastores lists the datastores visible to the caller (PBS API; the
// call PVE makes when a pbs storage is added).
func (c *Client) PBSDatastores(ctx context.Context) ([]Datastore, error) {
	var out []Datastore
	return out, c.Do(ctx, http.MethodGet, "/admin/datastore", nil, &out)
}

// ---- storage content, downloads ----------------------------------------------------

// Volume is one entry of GET /nodes/{node}/storage/{storage}/content.
type Volume struct {
	VolID   string `json:"volid"`
	Content string `json:"content"`
	Format  string `json:"format"`
	Size    Int    `json:"size"`
	VMID    Int    `json:"vmid"`
}

// StorageContent lists a storage's volumes (content "" = all; iso,
// import, images, backup, …).
func (c *Client) StorageContent(ctx context.Context, node, storage, content string) ([]Volume, error) {
	var p map[string]any
	if content != "" {
		p = map[string]any{"content": content}
	}
	var out []Volume
	return out, c.Do(ctx, http.MethodGet, nodePath(node)+"/storage/"+esc(storage)+"/content", p, &out)
}

// DownloadURL makes PVE download a file into a storage (POST
// …/download-url → UPID): p has content (iso|vztmpl|import), filename,
// url and optionally checksum + checksum-algorithm (PVE verifies it).
func (c *Client) DownloadURL(ctx context.Context, node, storage string, p Params) (string, error) {
	return c.upidCall(ctx, http.MethodPost, nodePath(node)+"/storage/"+esc(storage)+"/download-url", p)
}

// ---- HA, replication, backup jobs -----------------------------------------------------

// HAResource is one entry of GET /cluster/ha/resources.
type HAResource struct {
	SID   string `json:"sid"`
	Type  string `json:"type"`
	State string `json:"state"`
}

// HAResources is GET /cluster/ha/resources.
func (c *Client) HAResources(ctx context.Context) ([]HAResource, error) {
	var out []HAResource
	return out, c.Do(ctx, http.MethodGet, "/cluster/ha/resources", nil, &out)
}

// HAResourceCreate is POST /cluster/ha/resources (sid "vm:100", state,
// max_restart, …). An existing resource is a 500 "… already defined".
func (c *Client) HAResourceCreate(ctx context.Context, p Params) error {
	return c.Do(ctx, http.MethodPost, "/cluster/ha/resources", p, nil)
}

// HAResourceDelete is DELETE /cluster/ha/resources/{sid}.
func (c *Client) HAResourceDelete(ctx context.Context, sid string, purge bool) error {
	return c.Do(ctx, http.MethodDelete, "/cluster/ha/resources/"+esc(sid), map[string]any{"purge": purge}, nil)
}

// Replications is GET /cluster/replication (raw entries).
func (c *Client) Replications(ctx context.Context) ([]map[string]any, error) {
	var out []map[string]any
	return out, c.Do(ctx, http.MethodGet, "/cluster/replication", nil, &out)
}

// ReplicationCreate is POST /cluster/replication (id "100-0", target, schedule, …).
func (c *Client) ReplicationCreate(ctx context.Context, p Params) error {
	return c.Do(ctx, http.MethodPost, "/cluster/replication", p, nil)
}

// BackupJobs is GET /cluster/backup (raw entries).
func (c *Client) BackupJobs(ctx context.Context) ([]map[string]any, error) {
	var out []map[string]any
	return out, c.Do(ctx, http.MethodGet, "/cluster/backup", nil, &out)
}

// BackupJobCreate is POST /cluster/backup (id, schedule, storage, vmid, mode, …).
func (c *Client) BackupJobCreate(ctx context.Context, p Params) error {
	return c.Do(ctx, http.MethodPost, "/cluster/backup", p, nil)
}
