package shell

import (
	"context"
	"io"
	"sync"
)

// Session is an interactive shell: successive Run calls share variables,
// functions, the working directory and options, like lines typed at one
// prompt. It is not safe for concurrent use.
type Session struct {
	st *state
	g  *procGroup
}

// NewSession starts an interactive shell for vars (USER selects the
// user). Close it when done.
func (i *Interp) NewSession(ctx context.Context, vars map[string]string) *Session {
	g, gctx := i.newGroup(ctx)
	st := i.newState(gctx, nil, nil, nil, vars)
	st.group = g
	st.script = ""
	return &Session{st: st, g: g}
}

// Run runs one line (or several) with the given streams and returns its
// status. After an exit, Exited reports true and Run does nothing.
func (s *Session) Run(script string, stdin io.Reader, stdout, stderr io.Writer) int {
	if s.st.exiting {
		return s.st.exitCode
	}
	if stdin == nil {
		stdin = eofReader{}
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	var mu sync.Mutex
	s.st.io = ioSet{in: stdin, out: &lockedWriter{mu: &mu, w: stdout}, err: &lockedWriter{mu: &mu, w: stderr}}
	s.st.returning, s.st.breakN, s.st.contN = false, 0, 0
	s.st.runSourceInteractive(script)
	if s.st.exiting {
		return s.st.exitCode
	}
	return s.st.status
}

// Exited reports whether the session ran exit (or was killed).
func (s *Session) Exited() bool { return s.st.exiting }

// Close ends the session: its EXIT trap runs and its process ends.
func (s *Session) Close() {
	s.st.runExitTrap()
	s.g.shellDone()
	s.st.in.unregister(s.g)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// runSourceInteractive runs one prompt line: a syntax error is reported
// and leaves the shell running, as at a bash prompt.
func (st *state) runSourceInteractive(src string) {
	s, err := parse(src)
	if err != nil {
		st.errorf("bash: %s\n", err.Error())
		st.status = 2
		return
	}
	st.runScript(s)
	if st.exiting && st.ctx.Err() == nil {
		st.runExitTrap()
	}
}

// LineShell adapts sessions to sshd.Config.Shell: each interactive SSH
// session gets a Session for the user (with vars added to its
// environment), so cd, variables and functions persist between lines.
func (i *Interp) LineShell(vars map[string]string) func(ctx context.Context, user string) (func(line string, stdout, stderr io.Writer) (int, bool), func()) {
	return func(ctx context.Context, user string) (func(line string, stdout, stderr io.Writer) (int, bool), func()) {
		env := map[string]string{}
		for k, v := range vars {
			env[k] = v
		}
		env["USER"] = user
		s := i.NewSession(ctx, env)
		run := func(line string, stdout, stderr io.Writer) (int, bool) {
			code := s.Run(line, nil, stdout, stderr)
			return code, s.Exited()
		}
		return run, s.Close
	}
}
