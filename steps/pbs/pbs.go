// Package pbs installs Proxmox Backup Server alongside PVE on the first node
// (the seed's selected option): the package, a datastore on the chosen pool, a
// tappaas@pbs user and API token limited to that datastore, the pbs storage in
// PVE pinned to the PBS certificate, and a daily backup job for the foundation
// VMs (docs/upstream.md#pbs, docs/pve-api.md#pbs). Unlike upstream,
// nothing prompts mid-run: the token secret is generated and kept 0600 in the
// secrets file.
package pbs

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/node"
)

// Names used on PBS.
const (
	User      = "tappaas@pbs"
	TokenName = "pve"
	TokenID   = User + "!" + TokenName
	// SecretToken names the token secret in the secrets store.
	SecretToken = "pbs.token"
	// JobID is the PVE backup job tappaas owns.
	JobID = "tappaas-foundation"
	// SourcesFile receives the pbs-no-subscription repository.
	SourcesFile = "/etc/apt/sources.list.d/pbs.sources"
)

// FactFingerprint is the PBS certificate fingerprint (SHA-256, AA:BB:…).
var FactFingerprint = steps.Key[string]("pbs.fingerprint")

func pbsJSON(ctx context.Context, e exec.Executor, args string, v any) error {
	out, err := node.Query(ctx, e, "proxmox-backup-manager "+args+" --output-format json")
	if err != nil {
		return err
	}
	if strings.TrimSpace(out) == "" {
		out = "[]"
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("proxmox-backup-manager %s: unexpected output: %w", args, err)
	}
	return nil
}

// Install installs proxmox-backup-server from the no-subscription repository.
type Install struct {
	Node  exec.Executor
	Suite string // "trixie"
}

func (s *Install) suite() string {
	if s.Suite == "" {
		return "trixie"
	}
	return s.Suite
}

// Sources is the apt source for PBS.
func Sources(suite string) string {
	return "Types: deb\nURIs: http://download.proxmox.com/debian/pbs\nSuites: " + suite + "\nComponents: pbs-no-subscription\nSigned-By: /usr/share/keyrings/proxmox-archive-keyring.gpg\n"
}

// ZFSWaitDropIn orders the PBS services after ZFS mounts (upstream #230).
const ZFSWaitDropIn = "[Unit]\nAfter=zfs-mount.service\nRequires=zfs-mount.service\n"

var dropIns = []string{
	"/etc/systemd/system/proxmox-backup.service.d/zfs-wait.conf",
	"/etc/systemd/system/proxmox-backup-proxy.service.d/zfs-wait.conf",
}

func (s *Install) ID() string { return "pbs.install" }

func (s *Install) Title() string { return "Install Proxmox Backup Server" }

func (s *Install) Needs() []string { return []string{"node.packages"} }

func (s *Install) Touches() []string { return []string{"node:apt"} }

func (s *Install) Describe(*steps.Runtime) []string {
	return []string{"add the pbs-no-subscription repository", "apt-get install proxmox-backup-server", "order PBS after zfs-mount"}
}

func (s *Install) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	got, err := node.Installed(ctx, s.Node, "proxmox-backup-server")
	if err != nil {
		return steps.Status{}, err
	}
	if !got["proxmox-backup-server"] {
		return steps.NotDone("proxmox-backup-server is not installed"), nil
	}
	for _, d := range dropIns {
		ok, err := node.FileIs(ctx, s.Node, d, []byte(ZFSWaitDropIn))
		if err != nil {
			return steps.Status{}, err
		}
		if !ok {
			return steps.NotDone("%s missing", d), nil
		}
	}
	return steps.Done("proxmox-backup-server installed"), nil
}

