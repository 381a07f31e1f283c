package pve

import (
	"regexp"
	"sort"
	"strings"
	"time"
)

func hVersion(c *call) (any, error) {
	return map[string]any{"version": PVEVersion, "release": PVERelease, "repoid": PVERepoID}, nil
}

func (n *Node) checkNode(c *call) error {
	if nd, ok := c.p["node"]; ok && nd != n.m.Hostname {
		return runErr("hostname lookup '%s' failed - failed to get address info for: %s: Name or service not known", nd, nd)
	}
	return nil
}

func hNodes(c *call) (any, error) {
	m := c.n.m
	return []any{map[string]any{
		"node": m.Hostname, "status": "online", "cpu": 0.031, "maxcpu": 4, "mem": 3 << 30, "maxmem": 16 << 30,
		"disk": 5 << 30, "maxdisk": 68 << 30, "uptime": int(time.Since(m.Booted).Seconds()), "level": "",
		"id": "node/" + m.Hostname, "type": "node", "ssl_fingerprint": PEMFingerprint(m.Certs.NodePEM),
	}}, nil
}

func hNodeStatus(c *call) (any, error) {
	if err := c.n.checkNode(c); err != nil {
		return nil, err
	}
	m := c.n.m
	return map[string]any{
		"cpu": 0.031, "wait": 0.0, "uptime": int(time.Since(m.Booted).Seconds()),
		"cpuinfo":        map[string]any{"model": "Intel(R) N100", "cores": 4, "cpus": 4, "sockets": 1, "mhz": "3400.000", "hvm": "1", "user_hz": 100, "flags": "fpu vme de pse"},
		"memory":         map[string]any{"total": 16 << 30, "used": 3 << 30, "free": 13 << 30},
		"swap":           map[string]any{"total": 8 << 30, "used": 0, "free": 8 << 30},
		"rootfs":         map[string]any{"total": 68 << 30, "used": 5 << 30, "avail": 63 << 30, "free": 63 << 30},
		"loadavg":        []string{"0.10", "0.05", "0.01"},
		"kversion":       "Linux " + Kernel + " #1 SMP PREEMPT_DYNAMIC PMX " + Kernel + " (2026-10-01T10:00Z) x86_64",
		"pveversion":     "pve-manager/" + PVEVersion + "/" + PVERepoID,
		"current-kernel": map[string]any{"sysname": "Linux", "release": Kernel, "machine": "x86_64", "version": "#1 SMP PREEMPT_DYNAMIC PMX"},
		"boot-info":      map[string]any{"mode": "efi", "secureboot": 0},
		"ksm":            map[string]any{"shared": 0},
	}, nil
}

func hNodeVersion(c *call) (any, error) {
	if err := c.n.checkNode(c); err != nil {
		return nil, err
	}
	return hVersion(c)
}

func hCertInfo(c *call) (any, error) {
	if err := c.n.checkNode(c); err != nil {
		return nil, err
	}
	m := c.n.m
	return []any{certInfo("pve-root-ca.pem", m.Certs.CAPEM), certInfo("pve-ssl.pem", m.Certs.NodePEM)}, nil
}

// --- tasks ---

func hTaskList(c *call) (any, error) {
	if err := c.n.checkNode(c); err != nil {
		return nil, err
	}
	now := time.Now()
	out := []any{}
	limit := c.int("limit", 50)
	// Filters apply before the page (start, limit), and "total" counts
	// every match (pve-manager PVE/API2/Tasks.pm, node_tasks).
	total := 0
	start := c.int("start", 0)
	for i := len(c.n.m.Tasks) - 1; i >= 0; i-- {
		t := c.n.m.Tasks[i]
		if c.has("typefilter") && t.Type != c.p["typefilter"] {
			continue
		}
		if c.has("vmid") && t.ID != c.p["vmid"] {
			continue
		}
		total++
		if total <= start || len(out) >= limit {
			continue
		}
		s := t.statusJSON(now)
		if st, ok := s["exitstatus"]; ok {
			s["status"] = st
		} else {
			delete(s, "status")
		}
		delete(s, "exitstatus")
		out = append(out, s)
	}
	c.extra["total"] = total
	return out, nil
}

