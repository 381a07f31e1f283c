package pve

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tappaas/tappaas/lab/shell"
)

var pbsRoles = map[string]bool{"Admin": true, "Audit": true, "NoAccess": true, "DatastoreAdmin": true, "DatastoreReader": true, "DatastoreBackup": true,
	"DatastorePowerUser": true, "DatastoreAudit": true, "RemoteAdmin": true, "RemoteSyncOperator": true, "TapeAdmin": true, "TapeAudit": true, "TapeOperator": true, "TapeReader": true}

func (n *Node) cmdPBM(e *shell.Env) int {
	n.lock()
	installed := n.m.PBS.Installed
	n.unlock()
	if !installed {
		fmt.Fprintf(e.Stderr, "bash: line 1: %s: command not found\n", e.Name())
		return 127
	}
	if len(e.Args) < 2 {
		fmt.Fprintln(e.Stderr, "Error: no command specified.")
		return 255
	}
	group := e.Args[1]
	sub := ""
	rest := e.Args[2:]
	if len(rest) > 0 && group != "versions" {
		sub, rest = rest[0], rest[1:]
	}
	// proxmox-backup-manager's --delete takes a property name (repeatable),
	// not the boolean of other tools' --delete.
	var deletes, kept []string
	for i := 0; i < len(rest); i++ {
		if rest[i] == "--delete" && i+1 < len(rest) {
			deletes = append(deletes, rest[i+1])
			i++
			continue
		}
		kept = append(kept, rest[i])
	}
	c := parseCLI(kept)
	if len(deletes) > 0 {
		c.opts["delete"] = strings.Join(deletes, "\x00")
	}
	jsonOut := strings.HasPrefix(c.opts["output-format"], "json")
	delete(c.opts, "output-format")
	errf := func(format string, a ...any) int {
		fmt.Fprintf(e.Stderr, "Error: "+format+"\n", a...)
		return 255
	}
	p := &n.m.PBS
	switch group + " " + sub {
	case "cert info":
		n.lock()
		info := certInfo("proxy.pem", n.m.Certs.PBSPEM)
		n.unlock()
		fmt.Fprintf(e.Stdout, "Subject: %s\nDNS:%s\nIssuer: %s\nValidity:\n    Not Before: %s\n    Not After : %s\nFingerprint (sha256): %s\nPublic key type: id-ecPublicKey\nPublic key bits: 256\n",
			info["subject"], strings.Join(toStrings(info["san"]), " "), info["issuer"], time.Unix(info["notbefore"].(int64), 0).UTC().Format(time.RFC1123),
			time.Unix(info["notafter"].(int64), 0).UTC().Format(time.RFC1123), strings.ToLower(info["fingerprint"].(string)))
		return 0
	case "datastore create":
		if len(c.pos) < 2 {
			return errf("parameter verification errors\n\nparameter 'path': parameter is missing and it is not optional.")
		}
		name, pth := c.pos[0], c.pos[1]
		if !strings.HasPrefix(pth, "/") {
			return errf("expected an absolute path - '%s' is not", pth)
		}
		var msg string
		err := n.withLock(true, func() error {
			if p.datastore(name) != nil {
				msg = fmt.Sprintf("datastore '%s' already exists.", name)
				return fmt.Errorf("x")
			}
			if names, err := n.fs.ReadDir(pth); err == nil && len(names) > 0 {
				msg = fmt.Sprintf("datastore path '%s' is not empty", pth)
				return fmt.Errorf("x")
			}
			_ = n.fs.MkdirAll(pth+"/.chunks", 0o750)
			p.Datastores = append(p.Datastores, &PBSDatastore{Name: name, Path: pth, Comment: c.opts["comment"], GCSchedule: c.opts["gc-schedule"]})
			return nil
		})
		if err != nil {
			return errf("%s", msg)
		}
		fmt.Fprintf(e.Stdout, "Chunkstore create: 1%%\nChunkstore create: 100%%\nTASK OK\n")
		return 0
	case "datastore list":
		n.lock()
		var out []any
		for _, d := range p.Datastores {
			out = append(out, map[string]any{"name": d.Name, "path": d.Path, "comment": d.Comment})
		}
		n.unlock()
		if jsonOut {
			if out == nil {
				out = []any{}
			}
			printJSON(e, out)
			return 0
		}
		fmt.Fprintln(e.Stdout, "┌──────┬──────┬─────────┐\n│ name │ path │ comment │")
		for _, d := range out {
			m := d.(map[string]any)
			fmt.Fprintf(e.Stdout, "│ %s │ %s │ %s │\n", m["name"], m["path"], m["comment"])
		}
		return 0
	case "datastore show", "datastore update", "datastore remove":
		if len(c.pos) < 1 {
			return errf("parameter verification errors\n\nparameter 'name': parameter is missing and it is not optional.")
		}
		var d *PBSDatastore
		var out map[string]any
		err := n.withLock(sub != "show", func() error {
			d = p.datastore(c.pos[0])
			if d == nil {
				return fmt.Errorf("x")
			}
			switch sub {
			case "update":
				if v, ok := c.opts["gc-schedule"]; ok {
					// GC_SCHEDULE_SCHEMA: a calendar event.
					if err := verifyCalendarEvent(v); err != nil {
						return fmt.Errorf("parameter verification errors\n\nparameter 'gc-schedule': %v", err)
					}
					d.GCSchedule = v
				}
				if v, ok := c.opts["comment"]; ok {
					d.Comment = v
				}
			case "remove":
				out := p.Datastores[:0]
				for _, x := range p.Datastores {
					if x != d {
						out = append(out, x)
					}
				}
				p.Datastores = out
			default:
				// DataStoreConfig leaves unset options out.
				out = map[string]any{"name": d.Name, "path": d.Path}
				if d.GCSchedule != "" {
					out["gc-schedule"] = d.GCSchedule
				}
				if d.Comment != "" {
					out["comment"] = d.Comment
				}
			}
			return nil
		})
		if err != nil && d != nil {
			return errf("%v", err)
		}
		if err != nil {
			return errf("unable to parse datastore config - no such datastore '%s'", c.pos[0])
		}
		if out != nil {
			printJSON(e, out)
		}
		return 0
	case "user create", "user update":
		if len(c.pos) < 1 {
			return errf("parameter verification errors\n\nparameter 'userid': parameter is missing and it is not optional.")
		}
		id := c.pos[0]
		if !strings.HasSuffix(id, "@pbs") && !strings.HasSuffix(id, "@pam") {
			return errf("parameter verification errors\n\nparameter 'userid': value '%s' does not match the userid format", id)
		}
		var msg string
		err := n.withLock(true, func() error {
			u := p.user(id)
			if sub == "create" {
				if u != nil || id == "root@pam" {
					msg = fmt.Sprintf("user '%s' already exists.", id)
					return fmt.Errorf("x")
				}
				p.Users = append(p.Users, &PBSUser{ID: id, Password: c.opts["password"], Email: c.opts["email"]})
				return nil
			}
			if u == nil {
				msg = fmt.Sprintf("no such user '%s'", id)
				return fmt.Errorf("x")
			}
			if v, ok := c.opts["password"]; ok {
				u.Password = v
			}
			return nil
		})
		if err != nil {
			return errf("%s", msg)
		}
		return 0
	case "user list":
		n.lock()
		out := []any{map[string]any{"userid": "root@pam", "enable": true}}
		for _, u := range p.Users {
			out = append(out, map[string]any{"userid": u.ID, "enable": true, "email": u.Email})
		}
		n.unlock()
		if jsonOut {
			printJSON(e, out)
			return 0
		}
		for _, u := range out {
			fmt.Fprintln(e.Stdout, u.(map[string]any)["userid"])
		}
		return 0
	case "user generate-token":
		if len(c.pos) < 2 {
			return errf("parameter verification errors\n\nparameter 'token-name': parameter is missing and it is not optional.")
		}
		secret := newUUID()
		var msg string
		err := n.withLock(true, func() error {
			u := p.user(c.pos[0])
			if u == nil {
				msg = fmt.Sprintf("no such user '%s'", c.pos[0])
				return fmt.Errorf("x")
			}
			if _, ok := u.Tokens[c.pos[1]]; ok {
				msg = fmt.Sprintf("token '%s' for user '%s' already exists.", c.pos[1], u.ID)
				return fmt.Errorf("x")
			}
			if u.Tokens == nil {
				u.Tokens = map[string]string{}
			}
			u.Tokens[c.pos[1]] = hashSecret(secret)
			return nil
		})
		if err != nil {
			return errf("%s", msg)
		}
		b, _ := json.Marshal(map[string]string{"tokenid": c.pos[0] + "!" + c.pos[1], "value": secret})
		if jsonOut {
			fmt.Fprintf(e.Stdout, "%s\n", b)
		} else {
			fmt.Fprintf(e.Stdout, "Result: %s\n", b)
		}
		return 0
	case "user list-tokens", "user delete-token":
		if len(c.pos) < 1 {
			return errf("parameter verification errors\n\nparameter 'userid': parameter is missing and it is not optional.")
		}
		var out []any
		var msg string
		err := n.withLock(sub == "delete-token", func() error {
			u := p.user(c.pos[0])
			if u == nil {
				msg = fmt.Sprintf("no such user '%s'", c.pos[0])
				return fmt.Errorf("x")
			}
			if sub == "delete-token" {
				if len(c.pos) < 2 || u.Tokens[c.pos[1]] == "" {
					msg = "no such token"
					return fmt.Errorf("x")
				}
				delete(u.Tokens, c.pos[1])
				return nil
			}
			for _, k := range sortedKeys(u.Tokens) {
				out = append(out, map[string]any{"tokenid": u.ID + "!" + k, "enable": true})
			}
			return nil
		})
		if err != nil {
			return errf("%s", msg)
		}
		if sub == "list-tokens" {
			if out == nil {
				out = []any{}
			}
			printJSON(e, out)
		}
		return 0
	case "user permissions":
		if len(c.pos) < 1 {
			return errf("parameter verification errors\n\nparameter 'auth-id': parameter is missing and it is not optional.")
		}
		n.lock()
		path := c.opts["path"]
		ds := strings.TrimPrefix(path, "/datastore/")
		ok := n.pbsVisible(c.pos[0], ds)
		n.unlock()
		if ok {
			fmt.Fprintf(e.Stdout, "Privileges with (*) have the propagate flag set\n\nPath: %s\n- Datastore.Audit (*)\n- Datastore.Backup (*)\n", path)
		} else {
			fmt.Fprintf(e.Stdout, "Privileges with (*) have the propagate flag set\n\nPath: %s\n", path)
		}
		return 0
	case "acl update":
		if len(c.pos) < 2 || c.opts["auth-id"] == "" {
			return errf("parameter verification errors\n\nparameter 'auth-id': parameter is missing and it is not optional.")
		}
		path, role, id := c.pos[0], c.pos[1], c.opts["auth-id"]
		if !pbsRoles[role] {
			return errf("parameter verification errors\n\nparameter 'role': value '%s' is not defined in the enumeration.", role)
		}
		var msg string
		err := n.withLock(true, func() error {
			uid, tok, isTok := strings.Cut(id, "!")
			u := p.user(uid)
			if uid != "root@pam" && (u == nil || (isTok && u.Tokens[tok] == "")) {
				msg = fmt.Sprintf("no such user '%s'.", id)
				return fmt.Errorf("x")
			}
			del := c.opts["delete"] == "1"
			for i, a := range p.ACL {
				if a.Path == path && a.AuthID == id && a.Role == role {
					if del {
						p.ACL = append(p.ACL[:i], p.ACL[i+1:]...)
					}
					return nil
				}
			}
			if !del {
				p.ACL = append(p.ACL, PBSACL{Path: path, AuthID: id, Role: role, Propagate: c.opts["propagate"] != "0"})
			}
			return nil
		})
		if err != nil {
			return errf("%s", msg)
		}
		return 0
	case "acl list":
		n.lock()
		out := []any{}
		for _, a := range p.ACL {
			out = append(out, map[string]any{"path": a.Path, "ugid": a.AuthID, "roleid": a.Role, "propagate": a.Propagate, "ugid_type": "user"})
		}
		n.unlock()
		printJSON(e, out)
		return 0
	case "prune-job create", "verify-job create":
		if len(c.pos) < 1 {
			return errf("parameter verification errors\n\nparameter 'id': parameter is missing and it is not optional.")
		}
		if group == "prune-job" {
			if errs := pruneJobErrors(c.pos[0], c.opts, true); len(errs) > 0 {
				return errf("parameter verification errors\n\n%s", strings.Join(errs, "\n"))
			}
		}
		if c.opts["store"] == "" {
			return errf("parameter verification errors\n\nparameter 'store': parameter is missing and it is not optional.")
		}
		var msg string
		err := n.withLock(true, func() error {
			if p.datastore(c.opts["store"]) == nil {
				msg = fmt.Sprintf("no such datastore '%s'", c.opts["store"])
				return fmt.Errorf("x")
			}
			for _, j := range p.Jobs {
				if j["id"] == c.pos[0] {
					msg = fmt.Sprintf("job '%s' already exists.", c.pos[0])
					return fmt.Errorf("x")
				}
			}
			j := map[string]string{"id": c.pos[0], "kind": group}
			for k, v := range c.opts {
				j[k] = v
			}
			p.Jobs = append(p.Jobs, j)
			return nil
		})
		if err != nil {
			return errf("%s", msg)
		}
		return 0
	case "prune-job list", "verify-job list":
		n.lock()
		out := []any{}
		for _, j := range p.Jobs {
			if j["kind"] == group {
				out = append(out, pruneJobJSON(j))
			}
		}
		n.unlock()
		printJSON(e, out)
		return 0
	case "prune-job update":
		// update_prune_job (proxmox-backup src/api2/config/prune.rs): the
		// given options replace the stored ones.
		if len(c.pos) < 1 {
			return errf("parameter verification errors\n\nparameter 'id': parameter is missing and it is not optional.")
		}
		if errs := pruneJobErrors(c.pos[0], c.opts, false); len(errs) > 0 {
			return errf("parameter verification errors\n\n%s", strings.Join(errs, "\n"))
		}
		var found bool
		_ = n.withLock(true, func() error {
			for _, j := range p.Jobs {
				if j["kind"] == group && j["id"] == c.pos[0] {
					found = true
					for k, v := range c.opts {
						if k == "delete" {
							for _, d := range strings.Split(v, "\x00") {
								delete(j, d)
							}
							continue
						}
						j[k] = v
					}
				}
			}
			return nil
		})
		if !found {
			return errf("no such prune job '%s'", c.pos[0])
		}
		return 0
	}
	if group == "versions" {
		fmt.Fprintln(e.Stdout, "proxmox-backup-server 4.0.16-1 running version: 4.0.16")
		return 0
	}
	return errf("no such command '%s %s'", group, sub)
}

func toStrings(v any) []string {
	s, _ := v.([]string)
	return s
}
