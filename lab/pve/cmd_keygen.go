package pve

import (
	"fmt"
	"strings"

	"github.com/tappaas/tappaas/lab/shell"
	"golang.org/x/crypto/ssh"
)

// cmdSSHKeygen understands -y -f (public key of a private key), -l -f
// (fingerprint) and -t ed25519 -f FILE -N ” [-C comment] (generate).
func (n *Node) cmdSSHKeygen(e *shell.Env) int {
	var file, comment, typ string
	pub, list, newPass := false, false, false
	for i := 1; i < len(e.Args); i++ {
		a := e.Args[i]
		next := func() string {
			if i+1 < len(e.Args) {
				i++
				return e.Args[i]
			}
			return ""
		}
		switch a {
		case "-y":
			pub = true
		case "-l":
			list = true
		case "-f":
			file = e.Abs(next())
		case "-C":
			comment = next()
		case "-t":
			typ = next()
		case "-N":
			next()
			newPass = true
		case "-q":
		}
	}
	if file == "" {
		fmt.Fprintln(e.Stderr, "ssh-keygen: lab: -f FILE is required")
		return 1
	}
	switch {
	case pub:
		b, err := n.fs.ReadFile(file)
		if err != nil {
			fmt.Fprintf(e.Stderr, "%s: No such file or directory\n", file)
			return 255
		}
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			fmt.Fprintf(e.Stderr, "Load key \"%s\": invalid format\n", file)
			return 255
		}
		fmt.Fprintln(e.Stdout, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey()))))
		return 0
	case list:
		b, err := n.fs.ReadFile(file)
		if err != nil {
			fmt.Fprintf(e.Stderr, "%s: No such file or directory\n", file)
			return 255
		}
		var k ssh.PublicKey
		if s, err := ssh.ParsePrivateKey(b); err == nil {
			k = s.PublicKey()
		} else if pk, _, _, _, err := ssh.ParseAuthorizedKey(b); err == nil {
			k = pk
		} else {
			fmt.Fprintf(e.Stderr, "%s is not a key file.\n", file)
			return 255
		}
		fmt.Fprintf(e.Stdout, "256 %s no comment (ED25519)\n", ssh.FingerprintSHA256(k))
		return 0
	case typ != "" || newPass:
		if typ != "" && typ != "ed25519" {
			fmt.Fprintf(e.Stderr, "ssh-keygen: lab: only -t ed25519 is simulated\n")
			return 1
		}
		if _, err := n.fs.Stat(file); err == nil {
			fmt.Fprintf(e.Stderr, "%s already exists.\nOverwrite (y/n)? ", file)
			return 1
		}
		p, err := genEd25519PEM()
		if err != nil {
			return 1
		}
		if err := n.fs.WriteFile(file, []byte(p), 0o600); err != nil {
			fmt.Fprintf(e.Stderr, "Saving key \"%s\" failed: %s\n", file, shell.ErrText(err))
			return 1
		}
		_ = n.fs.WriteFile(file+".pub", []byte(AuthorizedKeyPEM(p, comment)+"\n"), 0o644)
		fmt.Fprintf(e.Stdout, "Your identification has been saved in %s\nYour public key has been saved in %s.pub\n", file, file)
		return 0
	}
	fmt.Fprintln(e.Stderr, "ssh-keygen: lab: unsupported options")
	return 1
}
