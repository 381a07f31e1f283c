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
	if errors.As(err, &ee) && ee.Code > 0 && ee.Code != 127 {
		return false, nil
	}
	return false, wrapRunErr(err)
}

func wrapRunErr(err error) error {
	// io.EOF from an executor means the link died under the command.
	if errors.Is(err, exec.ErrConnectionLost) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return steps.MarkRetryable(err)
	}
	return err
}

// ReadFile reads a file on e; a missing file returns (nil, false, nil).
func ReadFile(ctx context.Context, e exec.Executor, path string) ([]byte, bool, error) {
	b, err := e.ReadFile(ctx, path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
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
	if err := e.WriteFile(ctx, path, data, mode); err != nil {
		return false, wrapRunErr(fmt.Errorf("write %s: %w", path, err))
	}
	if rt != nil {
		rt.Printf("wrote %s", path)
	}
	return true, nil
}

// Write writes a file on e (atomically, with mode); a lost connection is
// marked retryable like Run's.
func Write(ctx context.Context, e exec.Executor, path string, data []byte, mode fs.FileMode) error {
	if err := e.WriteFile(ctx, path, data, mode); err != nil {
		return wrapRunErr(fmt.Errorf("write %s: %w", path, err))
	}
	return nil
}

// Poll calls cond until it reports true, the deadline passes or ctx ends,
// telling the operator what it waits for. cond errors are remembered and
// returned with the timeout (a transient error does not stop the wait).
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
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("timed out after %s waiting for %s: %w", timeout, what, last)
			}
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
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
