package ssh

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	osexec "os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/exec/exectest"
	"github.com/tappaas/tappaas/internal/syncbuf"
)

func TestSSHConformance(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	exectest.Run(t, func(t *testing.T) exec.Executor {
		c := s.dial(t, s.config(t))
		if !c.Persistent() {
			t.Fatal("no persistent shell on OpenSSH's sshd")
		}
		return c
	})
}

func TestSSHWatchdogEnabledOnRealSSHD(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	c := s.dial(t, s.config(t))
	res, err := c.Run(context.Background(), exec.Cmd{Script: "echo hi; id -u"})
	if err != nil || res.Stdout != "hi\n0\n" {
		t.Fatalf("%+v %v", res, err)
	}
	if !c.conn.wrap || !c.conn.uid0 {
		t.Fatalf("probe: wrap=%v uid0=%v", c.conn.wrap, c.conn.uid0)
	}
	if c.Target() != "root@"+s.addr {
		t.Fatalf("Target %q", c.Target())
	}
}

func TestKeyFileEncryptedPassphrase(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	dir := t.TempDir()
	key := filepath.Join(dir, "enc")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "s3cret-pass", "-f", key)
	pub, _ := os.ReadFile(key + ".pub")
	pk, _, _, _, _ := gossh.ParseAuthorizedKey(pub)
	s.authorize(t, pk)
	kh := s.knownHosts(t)
	var asked []string
	cfg := Config{Addr: s.addr, KnownHostsFile: kh, KeyFiles: []string{key},
		Passphrase: func(f string) ([]byte, error) { asked = append(asked, f); return []byte("s3cret-pass"), nil }}
	c := s.dial(t, cfg)
	if _, err := c.Run(context.Background(), exec.Cmd{Script: "true"}); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0] != key {
		t.Fatalf("passphrase asked %v", asked)
	}
	cfg.Passphrase = func(string) ([]byte, error) { return []byte("wrong"), nil }
	if _, err := Dial(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), key) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	cfg.Passphrase = nil
	if _, err := Dial(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "encrypted") {
		t.Fatalf("no passphrase callback: %v", err)
	}
}

func TestAgentAuth(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	sock, pub := serveAgent(t)
	cfg := Config{Addr: s.addr, KnownHostsFile: s.knownHosts(t), UseAgent: true, AgentSocket: sock}
	if _, err := Dial(context.Background(), cfg); !errors.Is(err, ErrAuth) {
		t.Fatalf("unauthorised agent key: want ErrAuth, got %v", err)
	}
	s.authorize(t, pub)
	c := s.dial(t, cfg)
	res, err := c.Run(context.Background(), exec.Cmd{Script: "echo agent-ok"})
	if err != nil || res.Stdout != "agent-ok\n" {
		t.Fatalf("%+v %v", res, err)
	}
}

func randomPassword() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "Tp-" + hex.EncodeToString(b)
}

func TestPasswordAuth(t *testing.T) {
	t.Parallel()
	ensureUser(t, "tappaaspw")
	pw := randomPassword()
	cmd := osexec.Command("chpasswd")
	cmd.Stdin = strings.NewReader("tappaaspw:" + pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v %s", err, out)
	}
	s := startSSHD(t, sshdOptions{password: true})
	asked := 0
	cfg := Config{Addr: s.addr, User: "tappaaspw", KnownHostsFile: s.knownHosts(t),
		Password: func() (string, error) { asked++; return pw, nil }}
	c := s.dial(t, cfg)
	res, err := c.Run(context.Background(), exec.Cmd{Script: "id -un"})
	if err != nil || res.Stdout != "tappaaspw\n" || asked != 1 {
		t.Fatalf("%+v %v asked=%d", res, err, asked)
	}
	if c.conn.uid0 {
		t.Fatal("probe thinks tappaaspw is root")
	}
	cfg.Password = func() (string, error) { return "wrong-" + pw, nil }
	if _, err := Dial(context.Background(), cfg); !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong password: want ErrAuth, got %v", err)
	}
}

