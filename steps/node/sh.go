// Package node holds the steps that prepare a freshly installed PVE node
// (repositories, packages, the subscription notice, snippets) and the small
// helpers every bootstrap phase uses to drive the node's shell: run a
// command with its output streamed to the step's log, write a file only when
// it differs, poll a condition with a deadline.
//
// Every step here is idempotent: Check reads the target, Apply converges it
// and a second Apply changes nothing.
package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/steps"
)

// Run runs script on e, streaming each output line to the step's log, and
// returns standard output. A lost connection is marked retryable (the
// runner re-checks before applying again).
func Run(ctx context.Context, rt *steps.Runtime, e exec.Executor, script string) (string, error) {
	return run(ctx, rt, e, exec.Cmd{Script: script})
}

// RunCmd is Run with a full Cmd (stdin, secret, timeout).
func RunCmd(ctx context.Context, rt *steps.Runtime, e exec.Executor, c exec.Cmd) (string, error) {
	return run(ctx, rt, e, c)
}

func run(ctx context.Context, rt *steps.Runtime, e exec.Executor, c exec.Cmd) (string, error) {
	if rt != nil {
		if c.Stdout == nil {
			c.Stdout = func(l string) { rt.Output(steps.StreamStdout, l) }
		}
		if c.Stderr == nil {
			c.Stderr = func(l string) { rt.Output(steps.StreamStderr, l) }
		}
	}
	res, err := e.Run(ctx, c)
	if err != nil {
		return res.Stdout, wrapRunErr(err)
	}
	return res.Stdout, nil
}

// Query runs a read-only command without streaming its output (for Check).
func Query(ctx context.Context, e exec.Executor, script string) (string, error) {
	res, err := e.Run(ctx, exec.Cmd{Script: script})
	if err != nil {
		return res.Stdout, wrapRunErr(err)
	}
	return res.Stdout, nil
}

// QueryOK runs a test command: (true, nil) on exit 0, (false, nil) on a
// non-zero exit, an error when it could not run.
func QueryOK(ctx context.Context, e exec.Executor, script string) (bool, error) {
	_, err := e.Run(ctx, exec.Cmd{Script: script})
	if err == nil {
		return true, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.Code > 0 && ee.Code != 127 && !Transient(err) {
		return false, nil
	}
	return false, wrapRunErr(err)
}

func wrapRunErr(err error) error {
	// io.EOF from an executor means the link died under the command.
	if errors.Is(err, exec.ErrConnectionLost) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return steps.MarkRetryable(err)
	}
	if Transient(err) {
		return steps.MarkRetryable(err)
	}
	return err
}

// transientPVE matches what PVE's tools print when they were busy or
// restarting and changed nothing: a lock not acquired in time
// (proxmox/pve-common src/PVE/Tools.pm lock_file_full: "can't lock file
// '…' - got timeout"; proxmox/pve-cluster src/PVE/Cluster.pm cfs_lock:
// "cfs-lock '…' error: got lock request timeout"), the cluster filesystem
// not answering its IPC (pve-cluster's ipcc: "ipcc_send_rec[N] failed"),
// and the gateway statuses pvesh/pvesm print as "NNN reason" (502/503/504,
// pveproxy's 595/596). A permanent failure ("500 … already exists",
// validation errors) never matches.
var transientPVE = regexp.MustCompile(`can't lock file '[^']*' - got timeout|cfs-lock '[^']*' error: got lock request timeout|ipcc_send_rec\[\d+\] failed|(?m)^(502|503|504|595|596) `)

// Transient reports whether err is a command failure that running the
// same command again may fix (see transientPVE). The runner retries such
// a step: safe because every step's Check runs again before its Apply, so
// a write that did land is found done, not repeated.
func Transient(err error) bool {
	var ee *exec.ExitError
	return errors.As(err, &ee) && transientPVE.MatchString(ee.Stderr)
}

// ReadFile reads a file on e; a missing file returns (nil, false, nil).
func ReadFile(ctx context.Context, e exec.Executor, path string) ([]byte, bool, error) {
	b, err := e.ReadFile(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if errors.Is(err, fs.ErrPermission) {
		return nil, false, fmt.Errorf("%w: give the file to the user tappaas connects as on %s (chown; an earlier version wrote some files through sudo) and run again", err, e.Target())
	}
	if err != nil {
		return nil, false, wrapRunErr(err)
	}
	return b, true, nil
}

// FileIs reports whether path exists with exactly want.
func FileIs(ctx context.Context, e exec.Executor, path string, want []byte) (bool, error) {
	b, ok, err := ReadFile(ctx, e, path)
	if err != nil || !ok {
		return false, err
	}
	return bytes.Equal(b, want), nil
}

// WriteIfChanged writes data to path (atomically, with mode) unless it is
// already there; it reports whether it wrote.
func WriteIfChanged(ctx context.Context, rt *steps.Runtime, e exec.Executor, path string, data []byte, mode fs.FileMode) (bool, error) {
	same, err := FileIs(ctx, e, path, data)
	if err != nil {
		return false, err
	}
	if same {
		return false, nil
	}
	if err := Write(ctx, e, path, data, mode); err != nil {
		return false, err
	}
	if rt != nil {
		rt.Printf("wrote %s", path)
	}
	return true, nil
}

// Write writes a file on e (atomically, with mode); a lost connection is
// marked retryable like Run's.
func Write(ctx context.Context, e exec.Executor, path string, data []byte, mode fs.FileMode) error {
	if err := e.WriteFile(ctx, path, data, mode); errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("write %s: %w: the user tappaas connects as on %s may not write there; give it the directory (chown) and run again", path, err, e.Target())
	} else if err != nil {
		return wrapRunErr(fmt.Errorf("write %s: %w", path, err))
	}
	return nil
}

// Poll calls cond until it reports true, the deadline passes or ctx ends,
// telling the operator what it waits for. cond errors are remembered and
// returned with the timeout (a transient error does not stop the wait),
// except a fatal one (steps.Fatal: a changed host key, a certificate other
// than the pinned one), which ends the wait at once: waiting cannot fix it.
// The interval grows from 100ms to max.
func Poll(ctx context.Context, rt *steps.Runtime, what string, timeout, max time.Duration, cond func(ctx context.Context) (bool, error)) error {
	if max <= 0 {
		max = 2 * time.Second
	}
	deadline := time.Now().Add(timeout)
	interval := 100 * time.Millisecond
	var last error
	for {
		ok, err := cond(ctx)
		if ok && err == nil {
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if steps.Fatal(err) {
				return err
			}
			last = err
		}
		if time.Now().After(deadline) {
			// A caller's budget may already be spent (timeout <= 0): say
			// so rather than "after -3s".
			waited := "timed out after " + timeout.Round(time.Millisecond).String()
			if timeout <= 0 {
				waited = "no time was left"
			}
			if last != nil {
				return fmt.Errorf("%s waiting for %s: %w", waited, what, last)
			}
			return fmt.Errorf("%s waiting for %s", waited, what)
		}
		if rt != nil {
			w := what
			if last != nil {
				w += " (last answer: " + last.Error() + ")"
			}
			rt.Wait(w, deadline)
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		interval = min(interval*2, max)
	}
}

// Lines splits output into trimmed non-empty lines.
func Lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