func (s *Install) Apply(ctx context.Context, rt *steps.Runtime) error {
	if _, err := node.WriteIfChanged(ctx, rt, s.Node, SourcesFile, []byte(Sources(s.suite())), 0o644); err != nil {
		return err
	}
	got, err := node.Installed(ctx, s.Node, "proxmox-backup-server")
	if err != nil {
		return err
	}
	if !got["proxmox-backup-server"] {
		if _, err := node.Run(ctx, rt, s.Node, "DEBIAN_FRONTEND=noninteractive apt-get update -q"); err != nil {
			return fmt.Errorf("apt-get update: %w", err)
		}
		if _, err := node.Run(ctx, rt, s.Node, "DEBIAN_FRONTEND=noninteractive apt-get install -y -q proxmox-backup-server"); err != nil {
			return err
		}
	}
	// The package adds an enterprise source that breaks apt-get update
	// without a subscription.
	if _, err := node.Run(ctx, rt, s.Node, "rm -f /etc/apt/sources.list.d/pbs-enterprise.sources /etc/apt/sources.list.d/pbs-enterprise.list"); err != nil {
		return err
	}
	changed := false
	for _, d := range dropIns {
		c, err := node.WriteIfChanged(ctx, rt, s.Node, d, []byte(ZFSWaitDropIn), 0o644)
		if err != nil {
			return err
		}
		changed = changed || c
	}
	if changed {
		if _, err := node.Run(ctx, rt, s.Node, "systemctl daemon-reload"); err != nil {
			rt.Printf("systemctl daemon-reload failed (%v); the drop-ins apply at the next boot", err)
		}
	}
	return nil
}

// Datastore creates the datastore on a dataset of the chosen pool.
type Datastore struct {
	Node exec.Executor
	Cfg  config.Install
}

func (s *Datastore) ID() string { return "pbs.datastore" }

func (s *Datastore) Title() string { return "PBS datastore " + s.Cfg.Backup.Datastore }

func (s *Datastore) Needs() []string {
	return []string{"pbs.install", "storage.pool." + s.Cfg.Backup.Pool}
}

func (s *Datastore) Touches() []string { return []string{"pbs:config"} }

func (s *Datastore) path() string { return "/" + s.Cfg.Backup.Pool + "/" + s.Cfg.Backup.Datastore }

func (s *Datastore) Describe(*steps.Runtime) []string {
	return []string{"zfs create " + s.Cfg.Backup.Pool + "/" + s.Cfg.Backup.Datastore, "datastore " + s.Cfg.Backup.Datastore + " at " + s.path()}
}

type datastore struct {
	Name string `json:"name"`
	Path string `json:"path"`
}

func (s *Datastore) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	var ds []datastore
	if err := pbsJSON(ctx, s.Node, "datastore list", &ds); err != nil {
		return steps.Status{}, err
	}
	for _, d := range ds {
		if d.Name == s.Cfg.Backup.Datastore {
			if d.Path != "" && d.Path != s.path() {
				return steps.Status{}, fmt.Errorf("datastore %s exists at %s, not %s: choose another backup.datastore", d.Name, d.Path, s.path())
			}
			return steps.Done("datastore %s at %s", d.Name, s.path()), nil
		}
	}
	return steps.NotDone("datastore %s does not exist", s.Cfg.Backup.Datastore), nil
}

func (s *Datastore) Apply(ctx context.Context, rt *steps.Runtime) error {
	dataset := s.Cfg.Backup.Pool + "/" + s.Cfg.Backup.Datastore
	out, err := node.Query(ctx, s.Node, "zfs list -H -o name")
	if err != nil {
		return err
	}
	if !slices.Contains(node.Lines(out), dataset) {
		if _, err := node.Run(ctx, rt, s.Node, exec.Join("zfs", "create", dataset)); err != nil {
			return err
		}
	}
	st, err := s.Check(ctx, rt)
	if err != nil || st.Done {
		return err
	}
	_, err = node.Run(ctx, rt, s.Node, exec.Join("proxmox-backup-manager", "datastore", "create", s.Cfg.Backup.Datastore, s.path()))
	return err
}

// UserToken creates tappaas@pbs, its API token (secret kept 0600) and the
// token's ACL on the datastore.
type UserToken struct {
	Node exec.Executor
	Cfg  config.Install
}

func (s *UserToken) ID() string { return "pbs.user" }

func (s *UserToken) Title() string { return "PBS user and API token" }

func (s *UserToken) Needs() []string { return []string{"pbs.datastore"} }

func (s *UserToken) Touches() []string { return []string{"pbs:config"} }

