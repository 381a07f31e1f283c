package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
)

// Exit codes the ExecFS scripts use to report fs conditions.
const (
	exitExist    = 17 // EEXIST
	exitNotExist = 2  // ENOENT
)

// ExecFS returns an FS rooted at dir on the target of e (a PVE node over
// SSH, or the local machine). It uses only what a POSIX shell on a PVE node
// has: cat, mkdir -p, chmod, rm, test, and noclobber (set -C) for exclusive
// create; atomic writes go through Executor.WriteFile (temp file, fsync,
// rename). Each call is bounded by a one-minute timeout.
func ExecFS(e exec.Executor, dir string) FS {
	return &execFS{e: e, dir: path.Clean(dir), timeout: time.Minute}
}

type execFS struct {
	e       exec.Executor
	dir     string
	timeout time.Duration
}

func (x *execFS) path(name string) (string, error) {
	c, err := cleanName(name)
	if err != nil {
		return "", err
	}
	return path.Join(x.dir, c), nil
}

// Where implements FS.
func (x *execFS) Where(name string) string {
	p, err := x.path(name)
	if err != nil {
		return name
	}
	return x.e.Target() + ":" + p
}

func (x *execFS) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), x.timeout)
}

// run runs script and maps the agreed exit codes to fs errors.
func (x *execFS) run(op, p, script string, stdin []byte) error {
	ctx, cancel := x.ctx()
	defer cancel()
	cmd := exec.Cmd{Script: script}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	_, err := x.e.Run(ctx, cmd)
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		switch ee.Code {
		case exitExist:
			return &fs.PathError{Op: op, Path: p, Err: fs.ErrExist}
		case exitNotExist:
			return &fs.PathError{Op: op, Path: p, Err: fs.ErrNotExist}
		}
	}
	return fmt.Errorf("%s %s on %s: %w", op, p, x.e.Target(), err)
}

func (x *execFS) ReadFile(name string) ([]byte, error) {
	p, err := x.path(name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := x.ctx()
	defer cancel()
	return x.e.ReadFile(ctx, p)
}

func (x *execFS) WriteFileAtomic(name string, data []byte, perm fs.FileMode) error {
	p, err := x.path(name)
	if err != nil {
		return err
	}
	ctx, cancel := x.ctx()
	defer cancel()
	return x.e.WriteFile(ctx, p, data, perm)
}

// umask returns the umask that makes new files get perm.
func umask(perm fs.FileMode) string { return fmt.Sprintf("%03o", 0o777&^uint32(perm.Perm())) }

func (x *execFS) AppendFile(name string, data []byte, perm fs.FileMode) error {
	p, err := x.path(name)
	if err != nil {
		return err
	}
	q := exec.Quote(p)
	script := fmt.Sprintf("umask %s && cat >> %s && { sync %s 2>/dev/null || true; }", umask(perm), q, q)
	return x.run("append", p, script, data)
}

func (x *execFS) CreateExclusive(name string, data []byte, perm fs.FileMode) error {
	p, err := x.path(name)
	if err != nil {
		return err
	}
	q := exec.Quote(p)
	// noclobber makes the shell open the file with O_EXCL.
	script := fmt.Sprintf("umask %s; if test -e %s; then exit %d; fi; set -C; if cat > %s 2>/dev/null; then exit 0; fi; if test -e %s; then exit %d; fi; exit 1",
		umask(perm), q, exitExist, q, q, exitExist)
	return x.run("create", p, script, data)
}

func (x *execFS) Remove(name string) error {
	p, err := x.path(name)
	if err != nil {
		return err
	}
	q := exec.Quote(p)
	script := fmt.Sprintf("if test -e %s || test -L %s; then rm -f %s; else exit %d; fi", q, q, q, exitNotExist)
	return x.run("remove", p, script, nil)
}

func (x *execFS) MkdirAll(name string, perm fs.FileMode) error {
	p, err := x.path(name)
	if err != nil {
		return err
	}
	q := exec.Quote(p)
	script := fmt.Sprintf("mkdir -p %s && chmod %o %s", q, uint32(perm.Perm()), q)
	return x.run("mkdir", p, script, nil)
}
