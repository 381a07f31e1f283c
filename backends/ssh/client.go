package ssh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/tappaas/tappaas/backends/exec"
)

// PublicKey is x/crypto's SSH public key (re-exported for callers' Trust
// callbacks).
type PublicKey = gossh.PublicKey

// Config says how to reach and trust one SSH target.
type Config struct {
	// Addr is host:port ("10.0.0.10:22"); a missing port means 22.
	Addr string
	// User to log in as (default "root").
	User string
	// Dial opens the TCP connection (default exec.SystemDial). Ignored when
	// Jump is set.
	Dial exec.DialFunc
	// KnownHostsFile records trusted host keys (default ~/.ssh/known_hosts;
	// created 0600 if missing).
	KnownHostsFile string
	// Trust is asked about an unknown host key (interactive use). Returning
	// true records the key in KnownHostsFile.
	Trust func(host string, key PublicKey, fingerprint string) (bool, error)
	// AcceptFingerprint ("SHA256:…") accepts an unknown host key only when
	// it has exactly this fingerprint (headless --accept-host-key). It takes
	// precedence over Trust.
	AcceptFingerprint string
	// Signers are private keys to authenticate with.
	Signers []gossh.Signer
	// KeyFiles are OpenSSH private key files to authenticate with.
	KeyFiles []string
	// Passphrase is asked for the passphrase of an encrypted key file.
	Passphrase func(file string) ([]byte, error)
	// Password is asked for the password (password authentication), at
	// most once per dial.
	Password func() (string, error)
	// UseAgent authenticates with the keys of the ssh-agent at AgentSocket.
	UseAgent bool
	// AgentSocket is the agent's socket (default $SSH_AUTH_SOCK).
	AgentSocket string
	// KeepAlive is the keepalive interval (default 2s; negative disables).
	KeepAlive time.Duration
	// KeepAliveTimeout is how long a keepalive may go unanswered before the
	// link is declared dead (default 2×KeepAlive, at least 2s).
	KeepAliveTimeout time.Duration
	// DialTimeout bounds one connection attempt incl. handshake (default 15s).
	DialTimeout time.Duration
	// Redial is how many connection attempts a call makes after the link
	// was lost (default 4); backoff doubles from 250ms, capped at 4s.
	Redial int
	// Jump is a connected client to tunnel through (ProxyJump).
	Jump *Client
	// MaxOutput caps captured output per stream (default exec.DefaultMaxOutput).
	MaxOutput int
	// MaxStdin caps Cmd.Stdin, which is read into memory (default 256 MiB).
	MaxStdin int64
	// MaxSessions bounds concurrent sessions on the connection (default 8;
	// OpenSSH's sshd refuses more than its MaxSessions, default 10).
	// Further calls wait for a free session.
	MaxSessions int
	// DisableWatchdog sends plain commands (see package doc).
	DisableWatchdog bool
	// Log receives connection events and one debug line per command.
	Log *slog.Logger
}

// Errors of the client.
var (
	// ErrClosed is returned by calls on a closed Client.
	ErrClosed = errors.New("ssh client closed")
	// ErrAuth is wrapped by authentication failures (never retried).
	ErrAuth = errors.New("ssh authentication failed")
)

// Client is an exec.Executor over one SSH connection, re-dialled when lost.
type Client struct {
	cfg     Config
	signers []gossh.Signer
	target  string

	slots   chan struct{} // session semaphore (MaxSessions)
	waiters atomic.Int32  // calls waiting for a slot (idle agents then close)

	mu     sync.Mutex // guards conn, closed; held while dialling
	conn   *conn
	closed bool
	dials  int
}

// conn is one live SSH connection.
type conn struct {
	c    *gossh.Client
	done chan struct{} // closed when the connection is gone
	mu   sync.Mutex
	err  error // why it died
	wrap bool  // the watchdog works on this target
	raw  bool  // no bootstrap: the script is the command line
	// killed is set synchronously by kill, before done closes.
	killed atomic.Bool
	uid0   bool // logged-in user is root
	// agents: commands without stdin run on persistent sessions (the
	// probe checked the target runs agentScript).
	agents bool
	pool   pool
}

