package lab

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/tappaas/tappaas/lab/pve"
	"github.com/tappaas/tappaas/lab/shell"
	"github.com/tappaas/tappaas/lab/sshd"
	"golang.org/x/crypto/ssh"
)

// BootstrapRootPassword is the firewall image's root password (bootstrap.md §0).
const BootstrapRootPassword = "opnsense"

var authKeysRe = regexp.MustCompile(`<authorizedkeys>([^<]*)</authorizedkeys>`)

// fwSSH is the firewall's SSH face: root with the image's bootstrap
// password until a config.xml has been applied, then the keys that config
// authorises. `cp … /conf/config.xml; /usr/local/etc/rc.reload_all`
// applies the pushed config to the simulated OPNsense (API keys).
type fwSSH struct {
	srv     *sshd.Server
	fs      shell.FS
	applied bool
	keys    []ssh.PublicKey
}

// startFirewallSSH starts the firewall's sshd (called with l.mu held).
func (l *Lab) startFirewallSSH(fw *fwState) {
	hostPEM, err := pve.GenHostKey()
	if err != nil {
		return
	}
	signer, err := pve.ParseSigner(hostPEM)
	if err != nil {
		return
	}
	f := &fwSSH{fs: shell.NewMemFS()}
	_ = f.fs.MkdirAll("/conf", 0o755)
	_ = f.fs.WriteFile("/conf/config.xml", []byte("<?xml version=\"1.0\"?>\n<opnsense>\n  <!-- lab: first-boot configuration -->\n</opnsense>\n"), 0o644)
	in := shell.New(f.fs)
	in.Host.Hostname = "OPNsense"
	in.Host.Domain = "internal"
	in.Sleep = l.sleeper
	registerBinSh(in)
	srv := fw.srv
	reload := func(e *shell.Env) int {
		b, err := e.FS.ReadFile("/conf/config.xml")
		if err != nil {
			return e.Errorf(1, "/conf/config.xml: %s", shell.ErrText(err))
		}
		n, err := srv.ApplyConfigXML(b)
		if err != nil {
			return e.Errorf(1, "%v", err)
		}
		var keys []ssh.PublicKey
		if m := authKeysRe.FindSubmatch(b); m != nil {
			if dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(m[1]))); err == nil {
				rest := dec
				for len(rest) > 0 {
					pk, _, _, r, err := ssh.ParseAuthorizedKey(rest)
					if err != nil {
						break
					}
					keys = append(keys, pk)
					rest = r
				}
			}
		}
		l.mu.Lock()
		f.applied, f.keys = true, keys
		l.mu.Unlock()
		l.scheduleSave()
		fmt.Fprintf(e.Stdout, "Reloading the configuration (%d API key(s))...done.\n", n)
		return 0
	}
	in.Register("/usr/local/etc/rc.reload_all", reload)
	in.Register("configctl", func(e *shell.Env) int { return 0 })
	s, err := sshd.Listen("127.0.0.1:0", sshd.Config{
		HostKey:       signer,
		ServerVersion: "SSH-2.0-OpenSSH_9.9",
		Password: func(user, pass string) bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			return user == "root" && pass == BootstrapRootPassword && !f.applied
		},
		AuthorizedKeys: func(user string, key ssh.PublicKey) bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			if user != "root" {
				return false
			}
			for _, k := range f.keys {
				if string(k.Marshal()) == string(key.Marshal()) {
					return true
				}
			}
			return false
		},
		Handler: func(ctx context.Context, user, command string, stdin io.Reader, stdout, stderr io.Writer) int {
			return in.Run(ctx, command, stdin, stdout, stderr, map[string]string{"USER": user})
		},
		OnCommand: func(user, command string) {
			l.logEntry(pve.Entry{Time: time.Now().UTC(), Face: "ssh", User: user + "@firewall", Command: pve.MaskCommand(command)})
		},
	})
	if err != nil {
		return
	}
	f.srv = s
	fw.ssh = f
}
