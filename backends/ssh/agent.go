package ssh

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/backends/exec"
)

// The persistent remote shell (see the package doc, "Persistent sessions").
//
// agentScript runs in /bin/sh behind the boot line. The session's stdin
// (fd 3) carries requests; a reader copies them, line by line, into a pipe
// to the loop, and when the session's stdin ends — the client closed the
// session (cancel) or the connection died — it kills the session's process
// group (kill -KILL 0): the loop and the running command with it. So one
// watchdog serves every command of the session. A request is a random
// token line, a line with the script's line count N, and the script's N
// lines as they are (read -r keeps backslashes; no fork decodes them; a
// script never holds a NUL byte). Each command runs
// in a subshell (its cd, exports and exit stay its own) with /dev/null as
// stdin; its stdout and stderr are the session's; then the loop writes the
// end marker "\x1e" TOKEN " " CODE "\n" on stdout and "\x1e" TOKEN "\n" on
// stderr, so the client knows where each stream of this command ends.
const agentScript = `exec 3<&0 </dev/null
{ while IFS= read -r l <&3; do printf '%s\n' "$l" || break; done; kill -KILL 0; } 2>/dev/null | while IFS= read -r t && IFS= read -r n; do
s=; while [ "$n" -gt 0 ] && IFS= read -r l; do s="$s$l
"; n=$((n-1)); done
( unset t n l c; eval "unset s
$s" ) </dev/null 3<&-
c=$?
printf '\036%s %d\n' "$t" "$c"
printf '\036%s\n' "$t" >&2
done`

// maxIdleAgents bounds the persistent sessions kept open between commands
// per connection (each holds one of the MaxSessions slots).
const maxIdleAgents = 2

// remoteShell is one persistent remote shell (an agent).
type remoteShell struct {
	sess  *gossh.Session
	in    io.WriteCloser
	out   *bufio.Reader
	errR  *bufio.Reader
	slot  bool // holds a slot of Client.slots
	fails bool // broken: close instead of reuse
}

// pool is a connection's idle agents.
type pool struct {
	mu   sync.Mutex
	idle []*remoteShell
}

// acquire takes a session slot: free, or freed by closing an idle agent
// (of any connection of this client); otherwise it waits.
func (c *Client) acquire(ctx context.Context, cn *conn) error {
	for {
		select {
		case c.slots <- struct{}{}:
			return nil
		default:
		}
		cn.pool.mu.Lock()
		if n := len(cn.pool.idle); n > 0 {
			a := cn.pool.idle[n-1]
			cn.pool.idle = cn.pool.idle[:n-1]
			cn.pool.mu.Unlock()
			c.closeAgent(a)
			continue
		}
		c.waiters.Add(1)
		cn.pool.mu.Unlock()
		select {
		case c.slots <- struct{}{}:
			c.waiters.Add(-1)
			return nil
		case <-ctx.Done():
			c.waiters.Add(-1)
			return ctx.Err()
		}
	}
}

func (c *Client) closeAgent(a *remoteShell) {
	_ = a.sess.Close()
	if a.slot {
		a.slot = false
		<-c.slots
	}
}

// putAgent returns a to the pool, or closes it when it is broken, the pool
// is full or another call waits for a slot.
func (c *Client) putAgent(cn *conn, a *remoteShell) {
	cn.pool.mu.Lock()
	if a.fails || cn.dead() || len(cn.pool.idle) >= maxIdleAgents || c.waiters.Load() > 0 {
		cn.pool.mu.Unlock()
		c.closeAgent(a)
		return
	}
	cn.pool.idle = append(cn.pool.idle, a)
	cn.pool.mu.Unlock()
}

// getAgent returns an idle agent or starts one (holding a slot).
func (c *Client) getAgent(ctx context.Context, cn *conn) (*remoteShell, error) {
	cn.pool.mu.Lock()
	if n := len(cn.pool.idle); n > 0 {
		a := cn.pool.idle[n-1]
		cn.pool.idle = cn.pool.idle[:n-1]
		cn.pool.mu.Unlock()
		return a, nil
	}
	cn.pool.mu.Unlock()
	if err := c.acquire(ctx, cn); err != nil {
		return nil, err
	}
	a, err := c.startAgent(ctx, cn)
	if err != nil {
		<-c.slots
		return nil, err
	}
	a.slot = true
	return a, nil
}

