package pve

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// JoinRequest is what a joining node sends to an existing member.
type JoinRequest struct {
	Hostname    string // the member to contact
	Password    string // the member's root@pam password
	Fingerprint string // the member's PVE certificate fingerprint ("" = accepted interactively)
	Name        string // the joining node
	Addr        string // its link0 address
}

// JoinResult is the cluster state the joiner adopts (/etc/pve is shared).
type JoinResult struct {
	Cluster  Cluster
	Users    []*User
	ACL      []ACL
	Storages []*Storage
	CAPEM    string
	CAKeyPEM string
	Secret   string
	// SetFP records the joiner's new certificate fingerprint at the member.
	SetFP func(fp string)
}

// AcceptJoin is the member side of POST /cluster/config/join.
func (n *Node) AcceptJoin(req JoinRequest) (*JoinResult, error) {
	n.lock()
	defer n.unlock()
	m := n.m
	if m.Cluster == nil {
		return nil, fmt.Errorf("unable to join: node '%s' is not in a cluster, no join info available", req.Hostname)
	}
	if req.Password != m.RootPassword {
		return nil, fmt.Errorf("authentication failure")
	}
	fp := PEMFingerprint(m.Certs.NodePEM)
	if req.Fingerprint != "" && !strings.EqualFold(req.Fingerprint, fp) {
		return nil, runErr("Certificate fingerprint mismatch: '%s' is not the fingerprint of %s ('%s')", req.Fingerprint, req.Hostname, fp)
	}
	maxID := 0
	for _, mb := range m.Cluster.Members {
		if mb.Name == req.Name {
			return nil, fmt.Errorf("unable to add node: a node named '%s' already exists in the cluster", req.Name)
		}
		if mb.Addr == req.Addr {
			return nil, fmt.Errorf("unable to add node: address %s is already used by node '%s'", req.Addr, mb.Name)
		}
		maxID = max(maxID, mb.NodeID)
	}
	m.Cluster.Members = append(m.Cluster.Members, Member{Name: req.Name, NodeID: maxID + 1, Addr: req.Addr})
	m.Cluster.Version++
	n.mut[0].Add(1)
	n.changed()
	res := &JoinResult{Cluster: *m.Cluster, CAPEM: m.Certs.CAPEM, CAKeyPEM: m.Certs.CAKeyPEM, Secret: m.Secret}
	res.Cluster.Members = append([]Member(nil), m.Cluster.Members...)
	res.Cluster.NodeID = maxID + 1
	for _, u := range m.Users {
		c := *u
		c.Tokens = map[string]*Token{}
		for k, t := range u.Tokens {
			tc := *t
			c.Tokens[k] = &tc
		}
		res.Users = append(res.Users, &c)
	}
	res.ACL = append([]ACL(nil), m.ACL...)
	for _, s := range m.Storages {
		c := &Storage{ID: s.ID, Type: s.Type, Config: map[string]string{}}
		for k, v := range s.Config {
			c.Config[k] = v
		}
		res.Storages = append(res.Storages, c)
	}
	name := req.Name
	res.SetFP = func(fp string) {
		n.lock()
		defer n.unlock()
		for i := range n.m.Cluster.Members {
			if n.m.Cluster.Members[i].Name == name {
				n.m.Cluster.Members[i].FP = fp
			}
		}
		n.changed()
	}
	return res, nil
}

// join is the joiner side (POST /cluster/config/join, pvecm add).
func (n *Node) join(auth authInfo, hostname, password, fingerprint, link0 string) (*Task, error) {
	m := n.m
	if m.Cluster != nil {
		return nil, runErr("detected existing cluster config - this host is already a cluster member")
	}
	if len(m.VMs) > 0 {
		return nil, runErr("this host already contains virtual guests")
	}
	if n.cfg.Join == nil {
		return nil, runErr("unable to join cluster: peer '%s' is not reachable from the lab node", hostname)
	}
	addr := strings.TrimPrefix(strings.Split(link0, ",")[0], "address=")
	if addr == "" {
		addr = m.NodeAddr
	}
	if !n.hasLocalAddr(addr) {
		return nil, runErr("cannot use IP '%s', not found on local node!", addr)
	}
	res, err := n.cfg.Join(JoinRequest{Hostname: hostname, Password: password, Fingerprint: fingerprint, Name: m.Hostname, Addr: addr})
	if err != nil {
		return nil, runErr("%s", err.Error())
	}
	cl := res.Cluster
	cl.Link0 = addr
	cl.Created = time.Now().UTC()
	m.Cluster = &cl
	m.Users, m.ACL, m.Storages = res.Users, res.ACL, res.Storages
	m.Certs.CAPEM, m.Certs.CAKeyPEM = res.CAPEM, res.CAKeyPEM
	m.Secret = res.Secret
	m.Services["corosync"] = "active"
	if err := n.regenCert(); err != nil {
		return nil, runErr("%v", err)
	}
	_ = n.fs.WriteFile("/etc/pve/pve-root-ca.pem", []byte(res.CAPEM), 0o640)
	_ = n.fs.WriteFile("/etc/pve/priv/pve-root-ca.key", []byte(res.CAKeyPEM), 0o600)
	_ = n.fs.Remove("/etc/pve/corosync.conf")
	fp := PEMFingerprint(m.Certs.NodePEM)
	if res.SetFP != nil {
		n.after(func() { res.SetFP(fp) })
	}
	lines := []string{"Establishing API connection with host '" + hostname + "'", "Login succeeded.", "check cluster join API version",
		"Request addition of this node", "Join request OK, finishing setup locally", "stopping pve-cluster service", "backup old database to '/var/lib/pve-cluster/backup/config-" + strconv.FormatInt(time.Now().Unix(), 10) + ".sql.gz'",
		"waiting for quorum...OK", "(re)generate node files", "generate new node certificate", "merge authorized SSH keys", "generated new node certificate, restart pveproxy and pvedaemon services", "successfully added node '" + m.Hostname + "' to cluster."}
	return n.newTask("clusterjoin", "", auth.authID(), 10*time.Second, lines, ""), nil
}