func (cn *conn) dead() bool {
	if cn.killed.Load() {
		return true
	}
	select {
	case <-cn.done:
		return true
	default:
		return false
	}
}

func (cn *conn) kill(why error) {
	cn.killed.Store(true)
	cn.mu.Lock()
	if cn.err == nil {
		cn.err = why
	}
	cn.mu.Unlock()
	cn.c.Close()
}

func (cn *conn) why() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.err
}

var _ exec.Executor = (*Client)(nil)

// Dial connects to cfg.Addr and returns a Client (an exec.Executor). The
// first connection is made now, so host key and auth problems surface here.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Addr == "" {
		return nil, errors.New("ssh: Config.Addr is empty (want host:port)")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		cfg.Addr = net.JoinHostPort(cfg.Addr, "22")
	}
	if cfg.User == "" {
		cfg.User = "root"
	}
	if cfg.Dial == nil {
		cfg.Dial = exec.SystemDial
	}
	if cfg.KnownHostsFile == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("ssh: Config.KnownHostsFile is empty and no home directory: %w", err)
		}
		cfg.KnownHostsFile = filepath.Join(home, ".ssh", "known_hosts")
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = 2 * time.Second
	}
	if cfg.KeepAliveTimeout <= 0 {
		cfg.KeepAliveTimeout = max(2*cfg.KeepAlive, 2*time.Second)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 15 * time.Second
	}
	if cfg.Redial <= 0 {
		cfg.Redial = 4
	}
	if cfg.MaxStdin <= 0 {
		cfg.MaxStdin = 256 << 20
	}
	if cfg.AgentSocket == "" {
		cfg.AgentSocket = os.Getenv("SSH_AUTH_SOCK")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 8
	}
	c := &Client{cfg: cfg, target: cfg.User + "@" + cfg.Addr, slots: make(chan struct{}, cfg.MaxSessions)}
	c.signers = append(c.signers, cfg.Signers...)
	for _, f := range cfg.KeyFiles {
		s, err := loadKeyFile(f, cfg.Passphrase)
		if err != nil {
			return nil, err
		}
		c.signers = append(c.signers, s)
	}
	if len(c.signers) == 0 && !cfg.UseAgent && cfg.Password == nil {
		return nil, fmt.Errorf("ssh %s: no authentication method: set Signers, KeyFiles, UseAgent or Password", c.target)
	}
	cn, err := c.connect(ctx)
	if err != nil {
		return nil, err
	}
	c.conn = cn
	return c, nil
}

func loadKeyFile(file string, pass func(string) ([]byte, error)) (gossh.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ssh key file: %w", err)
	}
	s, err := gossh.ParsePrivateKey(b)
	var pm *gossh.PassphraseMissingError
	if errors.As(err, &pm) {
		if pass == nil {
			return nil, fmt.Errorf("ssh key file %s is encrypted and no passphrase callback is set", file)
		}
		p, perr := pass(file)
		if perr != nil {
			return nil, fmt.Errorf("ssh key file %s: passphrase: %w", file, perr)
		}
		s, err = gossh.ParsePrivateKeyWithPassphrase(b, p)
		if err != nil {
			return nil, fmt.Errorf("ssh key file %s: wrong passphrase or unreadable key: %w", file, err)
		}
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ssh key file %s: %w", file, err)
	}
	return s, nil
}

// Target implements exec.Executor ("user@host:port").
func (c *Client) Target() string { return c.target }

// Close closes the connection; later calls fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.conn != nil {
		c.conn.kill(ErrClosed)
		c.drainPool(c.conn)
		c.conn = nil
	}
	return nil
}

// Dials reports how many connections were made (1 + reconnections).
func (c *Client) Dials() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dials
}

