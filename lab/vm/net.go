package vm

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/tappaas/tappaas/lab/shell"
	gossh "golang.org/x/crypto/ssh"
)

// ---- curl ----

func (g *guest) fetch(e *shell.Env, url string) ([]byte, error) {
	if g.hooks.Fetch != nil {
		b, err := g.hooks.Fetch(e.Ctx, url)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return b, err
		}
	}
	if b, ok := builtinDownload(url); ok {
		return b, nil
	}
	if strings.HasPrefix(url, "https://raw.githubusercontent.com/TAPPaaS/TAPPaaS/") {
		return nil, fs.ErrNotExist
	}
	if g.hooks.Fetch != nil {
		return nil, fs.ErrNotExist
	}
	return nil, errors.New("could not resolve host")
}

func hostOf(url string) string {
	rest := url
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if i := strings.IndexAny(rest, "/:?"); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// cmdCurl understands the curl options the bootstrap uses: -f -s -S -L
// -k -o FILE -O, -u (ignored: the mirror is public).
func (g *guest) cmdCurl(e *shell.Env) int {
	var url, out string
	fail, silent, showErr, remoteName := false, false, false, false
	args := e.Args[1:]
	for k := 0; k < len(args); k++ {
		a := args[k]
		switch {
		case a == "-o" || a == "--output":
			if k+1 >= len(args) {
				fmt.Fprintln(e.Stderr, "curl: option -o: requires parameter")
				return 2
			}
			k++
			out = args[k]
		case a == "-u" || a == "-H" || a == "-X" || a == "-d" || a == "--data" || a == "--connect-timeout" || a == "-m" || a == "--max-time" || a == "-w" || a == "--retry":
			k++
		case a == "-O" || a == "--remote-name":
			remoteName = true
		case a == "--fail":
			fail = true
		case a == "--silent":
			silent = true
		case a == "--show-error":
			showErr = true
		case strings.HasPrefix(a, "--"):
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for _, c := range a[1:] {
				switch c {
				case 'f':
					fail = true
				case 's':
					silent = true
				case 'S':
					showErr = true
				case 'O':
					remoteName = true
				case 'o':
					if k+1 < len(args) {
						k++
						out = args[k]
					}
				}
			}
		default:
			url = a
		}
	}
	if url == "" {
		fmt.Fprintln(e.Stderr, "curl: no URL specified!\ncurl: try 'curl --help' or 'curl --manual' for more information")
		return 2
	}
	report := func(code int, msg string) int {
		if !silent || showErr {
			fmt.Fprintf(e.Stderr, "curl: (%d) %s\n", code, msg)
		}
		return code
	}
	b, err := g.fetch(e, url)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if fail {
			return report(22, "The requested URL returned error: 404")
		}
		b = []byte("404: Not Found")
	case err != nil:
		return report(6, "Could not resolve host: "+hostOf(url))
	}
	if remoteName && out == "" {
		out = path.Base(url)
	}
	if out == "" || out == "-" {
		e.Stdout.Write(b)
		return 0
	}
	if err := e.FS.WriteFile(e.Abs(out), b, 0o644); err != nil {
		return report(23, fmt.Sprintf("Failure writing output to destination, passed %d returned 0", len(b)))
	}
	return 0
}

// ---- ssh client side ----

type sshTarget struct {
	user, host string
	port       int
	idFiles    []string
	opts       map[string]string
}

