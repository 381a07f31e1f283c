package ssh

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	osexec "os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/exec/exectest"
)

// OPNsense's root logs in to tcsh (FreeBSD's /bin/csh). These tests log in
// to the real sshd as users whose login shell is a real tcsh: tappaascsh
// has uid 0 (FreeBSD's "toor" pattern; what the firewall's root looks
// like to the client), tappaascshsudo is an ordinary user with sudo.

// tcshPath returns the tcsh binary, skipping (or failing under
// TAPPAAS_REQUIRE_SSHD=1) when it is not installed.
func tcshPath(t testing.TB) string {
	for _, p := range []string{"/usr/bin/tcsh", "/bin/tcsh", "/usr/local/bin/tcsh"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("TAPPAAS_REQUIRE_SSHD") == "1" {
		t.Fatal("tcsh is not installed but TAPPAAS_REQUIRE_SSHD=1 (apt-get install tcsh)")
	}
	t.Skip("tcsh not installed (apt-get install tcsh); set TAPPAAS_REQUIRE_SSHD=1 to fail instead")
	return ""
}

var cshUserMu sync.Mutex

// ensureCshUser creates a user whose login shell is tcsh (root only);
// uid0 makes it a second uid-0 account. Password login stays impossible
// ("*"); only the test sshd's authorized_keys admits it.
func ensureCshUser(t testing.TB, name string, uid0 bool) {
	t.Helper()
	tcsh := tcshPath(t)
	if os.Geteuid() != 0 {
		t.Skipf("creating user %s needs root", name)
	}
	cshUserMu.Lock()
	defer cshUserMu.Unlock()
	if err := osexec.Command("id", name).Run(); err != nil {
		args := []string{"-m", "-s", tcsh}
		if uid0 {
			args = append(args, "-o", "-u", "0", "-g", "0")
		}
		run(t, "useradd", append(args, name)...)
		run(t, "usermod", "-p", "*", name)
	}
	out := strings.TrimSpace(run(t, "getent", "passwd", name))
	if f := strings.Split(out, ":"); len(f) != 7 || f[6] != tcsh || (f[2] == "0") != uid0 {
		t.Fatalf("user %s is not a tcsh user with uid0=%v: %q", name, uid0, out)
	}
}

func (s *sshdServer) cshConfig(t testing.TB, user string) Config {
	return Config{Addr: s.addr, User: user, KnownHostsFile: s.knownHosts(t), Signers: []gossh.Signer{s.clientKey}}
}

// The control: the login shell really is csh, and a sh command line sent
// as is fails there the way it does on OPNsense (the bug this guards).
func TestCshLoginShellRefusesShSyntax(t *testing.T) {
	t.Parallel()
	ensureCshUser(t, "tappaascsh", true)
	s := startSSHD(t, sshdOptions{})
	c := s.dial(t, s.cshConfig(t, "tappaascsh"))
	c.conn.raw, c.conn.wrap = true, false // the old client: script as the command line
	res, err := c.Run(context.Background(), exec.Cmd{Script: "echo a; { echo b; }"})
	if err == nil || !strings.Contains(res.Stderr, "{: Command not found.") {
		t.Fatalf("raw sh syntax on tcsh: %+v %v", res, err)
	}
	res, _ = c.Run(context.Background(), exec.Cmd{Script: "echo $shell"})
	if !strings.Contains(res.Stdout, "tcsh") {
		t.Fatalf("login shell: %+v", res)
	}
}

// The full conformance suite (WriteFile, env, stdin, exit codes, cancel)
// for a uid-0 user with a tcsh login shell, with and without the watchdog.
func TestCshConformance(t *testing.T) {
	t.Parallel()
	ensureCshUser(t, "tappaascsh", true)
	s := startSSHD(t, sshdOptions{})
	for _, watchdog := range []bool{true, false} {
		t.Run(fmt.Sprintf("watchdog=%v", watchdog), func(t *testing.T) {
			t.Parallel()
			exectest.Run(t, func(t *testing.T) exec.Executor {
				cfg := s.cshConfig(t, "tappaascsh")
				cfg.DisableWatchdog = !watchdog
				c := s.dial(t, cfg)
				// Without the probe, uid0 is taken from the user name.
				if c.conn.raw || c.conn.wrap != watchdog || c.conn.uid0 != watchdog || c.Persistent() != watchdog {
					t.Fatalf("probe on tcsh: raw=%v wrap=%v uid0=%v", c.conn.raw, c.conn.wrap, c.conn.uid0)
				}
				c.conn.uid0 = true // as for User "root": no sudo wrapping
				return c
			})
		})
	}
}

// Scripts with everything csh would choke on in a command line: newlines,
// { } groups, $(…), !, quotes, backslashes, sh-only builtins, and stdin.
func TestCshScripts(t *testing.T) {
	t.Parallel()
	ensureCshUser(t, "tappaascsh", true)
	s := startSSHD(t, sshdOptions{})
	c := s.dial(t, s.cshConfig(t, "tappaascsh"))
	ctx := context.Background()
	script := "x=$(echo hi)!\n{ printf '%s|%s\\n' \"$x\" 'a!b\\c'; }\nif [ -n \"$T\" ]; then read -r l; echo \"$l\"; fi\n" +
		"cat <<'EOF'\nheredoc $x \\n\nEOF\nexport Y=1; echo \"s=${s-unset}\"; exit 4"
	res, err := c.Run(ctx, exec.Cmd{Script: script, Env: map[string]string{"T": "it's \"$HOME\" ! \\ `x`\nline2"},
		Stdin: strings.NewReader("from stdin\nrest")})
	want := "hi!|a!b\\c\nfrom stdin\nheredoc $x \\n\ns=unset\n"
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Code != 4 || res.Stdout != want {
		t.Fatalf("got %q %v, want %q exit 4", res.Stdout, err, want)
	}
	res, err = c.Run(ctx, exec.Cmd{Script: `printf '%s' "$T"`, Env: map[string]string{"T": "it's \"$HOME\" ! \\ `x`\nline2"}})
	if err != nil || res.Stdout != "it's \"$HOME\" ! \\ `x`\nline2" {
		t.Fatalf("env: %q %v", res.Stdout, err)
	}
}

// The firewall's path (steps/install/ssh.go): DisableWatchdog, password-less
// root over tcsh, an atomic WriteFile followed by an explicit /bin/sh -c.
func TestCshWriteFileFirewallPath(t *testing.T) {
	t.Parallel()
	ensureCshUser(t, "tappaascsh", true)
	s := startSSHD(t, sshdOptions{})
	cfg := s.cshConfig(t, "tappaascsh")
	cfg.DisableWatchdog = true
	c := s.dial(t, cfg)
	// What DisableWatchdog infers for User "root" (the firewall): no sudo,
	// so nothing but the client's own wrapping shields the script from csh.
	c.conn.uid0 = true
	ctx := context.Background()
	dir := t.TempDir()
	name := filepath.Join(dir, "config.xml")
	data := []byte("<opnsense>\n  <x>'!$(no)`no`\\</x>\n</opnsense>\n")
	if err := c.WriteFile(ctx, name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(name); err != nil || string(b) != string(data) {
		t.Fatalf("written %q %v", b, err)
	}
	if b, err := c.ReadFile(ctx, name); err != nil || string(b) != string(data) {
		t.Fatalf("read back %q %v", b, err)
	}
	script := "cp " + name + " " + name + ".2 && (echo done)"
	if _, err := c.Run(ctx, exec.Cmd{Script: "/bin/sh -c " + exec.Quote(script)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(name + ".2"); err != nil {
		t.Fatal(err)
	}
}

// Cancellation and a closed link kill the remote command under a tcsh
// login: sshd refuses the signal request for uid 0, so this is the watchdog.
func TestCshCancelKillsRemoteProcess(t *testing.T) {
	t.Parallel()
	ensureCshUser(t, "tappaascsh", true)
	s := startSSHD(t, sshdOptions{})
	c := s.dial(t, s.cshConfig(t, "tappaascsh"))
	if !c.Watchdog() {
		t.Fatal("watchdog not enabled on the tcsh login")
	}
	testCancelKills(t, c, fmt.Sprintf("sleep 96%04d1", os.Getpid()%10000))

	marker := fmt.Sprintf("sleep 96%04d2", os.Getpid()%10000)
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), exec.Cmd{Script: marker})
		done <- err
	}()
	if !waitProcs(t, marker, true, 10*time.Second) {
		t.Fatal("remote command did not start")
	}
	c.Drop()
	if err := <-done; !errors.Is(err, exec.ErrConnectionLost) {
		t.Fatalf("want ErrConnectionLost, got %v", err)
	}
	if !waitProcs(t, marker, false, 5*time.Second) {
		killProcs(marker)
		t.Fatal("remote process survived the closed session")
	}
}

// A non-root tcsh user: sudo'd commands and files through sudo.
func TestCshSudoNonRoot(t *testing.T) {
	t.Parallel()
	if _, err := osexec.LookPath("sudo"); err != nil {
		t.Skip("sudo not installed")
	}
	ensureCshUser(t, "tappaascshsudo", false)
	sudoers := "/etc/sudoers.d/tappaas-test-csh"
	if err := os.WriteFile(sudoers, []byte("tappaascshsudo ALL=(ALL) NOPASSWD: ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(sudoers) })
	s := startSSHD(t, sshdOptions{})
	c := s.dial(t, s.cshConfig(t, "tappaascshsudo"))
	ctx := context.Background()
	if !c.Watchdog() || c.conn.uid0 {
		t.Fatalf("probe: wrap=%v uid0=%v", c.Watchdog(), c.conn.uid0)
	}
	res, err := c.Run(ctx, exec.Cmd{Script: "id -u; { printf '%s\\n' \"$X\"; }", Sudo: true, Env: map[string]string{"X": "kept!"}})
	if err != nil || res.Stdout != "0\nkept!\n" {
		t.Fatalf("sudo: %+v %v", res, err)
	}
	// Files are written and read as the connecting user, never through
	// sudo: the file is theirs, and a directory only root may write
	// refuses them (backends/exec doc).
	u, err := user.Lookup("tappaascshsudo")
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(u.HomeDir, ".tappaas-owned-"+strconv.Itoa(os.Getpid()))
	t.Cleanup(func() { os.Remove(name) })
	if err := c.WriteFile(ctx, name, []byte("x\ny"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(name)
	if err != nil || strconv.Itoa(int(st.Sys().(*syscall.Stat_t).Uid)) != u.Uid || st.Mode().Perm() != 0o600 {
		t.Fatalf("file not written as tappaascshsudo: %v %v", st, err)
	}
	if b, err := c.ReadFile(ctx, name); err != nil || string(b) != "x\ny" {
		t.Fatalf("read back: %q %v", b, err)
	}
	rootOnly := t.TempDir() // 0700 root
	if err := c.WriteFile(ctx, filepath.Join(rootOnly, "f"), []byte("x"), 0o600); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("write into a root-only directory: want fs.ErrPermission, got %v", err)
	}
	rootFile := filepath.Join(t.TempDir(), "root-owned")
	if err := os.WriteFile(rootFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(rootFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadFile(ctx, rootFile); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("read a root-owned 0600 file: want fs.ErrPermission, got %v", err)
	}
}

// encodeLine's output is one line that printf %b turns back into the
// script, on a real sh.
func TestEncodeLineRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "a", "a\nb", `\`, `\n`, `\\n\c`, "x\\\n%s%b\x01\t'\"!$(y)`z`\n\n"} {
		line := encodeLine(s)
		if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
			t.Fatalf("%q: not one line: %q", s, line)
		}
		cmd := osexec.Command("/bin/sh", "-c", `IFS= read -r s && printf %b "$s"`)
		cmd.Stdin = strings.NewReader(line + "trailing")
		out, err := cmd.Output()
		if err != nil || string(out) != s {
			t.Errorf("%q: round trip %q %v", s, out, err)
		}
	}
}