func (n *Node) taskFor(c *call) (*Task, error) {
	node, ok := parseUPID(c.p["upid"])
	if !ok {
		return nil, paramErr("upid", "unable to parse worker upid '"+c.p["upid"]+"'")
	}
	if node != n.m.Hostname {
		return nil, paramErr("upid", "no such task")
	}
	t := n.task(c.p["upid"])
	if t == nil {
		return nil, paramErr("upid", "no such task")
	}
	return t, nil
}

func hTaskStatus(c *call) (any, error) {
	t, err := c.n.taskFor(c)
	if err != nil {
		return nil, err
	}
	return t.statusJSON(time.Now()), nil
}

func hTaskLog(c *call) (any, error) {
	t, err := c.n.taskFor(c)
	if err != nil {
		return nil, err
	}
	lines := t.visibleLog(time.Now())
	start, limit := c.int("start", 0), c.int("limit", 50)
	out := []any{}
	if len(lines) == 0 && !t.running(time.Now()) {
		out = append(out, map[string]any{"n": 1, "t": "no content"})
	}
	for i := start; i < len(lines) && len(out) < limit; i++ {
		out = append(out, map[string]any{"n": i + 1, "t": lines[i]})
	}
	c.extra["total"] = len(lines)
	return out, nil
}

func hTaskStop(c *call) (any, error) {
	t, err := c.n.taskFor(c)
	if err != nil {
		return nil, err
	}
	if t.running(time.Now()) {
		t.FinishAt = time.Now()
		t.Exit = "interrupted by signal"
		t.Log = append(t.Log[:len(t.Log)-1], "received interrupt", "TASK ERROR: interrupted by signal")
	}
	return nil, nil
}

// --- access ---