// parseSSHArgs parses ssh's options; it returns the destination and the
// remaining words (the remote command).
func parseSSHArgs(args []string, portFlag string) (t sshTarget, rest []string, err error) {
	t.opts = map[string]string{}
	t.port = 0
	withArg := "oiplFJEcmbDLRWwQBSO"
	if portFlag == "P" {
		withArg = "oiPlFJEcmbDLRWwQBSO"
	}
	k := 0
	for ; k < len(args); k++ {
		a := args[k]
		if a == "--" {
			k++
			break
		}
		if !strings.HasPrefix(a, "-") || len(a) < 2 {
			break
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			if !strings.ContainsRune(withArg, rune(c)) {
				continue // -t -T -q -v -4 -n -N -r -C ...
			}
			val := a[j+1:]
			if val == "" {
				if k+1 >= len(args) {
					return t, nil, fmt.Errorf("option requires an argument -- %c", c)
				}
				k++
				val = args[k]
			}
			switch c {
			case 'o':
				key, v, ok := strings.Cut(val, "=")
				if !ok {
					key, v, _ = strings.Cut(val, " ")
				}
				t.opts[strings.ToLower(strings.TrimSpace(key))] = strings.TrimSpace(v)
			case 'i':
				t.idFiles = append(t.idFiles, val)
			case 'p', 'P':
				if string(c) == portFlag {
					n, perr := strconv.Atoi(val)
					if perr != nil || n < 1 || n > 65535 {
						return t, nil, sshUsageError(fmt.Sprintf("Bad port '%s'", val))
					}
					t.port = n
				}
			case 'l':
				t.user = val
			}
			break
		}
	}
	if k < len(args) {
		dest := args[k]
		if u, h, ok := strings.Cut(dest, "@"); ok {
			t.user, t.host = u, h
		} else {
			t.host = dest
		}
		rest = args[k+1:]
	}
	return t, rest, nil
}

// applySSHConfig applies matching Host blocks of ~/.ssh/config.
func (g *guest) applySSHConfig(e *shell.Env, t *sshTarget) {
	b, err := e.FS.ReadFile(e.Abs(path.Join(e.Vars["HOME"], ".ssh/config")))
	if err != nil {
		return
	}
	match := false
	seen := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		if k2, v2, ok := strings.Cut(line, "="); ok && !strings.Contains(k2, " ") {
			key, val = k2, v2
		}
		key = strings.ToLower(strings.TrimSpace(key))
		val = strings.TrimSpace(val)
		if key == "host" {
			match = false
			for _, pat := range strings.Fields(val) {
				if ok, _ := path.Match(pat, t.host); ok {
					match = true
				}
			}
			continue
		}
		if !match || seen[key] {
			continue
		}
		seen[key] = true
		switch key {
		case "user":
			if t.user == "" {
				t.user = val
			}
		case "identityfile":
			t.idFiles = append(t.idFiles, val)
		case "port":
			if t.port == 0 {
				t.port, _ = strconv.Atoi(val)
			}
		case "hostname":
			t.opts["hostname"] = val
		default:
			if _, set := t.opts[key]; !set {
				t.opts[key] = val
			}
		}
	}
}

// signers loads the identities ssh would offer.
func (g *guest) signers(e *shell.Env, t sshTarget) []gossh.Signer {
	home := e.Vars["HOME"]
	files := append([]string{}, t.idFiles...)
	if t.opts["identitiesonly"] != "yes" || len(files) == 0 {
		for _, n := range []string{"id_rsa", "id_ecdsa", "id_ed25519"} {
			files = append(files, path.Join(home, ".ssh", n))
		}
	}
	var out []gossh.Signer
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasPrefix(f, "~/") {
			f = path.Join(home, f[2:])
		}
		f = e.Abs(f)
		if seen[f] {
			continue
		}
		seen[f] = true
		b, err := e.FS.ReadFile(f)
		if err != nil {
			continue
		}
		s, err := gossh.ParsePrivateKey(b)
		if err != nil {
			continue
		}
		out = append(out, s)
	}
	return out
}