// Drop closes the current connection as if the link died (for tests and for
// callers that know the target rebooted). The next call re-dials.
func (c *Client) Drop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		c.conn.kill(errors.New("dropped by caller"))
	}
}

// get returns a live connection, re-dialling with backoff if needed.
func (c *Client) get(ctx context.Context) (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.conn != nil && !c.conn.dead() {
		return c.conn, nil
	}
	if c.conn != nil {
		c.cfg.Log.Info("ssh reconnecting", "target", c.target, "cause", errText(c.conn.why()))
		c.drainPool(c.conn)
	}
	var last error
	backoff := 250 * time.Millisecond
	for attempt := 0; attempt < c.cfg.Redial; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("ssh %s: reconnect: %w (last error: %v)", c.target, ctx.Err(), last)
			case <-t.C:
			}
			backoff = min(2*backoff, 4*time.Second)
		}
		cn, err := c.connect(ctx)
		if err == nil {
			c.conn = cn
			return cn, nil
		}
		last = err
		if permanent(err) || ctx.Err() != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("ssh %s: reconnect failed after %d attempts: %w", c.target, c.cfg.Redial, last)
}

func errText(err error) string {
	if err == nil {
		return "connection closed"
	}
	return err.Error()
}

// permanent errors are not retried by re-dialling.
func permanent(err error) bool {
	return errors.Is(err, ErrAuth) || errors.Is(err, ErrHostKeyChanged) ||
		errors.Is(err, ErrHostKeyUnknown) || errors.Is(err, ErrHostKeyRejected)
}

// connect makes one connection attempt (caller holds c.mu or is Dial).
func (c *Client) connect(ctx context.Context) (*conn, error) {
	cfg := &c.cfg
	hk, err := newHostKeyChecker(cfg)
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()

	var auths []gossh.AuthMethod
	var agentConn net.Conn
	if cfg.UseAgent {
		if cfg.AgentSocket == "" {
			return nil, fmt.Errorf("ssh %s: UseAgent is set but SSH_AUTH_SOCK is empty: %w", c.target, ErrAuth)
		}
		var d net.Dialer
		agentConn, err = d.DialContext(dctx, "unix", cfg.AgentSocket)
		if err != nil {
			return nil, fmt.Errorf("ssh %s: ssh-agent at %s: %w", c.target, cfg.AgentSocket, err)
		}
		defer agentConn.Close()
	}
	if agentConn != nil || len(c.signers) > 0 {
		ag := agentConn
		auths = append(auths, gossh.PublicKeysCallback(func() ([]gossh.Signer, error) {
			ss := append([]gossh.Signer(nil), c.signers...)
			if ag != nil {
				as, err := agent.NewClient(ag).Signers()
				if err != nil {
					return ss, nil
				}
				ss = append(as, ss...)
			}
			return ss, nil
		}))
	}
	if cfg.Password != nil {
		once := sync.OnceValues(cfg.Password)
		auths = append(auths, gossh.PasswordCallback(once))
		auths = append(auths, gossh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
			answers := make([]string, len(questions))
			for i := range questions {
				if echos[i] {
					continue
				}
				p, err := once()
				if err != nil {
					return nil, err
				}
				answers[i] = p
			}
			return answers, nil
		}))
	}
	ccfg := &gossh.ClientConfig{
		User:              cfg.User,
		Auth:              auths,
		HostKeyCallback:   hk.check,
		HostKeyAlgorithms: hk.knownAlgorithms(cfg.Addr),
		Timeout:           cfg.DialTimeout,
	}

	var nc net.Conn
	if cfg.Jump != nil {
		jc, err := cfg.Jump.get(dctx)
		if err != nil {
			return nil, fmt.Errorf("ssh %s: jump host %s: %w", c.target, cfg.Jump.target, err)
		}
		nc, err = jc.c.DialContext(dctx, "tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("ssh %s: via jump host %s: %w", c.target, cfg.Jump.target, err)
		}
	} else {
		nc, err = cfg.Dial(dctx, "tcp", cfg.Addr)
		if err != nil {
			return nil, fmt.Errorf("ssh %s: dial: %w", c.target, err)
		}
	}
	// The handshake honours ctx and DialTimeout, except while the Trust
	// callback waits for the operator (the clock is paused then; sshd's
	// LoginGraceTime still applies — a key accepted too late is recorded
	// anyway and the next attempt connects).
	var timedOut atomic.Bool
	hsTimer := time.AfterFunc(cfg.DialTimeout, func() { timedOut.Store(true); nc.Close() })
	hk.pause = func() { hsTimer.Stop() }
	hk.resume = func() { hsTimer.Reset(cfg.DialTimeout) }
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	sc, chans, reqs, err := gossh.NewClientConn(nc, cfg.Addr, ccfg)
	hsTimer.Stop()
	if !stop() || timedOut.Load() {
		if err == nil {
			sc.Close()
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ssh %s: handshake: %w", c.target, ctx.Err())
		}
		return nil, fmt.Errorf("ssh %s: handshake timed out after %s", c.target, cfg.DialTimeout)
	}
	if err != nil {
		nc.Close()
		if hk.lastErr != nil {
			return nil, fmt.Errorf("ssh %s: %w", c.target, hk.lastErr)
		}
		if isAuthErr(err) {
			return nil, fmt.Errorf("ssh %s: %w: %v", c.target, ErrAuth, err)
		}
		return nil, fmt.Errorf("ssh %s: handshake: %w", c.target, err)
	}
	cn := &conn{c: gossh.NewClient(sc, chans, reqs), done: make(chan struct{})}
	go func() {
		err := cn.c.Wait()
		cn.mu.Lock()
		if cn.err == nil {
			if err == nil {
				err = errors.New("connection closed by the server")
			}
			cn.err = err
		}
		cn.mu.Unlock()
		close(cn.done)
	}()
	if cfg.KeepAlive > 0 {
		go c.keepalive(cn)
	}
	c.dials++
	c.cfg.Log.Info("ssh connected", "target", c.target, "dials", c.dials)
	c.probe(ctx, cn)
	return cn, nil
}