func TestSudoNonRoot(t *testing.T) {
	t.Parallel()
	if _, err := osexec.LookPath("sudo"); err != nil {
		t.Skip("sudo not installed")
	}
	ensureUser(t, "tappaasnosudo")
	ensureUser(t, "tappaassudo")
	sudoers := "/etc/sudoers.d/tappaas-test"
	if err := os.WriteFile(sudoers, []byte("tappaassudo ALL=(ALL) NOPASSWD: ALL\n"), 0o440); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(sudoers) })
	s := startSSHD(t, sshdOptions{})
	ctx := context.Background()

	c := s.dial(t, Config{Addr: s.addr, User: "tappaasnosudo", KnownHostsFile: s.knownHosts(t), Signers: []gossh.Signer{s.clientKey}})
	_, err := c.Run(ctx, exec.Cmd{Script: "id -u", Sudo: true})
	if !errors.Is(err, exec.ErrSudoPassword) || !strings.Contains(err.Error(), "NOPASSWD") {
		t.Fatalf("want ErrSudoPassword, got %v", err)
	}
	res, err := c.Run(ctx, exec.Cmd{Script: "id -u"})
	if err != nil || strings.TrimSpace(res.Stdout) == "0" {
		t.Fatalf("without sudo: %+v %v", res, err)
	}

	c2 := s.dial(t, Config{Addr: s.addr, User: "tappaassudo", KnownHostsFile: s.knownHosts(t), Signers: []gossh.Signer{s.clientKey}})
	res, err = c2.Run(ctx, exec.Cmd{Script: `id -u; printf '%s\n' "$X"`, Sudo: true, Env: map[string]string{"X": "kept"}})
	if err != nil || res.Stdout != "0\nkept\n" {
		t.Fatalf("sudo: %+v %v", res, err)
	}
	// Files are written and read as the connecting user, never through
	// sudo: the file is theirs, and a directory only root may write
	// refuses them (backends/exec doc).
	u, err := user.Lookup("tappaassudo")
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(u.HomeDir, ".tappaas-owned-"+strconv.Itoa(os.Getpid()))
	t.Cleanup(func() { os.Remove(name) })
	if err := c2.WriteFile(ctx, name, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(name)
	if err != nil || strconv.Itoa(int(st.Sys().(*syscall.Stat_t).Uid)) != u.Uid || st.Mode().Perm() != 0o600 {
		t.Fatalf("file not written as tappaassudo: %v %v", st, err)
	}
	if b, err := c2.ReadFile(ctx, name); err != nil || string(b) != "x" {
		t.Fatalf("read back: %q %v", b, err)
	}
	rootOnly := t.TempDir() // 0700 root
	if err := c2.WriteFile(ctx, filepath.Join(rootOnly, "f"), []byte("x"), 0o600); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("write into a root-only directory: want fs.ErrPermission, got %v", err)
	}
	rootFile := filepath.Join(t.TempDir(), "root-owned")
	if err := os.WriteFile(rootFile, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(rootFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.ReadFile(ctx, rootFile); !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("read a root-owned 0600 file: want fs.ErrPermission, got %v", err)
	}
}