func (s *UserToken) Describe(*steps.Runtime) []string {
	return []string{"user " + User + ", token " + TokenID + " (secret kept 0600)", "ACL DatastoreBackup on /datastore/" + s.Cfg.Backup.Datastore + " for the user and its token"}
}

func (s *UserToken) acl() string { return "/datastore/" + s.Cfg.Backup.Datastore }

func (s *UserToken) state(ctx context.Context) (user, token, acl bool, err error) {
	var users []struct {
		UserID string `json:"userid"`
	}
	if err = pbsJSON(ctx, s.Node, "user list", &users); err != nil {
		return
	}
	for _, u := range users {
		user = user || u.UserID == User
	}
	if !user {
		return
	}
	var toks []struct {
		TokenID string `json:"tokenid"`
	}
	if err = pbsJSON(ctx, s.Node, "user list-tokens "+exec.Quote(User), &toks); err != nil {
		return
	}
	for _, t := range toks {
		token = token || t.TokenID == TokenID
	}
	var acls []struct {
		Path   string `json:"path"`
		UGID   string `json:"ugid"`
		RoleID string `json:"roleid"`
	}
	if err = pbsJSON(ctx, s.Node, "acl list", &acls); err != nil {
		return
	}
	// A token's rights are the intersection with its user's: both need
	// the entry (docs/pve-api.md#pbs).
	var userACL, tokACL bool
	for _, a := range acls {
		userACL = userACL || (a.Path == s.acl() && a.UGID == User && a.RoleID == "DatastoreBackup")
		tokACL = tokACL || (a.Path == s.acl() && a.UGID == TokenID && a.RoleID == "DatastoreBackup")
	}
	acl = userACL && tokACL
	return
}

func (s *UserToken) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	user, token, acl, err := s.state(ctx)
	if err != nil {
		return steps.Status{}, err
	}
	_, haveSecret := rt.Secrets.Secret(SecretToken)
	switch {
	case !user:
		return steps.NotDone("user %s does not exist", User), nil
	case !token:
		return steps.NotDone("token %s does not exist", TokenID), nil
	case !haveSecret:
		return steps.NotDone("the secret of token %s is not in the secrets file (it is shown only once): the token is re-created", TokenID), nil
	case !acl:
		return steps.NotDone("token %s has no DatastoreBackup ACL on %s", TokenID, s.acl()), nil
	}
	return steps.Done("user %s with token and ACL on %s", User, s.acl()), nil
}

