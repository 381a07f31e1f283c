package pve

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// PBS is the Proxmox Backup Server installed alongside PVE.
type PBS struct {
	Installed  bool                `json:"installed"`
	Datastores []*PBSDatastore     `json:"datastores,omitempty"`
	Users      []*PBSUser          `json:"users,omitempty"`
	ACL        []PBSACL            `json:"acl,omitempty"`
	Jobs       []map[string]string `json:"jobs,omitempty"` // prune / verify jobs
}

// PBSDatastore is a datastore.
type PBSDatastore struct {
	Name       string   `json:"name"`
	Path       string   `json:"path"`
	Comment    string   `json:"comment,omitempty"`
	GCSchedule string   `json:"gc_schedule,omitempty"`
	Namespaces []string `json:"namespaces,omitempty"`
}

// PBSUser is a PBS user (@pbs realm) with tokens (secret hashes).
type PBSUser struct {
	ID       string            `json:"userid"`
	Password string            `json:"password,omitempty"`
	Email    string            `json:"email,omitempty"`
	Tokens   map[string]string `json:"tokens,omitempty"`
}

// PBSACL is one PBS ACL entry.
type PBSACL struct {
	Path      string `json:"path"`
	AuthID    string `json:"ugid"`
	Role      string `json:"roleid"`
	Propagate bool   `json:"propagate"`
}

func (p *PBS) user(id string) *PBSUser {
	for _, u := range p.Users {
		if u.ID == id {
			return u
		}
	}
	return nil
}

