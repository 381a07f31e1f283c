package ssh

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/backends/exec"
)

// probe decides how commands reach this target and whether the user is
// root: the stdin bootstrap with the watchdog, the bootstrap alone, or
// (a target without a POSIX /bin/sh) the raw command line. One round trip
// per connection when the watchdog works; none with DisableWatchdog.
func (c *Client) probe(ctx context.Context, cn *conn) {
	cn.uid0 = c.cfg.User == "root"
	if c.cfg.DisableWatchdog {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for _, wrap := range []bool{true, false} {
		var out bytes.Buffer
		cn.wrap = wrap
		code, err := c.session(pctx, cn, exec.Cmd{Script: "id -u"}, nil, false, &out, io.Discard)
		id := strings.TrimSpace(out.String())
		if _, perr := strconv.Atoi(id); err == nil && code == 0 && perr == nil {
			cn.uid0 = id == "0"
			if !wrap {
				c.cfg.Log.Info("ssh target cannot run the watchdog; commands rely on the signal request", "target", c.target)
				return
			}
			c.probeAgent(pctx, cn, id)
			return
		}
		if pctx.Err() != nil || cn.dead() {
			// No answer says nothing about the shell: keep the
			// bootstrap (csh-safe), without the watchdog.
			cn.wrap = false
			c.cfg.Log.Info("ssh probe got no answer; commands without the watchdog", "target", c.target)
			return
		}
	}
	cn.wrap, cn.raw = false, true
	c.cfg.Log.Info("ssh target has no POSIX /bin/sh for the command bootstrap; raw command lines", "target", c.target)
}

// probeAgent turns on persistent sessions when the target runs agentScript
// (the first one stays open for the next command).
func (c *Client) probeAgent(ctx context.Context, cn *conn, id string) {
	cn.agents = true
	var out bytes.Buffer
	code, err := c.agentRun(ctx, cn, exec.Cmd{Script: "id -u"}, &out, io.Discard)
	if err == nil && code == 0 && strings.TrimSpace(out.String()) == id {
		return
	}
	cn.agents = false
	c.drainPool(cn)
	c.cfg.Log.Info("ssh target cannot keep a persistent shell; one session per command", "target", c.target, "err", errText(err))
}

// drainPool closes the idle persistent sessions of cn (a dead or closed
// connection), releasing their slots.
func (c *Client) drainPool(cn *conn) {
	cn.pool.mu.Lock()
	idle := cn.pool.idle
	cn.pool.idle = nil
	cn.pool.mu.Unlock()
	for _, a := range idle {
		c.closeAgent(a)
	}
}

// Run implements exec.Executor.
func (c *Client) Run(ctx context.Context, cmd exec.Cmd) (exec.Result, error) {
	stdout := exec.NewLineWriter(c.cfg.MaxOutput, cmd.Stdout)
	stderr := exec.NewLineWriter(c.cfg.MaxOutput, cmd.Stderr)
	res, err := c.run(ctx, cmd, stdout, stderr)
	stdout.Flush()
	stderr.Flush()
	res.Stdout, res.Stderr = stdout.String(), stderr.String()
	return res, c.finish(cmd, res, err)
}

// finish turns a non-zero exit into *ExitError (or the sudo error).
func (c *Client) finish(cmd exec.Cmd, res exec.Result, err error) error {
	if err != nil {
		return err
	}
	if res.Code == 0 {
		return nil
	}
	if cmd.Sudo && exec.IsSudoPasswordPrompt(res.Stderr) {
		return fmt.Errorf("command %q on %s: %w", exec.Display(cmd), c.target, exec.ErrSudoPassword)
	}
	return &exec.ExitError{Cmd: exec.Display(cmd), Code: res.Code, Stderr: res.Stderr}
}

// run executes cmd writing raw output to stdout/stderr.
func (c *Client) run(ctx context.Context, cmd exec.Cmd, stdout, stderr io.Writer) (exec.Result, error) {
	start := time.Now()
	shown := exec.Display(cmd)
	if cmd.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cmd.Timeout)
		defer cancel()
	}
	var data []byte
	hasStdin := cmd.Stdin != nil
	if hasStdin {
		b, err := io.ReadAll(io.LimitReader(cmd.Stdin, c.cfg.MaxStdin+1))
		if err != nil {
			return exec.Result{Code: -1}, fmt.Errorf("command %q: reading stdin: %w", shown, err)
		}
		if int64(len(b)) > c.cfg.MaxStdin {
			return exec.Result{Code: -1}, fmt.Errorf("command %q: stdin larger than %d bytes", shown, c.cfg.MaxStdin)
		}
		data = b
	}
	for attempt := 0; ; attempt++ {
		cn, err := c.get(ctx)
		if err != nil {
			return exec.Result{Code: -1, Duration: time.Since(start)}, fmt.Errorf("command %q not started: %w", shown, err)
		}
		c.cfg.Log.Debug("ssh run", "target", c.target, "cmd", shown)
		var code int
		if cn.agents && cn.wrap && !cn.raw && !hasStdin {
			code, err = c.agentRun(ctx, cn, cmd, stdout, stderr)
		} else {
			code, err = c.session(ctx, cn, cmd, data, hasStdin, stdout, stderr)
		}
		var ns *notStarted
		if errors.As(err, &ns) && attempt == 0 && ctx.Err() == nil {
			// The link died before the command started: safe to re-dial
			// and start it once more.
			continue
		}
		res := exec.Result{Code: code, Duration: time.Since(start)}
		if err != nil {
			return res, fmt.Errorf("command %q on %s: %w", shown, c.target, err)
		}
		return res, nil
	}
}

