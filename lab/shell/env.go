package shell

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"
	"time"
)

// Abs resolves p against the working directory (Dir), expanding nothing.
func (e *Env) Abs(p string) string {
	if strings.HasPrefix(p, "/") {
		return path.Clean(p)
	}
	dir := e.Dir
	if dir == "" {
		dir = "/"
	}
	return path.Join(dir, p)
}

// Name is the command name as invoked, without its directory.
func (e *Env) Name() string {
	if len(e.Args) == 0 {
		return ""
	}
	return path.Base(e.Args[0])
}

// Errorf prints "NAME: message" to standard error and returns status, for
// `return e.Errorf(1, "…")` in commands.
func (e *Env) Errorf(status int, format string, a ...any) int {
	fmt.Fprintf(e.Stderr, "%s: %s\n", e.Name(), fmt.Sprintf(format, a...))
	return status
}

// Printf writes to standard output.
func (e *Env) Printf(format string, a ...any) {
	fmt.Fprintf(e.Stdout, format, a...)
}

// Exec runs another command (builtin, registered, function-less, or a
// script from the filesystem) with this Env's streams, environment, user
// and directory, like a command would exec a child. It is how wrappers
// such as sudo, env, nohup and timeout run their operand. Without an
// interpreter behind the Env (a hand-made Env) it returns 127.
func (e *Env) Exec(args ...string) int {
	if len(args) == 0 {
		return 0
	}
	if e.st == nil {
		fmt.Fprintf(e.Stderr, "%s: %s: command not found\n", e.Name(), args[0])
		return 127
	}
	child := e.child()
	return child.call(args, child.vars, 1, false)
}

// Executable reports whether name would be found by exec(3): a registered
// command, sh/bash, or an executable file in the FS (by path or $PATH).
// Shell-internal builtins such as cd are not executables.
func (e *Env) Executable(name string) bool {
	if e.st == nil {
		return false
	}
	child := e.child()
	_, kind, ok := child.commandPath(name)
	if !ok {
		return false
	}
	if kind == "file" {
		return true
	}
	_, registered := child.in.Lookup(name)
	return registered
}

// Script runs src like `bash -c src` with this Env's streams, environment,
// user and directory, and returns its status.
func (e *Env) Script(src string, args ...string) int {
	if e.st == nil {
		fmt.Fprintf(e.Stderr, "%s: no shell\n", e.Name())
		return 127
	}
	child := e.child()
	child.funcs = map[string]command{}
	child.args = args
	return child.runSource(src, "")
}

func (e *Env) child() *state {
	c := e.st.sub()
	c.ctx = e.Ctx
	if c.ctx == nil {
		c.ctx = context.Background()
	}
	c.io = ioSet{in: e.Stdin, out: e.Stdout, err: e.Stderr}
	c.vars = copyVars(e.Vars)
	c.user = e.User
	c.fs = e.st.in.fsFor(e.User)
	if e.Dir != "" {
		c.cwd = e.Dir
	}
	c.script = ""
	return c
}

// Sleep waits d using the interpreter's Sleep hook (so the lab's time
// scaling applies); it returns ctx.Err() if cancelled.
func (e *Env) Sleep(d time.Duration) error {
	ctx := e.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if e.st != nil && e.st.in.Sleep != nil {
		return e.st.in.Sleep(ctx, d)
	}
	return realSleep(ctx, d)
}

func realSleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Interp returns the interpreter running this command (nil for a
// hand-made Env).
func (e *Env) Interp() *Interp {
	if e.st == nil {
		return nil
	}
	return e.st.in
}

// ErrText renders an error like strerror(3) does for the errno inside it
// ("No such file or directory"), for coreutils-style messages.
func ErrText(err error) string { return errText(err) }

func errText(err error) string {
	var errno syscall.Errno
	switch {
	case err == nil:
		return ""
	case errors.As(err, &errno):
		switch errno {
		case syscall.ENOENT:
			return "No such file or directory"
		case syscall.EEXIST:
			return "File exists"
		case syscall.EACCES:
			return "Permission denied"
		case syscall.EPERM:
			return "Operation not permitted"
		case syscall.EISDIR:
			return "Is a directory"
		case syscall.ENOTDIR:
			return "Not a directory"
		case syscall.ENOTEMPTY:
			return "Directory not empty"
		case syscall.ELOOP:
			return "Too many levels of symbolic links"
		case syscall.EINVAL:
			return "Invalid argument"
		case syscall.EBUSY:
			return "Device or resource busy"
		}
	case errors.Is(err, fs.ErrNotExist):
		return "No such file or directory"
	case errors.Is(err, fs.ErrExist):
		return "File exists"
	case errors.Is(err, fs.ErrPermission):
		return "Permission denied"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