func (g *guest) dialSSH(e *shell.Env, t sshTarget, command string, stdin io.Reader, stdout, stderr io.Writer) int {
	g.applySSHConfig(e, &t)
	if t.user == "" {
		t.user = e.User
	}
	if t.port == 0 {
		t.port = 22
	}
	host := t.host
	if hn := t.opts["hostname"]; hn != "" {
		host = hn
	}
	req := SSHRequest{User: t.user, Host: host, Port: t.port, Command: command, Signers: g.signers(e, t), Options: t.opts,
		Stdin: stdin, Stdout: stdout, Stderr: stderr}
	if g.hooks.SSH == nil {
		if _, ok := g.resolve(host); !ok {
			fmt.Fprintf(stderr, "ssh: Could not resolve hostname %s: Name or service not known\n", host)
		} else {
			fmt.Fprintf(stderr, "ssh: connect to host %s port %d: No route to host\n", host, t.port)
		}
		return 255
	}
	return g.hooks.SSH(e.Ctx, req)
}

func (g *guest) cmdSSH(e *shell.Env) int {
	t, rest, err := parseSSHArgs(e.Args[1:], "p")
	if err != nil {
		fmt.Fprintf(e.Stderr, "ssh: %v\n", err)
		return 255
	}
	if t.host == "" {
		fmt.Fprintln(e.Stderr, "usage: ssh [-46AaCfGgKkMNnqsTtVvXxYy] [-B bind_interface] [-b bind_address]\n           [-c cipher_spec] [-D [bind_address:]port] [-E log_file]\n           [-e escape_char] [-F configfile] [-I pkcs11] [-i identity_file]\n           [-J destination] [-L address] [-l login_name] [-m mac_spec]\n           [-O ctl_cmd] [-o option] [-P tag] [-p port] [-R address]\n           [-S ctl_path] [-W host:port] [-w local_tun[:remote_tun]]\n           destination [command [argument ...]]")
		return 255
	}
	return g.dialSSH(e, t, strings.Join(rest, " "), e.Stdin, e.Stdout, e.Stderr)
}

// cmdSCP copies one file to or from a remote host, via the remote shell
// (cat), like scp's legacy protocol would.
func (g *guest) cmdSCP(e *shell.Env) int {
	t, rest, err := parseSSHArgs(e.Args[1:], "P")
	if err != nil {
		fmt.Fprintf(e.Stderr, "scp: %v\n", err)
		return 1
	}
	words := rest
	if t.host != "" {
		dest := t.host
		if t.user != "" {
			dest = t.user + "@" + t.host
		}
		words = append([]string{dest}, rest...)
	}
	if len(words) != 2 {
		fmt.Fprintln(e.Stderr, "usage: scp [-346ABCOpqRrsTv] [-c cipher] [-D sftp_server_path] [-F ssh_config]\n           [-i identity_file] [-J destination] [-l limit] [-o ssh_option]\n           [-P port] [-S program] [-X sftp_option] source ... target")
		return 1
	}
	remote := func(s string) (user, host, p string, ok bool) {
		i := strings.IndexByte(s, ':')
		if i <= 0 || strings.Contains(s[:i], "/") {
			return "", "", "", false
		}
		hostPart := s[:i]
		if u, h, ok2 := strings.Cut(hostPart, "@"); ok2 {
			user, host = u, h
		} else {
			host = hostPart
		}
		p = s[i+1:]
		if p == "" {
			p = "."
		}
		return user, host, p, true
	}
	src, dst := words[0], words[1]
	su, sh, sp, srcRemote := remote(src)
	du, dh, dp, dstRemote := remote(dst)
	base := sshTarget{port: t.port, idFiles: t.idFiles, opts: t.opts}
	switch {
	case srcRemote && dstRemote:
		fmt.Fprintln(e.Stderr, "scp: remote to remote copies are not supported in the lab")
		return 1
	case dstRemote:
		data, err := e.FS.ReadFile(e.Abs(src))
		if err != nil {
			fmt.Fprintf(e.Stderr, "scp: stat local \"%s\": %s\n", src, shell.ErrText(err))
			return 1
		}
		mode := "644"
		if fi, err := e.FS.Stat(e.Abs(src)); err == nil {
			mode = strconv.FormatUint(uint64(fi.Mode.Perm()), 8)
		}
		tt := base
		tt.user, tt.host = du, dh
		target := dp
		// scp's transfer does not go through the remote login shell's
		// syntax (SFTP, or "scp -t" on a csh as well): run the lab's copy
		// under /bin/sh, so a csh login (the firewall's root) takes it too.
		cmd := "/bin/sh -c " + shellQuote(fmt.Sprintf("t=%s; if [ -d \"$t\" ]; then t=\"$t\"/%s; fi; cat > \"$t\" && chmod %s \"$t\"", shellQuote(target), shellQuote(path.Base(src)), mode))
		var errb bytes.Buffer
		code := g.dialSSH(e, tt, cmd, bytes.NewReader(data), io.Discard, &errb)
		if code != 0 {
			msg := strings.TrimSpace(errb.String())
			if code != 255 {
				msg = "scp: " + target + ": " + lastField(msg)
			}
			fmt.Fprintln(e.Stderr, msg)
			return 1
		}
		return 0
	case srcRemote:
		tt := base
		tt.user, tt.host = su, sh
		var out, errb bytes.Buffer
		code := g.dialSSH(e, tt, "cat "+shellQuote(sp), nil, &out, &errb)
		if code != 0 {
			msg := strings.TrimSpace(errb.String())
			if code != 255 {
				msg = "scp: " + sp + ": " + lastField(msg)
			}
			fmt.Fprintln(e.Stderr, msg)
			return 1
		}
		target := e.Abs(dst)
		if fi, err := e.FS.Stat(target); err == nil && fi.IsDir {
			target = path.Join(target, path.Base(sp))
		}
		if err := e.FS.WriteFile(target, out.Bytes(), 0o644); err != nil {
			fmt.Fprintf(e.Stderr, "scp: open local \"%s\": %s\n", dst, shell.ErrText(err))
			return 1
		}
		return 0
	default:
		return e.Exec("cp", src, dst)
	}
}