func (p *PBS) datastore(name string) *PBSDatastore {
	for _, d := range p.Datastores {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// pbsAuth verifies an auth-id (user or token) and its secret.
func (n *Node) pbsAuth(authID, secret string) bool {
	if authID == "root@pam" {
		return secret == n.m.RootPassword
	}
	uid, tok, isTok := strings.Cut(authID, "!")
	u := n.m.PBS.user(uid)
	if u == nil {
		return false
	}
	if isTok {
		h, ok := u.Tokens[tok]
		return ok && subtle.ConstantTimeCompare([]byte(h), []byte(hashSecret(secret))) == 1
	}
	return u.Password != "" && subtle.ConstantTimeCompare([]byte(u.Password), []byte(secret)) == 1
}

// pbsVisible reports whether authID may see datastore ds.
func (n *Node) pbsVisible(authID, ds string) bool {
	if authID == "root@pam" {
		return true
	}
	allowed := func(id string) bool {
		for _, a := range n.m.PBS.ACL {
			if a.AuthID != id || a.Role == "NoAccess" {
				continue
			}
			if a.Path == "/datastore/"+ds || a.Path == "/datastore/"+ds+"/" || (a.Propagate && (a.Path == "/" || a.Path == "/datastore")) || strings.HasPrefix(a.Path, "/datastore/"+ds+"/") {
				return true
			}
		}
		return false
	}
	uid, _, isTok := strings.Cut(authID, "!")
	if isTok {
		return allowed(authID) && (uid == "root@pam" || allowed(uid))
	}
	return allowed(authID)
}

// pbsCheck is what PVE does when a pbs storage is added or activated: it
// connects to the PBS (pinning the fingerprint) and lists the datastores.
func (n *Node) pbsCheck(id string, p map[string]string) error {
	server := p["server"]
	port := p["port"]
	if port == "" {
		port = "8007"
	}
	fail := func(format string, a ...any) error {
		return runErr("create storage failed: %s: error fetching datastores - %s", id, fmt.Sprintf(format, a...))
	}
	if !n.resolvesLocal(server) {
		if checkIP(server) == "" {
			return fail("500 Can't connect to %s:%s (No route to host)", server, port)
		}
		return fail("500 Can't connect to %s:%s (Name or service not known)", server, port)
	}
	if port != "8007" || !n.m.PBS.Installed || n.m.Services["proxmox-backup-proxy"] != "active" {
		return fail("500 Can't connect to %s:%s (Connection refused)", server, port)
	}
	want := PEMFingerprint(n.m.Certs.PBSPEM)
	if !strings.EqualFold(p["fingerprint"], want) {
		return fail("500 Can't connect to %s:%s (certificate verify failed)", server, port)
	}
	secret := p["password"]
	if secret == "" {
		if b, err := n.fs.ReadFile("/etc/pve/priv/storage/" + id + ".pw"); err == nil {
			secret = strings.TrimSpace(string(b))
		}
	}
	if !n.pbsAuth(p["username"], secret) {
		return fail("401 Unauthorized")
	}
	if n.m.PBS.datastore(p["datastore"]) == nil || !n.pbsVisible(p["username"], p["datastore"]) {
		return runErr("create storage failed: %s: Cannot find datastore '%s', check permissions and existence!", id, p["datastore"])
	}
	return nil
}

func (n *Node) resolvesLocal(host string) bool {
	h := n.m.Hostname
	if host == h || host == h+".mgmt.internal" || host == "localhost" || host == "127.0.0.1" {
		return true
	}
	return n.hasLocalAddr(host) && host != "127.0.0.1"
}

// PBSHandler is the PBS API on :8007.
func (n *Node) PBSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.reqs.Add(1)
		status := 200
		defer func() {
			if n.cfg.Log != nil {
				n.cfg.Log(Entry{Face: "pbs", Method: r.Method, Path: r.URL.Path, Status: status, Time: nowUTC()})
			}
		}()
		reply := func(code int, data any, msg string) {
			status = code
			w.Header().Set("Content-Type", "application/json;charset=UTF-8")
			w.WriteHeader(code)
			body := map[string]any{"data": data}
			if msg != "" {
				body["message"] = msg
			}
			_ = json.NewEncoder(w).Encode(body)
		}
		n.mu.Lock()
		installed := n.m.PBS.Installed && n.m.Services["proxmox-backup-proxy"] == "active"
		n.mu.Unlock()
		if !installed {
			reply(503, nil, "service unavailable")
			return
		}
		path := strings.TrimPrefix(r.URL.Path, "/api2/json")
		if path == "/version" && r.Method == http.MethodGet {
			reply(200, map[string]any{"version": "4.0", "release": "16", "repoid": "a1b2c3d4"}, "")
			return
		}
		authz := r.Header.Get("Authorization")
		authID := ""
		if strings.HasPrefix(authz, "PBSAPIToken") {
			v := strings.TrimLeft(strings.TrimPrefix(authz, "PBSAPIToken"), " =")
			i := strings.LastIndex(v, ":")
			n.mu.Lock()
			ok := i > 0 && strings.Contains(v[:i], "!") && n.pbsAuth(v[:i], v[i+1:])
			n.mu.Unlock()
			if ok {
				authID = v[:i]
			}
		}
		if authID == "" {
			reply(401, nil, "authentication failed - invalid credentials")
			return
		}
		switch {
		case path == "/admin/datastore" && r.Method == http.MethodGet:
			n.mu.Lock()
			out := []any{}
			for _, d := range n.m.PBS.Datastores {
				if n.pbsVisible(authID, d.Name) {
					row := map[string]any{"store": d.Name}
					if d.Comment != "" {
						row["comment"] = d.Comment
					}
					out = append(out, row)
				}
			}
			n.mu.Unlock()
			reply(200, out, "")
		case path == "/config/datastore" && r.Method == http.MethodGet:
			n.mu.Lock()
			out := []any{}
			for _, d := range n.m.PBS.Datastores {
				if n.pbsVisible(authID, d.Name) {
					out = append(out, map[string]any{"name": d.Name, "path": d.Path, "gc-schedule": d.GCSchedule})
				}
			}
			n.mu.Unlock()
			reply(200, out, "")
		default:
			reply(404, nil, "Path '"+r.URL.Path+"' not found.")
		}
	})
}
