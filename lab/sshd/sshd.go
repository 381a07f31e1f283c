package sshd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Handler runs one command line for user and returns its exit status. It
// must return soon after ctx is cancelled. stdin is the session's input
// (EOF when the client closes it); stdout and stderr are the session's
// streams. EnvFromContext(ctx) gives the variables the client sent with
// "env" requests; InfoFromContext(ctx) the session's details.
type Handler func(ctx context.Context, user, command string, stdin io.Reader, stdout, stderr io.Writer) int

// Config configures a Server.
type Config struct {
	// HostKey is the server's host key (required).
	HostKey gossh.Signer
	// AuthorizedKeys accepts a public key for user (nil: no key auth).
	AuthorizedKeys func(user string, key gossh.PublicKey) bool
	// Password accepts a password for user (nil: no password auth).
	Password func(user, pass string) bool
	// Handler runs exec requests and each line of an interactive shell
	// (required).
	Handler Handler
	// Hooks injects faults (nil: none).
	Hooks *Faults

	// Dial opens direct-tcpip channels (ssh -J / ProxyJump through this
	// host). nil refuses forwarding like "AllowTcpForwarding no".
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// ServerVersion is the identification string; default an OpenSSH one.
	ServerVersion string
	// Prompt returns the interactive shell's prompt for user; default
	// "root@lab:~# " style.
	Prompt func(user string) string
	// Shell, when set, serves interactive ("shell") sessions statefully:
	// it is called once per session and returns the function that runs
	// each line (reporting whether the shell exited) and a close function.
	// shell.(*Interp).LineShell provides one. nil: each line runs through
	// Handler on its own and "exit [N]" ends the session.
	Shell func(ctx context.Context, user string) (run func(line string, stdout, stderr io.Writer) (code int, exited bool), closeFn func())
	// MOTD is printed when an interactive shell starts.
	MOTD string
	// OnCommand is called with each exec command and interactive line
	// before it runs (access logs, counters). It must not block.
	OnCommand func(user, command string)
	// Log receives connection-level events (nil: discarded). Passwords
	// and command lines are never logged here.
	Log *slog.Logger
}

// Fault is what the fault hook asks the server to do with one command.
type Fault int

const (
	// FaultNone runs the command normally.
	FaultNone Fault = iota
	// FaultDropBefore severs the connection before the command runs.
	FaultDropBefore
	// FaultDropAfter runs the command, then severs the connection before
	// the exit status is sent (the client cannot know it took effect).
	FaultDropAfter
)

// Faults injects failures. Command is consulted for every exec request
// and interactive line with its 1-based sequence number across the
// server.
type Faults struct {
	Command func(n int64, user, command string) Fault
}

// DropAtCommand returns Faults that apply f to the k-th command (1-based)
// the server receives, and to no other.
func DropAtCommand(k int64, f Fault) *Faults {
	return &Faults{Command: func(n int64, _, _ string) Fault {
		if n == k {
			return f
		}
		return FaultNone
	}}
}

// DefaultServerVersion is the identification string the lab presents
// (PVE 9 runs Debian trixie's OpenSSH).
const DefaultServerVersion = "SSH-2.0-OpenSSH_10.0p2 Debian-7"

// Info describes the session a Handler runs in.
type Info struct {
	User       string
	RemoteAddr string
	// LocalAddr is the server's end of the connection ("ip:port").
	LocalAddr string
	Env       map[string]string
	PTY       bool
	// KeyFingerprint is the SHA256 fingerprint of the key the client
	// authenticated with ("" for password auth).
	KeyFingerprint string
}

type ctxKey struct{}

type dropKey struct{}

// DropConnection severs the connection of a Handler's session at once, as
// FaultDropBefore does (a handler serving several commands on one session
// injects drops with it). Outside a session it does nothing.
func DropConnection(ctx context.Context) {
	if f, ok := ctx.Value(dropKey{}).(func()); ok {
		f()
	}
}