func TestUnknownHostKey(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	fp := gossh.FingerprintSHA256(s.hostKey)
	host := "[127.0.0.1]:" + s.port()
	base := func() Config {
		return Config{Addr: s.addr, KnownHostsFile: filepath.Join(t.TempDir(), "sub", "known_hosts"), Signers: []gossh.Signer{s.clientKey}}
	}
	ctx := context.Background()

	t.Run("NoTrustRefused", func(t *testing.T) {
		cfg := base()
		_, err := Dial(ctx, cfg)
		var ue *UnknownHostKeyError
		if !errors.As(err, &ue) || !errors.Is(err, ErrHostKeyUnknown) || ue.Fingerprint != fp || !strings.Contains(err.Error(), "--accept-host-key "+fp) {
			t.Fatalf("got %v", err)
		}
		if b, _ := os.ReadFile(cfg.KnownHostsFile); len(b) != 0 {
			t.Fatalf("known_hosts written: %q", b)
		}
	})
	t.Run("TrustSaysNo", func(t *testing.T) {
		cfg := base()
		var gotHost, gotFP string
		cfg.Trust = func(h string, k PublicKey, f string) (bool, error) { gotHost, gotFP = h, f; return false, nil }
		if _, err := Dial(ctx, cfg); !errors.Is(err, ErrHostKeyRejected) {
			t.Fatalf("got %v", err)
		}
		if gotHost != host || gotFP != fp {
			t.Fatalf("Trust got %q %q, want %q %q", gotHost, gotFP, host, fp)
		}
	})
	t.Run("TrustSaysYesAndRecords", func(t *testing.T) {
		cfg := base()
		calls := 0
		cfg.Trust = func(string, PublicKey, string) (bool, error) { calls++; return true, nil }
		c := s.dial(t, cfg)
		c.Close()
		b, _ := os.ReadFile(cfg.KnownHostsFile)
		if !strings.HasPrefix(string(b), host+" ssh-ed25519 ") {
			t.Fatalf("known_hosts = %q", b)
		}
		cfg.Trust = nil
		c = s.dial(t, cfg) // known now: no callback needed
		if _, err := c.Run(ctx, exec.Cmd{Script: "true"}); err != nil || calls != 1 {
			t.Fatalf("%v calls=%d", err, calls)
		}
	})
	t.Run("AcceptFingerprint", func(t *testing.T) {
		cfg := base()
		cfg.AcceptFingerprint = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		cfg.Trust = func(string, PublicKey, string) (bool, error) {
			t.Error("Trust asked despite AcceptFingerprint")
			return true, nil
		}
		_, err := Dial(ctx, cfg)
		var re *HostKeyRejectedError
		if !errors.As(err, &re) || re.Fingerprint != fp || !strings.Contains(err.Error(), cfg.AcceptFingerprint) {
			t.Fatalf("mismatch: %v", err)
		}
		cfg.AcceptFingerprint = strings.TrimPrefix(fp, "SHA256:") // prefix optional
		c := s.dial(t, cfg)
		c.Close()
		if b, _ := os.ReadFile(cfg.KnownHostsFile); !strings.Contains(string(b), host) {
			t.Fatalf("not recorded: %q", b)
		}
	})
}

func TestChangedHostKeyIsHardStop(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	other := startSSHD(t, sshdOptions{}) // a different host key
	kh := filepath.Join(t.TempDir(), "known_hosts")
	content := "# comment\n10.9.9.9 " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.hostKey))) + "\n" +
		"[127.0.0.1]:" + s.port() + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(other.hostKey))) + "\n"
	os.WriteFile(kh, []byte(content), 0o600)
	cfg := Config{Addr: s.addr, KnownHostsFile: kh, Signers: []gossh.Signer{s.clientKey}, AcceptFingerprint: gossh.FingerprintSHA256(s.hostKey),
		Trust: func(string, PublicKey, string) (bool, error) {
			t.Error("Trust asked for a changed key")
			return true, nil
		}}
	_, err := Dial(context.Background(), cfg)
	var ce *HostKeyChangedError
	if !errors.As(err, &ce) || !errors.Is(err, ErrHostKeyChanged) {
		t.Fatalf("want HostKeyChangedError, got %v", err)
	}
	if ce.File != kh || ce.Line != 3 || ce.Want != gossh.FingerprintSHA256(other.hostKey) || ce.Got != gossh.FingerprintSHA256(s.hostKey) {
		t.Fatalf("error fields %+v", ce)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("%s:3", kh)) {
		t.Fatalf("error does not name the line: %v", err)
	}
	if b, _ := os.ReadFile(kh); string(b) != content {
		t.Fatal("known_hosts modified")
	}
}

func TestHashedKnownHosts(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	kh := filepath.Join(t.TempDir(), "known_hosts")
	line := knownhosts.HashHostname(knownhosts.Normalize(s.addr)) + " " + strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.hostKey)))
	os.WriteFile(kh, []byte(line+"\n"), 0o600)
	c := s.dial(t, Config{Addr: s.addr, KnownHostsFile: kh, Signers: []gossh.Signer{s.clientKey}})
	if _, err := c.Run(context.Background(), exec.Cmd{Script: "true"}); err != nil {
		t.Fatal(err)
	}
}