// startAgent opens a session running agentScript.
func (c *Client) startAgent(ctx context.Context, cn *conn) (*remoteShell, error) {
	sess, err := c.newSession(ctx, cn)
	if err != nil {
		if cn.dead() || errors.Is(err, io.EOF) || cn.gone(err) {
			cn.kill(err)
			return nil, &notStarted{fmt.Errorf("%w: %v", exec.ErrConnectionLost, err)}
		}
		return nil, fmt.Errorf("open session: %w", err)
	}
	in, err1 := sess.StdinPipe()
	out, err2 := sess.StdoutPipe()
	errR, err3 := sess.StderrPipe()
	if err := errors.Join(err1, err2, err3); err != nil {
		sess.Close()
		return nil, fmt.Errorf("open session pipes: %w", err)
	}
	if err := sess.Start(bootLine); err != nil {
		sess.Close()
		if cn.dead() {
			return nil, &notStarted{fmt.Errorf("%w: %v", exec.ErrConnectionLost, err)}
		}
		return nil, fmt.Errorf("start: %w", err)
	}
	if _, err := in.Write([]byte(encodeLine("unset s\n" + agentScript))); err != nil {
		sess.Close()
		return nil, &notStarted{fmt.Errorf("%w: %v", exec.ErrConnectionLost, err)}
	}
	return &remoteShell{sess: sess, in: in, out: bufio.NewReaderSize(out, 64<<10), errR: bufio.NewReaderSize(errR, 16<<10)}, nil
}

// agentRun runs cmd (no stdin) on a persistent session of cn.
func (c *Client) agentRun(ctx context.Context, cn *conn, cmd exec.Cmd, stdout, stderr io.Writer) (int, error) {
	script, err := buildScript(cmd, cn.uid0, false, false, 0)
	if err != nil {
		return -1, err
	}
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	a, err := c.getAgent(ctx, cn)
	if err != nil {
		return -1, err
	}
	var tb [16]byte
	_, _ = rand.Read(tb[:])
	token := hex.EncodeToString(tb[:])
	lines := strings.Count(script, "\n") + 1
	if _, err := a.in.Write([]byte(token + "\n" + strconv.Itoa(lines) + "\n" + script + "\n")); err != nil {
		a.fails = true
		c.putAgent(cn, a)
		if cn.dead() || cn.gone(err) {
			cn.kill(err)
		}
		// The request did not reach the shell as a whole: not started.
		return -1, &notStarted{fmt.Errorf("%w: %v", exec.ErrConnectionLost, err)}
	}
	errc := make(chan error, 1)
	go func() { _, err := readFrame(a.errR, "\x1e"+token+"\n", stderr, false); errc <- err }()
	outc := make(chan res, 1)
	go func() { code, err := readFrame(a.out, "\x1e"+token+" ", stdout, true); outc <- res{code, err} }()
	var r res
	select {
	case r = <-outc:
		if r.err == nil {
			r.err = <-errc
		}
	case <-ctx.Done():
		// Closing the session ends its stdin: the remote reader kills
		// the process group, command included.
		_ = a.sess.Signal(gossh.SIGKILL)
		a.fails = true
		c.closeAgent(a)
		// The readers end with the session; wait for them so no output
		// is written after Run returns.
		t := time.NewTimer(2 * time.Second)
		defer t.Stop()
		for _, ch := range []<-chan error{errc, errOf(outc)} {
			select {
			case <-ch:
			case <-t.C:
			}
		}
		return -1, ctx.Err()
	}
	if r.err != nil {
		a.fails = true
		c.putAgent(cn, a)
		select {
		case <-cn.done:
		case <-time.After(300 * time.Millisecond):
		}
		why := cn.why()
		if why == nil {
			why = r.err
		}
		return -1, fmt.Errorf("%w: %v", exec.ErrConnectionLost, why)
	}
	c.putAgent(cn, a)
	return r.code, nil
}

type res struct {
	code int
	err  error
}

// errOf turns a result channel into an error channel (for waiting).
func errOf(c <-chan res) <-chan error {
	e := make(chan error, 1)
	go func() { r := <-c; e <- r.err }()
	return e
}

// readFrame copies r to w up to marker; with code it then reads the exit
// code up to the newline. Output is passed on as it arrives (whatever one
// read brought); only a "\x1e" that may start the marker waits for the
// bytes after it. Bytes after the marker stay in r.
func readFrame(r *bufio.Reader, marker string, w io.Writer, code bool) (int, error) {
	for {
		if r.Buffered() == 0 {
			if _, err := r.Peek(1); err != nil {
				return -1, err
			}
		}
		p, _ := r.Peek(r.Buffered())
		i := bytes.IndexByte(p, '\x1e')
		if i != 0 {
			if i < 0 {
				i = len(p)
			}
			if _, err := w.Write(p[:i]); err != nil {
				return -1, err
			}
			_, _ = r.Discard(i)
			continue
		}
		q, err := r.Peek(len(marker))
		if string(q) == marker {
			_, _ = r.Discard(len(marker))
			if !code {
				return 0, nil
			}
			line, err := r.ReadString('\n')
			if err != nil {
				return -1, err
			}
			n, err := strconv.Atoi(strings.TrimSuffix(line, "\n"))
			if err != nil {
				return -1, fmt.Errorf("bad end marker %q", line)
			}
			return n, nil
		}
		if err != nil && strings.HasPrefix(marker, string(q)) {
			return -1, err // the stream ended inside a marker
		}
		if _, err := w.Write(q[:1]); err != nil {
			return -1, err
		}
		_, _ = r.Discard(1)
	}
}