func lastField(msg string) string {
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// cmdSSHCopyID appends a public key to the remote user's authorized_keys.
func (g *guest) cmdSSHCopyID(e *shell.Env) int {
	args := e.Args[1:]
	var pubFile string
	var sshArgs []string
	for k := 0; k < len(args); k++ {
		switch a := args[k]; {
		case a == "-i" && k+1 < len(args):
			pubFile = args[k+1]
			k++
		case strings.HasPrefix(a, "-i") && len(a) > 2:
			pubFile = a[2:]
		case a == "-f" || a == "-n":
		case (a == "-o" || a == "-p") && k+1 < len(args):
			sshArgs = append(sshArgs, a, args[k+1])
			k++
		default:
			sshArgs = append(sshArgs, a)
		}
	}
	home := e.Vars["HOME"]
	if pubFile == "" {
		pubFile = path.Join(home, ".ssh/id_ed25519.pub")
	}
	if strings.HasPrefix(pubFile, "~/") {
		pubFile = path.Join(home, pubFile[2:])
	}
	if !strings.HasSuffix(pubFile, ".pub") {
		pubFile += ".pub"
	}
	pub, err := e.FS.ReadFile(e.Abs(pubFile))
	if err != nil {
		fmt.Fprintf(e.Stderr, "\n/usr/bin/ssh-copy-id: ERROR: failed to open ID file '%s': %s\n", strings.TrimSuffix(pubFile, ".pub"), shell.ErrText(err))
		return 1
	}
	key := strings.TrimSpace(string(pub))
	t, _, perr := parseSSHArgs(sshArgs, "p")
	if perr != nil || t.host == "" {
		fmt.Fprintln(e.Stderr, "Usage: /usr/bin/ssh-copy-id [-h|-?|-f|-n|-s|-x] [-i [identity_file]] [-p port] [-F alternative ssh_config file] [-t target_path] [[-o <ssh -o options>] ...] [user@]hostname")
		return 1
	}
	fmt.Fprintf(e.Stderr, "/usr/bin/ssh-copy-id: INFO: Source of key(s) to be installed: \"%s\"\n", pubFile)
	script := fmt.Sprintf(`cd; umask 077; mkdir -p .ssh && touch .ssh/authorized_keys && { grep -qxF %[1]s .ssh/authorized_keys && echo EXISTS || echo %[1]s >> .ssh/authorized_keys; }`,
		shellQuote(key))
	var out bytes.Buffer
	code := g.dialSSH(e, t, script, strings.NewReader(""), &out, e.Stderr)
	if code != 0 {
		return 1
	}
	if strings.Contains(out.String(), "EXISTS") {
		fmt.Fprint(e.Stderr, "\n/usr/bin/ssh-copy-id: WARNING: All keys were skipped because they already exist on the remote system.\n\t\t(if you think this is a mistake, you may want to use -f option)\n\n")
		return 0
	}
	dest := t.host
	if t.user != "" {
		dest = t.user + "@" + t.host
	}
	fmt.Fprintf(e.Stdout, "\nNumber of key(s) added: 1\n\nNow try logging into the machine, with: \"ssh '%s'\"\nand check to make sure that only the key(s) you wanted were added.\n\n", dest)
	return 0
}

// ---- ssh-keygen ----

func (g *guest) cmdSSHKeygen(e *shell.Env) int {
	args := e.Args[1:]
	typ, bits, file, comment := "rsa", 3072, "", e.User+"@"+hostnameOf(e)
	passSet, quiet := false, false
	var mode string // "", "l", "y", "R"
	var modeArg string
	for k := 0; k < len(args); k++ {
		a := args[k]
		next := func() (string, bool) {
			if k+1 >= len(args) {
				fmt.Fprintf(e.Stderr, "option requires an argument -- %s\n", strings.TrimPrefix(a, "-"))
				return "", false
			}
			k++
			return args[k], true
		}
		var ok bool
		switch a {
		case "-t":
			if typ, ok = next(); !ok {
				return 1
			}
		case "-b":
			v, ok := next()
			if !ok {
				return 1
			}
			bits, _ = strconv.Atoi(v)
		case "-f":
			if file, ok = next(); !ok {
				return 1
			}
		case "-N":
			if _, ok = next(); !ok {
				return 1
			}
			passSet = true
		case "-C":
			if comment, ok = next(); !ok {
				return 1
			}
		case "-q":
			quiet = true
		case "-l", "-y":
			mode = a[1:]
		case "-R":
			mode = "R"
			if modeArg, ok = next(); !ok {
				return 1
			}
		case "-E", "-a", "-Z", "-O":
			if _, ok = next(); !ok {
				return 1
			}
		default:
			fmt.Fprintf(e.Stderr, "unknown option -- %s\n", strings.TrimLeft(a, "-"))
			return 1
		}
	}
	home := e.Vars["HOME"]
	switch mode {
	case "l", "y":
		if file == "" {
			fmt.Fprintln(e.Stderr, "ssh-keygen: -f is required in the lab (no interactive prompt)")
			return 1
		}
		b, err := e.FS.ReadFile(e.Abs(file))
		if err != nil {
			fmt.Fprintf(e.Stderr, "%s: %s\n", file, shell.ErrText(err))
			return 1
		}
		var pub gossh.PublicKey
		cm := ""
		if s, err := gossh.ParsePrivateKey(b); err == nil {
			pub = s.PublicKey()
		} else if p, c, _, _, err := gossh.ParseAuthorizedKey(b); err == nil {
			pub, cm = p, c
		} else {
			fmt.Fprintf(e.Stderr, "%s is not a key file.\n", file)
			return 255
		}
		if mode == "y" {
			fmt.Fprintln(e.Stdout, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(pub))))
			return 0
		}
		if cm == "" {
			cm = "no comment"
		}
		fmt.Fprintf(e.Stdout, "%d %s %s (%s)\n", keyBits(pub), gossh.FingerprintSHA256(pub), cm, strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(pub.Type(), "ssh-"), "ecdsa-sha2-")))
		return 0
	case "R":
		kh := path.Join(home, ".ssh/known_hosts")
		if file != "" {
			kh = e.Abs(file)
		}
		b, err := e.FS.ReadFile(kh)
		if err != nil {
			fmt.Fprintf(e.Stderr, "Cannot stat %s: No such file or directory\n", kh)
			return 255
		}
		var keep []string
		found := false
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			hosts := strings.Split(strings.Fields(l + " x")[0], ",")
			match := false
			for _, h := range hosts {
				if h == modeArg || h == "["+modeArg+"]:22" {
					match = true
				}
			}
			if match {
				found = true
				continue
			}
			keep = append(keep, l)
		}
		if found {
			_ = e.FS.WriteFile(kh, []byte(strings.Join(keep, "\n")+"\n"), 0o600)
			fmt.Fprintf(e.Stdout, "# Host %s found\n%s updated.\n", modeArg, kh)
		}
		return 0
	}
	if file == "" || !passSet {
		fmt.Fprintln(e.Stderr, "ssh-keygen: the lab needs -f FILE and -N PASSPHRASE (it cannot prompt)")
		return 1
	}
	if strings.HasPrefix(file, "~/") {
		file = path.Join(home, file[2:])
	}
	p := e.Abs(file)
	if _, err := e.FS.Stat(p); err == nil {
		fmt.Fprintf(e.Stdout, "%s already exists.\nOverwrite (y/n)? ", file)
		ans := make([]byte, 1)
		n, _ := e.Stdin.Read(ans)
		if n == 0 || (ans[0] != 'y' && ans[0] != 'Y') {
			fmt.Fprintln(e.Stdout)
			return 1
		}
	}
	var priv any
	switch typ {
	case "ed25519":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return 1
		}
		priv = k
	case "rsa":
		if bits < 1024 || bits > 16384 {
			fmt.Fprintf(e.Stderr, "Invalid RSA key length: minimum is 1024 bits\n")
			return 255
		}
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			return 1
		}
		priv = k
	default:
		fmt.Fprintf(e.Stderr, "unknown key type %s\n", typ)
		return 255
	}
	block, err := gossh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return 1
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		return 1
	}
	if !quiet {
		fmt.Fprintf(e.Stdout, "Generating public/private %s key pair.\n", typ)
	}
	if err := e.FS.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		fmt.Fprintf(e.Stdout, "Saving key \"%s\" failed: %s\n", file, shell.ErrText(err))
		return 1
	}
	_ = e.FS.Chmod(p, 0o600)
	pubLine := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey()))) + " " + comment + "\n"
	if err := e.FS.WriteFile(p+".pub", []byte(pubLine), 0o644); err != nil {
		fmt.Fprintf(e.Stdout, "Saving key \"%s.pub\" failed: %s\n", file, shell.ErrText(err))
		return 1
	}
	if !quiet {
		fmt.Fprintf(e.Stdout, "Your identification has been saved in %s\nYour public key has been saved in %s.pub\nThe key fingerprint is:\n%s %s\n",
			file, file, gossh.FingerprintSHA256(signer.PublicKey()), comment)
	}
	return 0
}

func keyBits(k gossh.PublicKey) int {
	if ck, ok := k.(gossh.CryptoPublicKey); ok {
		if r, ok := ck.CryptoPublicKey().(*rsa.PublicKey); ok {
			return r.N.BitLen()
		}
	}
	return 256
}

func hostnameOf(e *shell.Env) string {
	if b, err := e.FS.ReadFile("/etc/hostname"); err == nil {
		if h := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]); h != "" {
			return h
		}
	}
	if in := e.Interp(); in != nil {
		return in.Host.Hostname
	}
	return "localhost"
}

// sshUsageError is an ssh option error worded as OpenSSH words it.
type sshUsageError string

func (e sshUsageError) Error() string { return string(e) }