var useridRe = regexp.MustCompile(`^[^\s:/]+@[A-Za-z][A-Za-z0-9\.\-_]+$`)
var tokenRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9\.\-_]+$`)

func hTicket(c *call) (any, error) {
	n := c.n
	user := c.p["username"]
	if r := c.p["realm"]; r != "" && !strings.Contains(user, "@") {
		user += "@" + r
	}
	pw := c.p["password"]
	ok := false
	if strings.HasPrefix(pw, "PVE:") {
		if u, _, valid := n.checkTicket(pw); valid && u == user {
			ok = true
		}
	} else if u := n.m.user(user); u != nil && u.Enable {
		if user == "root@pam" {
			ok = pw == n.m.RootPassword
		} else if strings.HasSuffix(user, "@pve") {
			ok = u.Password != "" && u.Password == pw
		}
	}
	if !ok {
		return nil, &APIError{Code: 401, Msg: "authentication failure"}
	}
	t, csrf := n.newTicket(user)
	out := map[string]any{"username": user, "ticket": t, "CSRFPreventionToken": csrf,
		"cap": map[string]any{"vms": map[string]int{"VM.Allocate": 1}, "nodes": map[string]int{"Sys.Audit": 1}}}
	if n.m.Cluster != nil {
		out["clustername"] = n.m.Cluster.Name
	}
	return out, nil
}

func hDomains(c *call) (any, error) {
	return []any{
		map[string]any{"realm": "pam", "type": "pam", "comment": "Linux PAM standard authentication"},
		map[string]any{"realm": "pve", "type": "pve", "comment": "Proxmox VE authentication server"},
	}, nil
}

func userJSON(u *User) map[string]any {
	en := 0
	if u.Enable {
		en = 1
	}
	out := map[string]any{"userid": u.ID, "enable": en, "expire": 0, "realm-type": strings.SplitN(u.ID, "@", 2)[1]}
	if u.Comment != "" {
		out["comment"] = u.Comment
	}
	if u.Email != "" {
		out["email"] = u.Email
	}
	var toks []any
	for _, k := range sortedKeys(u.Tokens) {
		toks = append(toks, tokenJSON(k, u.Tokens[k]))
	}
	if toks != nil {
		out["tokens"] = toks
	}
	return out
}

func tokenJSON(id string, t *Token) map[string]any {
	ps := 0
	if t.Privsep {
		ps = 1
	}
	out := map[string]any{"tokenid": id, "privsep": ps, "expire": t.Expire}
	if t.Comment != "" {
		out["comment"] = t.Comment
	}
	return out
}

func hUsers(c *call) (any, error) {
	out := []any{}
	for _, u := range c.n.m.Users {
		out = append(out, userJSON(u))
	}
	return out, nil
}

func (n *Node) userArg(c *call) (*User, error) {
	u := n.m.user(c.p["userid"])
	if u == nil {
		return nil, runErr("no such user ('%s')", c.p["userid"])
	}
	return u, nil
}

func hUser(c *call) (any, error) {
	u, err := c.n.userArg(c)
	if err != nil {
		return nil, err
	}
	return userJSON(u), nil
}

// CreateUser adds a user (POST /access/users, pveum user add).
func (n *Node) createUser(p map[string]string) error {
	id := p["userid"]
	if !useridRe.MatchString(id) {
		return paramErr("userid", "value does not match the regex pattern")
	}
	realm := id[strings.LastIndex(id, "@")+1:]
	if realm != "pam" && realm != "pve" {
		return paramErr("userid", "unknown realm '"+realm+"'")
	}
	if n.m.user(id) != nil {
		return runErr("create user failed: user '%s' already exists", id)
	}
	u := &User{ID: id, Comment: p["comment"], Email: p["email"], Enable: p["enable"] != "0", Password: p["password"]}
	if p["password"] != "" && realm != "pve" {
		return runErr("create user failed: password change for realm '%s' not supported here", realm)
	}
	n.m.Users = append(n.m.Users, u)
	return nil
}

func hUserCreate(c *call) (any, error) { return nil, c.n.createUser(c.p) }

func hUserUpdate(c *call) (any, error) {
	u, err := c.n.userArg(c)
	if err != nil {
		return nil, err
	}
	if c.has("comment") {
		u.Comment = c.p["comment"]
	}
	if c.has("email") {
		u.Email = c.p["email"]
	}
	if c.has("enable") {
		u.Enable = c.bool("enable")
	}
	return nil, nil
}

func hUserDelete(c *call) (any, error) {
	u, err := c.n.userArg(c)
	if err != nil {
		return nil, err
	}
	if u.ID == "root@pam" {
		return nil, runErr("delete user failed: cannot delete root@pam")
	}
	out := c.n.m.Users[:0]
	for _, x := range c.n.m.Users {
		if x != u {
			out = append(out, x)
		}
	}
	c.n.m.Users = out
	acl := c.n.m.ACL[:0]
	for _, a := range c.n.m.ACL {
		if a.UGID != u.ID && !strings.HasPrefix(a.UGID, u.ID+"!") {
			acl = append(acl, a)
		}
	}
	c.n.m.ACL = acl
	return nil, nil
}

func hTokens(c *call) (any, error) {
	u, err := c.n.userArg(c)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, k := range sortedKeys(u.Tokens) {
		out = append(out, tokenJSON(k, u.Tokens[k]))
	}
	return out, nil
}

func hToken(c *call) (any, error) {
	u, err := c.n.userArg(c)
	if err != nil {
		return nil, err
	}
	t := u.Tokens[c.p["tokenid"]]
	if t == nil {
		return nil, runErr("no such token '%s' for user '%s'", c.p["tokenid"], u.ID)
	}
	return tokenJSON(c.p["tokenid"], t), nil
}

// createToken makes a token and returns its one-time secret.
func (n *Node) createToken(userid, tokenid, comment string, privsep bool, expire int64) (map[string]any, error) {
	u := n.m.user(userid)
	if u == nil {
		return nil, runErr("no such user ('%s')", userid)
	}
	if !tokenRe.MatchString(tokenid) {
		return nil, paramErr("tokenid", "invalid format - invalid token ID")
	}
	if _, ok := u.Tokens[tokenid]; ok {
		return nil, paramErr("tokenid", "Token already exists.")
	}
	if u.Tokens == nil {
		u.Tokens = map[string]*Token{}
	}
	secret := newUUID()
	t := &Token{SecretHash: hashSecret(secret), Comment: comment, Privsep: privsep, Expire: expire}
	u.Tokens[tokenid] = t
	return map[string]any{"full-tokenid": userid + "!" + tokenid, "info": tokenJSON(tokenid, t), "value": secret}, nil
}

func hTokenCreate(c *call) (any, error) {
	privsep := true
	if c.has("privsep") {
		privsep = c.bool("privsep")
	}
	return c.n.createToken(c.p["userid"], c.p["tokenid"], c.p["comment"], privsep, int64(c.int("expire", 0)))
}

func hTokenUpdate(c *call) (any, error) {
	u, err := c.n.userArg(c)
	if err != nil {
		return nil, err
	}
	t := u.Tokens[c.p["tokenid"]]
	if t == nil {
		return nil, runErr("no such token '%s' for user '%s'", c.p["tokenid"], u.ID)
	}
	if c.has("comment") {
		t.Comment = c.p["comment"]
	}
	if c.has("privsep") {
		t.Privsep = c.bool("privsep")
	}
	return tokenJSON(c.p["tokenid"], t), nil
}

func hTokenDelete(c *call) (any, error) {
	u, err := c.n.userArg(c)
	if err != nil {
		return nil, err
	}
	if u.Tokens[c.p["tokenid"]] == nil {
		return nil, runErr("no such token '%s' for user '%s'", c.p["tokenid"], u.ID)
	}
	delete(u.Tokens, c.p["tokenid"])
	return nil, nil
}

func hACL(c *call) (any, error) {
	out := []any{}
	for _, a := range c.n.m.ACL {
		p := 0
		if a.Propagate {
			p = 1
		}
		out = append(out, map[string]any{"path": a.Path, "type": a.Type, "ugid": a.UGID, "roleid": a.Role, "propagate": p})
	}
	return out, nil
}

// updateACL is PUT /access/acl and pveum acl modify.
func (n *Node) updateACL(p map[string]string) error {
	path := p["path"]
	if !strings.HasPrefix(path, "/") {
		return paramErr("path", "invalid ACL path '"+path+"'")
	}
	roles := splitList(p["roles"])
	for _, r := range roles {
		if _, ok := rolePrivs[r]; !ok {
			return runErr("role '%s' does not exist", r)
		}
	}
	propagate := p["propagate"] != "0"
	del := p["delete"] == "1"
	type subj struct{ t, id string }
	var subs []subj
	for _, u := range splitList(p["users"]) {
		if n.m.user(u) == nil {
			return runErr("user '%s' does not exist", u)
		}
		subs = append(subs, subj{"user", u})
	}
	for _, t := range splitList(p["tokens"]) {
		i := strings.Index(t, "!")
		u := n.m.user(t[:max(i, 0)])
		if i < 0 || u == nil || u.Tokens[t[i+1:]] == nil {
			return runErr("token '%s' does not exist", t)
		}
		subs = append(subs, subj{"token", t})
	}
	for _, g := range splitList(p["groups"]) {
		subs = append(subs, subj{"group", g})
	}
	if len(subs) == 0 {
		return paramErr("users", "either 'users', 'groups' or 'tokens' is required")
	}
	for _, s := range subs {
		for _, r := range roles {
			idx := -1
			for i, a := range n.m.ACL {
				if a.Path == path && a.Type == s.t && a.UGID == s.id && a.Role == r {
					idx = i
				}
			}
			if del {
				if idx >= 0 {
					n.m.ACL = append(n.m.ACL[:idx], n.m.ACL[idx+1:]...)
				}
				continue
			}
			if idx >= 0 {
				n.m.ACL[idx].Propagate = propagate
			} else {
				n.m.ACL = append(n.m.ACL, ACL{Path: path, Type: s.t, UGID: s.id, Role: r, Propagate: propagate})
			}
		}
	}
	sort.SliceStable(n.m.ACL, func(i, j int) bool { return n.m.ACL[i].Path < n.m.ACL[j].Path })
	return nil
}

func hACLUpdate(c *call) (any, error) { return nil, c.n.updateACL(c.p) }

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\x00' })
}