func TestLongStreamingCommand(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	c := s.dial(t, s.config(t))
	var n atomic.Int64
	var bad atomic.Value
	res, err := c.Run(context.Background(), exec.Cmd{
		Script: `i=0; while [ $i -lt 20000 ]; do echo "line $i"; i=$((i+1)); [ $((i % 5000)) -eq 0 ] && sleep 0.2; done; echo done >&2`,
		Stdout: func(l string) {
			if want := "line " + strconv.FormatInt(n.Load(), 10); l != want {
				bad.Store(l + " != " + want)
			}
			n.Add(1)
		}})
	if err != nil || res.Stderr != "done\n" {
		t.Fatalf("%v %q", err, res.Stderr)
	}
	if n.Load() != 20000 || bad.Load() != nil {
		t.Fatalf("lines %d, out of order: %v", n.Load(), bad.Load())
	}
}

// procs lists pids whose command line contains marker.
func procs(marker string) []int {
	out, _ := osexec.Command("pgrep", "-f", marker).Output()
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil && p != os.Getpid() {
			pids = append(pids, p)
		}
	}
	return pids
}

func waitProcs(t *testing.T, marker string, want bool, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if (len(procs(marker)) > 0) == want {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func killProcs(marker string) {
	for _, p := range procs(marker) {
		syscall.Kill(p, syscall.SIGKILL)
	}
}

func TestCancelKillsRemoteProcess(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	cases := []struct {
		name, user string
		watchdog   bool
	}{
		{"root/watchdog+signal", "root", true},
		// OpenSSH ignores the signal request for root logins ("session
		// signalling requires privilege separation"): there the watchdog
		// is what kills. For other users the signal alone works.
		{"user/signal-only", "tappaasnosudo", false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.user != "root" {
				ensureUser(t, tc.user)
			}
			cfg := s.config(t)
			cfg.User = tc.user
			cfg.DisableWatchdog = !tc.watchdog
			testCancelKills(t, s.dial(t, cfg), fmt.Sprintf("sleep 98%04d%d", os.Getpid()%10000, i))
		})
	}
}

// testCancelKills: with the watchdog both mechanisms act; without it the
// "signal" request alone (sshd killpg's the session) must do the job.
func testCancelKills(t *testing.T, c *Client, marker string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		// A grandchild in the background too: the whole group must die.
		_, err := c.Run(ctx, exec.Cmd{Script: `sh -c '` + marker + `1' & ` + marker + `2; wait`})
		done <- err
	}()
	if !waitProcs(t, marker+"2", true, 10*time.Second) || !waitProcs(t, marker+"1", true, 5*time.Second) {
		t.Fatal("remote command did not start")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("want Canceled, got %v", err)
	}
	if !waitProcs(t, marker, false, 5*time.Second) {
		killProcs(marker)
		t.Fatal("remote processes survived cancellation")
	}
	// The connection stays usable.
	if _, err := c.Run(context.Background(), exec.Cmd{Script: "true"}); err != nil || c.Dials() != 1 {
		t.Fatalf("after cancel: %v dials=%d", err, c.Dials())
	}
}

// Closing the link without any signal must still kill the remote command
// (the watchdog); without the watchdog sshd leaves it running.
func TestSessionCloseKillsRemoteProcess(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	for _, watchdog := range []bool{true, false} {
		t.Run(fmt.Sprintf("watchdog=%v", watchdog), func(t *testing.T) {
			cfg := s.config(t)
			cfg.DisableWatchdog = !watchdog
			c := s.dial(t, cfg)
			marker := fmt.Sprintf("sleep 97%04d%d", os.Getpid()%10000, map[bool]int{true: 1, false: 2}[watchdog])
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
			within := 5 * time.Second
			if !watchdog {
				within = 1500 * time.Millisecond // the control: expected to survive
			}
			gone := waitProcs(t, marker, false, within)
			killProcs(marker)
			if watchdog && !gone {
				t.Fatal("remote process survived the closed session")
			}
			if !watchdog && gone {
				t.Log("sshd killed the process without the watchdog (unexpected for OpenSSH, harmless)")
			}
		})
	}
}

// sshdChildren returns the per-connection sshd processes (descendants of the
// listener whose command is sshd).
func (s *sshdServer) sshdChildren() []int {
	var out []int
	queue := []int{s.cmd.Process.Pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		b, _ := osexec.Command("pgrep", "-P", strconv.Itoa(p)).Output()
		for _, f := range strings.Fields(string(b)) {
			c, _ := strconv.Atoi(f)
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", c))
			if strings.TrimSpace(string(comm)) == "sshd" {
				out = append(out, c)
				queue = append(queue, c)
			}
		}
	}
	return out
}