// InfoFromContext returns the session details of a Handler's context.
func InfoFromContext(ctx context.Context) (Info, bool) {
	i, ok := ctx.Value(ctxKey{}).(Info)
	return i, ok
}

// EnvFromContext returns the variables the client set with env requests
// (nil outside a session).
func EnvFromContext(ctx context.Context) map[string]string {
	i, _ := InfoFromContext(ctx)
	return i.Env
}

// Errors from Listen.
var (
	ErrNoHostKey = errors.New("sshd: config has no host key")
	ErrNoHandler = errors.New("sshd: config has no handler")
	ErrNoAuth    = errors.New("sshd: config accepts neither keys nor passwords")
)

// Server is a running SSH server.
type Server struct {
	cfg    Config
	sshCfg *gossh.ServerConfig
	ln     net.Listener
	log    *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup

	seq      atomic.Int64
	accepted atomic.Int64
}

type conn struct {
	nc     net.Conn
	sc     *gossh.ServerConn
	cancel context.CancelFunc
}

// Listen starts a server on addr ("127.0.0.1:0" picks a free port).
func Listen(addr string, cfg Config) (*Server, error) {
	if cfg.HostKey == nil {
		return nil, ErrNoHostKey
	}
	if cfg.Handler == nil {
		return nil, ErrNoHandler
	}
	if cfg.AuthorizedKeys == nil && cfg.Password == nil {
		return nil, ErrNoAuth
	}
	if cfg.ServerVersion == "" {
		cfg.ServerVersion = DefaultServerVersion
	}
	if !strings.HasPrefix(cfg.ServerVersion, "SSH-2.0-") {
		return nil, fmt.Errorf("sshd: server version %q must start with SSH-2.0-", cfg.ServerVersion)
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sc := &gossh.ServerConfig{ServerVersion: cfg.ServerVersion, MaxAuthTries: 6}
	if cfg.AuthorizedKeys != nil {
		sc.PublicKeyCallback = func(md gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
			if cfg.AuthorizedKeys(md.User(), key) {
				return &gossh.Permissions{Extensions: map[string]string{"pubkey-fp": gossh.FingerprintSHA256(key)}}, nil
			}
			return nil, fmt.Errorf("public key for %q not authorized", md.User())
		}
	}
	if cfg.Password != nil {
		sc.PasswordCallback = func(md gossh.ConnMetadata, pass []byte) (*gossh.Permissions, error) {
			if cfg.Password(md.User(), string(pass)) {
				return &gossh.Permissions{}, nil
			}
			return nil, fmt.Errorf("password for %q rejected", md.User())
		}
	}
	sc.AddHostKey(cfg.HostKey)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sshd: listen on %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, sshCfg: sc, ln: ln, log: log, ctx: ctx, cancel: cancel, conns: map[*conn]struct{}{}}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr is the listening address ("127.0.0.1:PORT").
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port is the listening port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr())
	n, _ := strconv.Atoi(p)
	return n
}

// Commands is how many exec commands and interactive lines the server has
// received.
func (s *Server) Commands() int64 { return s.seq.Load() }

// Connections is how many connections completed the handshake so far.
func (s *Server) Connections() int64 { return s.accepted.Load() }

// Open is the number of connections currently open.
func (s *Server) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// DropAll severs every open connection abruptly (no exit status, no
// channel close), like a network cut. The server keeps listening.
func (s *Server) DropAll() {
	s.mu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.cancel()
		c.nc.Close()
	}
}

// Close stops listening, severs every connection, cancels running
// handlers and waits for all of the server's goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.ln.Close()
	s.cancel()
	s.DropAll()
	s.wg.Wait()
	return err
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(nc)
	}
}

