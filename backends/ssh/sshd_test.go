package ssh

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/tappaas/tappaas/internal/syncbuf"
)

// sshdServer is a real OpenSSH sshd on a loopback port, started per test
// with a temporary config, host key and authorized_keys.
type sshdServer struct {
	t          *testing.T
	dir        string
	addr       string
	cmd        *osexec.Cmd
	hostKey    gossh.PublicKey // the server's ed25519 host key
	clientKey  gossh.Signer    // authorized for every user
	clientFile string          // the same key as an OpenSSH private key file
	authKeys   string          // authorized_keys path
	log        *syncbuf.Buffer
}

type sshdOptions struct {
	password    bool // enable password authentication
	maxSessions int  // sshd MaxSessions (default 30)
}

func sshdPath(t testing.TB) string {
	for _, p := range []string{"/usr/sbin/sshd", "/usr/bin/sshd"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("TAPPAAS_REQUIRE_SSHD") == "1" {
		t.Fatal("sshd is not installed but TAPPAAS_REQUIRE_SSHD=1 (install openssh-server)")
	}
	t.Skip("sshd not installed (apt-get install openssh-server); set TAPPAAS_REQUIRE_SSHD=1 to fail instead")
	return ""
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := osexec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func startSSHD(t testing.TB, opt sshdOptions) *sshdServer {
	t.Helper()
	bin := sshdPath(t)
	if os.Geteuid() == 0 {
		_ = os.MkdirAll("/run/sshd", 0o755) // privilege separation directory
	}
	dir := t.TempDir()
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tappaas-test-host", "-f", filepath.Join(dir, "host_ed25519"))
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "tappaas-test-client", "-f", filepath.Join(dir, "client_ed25519"))
	hostPub, err := os.ReadFile(filepath.Join(dir, "host_ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	hk, _, _, _, err := gossh.ParseAuthorizedKey(hostPub)
	if err != nil {
		t.Fatal(err)
	}
	clientPriv, err := os.ReadFile(filepath.Join(dir, "client_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.ParsePrivateKey(clientPriv)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, _ := os.ReadFile(filepath.Join(dir, "client_ed25519.pub"))
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, clientPub, 0o644); err != nil {
		t.Fatal(err)
	}
	// Other users (the bench and password users) read these files.
	_ = os.Chmod(dir, 0o755)
	_ = os.Chmod(filepath.Dir(dir), 0o755)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	maxSess := 30
	if opt.maxSessions > 0 {
		maxSess = opt.maxSessions
	}
	pam, pw := "no", "no"
	if opt.password {
		// Verified: UsePAM no works as well when sshd runs as root (it
		// reads /etc/shadow itself); PAM is what Debian/PVE use.
		pam, pw = "yes", "yes"
	}
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
StrictModes no
UsePAM %s
PasswordAuthentication %s
KbdInteractiveAuthentication no
PermitRootLogin yes
PidFile none
LogLevel VERBOSE
MaxSessions %d
MaxStartups 200
AllowTcpForwarding yes
PrintMotd no
`, port, filepath.Join(dir, "host_ed25519"), authKeys, pam, pw, maxSess)
	cfgFile := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &sshdServer{t: nil, dir: dir, addr: fmt.Sprintf("127.0.0.1:%d", port), hostKey: hk, clientKey: signer,
		clientFile: filepath.Join(dir, "client_ed25519"), authKeys: authKeys, log: &syncbuf.Buffer{}}
	s.cmd = osexec.Command(bin, "-D", "-e", "-f", cfgFile)
	s.cmd.Stderr = s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not start: %v\n%s", err, s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// knownHosts writes a known_hosts file trusting the server.
func (s *sshdServer) knownHosts(t testing.TB) string {
	f := filepath.Join(t.TempDir(), "known_hosts")
	line := fmt.Sprintf("[127.0.0.1]:%s %s", s.port(), strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.hostKey))))
	if err := os.WriteFile(f, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (s *sshdServer) port() string {
	_, p, _ := net.SplitHostPort(s.addr)
	return p
}

// config returns a Config for root with key auth and a trusting known_hosts.
func (s *sshdServer) config(t testing.TB) Config {
	return Config{Addr: s.addr, User: "root", KnownHostsFile: s.knownHosts(t), Signers: []gossh.Signer{s.clientKey}}
}

func (s *sshdServer) dial(t testing.TB, cfg Config) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, cfg)
	if err != nil {
		t.Fatalf("Dial: %v\nsshd log:\n%s", err, s.log.String())
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ensureUser creates a local user with /bin/sh as login shell (root only).
func ensureUser(t testing.TB, name string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("creating user %s needs root", name)
	}
	if err := osexec.Command("id", name).Run(); err != nil {
		run(t, "useradd", "-m", "-s", "/bin/sh", name)
		// "*" instead of useradd's "!": no password login, but not locked
		// (sshd without PAM refuses locked accounts even for keys).
		run(t, "usermod", "-p", "*", name)
	}
}

// serveAgent serves an in-process ssh-agent holding key on a unix socket.
func serveAgent(t testing.TB) (sock string, pub gossh.PublicKey) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kr := agent.NewKeyring()
	if err := kr.Add(agent.AddedKey{PrivateKey: priv, Comment: "agent-key"}); err != nil {
		t.Fatal(err)
	}
	sock = filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _ = agent.ServeAgent(kr, c) }()
		}
	}()
	signer, _ := gossh.NewSignerFromKey(priv)
	return sock, signer.PublicKey()
}

func (s *sshdServer) authorize(t testing.TB, pub gossh.PublicKey) {
	f, err := os.OpenFile(s.authKeys, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.Write(gossh.MarshalAuthorizedKey(pub))
}
