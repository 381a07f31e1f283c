package sshd_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tappaas/tappaas/internal/syncbuf"
	"github.com/tappaas/tappaas/lab/shell"
	"github.com/tappaas/tappaas/lab/sshd"
	gossh "golang.org/x/crypto/ssh"
)

type fixture struct {
	srv       *sshd.Server
	hostKey   gossh.Signer
	clientKey gossh.Signer
	clientPEM []byte
	fs        *shell.MemFS
	interp    *shell.Interp
}

func newClientKey(t testing.TB) (gossh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return s, pem.EncodeToMemory(block)
}

// start runs a server whose handler is a lab shell; mod adjusts the config.
func start(t testing.TB, mod func(*sshd.Config)) *fixture {
	t.Helper()
	hk, err := sshd.GenerateHostKey()
	if err != nil {
		t.Fatal(err)
	}
	ck, cpem := newClientKey(t)
	f := &fixture{hostKey: hk, clientKey: ck, clientPEM: cpem, fs: shell.NewMemFS()}
	f.interp = shell.New(f.fs)
	cfg := sshd.Config{
		HostKey:        hk,
		AuthorizedKeys: func(user string, k gossh.PublicKey) bool { return user == "root" && sshd.KeysEqual(k, ck.PublicKey()) },
		Password:       func(user, pass string) bool { return user == "root" && pass == "s3cret" },
		Handler: func(ctx context.Context, user, cmd string, stdin io.Reader, stdout, stderr io.Writer) int {
			vars := map[string]string{"USER": user}
			for k, v := range sshd.EnvFromContext(ctx) {
				vars[k] = v
			}
			return f.interp.Run(ctx, cmd, stdin, stdout, stderr, vars)
		},
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := sshd.Listen("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	t.Cleanup(func() { srv.Close() })
	return f
}

func (f *fixture) dial(t testing.TB, auth ...gossh.AuthMethod) *gossh.Client {
	t.Helper()
	if len(auth) == 0 {
		auth = []gossh.AuthMethod{gossh.PublicKeys(f.clientKey)}
	}
	c, err := gossh.Dial("tcp", f.srv.Addr(), &gossh.ClientConfig{User: "root", Auth: auth,
		HostKeyCallback: gossh.FixedHostKey(f.hostKey.PublicKey()), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func runCmd(t testing.TB, c *gossh.Client, cmd, stdin string) (string, string, error) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out, errb bytes.Buffer
	s.Stdout, s.Stderr = &out, &errb
	if stdin != "" {
		s.Stdin = strings.NewReader(stdin)
	}
	err = s.Run(cmd)
	return out.String(), errb.String(), err
}

func exitCode(err error) int {
	var ee *gossh.ExitError
	if errors.As(err, &ee) {
		return ee.ExitStatus()
	}
	if err == nil {
		return 0
	}
	return -1
}

func TestExecStatusStreamsStdin(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dial(t)
	out, errs, err := runCmd(t, c, `cat > /tmp/up; echo out; echo err >&2; sha256sum /tmp/up; exit 3`, "payload")
	if exitCode(err) != 3 {
		t.Fatalf("status: %v", err)
	}
	if out != "out\n239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5  /tmp/up\n" || errs != "err\n" {
		t.Fatalf("out %q err %q", out, errs)
	}
	_, errs, err = runCmd(t, c, `nosuchcmd`, "")
	if exitCode(err) != 127 || errs != "bash: line 1: nosuchcmd: command not found\n" {
		t.Fatalf("127: %v %q", err, errs)
	}
	if out, _, err := runCmd(t, c, `true`, ""); err != nil || out != "" {
		t.Fatalf("true: %v %q", err, out)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	cfg := func(user string, auth ...gossh.AuthMethod) *gossh.ClientConfig {
		return &gossh.ClientConfig{User: user, Auth: auth, HostKeyCallback: gossh.FixedHostKey(f.hostKey.PublicKey()), Timeout: 5 * time.Second}
	}
	// password accepted
	c, err := gossh.Dial("tcp", f.srv.Addr(), cfg("root", gossh.Password("s3cret")))
	if err != nil {
		t.Fatalf("password: %v", err)
	}
	out, _, err := runCmd(t, c, "whoami", "")
	c.Close()
	if err != nil || out != "root\n" {
		t.Fatalf("whoami %q %v", out, err)
	}
	// wrong password, unknown key, wrong user: refused
	other, _ := newClientKey(t)
	for name, cc := range map[string]*gossh.ClientConfig{
		"bad password": cfg("root", gossh.Password("nope")),
		"unknown key":  cfg("root", gossh.PublicKeys(other)),
		"wrong user":   cfg("bob", gossh.PublicKeys(f.clientKey)),
	} {
		if c, err := gossh.Dial("tcp", f.srv.Addr(), cc); err == nil {
			c.Close()
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "unable to authenticate") {
			t.Errorf("%s: %v", name, err)
		}
	}
	// pinned host key mismatch is detected by the client
	wrongHost, _ := newClientKey(t)
	if _, err := gossh.Dial("tcp", f.srv.Addr(), &gossh.ClientConfig{User: "root", Auth: []gossh.AuthMethod{gossh.PublicKeys(f.clientKey)},
		HostKeyCallback: gossh.FixedHostKey(wrongHost.PublicKey())}); err == nil {
		t.Error("host key mismatch not detected")
	}
}

func TestKeyOnlyServerRefusesPassword(t *testing.T) {
	t.Parallel()
	f := start(t, func(c *sshd.Config) { c.Password = nil })
	if _, err := gossh.Dial("tcp", f.srv.Addr(), &gossh.ClientConfig{User: "root", Auth: []gossh.AuthMethod{gossh.Password("s3cret")},
		HostKeyCallback: gossh.FixedHostKey(f.hostKey.PublicKey())}); err == nil {
		t.Fatal("password accepted by a key-only server")
	}
	f.dial(t) // key still works
}

func TestListenValidation(t *testing.T) {
	t.Parallel()
	hk, _ := sshd.GenerateHostKey()
	h := func(context.Context, string, string, io.Reader, io.Writer, io.Writer) int { return 0 }
	pw := func(string, string) bool { return true }
	for name, tc := range map[string]struct {
		cfg  sshd.Config
		want error
	}{
		"no host key": {sshd.Config{Handler: h, Password: pw}, sshd.ErrNoHostKey},
		"no handler":  {sshd.Config{HostKey: hk, Password: pw}, sshd.ErrNoHandler},
		"no auth":     {sshd.Config{HostKey: hk, Handler: h}, sshd.ErrNoAuth},
	} {
		if _, err := sshd.Listen("127.0.0.1:0", tc.cfg); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestEnvRequests(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Setenv("LANG", "C.UTF-8"); err != nil {
		t.Fatal(err)
	}
	out, err := s.Output(`echo "$LANG"`)
	if err != nil || string(out) != "C.UTF-8\n" {
		t.Fatalf("%q %v", out, err)
	}
}

func TestSignalKill(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out syncbuf.Buffer
	s.Stdout = &out
	if err := s.Start(`echo started; sleep 30; touch /tmp/after`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), "started") })
	t0 := time.Now()
	if err := s.Signal(gossh.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = s.Wait()
	var ee *gossh.ExitError
	if !errors.As(err, &ee) || ee.Signal() != "KILL" || ee.ExitStatus() != 137 {
		t.Fatalf("wait: %v", err)
	}
	if time.Since(t0) > 5*time.Second {
		t.Fatal("kill was slow")
	}
	if _, err := f.fs.Stat("/tmp/after"); err == nil {
		t.Fatal("script continued after KILL")
	}
	// The connection is still usable.
	if out, _, err := runCmd(t, c, "echo alive", ""); err != nil || out != "alive\n" {
		t.Fatalf("after kill: %q %v", out, err)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestKeepalive(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dial(t)
	ok, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
	if err != nil {
		t.Fatalf("keepalive not answered: %v", err)
	}
	if ok {
		t.Fatal("keepalive answered with success; OpenSSH answers failure")
	}
}

func TestDirectTCPIP(t *testing.T) {
	t.Parallel()
	// A "VM" listening on loopback, reachable through the node as 10.0.0.130:22.
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()
	var dialed atomic.Value
	f := start(t, func(c *sshd.Config) {
		c.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialed.Store(addr)
			if addr != "10.0.0.130:22" {
				return nil, fmt.Errorf("no route to %s", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, echo.Addr().String())
		}
	})
	c := f.dial(t)
	conn, err := c.Dial("tcp", "10.0.0.130:22")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q %v", buf, err)
	}
	conn.Close()
	if dialed.Load() != "10.0.0.130:22" {
		t.Fatalf("dialed %v", dialed.Load())
	}
	if _, err := c.Dial("tcp", "10.9.9.9:22"); err == nil || !strings.Contains(err.Error(), "no route") {
		t.Fatalf("unroutable: %v", err)
	}
	// Forwarding disabled → refused.
	g := start(t, nil)
	if _, err := g.dial(t).Dial("tcp", "10.0.0.130:22"); err == nil || !strings.Contains(err.Error(), "prohibited") {
		t.Fatalf("forwarding without Dial: %v", err)
	}
}

func TestDropAllMidCommand(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	s.Stdout = &out
	if err := s.Start(`echo started; sleep 30`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(out.String(), "started") })
	f.srv.DropAll()
	err = s.Wait()
	var ee *gossh.ExitError
	if err == nil || errors.As(err, &ee) {
		t.Fatalf("want a lost-connection error, got %v", err)
	}
	if _, err := c.NewSession(); err == nil {
		t.Fatal("client connection survived DropAll")
	}
	// The server still accepts new connections.
	if out, _, err := runCmd(t, f.dial(t), "echo back", ""); err != nil || out != "back\n" {
		t.Fatalf("after DropAll: %q %v", out, err)
	}
	waitFor(t, func() bool { return f.srv.Open() == 1 })
}

func TestFaultDropAtCommand(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fault      sshd.Fault
		tookEffect bool
	}{{sshd.FaultDropBefore, false}, {sshd.FaultDropAfter, true}} {
		f := start(t, func(c *sshd.Config) { c.Hooks = sshd.DropAtCommand(2, tc.fault) })
		c := f.dial(t)
		if _, _, err := runCmd(t, c, "touch /tmp/one", ""); err != nil {
			t.Fatal(err)
		}
		_, _, err := runCmd(t, c, "touch /tmp/two", "")
		var ee *gossh.ExitError
		if err == nil || errors.As(err, &ee) {
			t.Fatalf("fault %v: want lost connection, got %v", tc.fault, err)
		}
		_, statErr := f.fs.Stat("/tmp/two")
		if (statErr == nil) != tc.tookEffect {
			t.Fatalf("fault %v: command took effect = %v", tc.fault, statErr == nil)
		}
		// The third command on a new connection runs normally.
		if _, _, err := runCmd(t, f.dial(t), "touch /tmp/three", ""); err != nil {
			t.Fatal(err)
		}
		if f.srv.Commands() != 3 {
			t.Fatalf("commands = %d", f.srv.Commands())
		}
	}
}

func TestInteractiveShell(t *testing.T) {
	t.Parallel()
	var seen []string
	f := start(t, func(c *sshd.Config) {
		c.Prompt = func(user string) string { return user + "@tappaas1:~# " }
		c.OnCommand = func(user, cmd string) { seen = append(seen, cmd) }
	})
	c := f.dial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s.Stdout = &out
	s.Stdin = strings.NewReader("echo hi\nfalse\n\nexit 4\necho never\n")
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	err = s.Wait()
	if exitCode(err) != 4 {
		t.Fatalf("exit: %v", err)
	}
	want := "root@tappaas1:~# hi\nroot@tappaas1:~# root@tappaas1:~# root@tappaas1:~# "
	if out.String() != want {
		t.Fatalf("transcript %q want %q", out.String(), want)
	}
	if strings.Join(seen, "|") != "echo hi|false" {
		t.Fatalf("OnCommand saw %v", seen)
	}
}

func TestInteractiveShellStateful(t *testing.T) {
	t.Parallel()
	var f *fixture
	f = start(t, func(c *sshd.Config) {
		c.Shell = func(ctx context.Context, user string) (func(string, io.Writer, io.Writer) (int, bool), func()) {
			return f.interp.LineShell(nil)(ctx, user)
		}
	})
	c := f.dial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s.Stdout = &out
	s.Stdin = strings.NewReader("cd /tmp\nX=1\necho $PWD $X\nexit 6\necho never\n")
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); exitCode(err) != 6 {
		t.Fatalf("exit: %v", err)
	}
	if !strings.Contains(out.String(), "/tmp 1\n") || strings.Contains(out.String(), "never") {
		t.Fatalf("transcript %q", out.String())
	}
}

func TestInteractiveShellPTY(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	c := f.dial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s.Stdout = &out
	s.Stdin = strings.NewReader("echo ab\x7fc\rexit\r")
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ac\r\n") || !strings.Contains(out.String(), "echo ab\b \bc\r\n") {
		t.Fatalf("pty transcript %q", out.String())
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	f := start(t, func(c *sshd.Config) {
		c.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			a, b := net.Pipe()
			go func() { io.Copy(b, b) }()
			return a, nil
		}
	})
	c := f.dial(t)
	runCmd(t, c, "echo x", "")
	s, _ := c.NewSession()
	s.Start("sleep 30")
	fw, err := c.Dial("tcp", "10.0.0.5:22")
	if err != nil {
		t.Fatal(err)
	}
	_ = fw
	c2 := f.dial(t, gossh.Password("s3cret"))
	_ = c2
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c2.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+1 { // +1: the pipe echo goroutine above ends on its own
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			n := runtime.Stack(buf, true)
			t.Fatalf("goroutines: before %d after %d\n%s", before, runtime.NumGoroutine(), buf[:n])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := net.DialTimeout("tcp", f.srv.Addr(), time.Second); err == nil {
		t.Fatal("still listening after Close")
	}
}

// TestOpenSSHClient drives the server with the real OpenSSH client: exec
// with exit status, stdin, and ProxyJump-style forwarding (-W through the
// node to a second lab server standing in for a VM), all with strict host
// key checking against a temp known_hosts file.
func TestOpenSSHClient(t *testing.T) {
	t.Parallel()
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("ssh client not installed")
	}
	vm := start(t, nil)
	node := start(t, func(c *sshd.Config) {
		c.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if addr != "10.0.0.130:22" {
				return nil, fmt.Errorf("no route to %s", addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, vm.srv.Addr())
		}
	})
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(keyFile, node.clientPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(dir, "known_hosts")
	khText := fmt.Sprintf("[127.0.0.1]:%d %s\n10.0.0.130 %s\n", node.srv.Port(), sshd.AuthorizedKey(node.hostKey.PublicKey()), sshd.AuthorizedKey(vm.hostKey.PublicKey()))
	if err := os.WriteFile(kh, []byte(khText), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=" + kh,
		"-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-i", keyFile}
	sshRun := func(stdin string, args ...string) (string, string, int) {
		cmd := exec.Command(sshBin, append(append([]string{}, common...), args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}
	port := strconv.Itoa(node.srv.Port())
	out, errs, code := sshRun("from-stdin", "-p", port, "root@127.0.0.1", `cat; echo; echo err >&2; exit 3`)
	if code != 3 || out != "from-stdin\n" || !strings.Contains(errs, "err") {
		t.Fatalf("exec: code %d out %q err %q", code, out, errs)
	}
	// A forced pty (ssh -tt, as the installer's switch setup uses): output
	// goes through the pty's newline translation, stderr merges into stdout.
	out, _, code = sshRun("", "-tt", "-p", port, "root@127.0.0.1", `bash -lc 'echo pty; echo err >&2; exit 2'`)
	if code != 2 || !strings.Contains(out, "pty\r\nerr\r\n") {
		t.Fatalf("pty exec: code %d out %q", code, out)
	}
	// Refused when the host key does not match.
	bad := filepath.Join(dir, "bad_known_hosts")
	other, _ := newClientKey(t)
	os.WriteFile(bad, []byte(fmt.Sprintf("[127.0.0.1]:%d %s\n", node.srv.Port(), sshd.AuthorizedKey(other.PublicKey()))), 0o600)
	cmd := exec.Command(sshBin, "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile="+bad,
		"-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-i", keyFile, "-p", port, "root@127.0.0.1", "true")
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "HOST IDENTIFICATION HAS CHANGED") {
		t.Fatalf("mismatched host key accepted: %v %s", err, b)
	}
	// Through the node to the VM (ProxyCommand with -W = direct-tcpip).
	proxy := fmt.Sprintf("%s %s -p %s -W %%h:%%p root@127.0.0.1", sshBin, strings.Join(common, " "), port)
	vmKey := filepath.Join(dir, "vm_key")
	if err := os.WriteFile(vmKey, vm.clientPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code = sshRun("", "-i", vmKey, "-o", "ProxyCommand="+proxy, "root@10.0.0.130", "hostname; exit 5")
	if code != 5 || out != "localhost\n" {
		t.Fatalf("jump: code %d out %q err %q", code, out, errs)
	}
}

// BenchmarkCommandsOneConnection runs sequential `true` sessions on one
// SSH connection against the lab shell (the issue's "1,000 SSH commands
// on one connection"; run with -benchtime 1000x).
func BenchmarkCommandsOneConnection(b *testing.B) {
	f := start(b, nil)
	c := f.dial(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := c.NewSession()
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Run("true"); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkThousandCommands is the figure as one operation: 1,000
// sequential `true` sessions on one SSH connection (make bench runs 1x).
func BenchmarkThousandCommands(b *testing.B) {
	f := start(b, nil)
	c := f.dial(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := 0; k < 1000; k++ {
			s, err := c.NewSession()
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Run("true"); err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	}
}
