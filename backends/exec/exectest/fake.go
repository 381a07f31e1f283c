package exectest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
)

// Invocation is what a Fake handler receives for one Run.
type Invocation struct {
	Cmd   exec.Cmd
	Match []string // the pattern's submatches (Match[0] is the whole script)
	// Stdin is the command's standard input (empty when Cmd.Stdin is nil).
	Stdin io.Reader
	// Stdout and Stderr deliver output; lines reach Cmd.Stdout/Cmd.Stderr
	// and the Result like a real executor's.
	Stdout, Stderr io.Writer
	// Fake is the executor, for its in-memory files.
	Fake *Fake
}

// Handler emulates one command. It returns the exit code, or an error to
// return as is (e.g. one wrapping exec.ErrConnectionLost). Long-running
// handlers must watch ctx; Fake returns on cancellation regardless.
type Handler func(ctx context.Context, inv *Invocation) (int, error)

// Call is one recorded Run.
type Call struct {
	Script string
	Env    map[string]string
	Sudo   bool
	Secret bool
	Stdin  []byte
}

type rule struct {
	re *regexp.Regexp
	h  Handler
}

type fakeFile struct {
	data []byte
	mode fs.FileMode
}

// Fake is an in-memory scripted exec.Executor for step unit tests: commands
// are matched against regular expressions (first registered match wins) and
// emulated by handlers; files live in memory. It honours the Executor
// contract (exectest.Run proves it), so steps see the same errors, output
// callbacks and cancellation as with a real target. Unmatched commands exit
// 127 like bash. Safe for concurrent use.
type Fake struct {
	// Name is returned by Target (default "fake").
	Name string
	// MaxOutput caps captured output (default exec.DefaultMaxOutput).
	MaxOutput int
	// OnUnknown, when set, is called with every script no pattern matched
	// (e.g. func(s string) { t.Errorf("unexpected command %q", s) }).
	OnUnknown func(script string)

	mu    sync.Mutex
	rules []rule
	calls []Call
	files map[string]fakeFile
	// WriteErr, when set, is returned by every WriteFile.
	writeErr error
}

var _ exec.Executor = (*Fake)(nil)

// NewFake returns an empty Fake.
func NewFake() *Fake { return &Fake{files: map[string]fakeFile{}} }

// On registers a handler for scripts matching pattern (a Go regexp, matched
// against the whole script: anchor it yourself if needed).
func (f *Fake) On(pattern string, h Handler) *Fake {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append(f.rules, rule{regexp.MustCompile(pattern), h})
	return f
}

// Reply registers a canned answer: stdout text and an exit code.
func (f *Fake) Reply(pattern, stdout string, code int) *Fake {
	return f.On(pattern, func(_ context.Context, inv *Invocation) (int, error) {
		io.WriteString(inv.Stdout, stdout)
		return code, nil
	})
}

// Fail registers an error for matching scripts (e.g. exec.ErrConnectionLost).
func (f *Fake) Fail(pattern string, err error) *Fake {
	return f.On(pattern, func(context.Context, *Invocation) (int, error) { return -1, err })
}

// FailWrites makes every WriteFile return err (nil clears).
func (f *Fake) FailWrites(err error) {
	f.mu.Lock()
	f.writeErr = err
	f.mu.Unlock()
}

// Calls returns the recorded Runs in order.
func (f *Fake) Calls() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.calls...)
}

// Scripts returns the recorded scripts in order.
func (f *Fake) Scripts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.calls))
	for i, c := range f.calls {
		out[i] = c.Script
	}
	return out
}

// SetFile puts a file into the in-memory filesystem.
func (f *Fake) SetFile(name string, data []byte, mode fs.FileMode) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[path.Clean(name)] = fakeFile{append([]byte(nil), data...), mode.Perm()}
}

// File returns a file's contents and mode.
func (f *Fake) File(name string) ([]byte, fs.FileMode, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ff, ok := f.files[path.Clean(name)]
	if !ok {
		return nil, 0, false
	}
	return append([]byte(nil), ff.data...), ff.mode, true
}

// RemoveFile deletes a file (no error if missing).
func (f *Fake) RemoveFile(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.files, path.Clean(name))
}