func (s *UserToken) Apply(ctx context.Context, rt *steps.Runtime) error {
	user, token, acl, err := s.state(ctx)
	if err != nil {
		return err
	}
	if !user {
		if _, err := node.Run(ctx, rt, s.Node, exec.Join("proxmox-backup-manager", "user", "create", User, "--comment", "tappaas: PVE backups")); err != nil {
			return err
		}
	}
	if _, ok := rt.Secrets.Secret(SecretToken); !ok && token {
		rt.Printf("token %s exists but its secret was lost; re-creating it", TokenID)
		if _, err := node.Run(ctx, rt, s.Node, exec.Join("proxmox-backup-manager", "user", "delete-token", User, TokenName)); err != nil {
			return err
		}
		token, acl = false, false
	}
	if !token {
		res, err := s.Node.Run(ctx, exec.Cmd{Script: exec.Join("proxmox-backup-manager", "user", "generate-token", User, TokenName, "--output-format", "json"), Secret: true})
		if err != nil {
			return fmt.Errorf("generate token %s: %w", TokenID, err)
		}
		var t struct {
			TokenID string `json:"tokenid"`
			Value   string `json:"value"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &t); err != nil || t.Value == "" {
			return fmt.Errorf("generate token %s: unexpected output (not shown: it holds the secret)", TokenID)
		}
		if err := rt.Secrets.SetSecret(SecretToken, t.Value); err != nil {
			return fmt.Errorf("store the token secret: %w", err)
		}
		rt.Printf("token %s created; secret kept in the secrets file", TokenID)
	}
	if !acl {
		for _, id := range []string{User, TokenID} {
			if _, err := node.Run(ctx, rt, s.Node, exec.Join("proxmox-backup-manager", "acl", "update", s.acl(), "DatastoreBackup", "--auth-id", id)); err != nil {
				return err
			}
		}
	}
	return nil
}

var fpRe = regexp.MustCompile(`(?i)fingerprint \(sha256\):\s*([0-9a-f]{2}(?::[0-9a-f]{2}){31})`)

// Fingerprint reads the PBS certificate fingerprint on the node.
func Fingerprint(ctx context.Context, e exec.Executor) (string, error) {
	out, err := node.Query(ctx, e, "proxmox-backup-manager cert info")
	if err != nil {
		return "", err
	}
	m := fpRe.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("proxmox-backup-manager cert info printed no SHA-256 fingerprint")
	}
	return strings.ToUpper(m[1]), nil
}

// Storage adds the pbs storage to PVE, pinned to the PBS certificate.
type Storage struct {
	Node exec.Executor
	Cfg  config.Install
}

func (s *Storage) ID() string { return "pbs.storage" }

func (s *Storage) Title() string { return "PBS storage in PVE" }

func (s *Storage) Needs() []string { return []string{"pbs.user", "cluster.create", "network.bridges"} }

func (s *Storage) Touches() []string { return []string{"pve:storage"} }

func (s *Storage) server() string { return s.Cfg.MgmtPrefix().Addr().String() }

func (s *Storage) Describe(*steps.Runtime) []string {
	return []string{fmt.Sprintf("pvesm add pbs %s --server %s --datastore %s --username %s (fingerprint pinned)", s.Cfg.Backup.Datastore, s.server(), s.Cfg.Backup.Datastore, TokenID)}
}

type pveStorage struct {
	Storage     string `json:"storage"`
	Type        string `json:"type"`
	Server      string `json:"server"`
	Datastore   string `json:"datastore"`
	Username    string `json:"username"`
	Fingerprint string `json:"fingerprint"`
}

func (s *Storage) current(ctx context.Context) (*pveStorage, error) {
	out, err := node.Query(ctx, s.Node, "pvesh get /storage --output-format json")
	if err != nil {
		return nil, err
	}
	var list []pveStorage
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("storage list: unexpected output: %w", err)
	}
	for i := range list {
		if list[i].Storage == s.Cfg.Backup.Datastore {
			return &list[i], nil
		}
	}
	return nil, nil
}

func (s *Storage) Check(ctx context.Context, rt *steps.Runtime) (steps.Status, error) {
	fp, err := Fingerprint(ctx, s.Node)
	if err != nil {
		return steps.Status{}, err
	}
	_ = steps.Set(rt.Facts, FactFingerprint, fp)
	cur, err := s.current(ctx)
	if err != nil {
		return steps.Status{}, err
	}
	switch {
	case cur == nil:
		return steps.NotDone("storage %s is not defined", s.Cfg.Backup.Datastore), nil
	case cur.Type != "pbs":
		return steps.Status{}, fmt.Errorf("storage %s exists with type %s: choose another backup.datastore", cur.Storage, cur.Type)
	case !strings.EqualFold(cur.Fingerprint, fp) || cur.Server != s.server() || cur.Username != TokenID:
		return steps.NotDone("storage %s differs (server %s, user %s, fingerprint pinned: %v)", cur.Storage, cur.Server, cur.Username, strings.EqualFold(cur.Fingerprint, fp)), nil
	}
	return steps.Done("pbs storage %s on %s, fingerprint pinned", cur.Storage, cur.Server), nil
}

func (s *Storage) Apply(ctx context.Context, rt *steps.Runtime) error {
	fp, err := Fingerprint(ctx, s.Node)
	if err != nil {
		return err
	}
	_ = steps.Set(rt.Facts, FactFingerprint, fp)
	secret, ok := rt.Secrets.Secret(SecretToken)
	if !ok {
		return fmt.Errorf("the PBS token secret is missing from the secrets file: run step pbs.user again")
	}
	cur, err := s.current(ctx)
	if err != nil {
		return err
	}
	verb := []string{"pvesm", "add", "pbs", s.Cfg.Backup.Datastore, "--datastore", s.Cfg.Backup.Datastore, "--content", "backup"}
	if cur != nil {
		verb = []string{"pvesm", "set", s.Cfg.Backup.Datastore}
	}
	// The token secret goes on stdin, never in argv (readable in ps on the
	// node): pvesm maps --password interactively, so given without a value
	// (last, so it takes none) it is read with PVE::PTY::read_password, one
	// line from stdin when that is not a terminal (proxmox/pve-storage
	// src/PVE/CLI/pvesm.pm param_mapping; proxmox/pve-common
	// src/PVE/CLIHandler.pm 'pve-password' interactive; src/PVE/PTY.pm).
	args := append(verb, "--server", s.server(), "--username", TokenID, "--fingerprint", fp, "--password")
	_, err = node.RunCmd(ctx, rt, s.Node, exec.Cmd{Script: exec.Join(args...), Stdin: strings.NewReader(secret + "\n")})
	return err
}

// BackupJob is the daily backup of the foundation VMs to PBS.
type BackupJob struct {
	Node  exec.Executor
	Cfg   config.Install
	VMIDs []int
	// After lists the steps creating those VMs.
	After []string
}

func (s *BackupJob) ID() string { return "pbs.backup-job" }

func (s *BackupJob) Title() string { return "Daily backup of the foundation VMs" }

func (s *BackupJob) Needs() []string { return append([]string{"pbs.storage"}, s.After...) }

func (s *BackupJob) Touches() []string { return []string{"pve:backup-jobs"} }

func (s *BackupJob) vmids() string {
	var ids []string
	for _, id := range s.VMIDs {
		ids = append(ids, fmt.Sprint(id))
	}
	return strings.Join(ids, ",")
}

func (s *BackupJob) Describe(*steps.Runtime) []string {
	return []string{fmt.Sprintf("backup job %s: VMs %s daily at %s to %s", JobID, s.vmids(), s.Cfg.Backup.Schedule, s.Cfg.Backup.Datastore)}
}

type job struct {
	ID       string `json:"id"`
	Schedule string `json:"schedule"`
	Storage  string `json:"storage"`
	VMID     string `json:"vmid"`
}

func (s *BackupJob) current(ctx context.Context) (*job, error) {
	out, err := node.Query(ctx, s.Node, "pvesh get /cluster/backup --output-format json")
	if err != nil {
		return nil, err
	}
	var jobs []job
	if err := json.Unmarshal([]byte(out), &jobs); err != nil {
		return nil, fmt.Errorf("backup jobs: unexpected output: %w", err)
	}
	for i := range jobs {
		if jobs[i].ID == JobID {
			return &jobs[i], nil
		}
	}
	return nil, nil
}

func (s *BackupJob) Check(ctx context.Context, _ *steps.Runtime) (steps.Status, error) {
	j, err := s.current(ctx)
	if err != nil {
		return steps.Status{}, err
	}
	if j == nil {
		return steps.NotDone("backup job %s does not exist", JobID), nil
	}
	if j.Schedule != s.Cfg.Backup.Schedule || j.Storage != s.Cfg.Backup.Datastore || j.VMID != s.vmids() {
		return steps.NotDone("backup job %s differs (schedule %s, storage %s, VMs %s)", JobID, j.Schedule, j.Storage, j.VMID), nil
	}
	return steps.Done("backup job %s: VMs %s at %s", JobID, j.VMID, j.Schedule), nil
}

func (s *BackupJob) Apply(ctx context.Context, rt *steps.Runtime) error {
	j, err := s.current(ctx)
	if err != nil {
		return err
	}
	args := []string{"--schedule", s.Cfg.Backup.Schedule, "--storage", s.Cfg.Backup.Datastore, "--vmid", s.vmids(), "--mode", "snapshot", "--compress", "zstd", "--comment", "TAPPaaS-backup-vm-managed"}
	if j == nil {
		_, err = node.Run(ctx, rt, s.Node, exec.Join(append([]string{"pvesh", "create", "/cluster/backup", "--id", JobID}, args...)...))
	} else {
		_, err = node.Run(ctx, rt, s.Node, exec.Join(append([]string{"pvesh", "set", "/cluster/backup/" + JobID}, args...)...))
	}
	return err
}