func TestConnectionDroppedMidCommandThenReconnect(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	cfg := s.config(t)
	c := s.dial(t, cfg)
	started := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), exec.Cmd{Script: "echo started; sleep 30", Stdout: func(l string) {
			if l == "started" {
				started <- struct{}{}
			}
		}})
		done <- err
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("command did not start")
	}
	kids := s.sshdChildren()
	if len(kids) == 0 {
		t.Fatal("no per-connection sshd process found")
	}
	for _, p := range kids {
		syscall.Kill(p, syscall.SIGKILL)
	}
	t0 := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, exec.ErrConnectionLost) {
			t.Fatalf("want ErrConnectionLost, got %v", err)
		}
		t.Logf("loss detected after %s", time.Since(t0))
	case <-time.After(10 * time.Second):
		t.Fatal("dropped connection not detected within 10s")
	}
	res, err := c.Run(context.Background(), exec.Cmd{Script: "echo again"})
	if err != nil || res.Stdout != "again\n" {
		t.Fatalf("after reconnect: %+v %v", res, err)
	}
	if c.Dials() != 2 {
		t.Fatalf("dials = %d, want 2", c.Dials())
	}
}

// freezeConn stops passing bytes (without closing) when frozen: a silently
// dead link, which only keepalives can detect.
type freezeConn struct {
	net.Conn
	frozen *atomic.Bool
	closed chan struct{}
	once   sync.Once
}

func (f *freezeConn) Read(p []byte) (int, error) {
	for {
		if f.frozen.Load() {
			<-f.closed
			return 0, net.ErrClosed
		}
		f.Conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := f.Conn.Read(p)
		if ne, ok := err.(net.Error); ok && ne.Timeout() && n == 0 {
			continue
		}
		if f.frozen.Load() {
			<-f.closed
			return 0, net.ErrClosed
		}
		return n, err
	}
}

func (f *freezeConn) Write(p []byte) (int, error) {
	if f.frozen.Load() {
		return len(p), nil
	}
	return f.Conn.Write(p)
}

func (f *freezeConn) Close() error {
	f.once.Do(func() { close(f.closed) })
	return f.Conn.Close()
}

func TestKeepaliveDetectsSilentLink(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	cfg := s.config(t)
	cfg.KeepAlive = 300 * time.Millisecond
	cfg.KeepAliveTimeout = 900 * time.Millisecond
	var current atomic.Pointer[atomic.Bool]
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := exec.SystemDial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		fz := &atomic.Bool{}
		current.Store(fz)
		return &freezeConn{Conn: c, frozen: fz, closed: make(chan struct{})}, nil
	}
	c := s.dial(t, cfg)
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(context.Background(), exec.Cmd{Script: "sleep 20"})
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	current.Load().Store(true)
	t0 := time.Now()
	select {
	case err := <-done:
		if !errors.Is(err, exec.ErrConnectionLost) || !strings.Contains(err.Error(), "keepalive") {
			t.Fatalf("want ErrConnectionLost (keepalive), got %v", err)
		}
		t.Logf("silent link detected after %s", time.Since(t0))
	case <-time.After(15 * time.Second):
		t.Fatal("silent link not detected")
	}
	if _, err := c.Run(context.Background(), exec.Cmd{Script: "true"}); err != nil {
		t.Fatalf("reconnect: %v", err)
	}
}

func TestJumpHost(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	jump := s.dial(t, s.config(t))
	cfg := s.config(t)
	cfg.Jump = jump
	cfg.Dial = func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("direct dial must not be used with a jump host")
	}
	c := s.dial(t, cfg)
	res, err := c.Run(context.Background(), exec.Cmd{Script: "echo via-jump"})
	if err != nil || res.Stdout != "via-jump\n" {
		t.Fatalf("%+v %v", res, err)
	}
	if !strings.Contains(s.log.String(), "direct-tcpip") && jump.Dials() != 1 {
		t.Log("sshd log does not mention direct-tcpip at this log level")
	}
	// Losing the jump connection: the next call re-dials both.
	jump.Drop()
	c.Drop()
	if res, err := c.Run(context.Background(), exec.Cmd{Script: "echo again"}); err != nil || res.Stdout != "again\n" {
		t.Fatalf("after jump loss: %+v %v", res, err)
	}
	if jump.Dials() != 2 || c.Dials() != 2 {
		t.Fatalf("dials jump=%d target=%d", jump.Dials(), c.Dials())
	}
}