func (s *Server) serveConn(nc net.Conn) {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	c := &conn{nc: nc, cancel: cancel}
	// Register before the handshake so DropAll/Close can cut it.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		nc.Close()
	}()
	_ = nc.SetDeadline(time.Now().Add(15 * time.Second))
	sc, chans, reqs, err := gossh.NewServerConn(nc, s.sshCfg)
	if err != nil {
		s.log.Debug("ssh handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
		return
	}
	_ = nc.SetDeadline(time.Time{})
	c.sc = sc
	s.accepted.Add(1)
	s.log.Debug("ssh connection", "remote", nc.RemoteAddr().String(), "user", sc.User())
	var cwg sync.WaitGroup
	cwg.Add(1)
	go func() {
		defer cwg.Done()
		for r := range reqs {
			// keepalive@openssh.com and every other global request get
			// a failure reply, as OpenSSH's sshd sends; any reply proves
			// the link is alive.
			if r.WantReply {
				_ = r.Reply(false, nil)
			}
		}
	}()
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			ch, creqs, err := nch.Accept()
			if err != nil {
				continue
			}
			cwg.Add(1)
			go func() {
				defer cwg.Done()
				s.serveSession(ctx, c, ch, creqs)
			}()
		case "direct-tcpip":
			cwg.Add(1)
			go func() {
				defer cwg.Done()
				s.serveDirect(ctx, nch)
			}()
		default:
			_ = nch.Reject(gossh.UnknownChannelType, "unknown channel type")
		}
	}
	cancel()
	sc.Close()
	cwg.Wait()
}

// directPayload is the direct-tcpip channel request of RFC 4254, section 7.2
// (https://www.rfc-editor.org/rfc/rfc4254#section-7.2).
type directPayload struct {
	Host     string
	Port     uint32
	OrigHost string
	OrigPort uint32
}

