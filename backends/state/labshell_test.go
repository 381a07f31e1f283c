package state_test

import (
	"bytes"
	"context"
	"io/fs"
	"path"
	"testing"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/backends/state/statetest"
	"github.com/tappaas/tappaas/lab/shell"
)

// shellExec is a test-only Executor over the lab's shell interpreter, to
// hold ExecFS's scripts to what the lab node (and so a POSIX shell) runs.
type shellExec struct{ in *shell.Interp }

func (s shellExec) Target() string { return "lab" }

func (s shellExec) Run(ctx context.Context, cmd exec.Cmd) (exec.Result, error) {
	var out, errb bytes.Buffer
	code := s.in.Run(ctx, cmd.Script, cmd.Stdin, &out, &errb, nil)
	res := exec.Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
	if code != 0 {
		return res, &exec.ExitError{Cmd: cmd.Script, Code: code, Stderr: errb.String()}
	}
	return res, nil
}

func (s shellExec) ReadFile(ctx context.Context, p string) ([]byte, error) {
	return s.in.FS().ReadFile(p)
}

func (s shellExec) WriteFile(ctx context.Context, p string, data []byte, mode fs.FileMode) error {
	if err := s.in.FS().MkdirAll(path.Dir(p), 0o755); err != nil {
		return err
	}
	return s.in.FS().WriteFile(p, data, mode)
}

type shellModeFS struct {
	state.FS
	fsys shell.FS
	dir  string
}

func (m shellModeFS) Mode(name string) (fs.FileMode, bool) {
	fi, err := m.fsys.Stat(path.Join(m.dir, name))
	if err != nil {
		return 0, false
	}
	return fi.Mode.Perm(), true
}

// The lab shell accepts `set -C` but does not implement noclobber, so
// ExecFS's exclusive create is only as atomic as its test-then-create there;
// real shells (dash, bash) open with O_EXCL under noclobber, which
// TestExecFSConformance checks through /bin/sh.
func TestExecFSOverLabShellConformance(t *testing.T) {
	t.Parallel()
	statetest.TestFSWith(t, func(t *testing.T) state.FS {
		mem := shell.NewMemFS()
		in := shell.New(mem)
		dir := "/var/lib/tappaas"
		if err := mem.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		return shellModeFS{state.ExecFS(shellExec{in}, dir), mem, dir}
	}, statetest.Options{NoRace: "the lab shell ignores noclobber (set -C)"})
}
