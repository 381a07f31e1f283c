package shell

import (
	"strconv"
	"strings"
)

// nobody is the credential of a user the host does not know (the
// overflow uid/gid 65534 of Linux): it owns nothing.
var nobody = Cred{UID: 65534, GID: 65534}

// account is one /etc/passwd entry.
type account struct {
	name     string
	uid, gid int
}

// passwd reads fsys's /etc/passwd (name:x:uid:gid:...). root is always
// known, as uid 0, also on a host without the file.
func passwd(fsys FS) []account {
	out := []account{{name: "root"}}
	b, err := fsys.ReadFile("/etc/passwd")
	if err != nil {
		return out
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 4 || f[0] == "root" {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 == nil && err2 == nil {
			out = append(out, account{name: f[0], uid: uid, gid: gid})
		}
	}
	return out
}

// groupEntry is one /etc/group entry.
type groupEntry struct {
	name    string
	gid     int
	members []string
}

// groups reads fsys's /etc/group (name:x:gid:member,...); root's group
// 0 is always known.
func groups(fsys FS) []groupEntry {
	out := []groupEntry{{name: "root"}}
	b, err := fsys.ReadFile("/etc/group")
	if err != nil {
		return out
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 3 || f[0] == "root" {
			continue
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		var members []string
		if len(f) > 3 && f[3] != "" {
			members = strings.Split(f[3], ",")
		}
		out = append(out, groupEntry{name: f[0], gid: gid, members: members})
	}
	return out
}

// UserCred is the credential user has on the host whose files fsys holds:
// uid and primary group from /etc/passwd, supplementary groups from
// /etc/group, as login(1) sets them. root is uid 0; a user the host does
// not know gets nobody's ids (65534).
func UserCred(fsys FS, user string) Cred {
	if user == "root" {
		return Cred{}
	}
	for _, a := range passwd(fsys) {
		if a.name != user {
			continue
		}
		c := Cred{UID: a.uid, GID: a.gid}
		for _, g := range groups(fsys) {
			for _, m := range g.members {
				if m == user && g.gid != a.gid {
					c.Groups = append(c.Groups, g.gid)
				}
			}
		}
		return c
	}
	return nobody
}

// UserFS is base as user sees it: base itself for root, else, when base
// keeps owners (MemFS), its view with user's credential (MemFS.As). A
// simulated host's Interp.FSFor returns it so that every command a user
// runs is bound by the kernel's permission rules.
func UserFS(user string, base FS) FS {
	v, ok := base.(interface{ As(Cred) FS })
	if !ok || user == "root" {
		return base
	}
	return v.As(UserCred(base, user))
}

// userName is the name of uid on fsys's host (its number when unknown), as
// ls -l and stat %U show it.
func userName(fsys FS, uid int) string {
	for _, a := range passwd(fsys) {
		if a.uid == uid {
			return a.name
		}
	}
	return strconv.Itoa(uid)
}

// groupName is the name of gid (its number when unknown).
func groupName(fsys FS, gid int) string {
	for _, g := range groups(fsys) {
		if g.gid == gid {
			return g.name
		}
	}
	return strconv.Itoa(gid)
}

// lookupUID resolves a user name or number for chown.
func lookupUID(fsys FS, s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, true
	}
	for _, a := range passwd(fsys) {
		if a.name == s {
			return a.uid, true
		}
	}
	return 0, false
}

// lookupGID resolves a group name or number for chown.
func lookupGID(fsys FS, s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 {
		return n, true
	}
	for _, g := range groups(fsys) {
		if g.name == s {
			return g.gid, true
		}
	}
	return 0, false
}

// primaryGID is user's login group, for chown USER: (GNU: the user's
// login group).
func primaryGID(fsys FS, uid int) (int, bool) {
	for _, a := range passwd(fsys) {
		if a.uid == uid {
			return a.gid, true
		}
	}
	return 0, false
}