func (s *Server) serveDirect(ctx context.Context, nch gossh.NewChannel) {
	var p directPayload
	if err := gossh.Unmarshal(nch.ExtraData(), &p); err != nil {
		_ = nch.Reject(gossh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	if s.cfg.Dial == nil {
		_ = nch.Reject(gossh.Prohibited, "administratively prohibited: port forwarding is disabled")
		return
	}
	addr := net.JoinHostPort(p.Host, strconv.Itoa(int(p.Port)))
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	target, err := s.cfg.Dial(dctx, "tcp", addr)
	cancel()
	if err != nil {
		_ = nch.Reject(gossh.ConnectionFailed, "connect failed: "+err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		target.Close()
		return
	}
	go gossh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(target, ch)
		if cw, ok := target.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(ch, target)
		_ = ch.CloseWrite()
		done <- struct{}{}
	}()
	finished := 0
	select {
	case <-done:
		finished++
		// one direction ended; give the other a moment to drain
		select {
		case <-done:
			finished++
		case <-ctx.Done():
		case <-time.After(30 * time.Second):
		}
	case <-ctx.Done():
	}
	ch.Close()
	target.Close()
	// Closing both ends stops the copiers; wait for them so none
	// outlives the server.
	for ; finished < 2; finished++ {
		<-done
	}
}

// crlfWriter turns \n into \r\n (a pty's output processing).
type crlfWriter struct{ w io.Writer }

func (c crlfWriter) Write(b []byte) (int, error) {
	if _, err := c.w.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n", "\r\n"))); err != nil {
		return 0, err
	}
	return len(b), nil
}

type envPayload struct{ Name, Value string }
type execPayload struct{ Command string }
type signalPayload struct{ Signal string }
type exitStatus struct{ Status uint32 }
type exitSignal struct {
	Signal     string
	CoreDumped bool
	Msg, Lang  string
}

func (s *Server) serveSession(ctx context.Context, c *conn, ch gossh.Channel, reqs <-chan *gossh.Request) {
	info := Info{User: c.sc.User(), RemoteAddr: c.nc.RemoteAddr().String(), LocalAddr: c.nc.LocalAddr().String(), Env: map[string]string{}}
	if c.sc.Permissions != nil {
		info.KeyFingerprint = c.sc.Permissions.Extensions["pubkey-fp"]
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		started bool
		sigMu   sync.Mutex
		signal  string
		done    = make(chan struct{})
	)
	finished := func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}
	for {
		var req *gossh.Request
		var ok bool
		select {
		case req, ok = <-reqs:
		case <-done:
			ch.Close()
			// drain remaining requests until the client acknowledges
			for r := range reqs {
				if r.WantReply {
					_ = r.Reply(false, nil)
				}
			}
			return
		}
		if !ok {
			// Client closed the channel or the connection dropped.
			cancel()
			if started {
				<-done
			}
			ch.Close()
			return
		}
		switch req.Type {
		case "env":
			var p envPayload
			if err := gossh.Unmarshal(req.Payload, &p); err != nil || started {
				_ = req.Reply(false, nil)
				continue
			}
			info.Env[p.Name] = p.Value
			_ = req.Reply(true, nil)
		case "pty-req":
			// After the command started the running handler owns info:
			// refused, and nothing changes (RFC 4254 §6.2 asks for it
			// before the shell or command).
			if !started {
				info.PTY = true
			}
			_ = req.Reply(!started, nil)
		case "window-change":
			if req.WantReply {
				_ = req.Reply(true, nil)
			}
		case "exec", "shell":
			if started {
				_ = req.Reply(false, nil)
				continue
			}
			command := ""
			if req.Type == "exec" {
				var p execPayload
				if err := gossh.Unmarshal(req.Payload, &p); err != nil {
					_ = req.Reply(false, nil)
					continue
				}
				command = p.Command
			}
			started = true
			_ = req.Reply(true, nil)
			info := info // the handler's copy; this loop keeps refusing changes
			hctx := context.WithValue(context.WithValue(sctx, ctxKey{}, info), dropKey{}, func() { s.drop(c) })
			getSignal := func() string {
				sigMu.Lock()
				defer sigMu.Unlock()
				return signal
			}
			if req.Type == "exec" {
				go func() {
					defer close(done)
					s.runExec(hctx, c, ch, info, command, getSignal)
				}()
			} else {
				go func() {
					defer close(done)
					s.runShell(hctx, c, ch, info)
				}()
			}
		case "signal":
			var p signalPayload
			if err := gossh.Unmarshal(req.Payload, &p); err == nil && started && !finished() {
				sigMu.Lock()
				signal = p.Signal
				sigMu.Unlock()
				cancel()
			}
			if req.WantReply {
				_ = req.Reply(true, nil)
			}
		default:
			// subsystem (sftp), x11-req, auth-agent-req@openssh.com, …
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
		}
	}
}

// fault consults the hook for command number n.
func (s *Server) fault(user, command string) Fault {
	n := s.seq.Add(1)
	if s.cfg.OnCommand != nil {
		s.cfg.OnCommand(user, command)
	}
	if s.cfg.Hooks == nil || s.cfg.Hooks.Command == nil {
		return FaultNone
	}
	return s.cfg.Hooks.Command(n, user, command)
}

func (s *Server) drop(c *conn) {
	c.cancel()
	c.nc.Close()
}

func (s *Server) runExec(ctx context.Context, c *conn, ch gossh.Channel, info Info, command string, signal func() string) {
	f := s.fault(info.User, command)
	if f == FaultDropBefore {
		s.drop(c)
		return
	}
	var stdout, stderr io.Writer = ch, ch.Stderr()
	if info.PTY {
		stdout = crlfWriter{ch}
		stderr = stdout
	}
	res := make(chan int, 1)
	go func() {
		res <- s.cfg.Handler(ctx, info.User, command, ch, stdout, stderr)
	}()
	var code int
	select {
	case code = <-res:
	case <-ctx.Done():
		// Signalled or dropped: report at once, then reap the handler
		// (its context is cancelled and its channel closes below).
		if sig := signal(); sig != "" && f != FaultDropAfter {
			_, _ = ch.SendRequest("exit-signal", false, gossh.Marshal(exitSignal{Signal: sig}))
		}
		_ = ch.CloseWrite()
		ch.Close()
		<-res
		return
	}
	if f == FaultDropAfter {
		s.drop(c)
		return
	}
	if sig := signal(); sig != "" {
		_, _ = ch.SendRequest("exit-signal", false, gossh.Marshal(exitSignal{Signal: sig}))
	} else {
		_, _ = ch.SendRequest("exit-status", false, gossh.Marshal(exitStatus{Status: uint32(code & 0xff)}))
	}
	_ = ch.CloseWrite()
}

