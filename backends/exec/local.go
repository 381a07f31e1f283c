package exec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Local runs commands on this machine. The zero value is not usable; call
// NewLocal. Fields may be changed before first use.
type Local struct {
	// Shell interprets Cmd.Script (default "/bin/sh").
	Shell string
	// MaxOutput caps Result.Stdout/Stderr (default DefaultMaxOutput).
	MaxOutput int
	// WaitDelay bounds how long Run waits for output pipes held open by
	// background grandchildren after the command exited (default 2s).
	WaitDelay time.Duration
	// Log receives one debug line per command (secret scripts elided).
	Log *slog.Logger

	euid int
}

// NewLocal returns an Executor for this machine.
func NewLocal() *Local {
	return &Local{Shell: "/bin/sh", MaxOutput: DefaultMaxOutput, WaitDelay: 2 * time.Second, euid: os.Geteuid()}
}

var _ Executor = (*Local)(nil)

// Target implements Executor.
func (l *Local) Target() string { return "local" }

// Run implements Executor. The command runs in its own process group, which
// is killed (SIGKILL) as a whole on cancellation or timeout.
func (l *Local) Run(ctx context.Context, cmd Cmd) (Result, error) {
	start := time.Now()
	shown := Display(cmd)
	if err := ctx.Err(); err != nil {
		return Result{Code: -1}, fmt.Errorf("command %q not started: %w", shown, err)
	}
	runCtx := ctx
	if cmd.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cmd.Timeout)
		defer cancel()
	}
	shell := l.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	argv := []string{shell, "-c", cmd.Script}
	sudo := cmd.Sudo && l.euid != 0
	if sudo {
		pre := []string{"sudo", "-n", "--", "env"}
		for _, k := range sortedKeys(cmd.Env) {
			pre = append(pre, k+"="+cmd.Env[k])
		}
		argv = append(pre, argv...)
	}
	c := osexec.CommandContext(runCtx, argv[0], argv[1:]...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error {
		// Kill the whole group: the shell and everything it started.
		if c.Process == nil {
			return nil
		}
		return syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
	}
	c.WaitDelay = l.WaitDelay
	if c.WaitDelay <= 0 {
		c.WaitDelay = 2 * time.Second
	}
	if !sudo && len(cmd.Env) > 0 {
		c.Env = os.Environ()
		for _, k := range sortedKeys(cmd.Env) {
			c.Env = append(c.Env, k+"="+cmd.Env[k])
		}
	}
	stdout := NewLineWriter(l.MaxOutput, cmd.Stdout)
	stderr := NewLineWriter(l.MaxOutput, cmd.Stderr)
	c.Stdout, c.Stderr = stdout, stderr
	if cmd.Stdin != nil {
		c.Stdin = cmd.Stdin
	}
	if l.Log != nil {
		l.Log.Debug("run", "target", "local", "cmd", shown, "sudo", sudo)
	}
	err := c.Run()
	stdout.Flush()
	stderr.Flush()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), Duration: time.Since(start)}
	if c.ProcessState != nil {
		res.Code = c.ProcessState.ExitCode()
	} else {
		res.Code = -1
	}
	if cerr := runCtx.Err(); cerr != nil && (err != nil || res.Code != 0) {
		if ctx.Err() == nil && errors.Is(cerr, context.DeadlineExceeded) {
			return res, fmt.Errorf("command %q timed out after %s: %w", shown, cmd.Timeout, cerr)
		}
		return res, fmt.Errorf("command %q interrupted: %w", shown, cerr)
	}
	var ee *osexec.ExitError
	switch {
	case err == nil:
		return res, nil
	case errors.As(err, &ee):
		if sudo && IsSudoPasswordPrompt(res.Stderr) {
			return res, fmt.Errorf("command %q: %w", shown, ErrSudoPassword)
		}
		return res, &ExitError{Cmd: shown, Code: res.Code, Stderr: res.Stderr}
	case errors.Is(err, osexec.ErrWaitDelay):
		// The command exited but a background child kept the output open.
		if res.Code != 0 {
			return res, &ExitError{Cmd: shown, Code: res.Code, Stderr: res.Stderr}
		}
		return res, nil
	default:
		return res, fmt.Errorf("command %q: %w", shown, err)
	}
}

// IsSudoPasswordPrompt reports whether stderr is sudo -n refusing because it
// needs a password (or a terminal to ask for one).
func IsSudoPasswordPrompt(stderr string) bool {
	return strings.Contains(stderr, "sudo: a password is required") ||
		strings.Contains(stderr, "sudo: a terminal is required") ||
		strings.Contains(stderr, "sudo: no tty present")
}

// ReadFile implements Executor.
func (l *Local) ReadFile(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return b, nil
}

// WriteFile implements Executor: temp file in the same directory, write,
// chmod, fsync, rename, fsync of the directory.
func (l *Local) WriteFile(ctx context.Context, path string, data []byte, mode fs.FileMode) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if path == "" {
		return errors.New("write: empty path")
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := filepath.Join(dir, "."+filepath.Base(path)+".tmp-"+randHex())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Chmod(mode.Perm()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = ctx.Err(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SortedEnv returns env's keys in a stable order (for building commands).
func SortedEnv(env map[string]string) []string { return sortedKeys(env) }

func randHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TempName returns a random hidden sibling name for path, used for atomic
// writes ("dir/.name.tmp-<hex>").
func TempName(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-"+randHex())
}