func TestInterruptedWriteLeavesOldFile(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	c := s.dial(t, s.config(t))
	name := filepath.Join(t.TempDir(), "state.json")
	old := []byte(`{"old":true}`)
	if err := c.WriteFile(context.Background(), name, old, 0o600); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("n"), 48<<20)
	for _, after := range []time.Duration{20 * time.Millisecond, 80 * time.Millisecond, 200 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), after)
		err := c.WriteFile(ctx, name, big, 0o600)
		cancel()
		got, rerr := c.ReadFile(context.Background(), name)
		if rerr != nil {
			t.Fatal(rerr)
		}
		// An interrupted write may or may not have taken effect (the
		// rename can land just before the cancellation), but the file is
		// always the old or the new content, never a mix.
		switch {
		case err != nil && !bytes.Equal(got, old) && !bytes.Equal(got, big):
			t.Fatalf("interrupted write (%v) left a partial file: %d bytes", err, len(got))
		case err == nil && !bytes.Equal(got, big):
			t.Fatalf("successful write left %d bytes", len(got))
		}
		old = got
	}
}

func TestSecretNeverLogged(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	var logBuf syncbuf.Buffer
	cfg := s.config(t)
	cfg.Log = slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := s.dial(t, cfg)
	_, err := c.Run(context.Background(), exec.Cmd{Script: "echo token=hunter2-secret >/dev/null; exit 4", Secret: true})
	if err == nil || strings.Contains(err.Error(), "hunter2") || strings.Contains(logBuf.String(), "hunter2") {
		t.Fatalf("secret leaked: err=%v log=%s", err, logBuf.String())
	}
	if !strings.Contains(logBuf.String(), "(secret)") {
		t.Fatalf("command not logged at all: %s", logBuf.String())
	}
}

// The operator may take longer than DialTimeout to answer the trust
// question; a server that never speaks SSH times out.
func TestHandshakeTimeoutAndSlowTrust(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{})
	// The rest of the handshake must fit in DialTimeout on a loaded
	// machine: 3 s, and the operator answers after 4 s.
	cfg := Config{Addr: s.addr, KnownHostsFile: filepath.Join(t.TempDir(), "kh"), Signers: []gossh.Signer{s.clientKey}, DialTimeout: 3 * time.Second,
		Trust: func(string, PublicKey, string) (bool, error) { time.Sleep(4 * time.Second); return true, nil }}
	c := s.dial(t, cfg)
	if _, err := c.Run(context.Background(), exec.Cmd{Script: "true"}); err != nil {
		t.Fatal(err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn // silent: accepted, never sends a banner
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t0 := time.Now()
	_, err = Dial(context.Background(), Config{Addr: l.Addr().String(), KnownHostsFile: filepath.Join(t.TempDir(), "kh"), Signers: []gossh.Signer{s.clientKey}, DialTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("silent server: %v", err)
	}
	if time.Since(t0) > 5*time.Second {
		t.Fatalf("timeout took %s", time.Since(t0))
	}
}

// More concurrent commands than sshd's MaxSessions (10) wait for a free
// session instead of failing.
func TestManyConcurrentSessions(t *testing.T) {
	t.Parallel()
	s := startSSHD(t, sshdOptions{maxSessions: 4})
	cfg := s.config(t)
	cfg.MaxSessions = 4
	c := s.dial(t, cfg)
	errs := make(chan error, 24)
	for i := range 24 {
		go func() {
			res, err := c.Run(context.Background(), exec.Cmd{Script: fmt.Sprintf("sleep 0.1; echo %d", i)})
			if err == nil && res.Stdout != fmt.Sprintf("%d\n", i) {
				err = fmt.Errorf("got %q", res.Stdout)
			}
			errs <- err
		}()
	}
	for range 24 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
