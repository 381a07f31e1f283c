package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"time"
)

// Executor runs commands and reads/writes files on one target host.
//
// Implementations are safe for concurrent use. Every method honours ctx:
// cancellation kills the command (the whole process group locally; the
// remote process over SSH) and returns ctx.Err() wrapped.
type Executor interface {
	// Run runs cmd.Script with /bin/sh -c semantics on the target and
	// waits. A non-zero exit is returned as *ExitError. Output lines are
	// streamed to cmd.Stdout/cmd.Stderr callbacks as they arrive; the
	// Result also carries the (size-capped) captured output.
	Run(ctx context.Context, cmd Cmd) (Result, error)
	// ReadFile returns a file's contents, read as the executor's user; a
	// missing file is fs.ErrNotExist, one that user may not read
	// fs.ErrPermission (match with errors.Is).
	ReadFile(ctx context.Context, path string) ([]byte, error)
	// WriteFile writes a file atomically on the target (temp file in the
	// same directory, fsync, rename) with the given mode, as the
	// executor's user: the file is owned by that user and its login group,
	// and parent directories it creates are too. Where that user may not
	// write, the error matches fs.ErrPermission. To give a file to a user,
	// connect as that user (see the package doc).
	WriteFile(ctx context.Context, path string, data []byte, mode fs.FileMode) error
	// Target names the host for messages ("local", "root@10.0.0.10:22").
	Target() string
}

// Cmd is one command to run.
type Cmd struct {
	// Script is a shell command line. Quote untrusted words with Quote.
	Script string
	// Stdin, when set, is copied to the command's standard input.
	Stdin io.Reader
	// Env adds environment variables.
	Env map[string]string
	// Sudo runs the command with `sudo -n` when the executor's user is not
	// root (no effect for root).
	Sudo bool
	// Timeout, when non-zero, bounds the command; on expiry it is killed
	// and the error wraps context.DeadlineExceeded.
	Timeout time.Duration
	// Stdout and Stderr, when set, receive each output line (without the
	// newline) as it arrives. Called from one goroutine per stream.
	Stdout, Stderr func(line string)
	// Secret, when true, keeps Script out of logs and error text (the
	// command line contains a credential). ExitError.Cmd says "(secret)".
	Secret bool
}

// Result is what a finished command produced. Stdout and Stderr are capped
// (the tail is kept) so a chatty command cannot exhaust memory.
type Result struct {
	Stdout, Stderr string
	Code           int
	Duration       time.Duration
}

// ExitError is returned when a command ran and exited non-zero.
type ExitError struct {
	Cmd    string // the command line (or "(secret)")
	Code   int    // exit code; -1 when killed by a signal
	Stderr string // the tail of standard error
}

func (e *ExitError) Error() string {
	tail := strings.TrimSpace(e.Stderr)
	if tail == "" {
		return fmt.Sprintf("command %q exited %d", e.Cmd, e.Code)
	}
	if i := strings.LastIndexByte(tail, '\n'); i >= 0 && len(tail) > 300 {
		tail = tail[i+1:]
	}
	return fmt.Sprintf("command %q exited %d: %s", e.Cmd, e.Code, tail)
}

// ErrConnectionLost is returned (wrapped) when the link to the target dropped
// while a command ran. Whether the command took effect is unknown: callers
// re-Check before re-running.
var ErrConnectionLost = errors.New("connection to target lost")

// ErrSudoPassword is returned (wrapped) when a command with Cmd.Sudo ran as a
// user other than root and `sudo -n` refused because it wants a password.
// Fix: give the user passwordless sudo (NOPASSWD) or connect as root.
var ErrSudoPassword = errors.New("sudo needs a password (passwordless sudo is required: add a NOPASSWD rule for this user or connect as root)")

// Display is the command line as it may appear in logs and errors: the
// script (shortened to 200 bytes), or "(secret)" for Cmd.Secret.
func Display(c Cmd) string {
	if c.Secret {
		return "(secret)"
	}
	s := strings.TrimSpace(c.Script)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// DialFunc dials a network address. Backends take one at construction so the
// lab can route its addresses to loopback; the product passes the system
// dialer (see SystemDial).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// SystemDial is the product's dialer.
func SystemDial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// Quote quotes one word for a POSIX shell.
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./-_", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each word and joins them with spaces.
func Join(words ...string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}