func isAuthErr(err error) bool {
	s := err.Error()
	return strings.Contains(s, "unable to authenticate") || strings.Contains(s, "no supported methods remain")
}

// keepalive pings the server; an unanswered ping kills the connection so
// running commands fail fast with ErrConnectionLost.
func (c *Client) keepalive(cn *conn) {
	t := time.NewTicker(c.cfg.KeepAlive)
	defer t.Stop()
	for {
		select {
		case <-cn.done:
			return
		case <-t.C:
		}
		reply := make(chan error, 1)
		go func() {
			_, _, err := cn.c.SendRequest("keepalive@openssh.com", true, nil)
			reply <- err
		}()
		timer := time.NewTimer(c.cfg.KeepAliveTimeout)
		select {
		case err := <-reply:
			timer.Stop()
			if err != nil {
				cn.kill(fmt.Errorf("keepalive failed: %w", err))
				return
			}
		case <-timer.C:
			c.cfg.Log.Warn("ssh keepalive unanswered, closing link", "target", c.target, "after", c.cfg.KeepAliveTimeout)
			cn.kill(fmt.Errorf("no keepalive reply within %s", c.cfg.KeepAliveTimeout))
			return
		case <-cn.done:
			timer.Stop()
			return
		}
	}
}

// Persistent reports whether the current connection runs commands without
// stdin on persistent remote shells (see the package doc).
func (c *Client) Persistent() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil && c.conn.agents && c.conn.wrap && !c.conn.raw
}

// Watchdog reports whether the current connection runs commands under the
// process-group watchdog (false: plain commands; see the package doc).
func (c *Client) Watchdog() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn != nil && c.conn.wrap
}