// runShell is a minimal line-by-line interactive shell: it prints a
// prompt, reads a line (echoing and handling backspace when a pty was
// requested), runs it with the Handler and repeats until exit or EOF.
func (s *Server) runShell(ctx context.Context, c *conn, ch gossh.Channel, info Info) {
	out := io.Writer(ch)
	if info.PTY {
		out = crlfWriter{ch}
	}
	prompt := func() string {
		if s.cfg.Prompt != nil {
			return s.cfg.Prompt(info.User)
		}
		if info.User == "root" {
			return "root@lab:~# "
		}
		return info.User + "@lab:~$ "
	}
	if s.cfg.MOTD != "" {
		io.WriteString(out, s.cfg.MOTD)
	}
	var runLine func(line string, stdout, stderr io.Writer) (int, bool)
	if s.cfg.Shell != nil {
		var closeFn func()
		runLine, closeFn = s.cfg.Shell(ctx, info.User)
		if closeFn != nil {
			defer closeFn()
		}
	}
	r := bufio.NewReader(ch)
	last := 0
	for {
		if ctx.Err() != nil {
			return
		}
		io.WriteString(out, prompt())
		line, eof := readShellLine(r, ch, info.PTY)
		if eof && line == "" {
			if info.PTY {
				io.WriteString(out, "logout\n")
			}
			break
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if runLine == nil && (line == "exit" || line == "logout" || strings.HasPrefix(line, "exit ")) {
			if n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "exit"))); err == nil {
				last = n
			}
			break
		}
		f := s.fault(info.User, line)
		if f == FaultDropBefore {
			s.drop(c)
			return
		}
		exited := false
		if runLine != nil {
			last, exited = runLine(line, out, out)
		} else {
			last = s.cfg.Handler(ctx, info.User, line, strings.NewReader(""), out, out)
		}
		if f == FaultDropAfter {
			s.drop(c)
			return
		}
		if eof || exited {
			break
		}
	}
	_, _ = ch.SendRequest("exit-status", false, gossh.Marshal(exitStatus{Status: uint32(last & 0xff)}))
	_ = ch.CloseWrite()
}

// readShellLine reads one line; with a pty it echoes input and handles
// backspace, Ctrl-C (discard line) and Ctrl-D (EOF on an empty line).
func readShellLine(r *bufio.Reader, echo io.Writer, pty bool) (string, bool) {
	var b []byte
	for {
		c, err := r.ReadByte()
		if err != nil {
			return string(b), true
		}
		if !pty {
			if c == '\n' {
				return strings.TrimSuffix(string(b), "\r"), false
			}
			b = append(b, c)
			continue
		}
		switch c {
		case '\r', '\n':
			echo.Write([]byte("\r\n"))
			return string(b), false
		case 0x7f, 0x08:
			if len(b) > 0 {
				b = b[:len(b)-1]
				echo.Write([]byte("\b \b"))
			}
		case 0x03:
			echo.Write([]byte("^C\r\n"))
			return "", false
		case 0x04:
			if len(b) == 0 {
				return "", true
			}
		default:
			if c >= 0x20 {
				b = append(b, c)
				echo.Write([]byte{c})
			}
		}
	}
}