// notStarted marks failures before the remote command started.
type notStarted struct{ err error }

func (e *notStarted) Error() string { return e.err.Error() }
func (e *notStarted) Unwrap() error { return e.err }

// bootLine is the command line sent to the login shell for every command
// (see the package doc): it reads the first line of the session's stdin,
// decodes it with printf %b and evaluates it in /bin/sh. It is the same
// for sh, bash and csh/tcsh login shells: no newline, no history `!`, and
// every `$` inside single quotes, which csh leaves alone. The script thus
// never appears in a process's argv.
const bootLine = `exec /bin/sh -c 'IFS= read -r s && eval "$(printf %b "$s")"'`

// encodeLine makes script one line that `printf %b` turns back into it.
func encodeLine(script string) string {
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	return r.Replace(script) + "\n"
}

// buildScript returns the sh script for cmd: the environment, sudo and
// (wrap) the watchdog around cmd.Script.
func buildScript(cmd exec.Cmd, uid0, wrap, hasStdin bool, n int) (string, error) {
	if strings.ContainsRune(cmd.Script, 0) {
		return "", errors.New("script contains a NUL byte")
	}
	var b strings.Builder
	if len(cmd.Env) > 0 {
		b.WriteString("export")
		for _, k := range exec.SortedEnv(cmd.Env) {
			if !validEnvName(k) {
				return "", fmt.Errorf("invalid environment variable name %q", k)
			}
			if strings.ContainsRune(cmd.Env[k], 0) {
				return "", fmt.Errorf("environment variable %s contains a NUL byte", k)
			}
			b.WriteString(" " + k + "=" + exec.Quote(cmd.Env[k]))
		}
		b.WriteString("\n")
	}
	b.WriteString(cmd.Script)
	inner := b.String()
	if cmd.Sudo && !uid0 {
		inner = "sudo -n -- /bin/sh -c " + exec.Quote(inner)
	}
	if !wrap {
		return inner, nil
	}
	// See the package doc: a watchdog reading the session's stdin kills
	// the process group when the session goes away while the command runs.
	// It is double-forked so it is not a job of the shell running the
	// script (a `wait` there must not wait for it), and uses only shell
	// builtins; $$ is the shell that runs the script.
	const watchdog = `( { while read -r _ <&3; do :; done; kill -0 $$ && kill -KILL 0; } >/dev/null 2>&1 & )`
	if !hasStdin {
		return "exec 3<&0 </dev/null; " + watchdog + "; exec 3<&-\n" + inner, nil
	}
	// head hands exactly n bytes to the script, then forks the watchdog,
	// which keeps reading the session's stdin.
	return "exec 3<&0 </dev/null; { head -c " + strconv.Itoa(n) + " <&3; exec >&-; " + watchdog + "; } 2>/dev/null | {\n" + inner + "\n}", nil
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// session runs one command in a new session on cn and returns its exit
// code. Errors: *notStarted, exec.ErrConnectionLost, ctx errors.
func (c *Client) session(ctx context.Context, cn *conn, cmd exec.Cmd, data []byte, hasStdin bool, stdout, stderr io.Writer) (int, error) {
	script, err := buildScript(cmd, cn.uid0, cn.wrap, hasStdin, len(data))
	if err != nil {
		return -1, err
	}
	line := bootLine
	var head []byte // what precedes data on the session's stdin
	if cn.raw {
		line = script
	} else {
		head = []byte(encodeLine("unset s\n" + script))
	}
	if err := c.acquire(ctx, cn); err != nil {
		return -1, err
	}
	defer func() { <-c.slots }()
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	sess, err := c.newSession(ctx, cn)
	if err != nil {
		if cn.dead() || errors.Is(err, io.EOF) || cn.gone(err) {
			cn.kill(err)
			return -1, &notStarted{fmt.Errorf("%w: %v", exec.ErrConnectionLost, err)}
		}
		return -1, fmt.Errorf("open session: %w", err)
	}
	defer sess.Close()
	sess.Stdout, sess.Stderr = stdout, stderr
	var stdinW io.WriteCloser
	if cn.wrap {
		// Kept open for the command's life: the watchdog's lifeline.
		stdinW, err = sess.StdinPipe()
		if err != nil {
			return -1, fmt.Errorf("open session stdin: %w", err)
		}
	} else if hasStdin || len(head) > 0 {
		sess.Stdin = io.MultiReader(bytes.NewReader(head), bytes.NewReader(data))
	}
	if err := sess.Start(line); err != nil {
		if cn.dead() {
			return -1, &notStarted{fmt.Errorf("%w: %v", exec.ErrConnectionLost, err)}
		}
		if cn.gone(err) {
			// The exec request may have reached the target: lost, but not
			// "not started", so it is not re-run behind the caller's back.
			cn.kill(err)
			return -1, fmt.Errorf("%w: %v", exec.ErrConnectionLost, err)
		}
		return -1, fmt.Errorf("start: %w", err)
	}
	if stdinW != nil && len(head)+len(data) > 0 {
		go func() {
			if _, err := stdinW.Write(head); err == nil {
				_, _ = stdinW.Write(data)
			}
		}()
	}
	waitc := make(chan error, 1)
	go func() { waitc <- sess.Wait() }()
	select {
	case err := <-waitc:
		return c.classify(cn, err)
	case <-ctx.Done():
		// Kill the remote process group (sshd killpg's the session) and
		// close the session, which also fires the watchdog.
		_ = sess.Signal(gossh.SIGKILL)
		sess.Close()
		select {
		case <-waitc:
		case <-time.After(2 * time.Second):
		}
		return -1, ctx.Err()
	}
}

// newSession opens a session, retrying briefly when sshd refuses the
// channel because its MaxSessions slots are still being released.
// gone reports whether the connection is dead after err, a failure that
// is not the server's own answer (a refused channel means it is alive).
// The transport may not have noticed a close yet: a keepalive request fails
// at once on a closed connection, and the reader records the close shortly.
func (cn *conn) gone(err error) bool {
	var oe *gossh.OpenChannelError
	if errors.As(err, &oe) {
		return false
	}
	probe := make(chan error, 1)
	go func() {
		_, _, rerr := cn.c.SendRequest("keepalive@openssh.com", true, nil)
		probe <- rerr
	}()
	select {
	case rerr := <-probe:
		return rerr != nil || cn.dead()
	case <-cn.done:
		return true
	case <-time.After(time.Second):
		return cn.dead()
	}
}

func (c *Client) newSession(ctx context.Context, cn *conn) (*gossh.Session, error) {
	delay := 10 * time.Millisecond
	for {
		sess, err := cn.c.NewSession()
		var oe *gossh.OpenChannelError
		if err == nil || !errors.As(err, &oe) || delay > 2*time.Second {
			return sess, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func (c *Client) classify(cn *conn, err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	var ee *gossh.ExitError
	if errors.As(err, &ee) {
		if ee.Signal() != "" {
			return -1, nil
		}
		return ee.ExitStatus(), nil
	}
	// No exit status: the channel or the connection went away.
	select {
	case <-cn.done:
	case <-time.After(300 * time.Millisecond):
	}
	why := cn.why()
	if why == nil {
		why = err
	}
	return -1, fmt.Errorf("%w: %v", exec.ErrConnectionLost, why)
}

// ReadFile implements exec.Executor with `cat`, as the connecting user.
func (c *Client) ReadFile(ctx context.Context, p string) ([]byte, error) {
	if strings.ContainsAny(p, "\n\x00") {
		return nil, fmt.Errorf("read %q: invalid path", p)
	}
	var out bytes.Buffer
	errw := exec.NewLineWriter(64<<10, nil)
	cmd := exec.Cmd{Script: "cat " + exec.Quote(p)}
	res, err := c.run(ctx, cmd, &out, errw)
	if errors.Is(err, exec.ErrConnectionLost) && ctx.Err() == nil {
		// Reading is idempotent: once more on a fresh connection.
		out.Reset()
		errw = exec.NewLineWriter(64<<10, nil)
		res, err = c.run(ctx, cmd, &out, errw)
	}
	res.Stderr = errw.String()
	if err == nil && res.Code != 0 {
		if strings.Contains(res.Stderr, "No such file or directory") {
			return nil, fmt.Errorf("read %s on %s: %w", p, c.target, fs.ErrNotExist)
		}
		if strings.Contains(res.Stderr, "Permission denied") {
			return nil, fmt.Errorf("read %s on %s as %s: %w", p, c.target, c.cfg.User, fs.ErrPermission)
		}
		err = c.finish(cmd, res, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s on %s: %w", p, c.target, err)
	}
	return out.Bytes(), nil
}

// WriteFile implements exec.Executor: as the connecting user, stream to a
// temp file, verify its SHA-256, chmod, sync, rename (see the package doc).
func (c *Client) WriteFile(ctx context.Context, p string, data []byte, mode fs.FileMode) error {
	if p == "" || !path.IsAbs(p) || strings.ContainsAny(p, "\n\x00") {
		return fmt.Errorf("write %q: want an absolute path without newlines", p)
	}
	tmp := path.Join(path.Dir(p), path.Base(exec.TempName(p)))
	sum := sha256.Sum256(data)
	check := hex.EncodeToString(sum[:]) + "  " + tmp
	qt := exec.Quote(tmp)
	script := "mkdir -p " + exec.Quote(path.Dir(p)) +
		" && umask 077 && cat > " + qt +
		" && printf '%s\\n' " + exec.Quote(check) + " | sha256sum -c --status" +
		" && chmod " + fmt.Sprintf("%04o", mode.Perm()) + " " + qt +
		" && { sync " + qt + " 2>/dev/null || :; }" +
		" && mv -f " + qt + " " + exec.Quote(p) +
		" || { rm -f " + qt + "; exit 1; }"
	errw := exec.NewLineWriter(64<<10, nil)
	cmd := exec.Cmd{Script: script, Stdin: bytes.NewReader(data)}
	res, err := c.run(ctx, cmd, io.Discard, errw)
	if errors.Is(err, exec.ErrConnectionLost) && ctx.Err() == nil {
		// The write is idempotent (same temp file, verified, renamed):
		// once more on a fresh connection.
		errw = exec.NewLineWriter(64<<10, nil)
		cmd.Stdin = bytes.NewReader(data)
		res, err = c.run(ctx, cmd, io.Discard, errw)
	}
	res.Stderr = errw.String()
	if err == nil {
		if strings.Contains(res.Stderr, "Permission denied") || strings.Contains(res.Stderr, "Operation not permitted") {
			return fmt.Errorf("write %s on %s as %s: %w", p, c.target, c.cfg.User, fs.ErrPermission)
		}
		err = c.finish(exec.Cmd{Script: "write " + p}, res, nil)
	}
	if err != nil {
		return fmt.Errorf("write %s on %s: %w", p, c.target, err)
	}
	return nil
}