// Files lists the file names, sorted.
func (f *Fake) Files() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, 0, len(f.files))
	for k := range f.files {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Target implements exec.Executor.
func (f *Fake) Target() string {
	if f.Name == "" {
		return "fake"
	}
	return f.Name
}

// Run implements exec.Executor.
func (f *Fake) Run(ctx context.Context, cmd exec.Cmd) (exec.Result, error) {
	start := time.Now()
	shown := exec.Display(cmd)
	var stdin []byte
	if cmd.Stdin != nil {
		b, err := io.ReadAll(cmd.Stdin)
		if err != nil {
			return exec.Result{Code: -1}, fmt.Errorf("command %q: reading stdin: %w", shown, err)
		}
		stdin = b
	}
	f.mu.Lock()
	env := make(map[string]string, len(cmd.Env))
	for k, v := range cmd.Env {
		env[k] = v
	}
	f.calls = append(f.calls, Call{Script: cmd.Script, Env: env, Sudo: cmd.Sudo, Secret: cmd.Secret, Stdin: stdin})
	var h Handler
	var m []string
	for _, r := range f.rules {
		if m = r.re.FindStringSubmatch(cmd.Script); m != nil {
			h = r.h
			break
		}
	}
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return exec.Result{Code: -1}, fmt.Errorf("command %q not started: %w", shown, err)
	}
	runCtx := ctx
	if cmd.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, cmd.Timeout)
		defer cancel()
	}
	stdout := exec.NewLineWriter(f.MaxOutput, cmd.Stdout)
	stderr := exec.NewLineWriter(f.MaxOutput, cmd.Stderr)
	type outcome struct {
		code int
		err  error
	}
	done := make(chan outcome, 1)
	if h == nil && f.OnUnknown != nil {
		f.OnUnknown(cmd.Script)
	}
	if h == nil {
		h = func(_ context.Context, inv *Invocation) (int, error) {
			fmt.Fprintf(inv.Stderr, "sh: 1: %s: not found\n", firstWord(inv.Cmd.Script))
			return 127, nil
		}
	}
	inv := &Invocation{Cmd: cmd, Match: m, Stdin: bytes.NewReader(stdin), Stdout: stdout, Stderr: stderr, Fake: f}
	go func() {
		code, err := h(runCtx, inv)
		done <- outcome{code, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-runCtx.Done():
		o = outcome{-1, nil}
	}
	stdout.Flush()
	stderr.Flush()
	res := exec.Result{Stdout: stdout.String(), Stderr: stderr.String(), Code: o.code, Duration: time.Since(start)}
	if cerr := runCtx.Err(); cerr != nil {
		res.Code = -1
		if ctx.Err() == nil {
			return res, fmt.Errorf("command %q timed out after %s: %w", shown, cmd.Timeout, cerr)
		}
		return res, fmt.Errorf("command %q interrupted: %w", shown, cerr)
	}
	if o.err != nil {
		return res, fmt.Errorf("command %q on %s: %w", shown, f.Target(), o.err)
	}
	if o.code != 0 {
		if cmd.Sudo && exec.IsSudoPasswordPrompt(res.Stderr) {
			return res, fmt.Errorf("command %q: %w", shown, exec.ErrSudoPassword)
		}
		return res, &exec.ExitError{Cmd: shown, Code: o.code, Stderr: res.Stderr}
	}
	return res, nil
}

func firstWord(s string) string {
	for i, r := range s {
		if r == ' ' || r == '\t' || r == '\n' || r == ';' {
			return s[:i]
		}
	}
	return s
}

// ReadFile implements exec.Executor.
func (f *Fake) ReadFile(ctx context.Context, name string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	b, _, ok := f.File(name)
	if !ok {
		return nil, fmt.Errorf("read %s on %s: %w", name, f.Target(), fs.ErrNotExist)
	}
	return b, nil
}

// WriteFile implements exec.Executor (atomic by construction).
func (f *Fake) WriteFile(ctx context.Context, name string, data []byte, mode fs.FileMode) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if name == "" || !path.IsAbs(name) {
		return fmt.Errorf("write %q: want an absolute path", name)
	}
	f.mu.Lock()
	err := f.writeErr
	f.mu.Unlock()
	if err != nil {
		return fmt.Errorf("write %s on %s: %w", name, f.Target(), err)
	}
	f.SetFile(name, data, mode)
	return nil
}
