package shell

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Host describes the simulated machine, for uname, hostname and id.
type Host struct {
	Hostname string   // short name; /etc/hostname wins when present
	Domain   string   // for hostname -f
	IPs      []string // for hostname -I
	Kernel   string   // uname -s ("Linux")
	Release  string   // uname -r
	Version  string   // uname -v
	Machine  string   // uname -m ("x86_64")
	OS       string   // uname -o ("GNU/Linux")
	// UIDs maps user names to numeric ids for id(1); root is 0, others
	// default to 1000.
	UIDs map[string]int
}

// Interp is the lab's shell. One Interp serves one simulated host: it owns
// the command table and the host's filesystem; every Run is an independent
// shell process (own variables, working directory and options) so Runs may
// execute concurrently. Register may be called at any time.
type Interp struct {
	fs   FS
	mu   sync.RWMutex
	cmds map[string]Command

	pmu     sync.Mutex
	procs   map[int]*procGroup      // running shells by pid
	live    map[*procGroup]struct{} // groups with a running shell or job
	nextPid int

	// Host describes the machine. Set it before the first Run.
	Host Host
	// Sleep waits for sleep(1); nil means a real, cancellable wait. The lab
	// sets it to scale or skip simulated time.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for date(1); nil means time.Now.
	Now func() time.Time
	// Trace, when set, is called with each simple command's argv before it
	// runs (access logs, counters). It must not block.
	Trace func(user string, argv []string)
	// Sh is what sh and /bin/sh are: "" or "bash" (bash, as on NixOS) or
	// "dash" (Debian's /bin/sh, as on a PVE node: no [[, <<<, $'…', brace
	// expansion or ${v/p/r}; echo interprets escapes; dash's messages).
	// dash itself is always dash. Set it before the first Run.
	Sh string
	// FSFor, when set, returns the view of the filesystem a user works
	// through (a permission policy: e.g. non-root users may not write
	// /etc). It is consulted whenever a shell or command starts as a user,
	// including after sudo. nil: everyone sees the raw filesystem.
	FSFor func(user string, base FS) FS
}

// fsFor returns the filesystem view for user.
func (i *Interp) fsFor(user string) FS {
	if i.FSFor != nil {
		if v := i.FSFor(user, i.fs); v != nil {
			return v
		}
	}
	return i.fs
}

// New returns a shell working on fsys with the builtins registered.
func New(fsys FS) *Interp {
	i := &Interp{fs: fsys, cmds: map[string]Command{}, Host: Host{
		Hostname: "localhost", Kernel: "Linux", Release: "6.14.8-2-pve", Machine: "x86_64", OS: "GNU/Linux",
		Version: "#1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2 (2025-07-22T10:04Z)",
	}}
	for name, c := range builtins() {
		i.cmds[name] = c
	}
	return i
}

// FS returns the filesystem the shell works on.
func (i *Interp) FS() FS { return i.fs }

// Register adds or replaces a command. Names may be bare ("qm") or
// absolute paths ("/usr/local/etc/rc.reload_all"); a bare name is also
// found when invoked as /bin/NAME, /usr/bin/NAME, /usr/sbin/NAME, … .
// The shell-internal builtins (cd, export, set, exit, sh, bash, …) cannot
// be replaced.
func (i *Interp) Register(name string, c Command) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.cmds[name] = c
}

// Lookup returns a registered command (including the builtins above).
func (i *Interp) Lookup(name string) (Command, bool) {
	i.mu.RLock()
	defer i.mu.RUnlock()
	c, ok := i.cmds[name]
	return c, ok
}

// Run parses and runs script like `bash -c script` and returns its exit
// status: 2 with bash's message on a syntax error, 127 for an unknown
// command, the last command's status otherwise. vars is the environment
// (USER selects the user, default root; HOME and PWD default from it).
// Cancelling ctx stops the script before its next command and interrupts
// sleeps; the status is then 130 and an interrupted command's output may be
// partial.
func (i *Interp) Run(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer, vars map[string]string) int {
	return i.run(ctx, false, script, stdin, stdout, stderr, vars)
}

// RunSh is Run as `/bin/sh -c script`: dash's language and messages when
// Sh is "dash", bash's otherwise.
func (i *Interp) RunSh(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer, vars map[string]string) int {
	return i.run(ctx, i.isDash("sh"), script, stdin, stdout, stderr, vars)
}

func (i *Interp) run(ctx context.Context, dash bool, script string, stdin io.Reader, stdout, stderr io.Writer, vars map[string]string) int {
	// Background jobs may write concurrently with the shell: serialize
	// writes to the caller's (possibly non-thread-safe) writers, as a pipe
	// serializes the writes of processes sharing it.
	var mu sync.Mutex
	if stdout != nil {
		stdout = &lockedWriter{mu: &mu, w: stdout}
	}
	if stderr != nil {
		stderr = &lockedWriter{mu: &mu, w: stderr}
	}
	g, gctx := i.newGroup(ctx)
	defer func() {
		i.unregister(g)
		g.shellDone()
	}()
	st := i.newState(gctx, stdin, stdout, stderr, vars)
	st.group = g
	st.dash = dash
	if dash {
		st.arg0 = "sh"
	}
	code := st.runSource(script, "")
	// Background jobs still writing to our streams keep the "session"
	// open until they finish (or the caller gives up).
	held := make(chan struct{})
	go func() { g.holders.Wait(); close(held) }()
	select {
	case <-held:
	case <-ctx.Done():
	}
	if s := g.killedBy(); s != 0 && gctx.Err() != nil {
		return 128 + s
	}
	return code
}

// newState makes a fresh shell process.
func (i *Interp) newState(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer, vars map[string]string) *state {
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	st := &state{in: i, ctx: ctx, vars: map[string]string{}, funcs: map[string]command{}, umask: 0o022,
		io: ioSet{in: stdin, out: stdout, err: stderr}}
	for k, v := range vars {
		st.vars[k] = v
	}
	user := st.vars["USER"]
	if user == "" {
		user = "root"
		st.vars["USER"] = user
	}
	st.user = user
	st.fs = i.fsFor(user)
	if st.vars["LOGNAME"] == "" {
		st.vars["LOGNAME"] = user
	}
	if st.vars["HOME"] == "" {
		if user == "root" {
			st.vars["HOME"] = "/root"
		} else {
			st.vars["HOME"] = "/home/" + user
		}
	}
	if st.vars["PATH"] == "" {
		st.vars["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	if st.vars["SHELL"] == "" {
		st.vars["SHELL"] = "/bin/bash"
	}
	st.cwd = st.vars["PWD"]
	if st.cwd == "" || !strings.HasPrefix(st.cwd, "/") {
		st.cwd = st.vars["HOME"]
	}
	if fi, err := st.fs.Stat(st.cwd); err != nil || !fi.IsDir {
		st.cwd = "/"
	}
	st.vars["PWD"] = st.cwd
	return st
}

type ioSet struct {
	in       io.Reader
	out, err io.Writer
	extra    map[int]any // descriptors 3 and up (copy on write)
}

// state is one shell process.
type state struct {
	in    *Interp
	fs    FS // the user's view of the filesystem
	ctx   context.Context
	vars  map[string]string
	funcs map[string]command
	args  []string
	arg0  string
	cwd   string
	user  string
	umask fs.FileMode
	io    ioSet

	errexit, pipefail, nounset, xtrace, noclobber bool

	status    int
	inCond    int
	exiting   bool
	exitCode  int
	returning bool
	breakN    int
	contN     int
	loopDepth int
	funcDepth int
	depth     int
	script    string // script name for messages; "" = bash -c
	lastBg    int
	substRan  bool              // a command substitution ran in the current command
	callVars  map[string]string // the environment of the builtin being called (with VAR=x prefixes)
	dash      bool              // this shell is dash (POSIX sh), not bash
	line      int               // line of the command being called (for messages)
	group     *procGroup
	sigpipe   *atomic.Bool    // set when this pipeline stage wrote to a closed pipe
	jobs      *sync.WaitGroup // this shell's background jobs
	bgSeq     int
	bgDepth   int
	exitTrap  string                // trap '…' EXIT
	locals    []map[string]savedVar // one frame per function call, for local
}

// savedVar is a variable's value before a function made it local.
type savedVar struct {
	val string
	set bool
}

// maxDepth bounds recursion through functions, sh -c and scripts.
const maxDepth = 100

func (st *state) sub() *state {
	c := *st
	c.vars = make(map[string]string, len(st.vars))
	for k, v := range st.vars {
		c.vars[k] = v
	}
	c.funcs = make(map[string]command, len(st.funcs))
	for k, v := range st.funcs {
		c.funcs[k] = v
	}
	c.args = append([]string(nil), st.args...)
	c.exiting, c.returning, c.breakN, c.contN = false, false, 0, 0
	c.depth = st.depth + 1
	c.jobs = nil
	c.exitTrap = ""
	c.locals = nil
	return &c
}

func (st *state) prefix(line int) string {
	if st.dash {
		name := st.script
		if name == "" {
			name = st.arg0
		}
		if name == "" {
			name = "sh"
		}
		return fmt.Sprintf("%s: %d: ", name, line)
	}
	if st.script == "" {
		return fmt.Sprintf("bash: line %d: ", line)
	}
	return fmt.Sprintf("%s: line %d: ", st.script, line)
}

// shellFor says whether a shell invoked as name is dash.
func (i *Interp) isDash(name string) bool {
	base := path.Base(name)
	return base == "dash" || base == "sh" && i.Sh == "dash"
}

func (st *state) errorf(format string, a ...any) {
	fmt.Fprintf(st.io.err, format, a...)
}

// runSource parses and runs src in this state; name is the script name
// for messages ("" for -c).
func (st *state) runSource(src, name string) int {
	s, err := parseMode(src, st.dash)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			switch {
			case st.dash:
				if name != "" {
					st.script = name
				}
				st.errorf("%s%s\n", st.prefix(pe.Line), pe.DashError())
			case name == "":
				st.errorf("bash: -c: %s\n", pe.Error())
			default:
				st.errorf("%s: %s\n", name, pe.Error())
			}
		} else {
			st.errorf("bash: %v\n", err)
		}
		return 2
	}
	if name != "" {
		st.script = name
	}
	st.runScript(s)
	st.runExitTrap()
	if st.exiting {
		return st.exitCode
	}
	return st.status
}

// runExitTrap runs the EXIT trap once, when the shell ends (not when it
// was killed). An exit inside the trap sets the final status.
func (st *state) runExitTrap() {
	if st.exitTrap == "" || st.ctx.Err() != nil {
		return
	}
	src := st.exitTrap
	st.exitTrap = ""
	s, err := parse(src)
	if err != nil {
		st.errorf("bash: trap: %v\n", err)
		return
	}
	wasExiting, code, status := st.exiting, st.exitCode, st.status
	st.exiting, st.returning, st.breakN, st.contN = false, false, 0, 0
	st.runScript(s)
	if st.exiting {
		return // exit in the trap decides
	}
	st.exiting, st.exitCode, st.status = wasExiting, code, status
}

func (st *state) stopped() bool {
	return st.exiting || st.returning || st.breakN > 0 || st.contN > 0
}

func (st *state) checkCtx() bool {
	if st.ctx.Err() != nil {
		if !st.exiting {
			st.exiting = true
			st.exitCode = st.killedStatus()
			st.status = st.exitCode
		}
		return true
	}
	return false
}

func (st *state) runScript(s *script) {
	for _, ao := range s.items {
		if st.stopped() || st.checkCtx() {
			return
		}
		if ao.bg {
			st.startBg(ao)
			continue
		}
		st.runAndOr(ao)
	}
}

func (st *state) runAndOr(ao *andOr) {
	last := 0
	for idx, pl := range ao.pipes {
		if idx > 0 {
			op := ao.ops[idx-1]
			if op == "&&" && st.status != 0 || op == "||" && st.status == 0 {
				continue
			}
		}
		if idx < len(ao.pipes)-1 {
			st.inCond++
			st.runPipeline(pl)
			st.inCond--
		} else {
			st.runPipeline(pl)
		}
		last = idx
		if st.stopped() {
			return
		}
	}
	if st.status != 0 && st.errexit && st.inCond == 0 && last == len(ao.pipes)-1 && !ao.pipes[last].bang {
		st.exiting = true
		st.exitCode = st.status
	}
}

func (st *state) runPipeline(pl *pipeline) {
	if pl.bang {
		st.inCond++
		defer func() {
			st.inCond--
			if st.status == 0 {
				st.status = 1
			} else {
				st.status = 0
			}
		}()
	}
	if len(pl.cmds) == 1 {
		st.runCommand(pl.cmds[0])
		return
	}
	n := len(pl.cmds)
	statuses := make([]int, n)
	readers := make([]*io.PipeReader, n)
	writers := make([]*io.PipeWriter, n)
	for k := 0; k < n-1; k++ {
		readers[k+1], writers[k] = io.Pipe()
	}
	var wg sync.WaitGroup
	for k, c := range pl.cmds {
		sub := st.sub()
		sctx, cancel := context.WithCancel(st.ctx)
		sub.ctx = sctx
		if k > 0 {
			sub.io.in = readers[k]
		}
		if k < n-1 {
			// Writing to a pipe whose reader is gone is SIGPIPE: the
			// stage stops with status 141 (yes | head -n1 ends).
			sub.sigpipe = &atomic.Bool{}
			sub.io.out = &pipeWriter{w: writers[k], broken: func() { sub.sigpipe.Store(true); cancel() }}
		}
		wg.Add(1)
		go func(k int, c command, sub *state) {
			defer wg.Done()
			defer cancel()
			sub.runCommand(c)
			if sub.exiting {
				sub.status = sub.exitCode
			}
			statuses[k] = sub.status
			if writers[k] != nil {
				writers[k].Close()
			}
			if readers[k] != nil {
				readers[k].CloseWithError(io.ErrClosedPipe)
			}
		}(k, c, sub)
	}
	wg.Wait()
	st.status = statuses[n-1]
	if st.pipefail {
		for k := n - 1; k >= 0; k-- {
			if statuses[k] != 0 {
				st.status = statuses[k]
				break
			}
		}
	}
	st.checkCtx()
}

// pipeWriter is a pipeline stage's stdout.
type pipeWriter struct {
	w      *io.PipeWriter
	broken func()
}

func (p *pipeWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if errors.Is(err, io.ErrClosedPipe) {
		p.broken()
	}
	return n, err
}

// runCommand runs one command with its redirections.
func (st *state) runCommand(c command) {
	if st.depth > maxDepth {
		st.errorf("%smaximum nesting level exceeded (%d)\n", st.prefix(0), maxDepth)
		st.status = 2
		st.exiting, st.exitCode = true, 2
		return
	}
	if sc, ok := c.(*simpleCmd); ok {
		st.runSimple(sc)
		return
	}
	if fd, ok := c.(*funcDef); ok {
		st.funcs[fd.name] = fd.body
		st.status = 0
		return
	}
	saved := st.io
	if err := st.applyRedirs(c.redirects(), 0); err != nil {
		st.io = saved
		st.status = 1
		return
	}
	defer func() { st.io = saved }()
	switch x := c.(type) {
	case *groupCmd:
		if x.subshell {
			sub := st.sub()
			sub.runScript(x.body)
			sub.runExitTrap()
			st.status = sub.status
			if sub.exiting {
				st.status = sub.exitCode
			}
			return
		}
		st.runScript(x.body)
	case *ifCmd:
		for k, cond := range x.conds {
			st.inCond++
			st.runScript(cond)
			st.inCond--
			if st.stopped() {
				return
			}
			if st.status == 0 {
				st.runScript(x.bodies[k])
				return
			}
		}
		if x.elseBody != nil {
			st.runScript(x.elseBody)
			return
		}
		st.status = 0
	case *loopCmd:
		st.loopDepth++
		defer func() { st.loopDepth-- }()
		bodyStatus := 0
		for {
			if st.checkCtx() {
				return
			}
			st.inCond++
			st.runScript(x.cond)
			st.inCond--
			if st.exiting || st.returning {
				return
			}
			if (st.status == 0) == x.until {
				break
			}
			st.runScript(x.body)
			bodyStatus = st.status
			if st.loopControl() {
				break
			}
			if st.exiting || st.returning {
				return
			}
		}
		st.status = bodyStatus
	case *forCmd:
		var items []string
		if x.hasIn {
			for _, w := range x.items {
				f, ok := st.expandFields(w)
				if !ok {
					return
				}
				items = append(items, f...)
			}
		} else {
			items = append(items, st.args...)
		}
		st.loopDepth++
		defer func() { st.loopDepth-- }()
		st.status = 0
		for _, it := range items {
			if st.checkCtx() {
				return
			}
			st.vars[x.name] = it
			st.runScript(x.body)
			if st.loopControl() {
				break
			}
			if st.exiting || st.returning {
				return
			}
		}
	case *condCmd:
		st.status = st.evalCond(x)
	case *caseCmd:
		subj, ok := st.expandString(x.subject)
		if !ok {
			return
		}
		st.status = 0
		for _, it := range x.items {
			for _, pw := range it.patterns {
				pat, ok := st.expandPattern(pw)
				if !ok {
					return
				}
				if matchGlob(pat, subj) {
					st.runScript(it.body)
					return
				}
			}
		}
	}
}

// loopControl consumes one level of break/continue; true means leave the
// loop.
func (st *state) loopControl() bool {
	if st.breakN > 0 {
		st.breakN--
		return true
	}
	if st.contN > 0 {
		st.contN--
		return st.contN > 0
	}
	return false
}

// openWriter opens a file for output redirection.
// errClobber is the noclobber refusal.
var errClobber = errors.New("cannot overwrite existing file")

// ExclusiveCreator is implemented by filesystems that can create a file
// only if it does not exist, atomically (MemFS does). The shell uses it
// for `>` under set -C (noclobber), like open(2) with O_EXCL.
type ExclusiveCreator interface {
	CreateExclusive(name string, data []byte, mode fs.FileMode) error
}

func (st *state) openWriter(name string, appendTo bool) (io.Writer, error) {
	return st.openWriterOp(name, appendTo, false)
}

func (st *state) openWriterOp(name string, appendTo, exclusive bool) (io.Writer, error) {
	switch name {
	case "/dev/null":
		return io.Discard, nil
	case "/dev/stdout":
		return st.io.out, nil
	case "/dev/stderr":
		return st.io.err, nil
	}
	p := st.abs(name)
	if fi, err := st.fs.Stat(p); err == nil && fi.IsDir {
		return nil, pathErr("open", name, errIsDir)
	}
	mode := 0o666 &^ st.umask
	var err error
	if exclusive {
		if ec, ok := st.fs.(ExclusiveCreator); ok {
			err = ec.CreateExclusive(p, nil, mode)
		} else if fi, serr := st.fs.Stat(p); serr == nil && !fi.IsDir {
			err = pathErr("open", name, fs.ErrExist)
		} else {
			err = st.fs.WriteFile(p, nil, mode)
		}
		if errors.Is(err, fs.ErrExist) {
			return nil, errClobber
		}
	} else if appendTo {
		err = st.fs.AppendFile(p, nil, mode)
	} else {
		err = st.fs.WriteFile(p, nil, mode)
	}
	if err != nil {
		return nil, err
	}
	return &fileWriter{fs: st.fs, name: p, mode: mode}, nil
}

// fileWriter appends each Write to a file of the FS.
type fileWriter struct {
	fs   FS
	name string
	mode fs.FileMode
}

func (w *fileWriter) Write(b []byte) (int, error) {
	if err := w.fs.AppendFile(w.name, b, w.mode); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (st *state) applyRedirs(rs []*redir, line int) error {
	for _, r := range rs {
		if err := st.applyRedir(r, line); err != nil {
			return err
		}
	}
	return nil
}

func (st *state) applyRedir(r *redir, line int) error {
	if r.op == "<<" || r.op == "<<-" {
		body := ""
		if r.heredoc != nil {
			var ok bool
			body, ok = st.expandString(r.heredoc)
			if !ok {
				return errors.New("expansion failed")
			}
		}
		if r.fd != 0 {
			return st.redirErr(line, "", fmt.Errorf("here-document on descriptor %d: unsupported", r.fd))
		}
		st.io.in = strings.NewReader(body)
		return nil
	}
	target, ok := st.expandString(r.target)
	if !ok {
		return errors.New("expansion failed")
	}
	switch r.op {
	case "<<<":
		st.io = st.io.setFd(r.fd, strings.NewReader(target+"\n"))
		return nil
	case ">&", "<&":
		if target == "-" {
			st.io = st.io.setFd(r.fd, nil)
			return nil
		}
		n, err := strconv.Atoi(target)
		if err != nil {
			if r.op == ">&" && r.fd == 1 {
				// bash: >&word redirects both stdout and stderr
				w, err := st.openWriter(target, false)
				if err != nil {
					return st.redirErr(line, target, err)
				}
				st.io.out, st.io.err = w, w
				return nil
			}
			st.errorf("%s%s: ambiguous redirect\n", st.prefix(line), target)
			return errors.New("ambiguous redirect")
		}
		src, ok := st.io.fd(n)
		if ok {
			_, isR := src.(io.Reader)
			_, isW := src.(io.Writer)
			if r.op == "<&" && !isR || r.op == ">&" && !isW {
				ok = false
			}
		}
		if !ok {
			st.errorf("%s%d: Bad file descriptor\n", st.prefix(line), n)
			return errBadFd
		}
		st.io = st.io.setFd(r.fd, src)
		return nil
	case "<", "<>":
		var rd io.Reader
		switch target {
		case "/dev/null":
			rd = strings.NewReader("")
		case "/dev/stdin":
			rd = st.io.in
		default:
			b, err := st.fs.ReadFile(st.abs(target))
			if err != nil {
				return st.redirErr(line, target, err)
			}
			rd = bytes.NewReader(b)
		}
		st.io = st.io.setFd(r.fd, rd)
		return nil
	case ">", ">|", ">>", "&>", "&>>":
		w, err := st.openWriterOp(target, r.op == ">>" || r.op == "&>>", st.noclobber && (r.op == ">" || r.op == "&>"))
		if err != nil {
			return st.redirErr(line, target, err)
		}
		if r.op == "&>" || r.op == "&>>" {
			st.io.out, st.io.err = w, w
			return nil
		}
		st.io = st.io.setFd(r.fd, w)
		return nil
	}
	return nil
}

func (st *state) redirErr(line int, target string, err error) error {
	if errors.Is(err, errClobber) {
		st.errorf("%s%s: cannot overwrite existing file\n", st.prefix(line), target)
		return err
	}
	if st.dash {
		// dash: "cannot create X: Directory nonexistent" / "cannot open X: No such file"
		if errors.Is(err, fs.ErrNotExist) {
			if _, perr := st.fs.Stat(path.Dir(st.abs(target))); perr != nil {
				st.errorf("%scannot create %s: Directory nonexistent\n", st.prefix(line), target)
			} else {
				st.errorf("%scannot open %s: No such file\n", st.prefix(line), target)
			}
		} else {
			st.errorf("%scannot create %s: %s\n", st.prefix(line), target, errText(err))
		}
		return errRedirDash
	}
	st.errorf("%s%s: %s\n", st.prefix(line), target, errText(err))
	return err
}

// errRedirDash marks a failed redirection in dash (status 2).
var errRedirDash = errors.New("redirection failed")

// abs resolves p against the working directory and expands nothing else.
func (st *state) abs(p string) string {
	if p == "" {
		return st.cwd
	}
	if strings.HasPrefix(p, "/") {
		return path.Clean(p)
	}
	return path.Join(st.cwd, p)
}

func (st *state) runSimple(c *simpleCmd) {
	st.substRan = false
	st.line = c.line
	var argv []string
	for _, w := range c.words {
		f, ok := st.expandFields(w)
		if !ok {
			return
		}
		argv = append(argv, f...)
	}
	assigns := map[string]string{}
	var order []string
	for _, a := range c.assigns {
		v, ok := st.expandString(a.value)
		if !ok {
			return
		}
		if _, seen := assigns[a.name]; !seen {
			order = append(order, a.name)
		}
		assigns[a.name] = v
		if len(argv) == 0 {
			st.vars[a.name] = v
		}
	}
	if st.exiting {
		return
	}
	substStatus := 0
	if st.substRan {
		substStatus = st.status
	}
	if st.xtrace && (len(argv) > 0 || len(order) > 0) {
		var parts []string
		for _, n := range order {
			parts = append(parts, n+"="+quoteWord(assigns[n]))
		}
		for _, a := range argv {
			parts = append(parts, quoteWord(a))
		}
		st.errorf("+ %s\n", strings.Join(parts, " "))
	}
	saved := st.io
	defer func() { st.io = saved }()
	if err := st.applyRedirs(c.redirs, c.line); err != nil {
		st.status = 1
		if errors.Is(err, errRedirDash) {
			st.status = 2
		}
		return
	}
	if len(argv) == 0 {
		st.status = substStatus
		return
	}
	if len(argv) == 1 && argv[0] == "exec" {
		saved = st.io // exec without a command keeps its redirections
		st.status = 0
		return
	}
	if t := st.in.Trace; t != nil {
		t(st.user, argv)
	}
	vars := make(map[string]string, len(st.vars)+len(assigns))
	for k, v := range st.vars {
		vars[k] = v
	}
	for k, v := range assigns {
		vars[k] = v
	}
	st.status = st.call(argv, vars, c.line, true)
}

// call runs argv: shell builtins, functions, registered commands, then
// scripts in the filesystem.
func (st *state) call(argv []string, vars map[string]string, line int, funcsOK bool) int {
	if st.checkCtx() {
		return st.exitCode
	}
	name := argv[0]
	st.line = line
	sb, ok := specialBuiltins[name]
	if ok && st.dash && !dashBuiltins[name] {
		sb, ok = nil, false // bash-only builtins (source, declare, …) are not in dash
	}
	if !ok && strings.HasPrefix(name, "/") && binDirs[path.Dir(name)] {
		// /bin/sh, /usr/bin/bash, …: the shell itself, like its bare name
		// (not replaceable by Register either).
		switch base := path.Base(name); base {
		case "sh", "bash", "dash":
			if _, err := st.fs.Stat(name); err != nil {
				sb, ok = specialBuiltins[base], true
			}
		}
	}
	if ok {
		st.callVars = vars
		defer func() { st.callVars = nil }()
		return sb(st, argv, line)
	}
	if funcsOK {
		if body, ok := st.funcs[name]; ok {
			return st.callFunc(body, argv)
		}
	}
	env := &Env{Ctx: st.ctx, Args: argv, Stdin: st.io.in, Stdout: st.io.out, Stderr: st.io.err,
		FS: st.fs, Vars: vars, User: st.user, Dir: st.cwd, st: st}
	if c, ok := st.in.Lookup(name); ok {
		return c(env)
	}
	if strings.Contains(name, "/") {
		p := st.abs(name)
		fi, err := st.fs.Stat(p)
		if err != nil {
			if c, ok := st.in.lookupBin(p); ok {
				return c(env)
			}
			if st.dash {
				st.errorf("%s%s: not found\n", st.prefix(line), name)
			} else {
				st.errorf("%s%s: %s\n", st.prefix(line), name, errText(err))
			}
			return 127
		}
		if fi.IsDir {
			st.errorf("%s%s: Is a directory\n", st.prefix(line), name)
			return 126
		}
		if fi.Mode.Perm()&0o111 == 0 {
			st.errorf("%s%s: Permission denied\n", st.prefix(line), name)
			return 126
		}
		return st.runFile(p, name, argv[1:], vars)
	}
	// Executables installed in the filesystem along $PATH.
	for _, dir := range strings.Split(vars["PATH"], ":") {
		if dir == "" || !strings.HasPrefix(dir, "/") {
			continue
		}
		p := path.Join(dir, name)
		if fi, err := st.fs.Stat(p); err == nil && !fi.IsDir && fi.Mode.Perm()&0o111 != 0 {
			return st.runFile(p, p, argv[1:], vars)
		}
	}
	if st.dash {
		st.errorf("%s%s: not found\n", st.prefix(line), name)
		return 127
	}
	st.errorf("%s%s: command not found\n", st.prefix(line), name)
	return 127
}

// dashBuiltins are the shell builtins dash has (of specialBuiltins).
var dashBuiltins = map[string]bool{"cd": true, "pwd": true, "export": true, "unset": true, "set": true, "exit": true,
	"return": true, "break": true, "continue": true, "shift": true, "read": true, "eval": true, ".": true, "local": true,
	"readonly": true, "exec": true, "wait": true, "kill": true, "trap": true, "hash": true, "alias": true, "unalias": true,
	"umask": true, "sh": true, "bash": true, "dash": true, "command": true, "type": true}

// binDirs are where a bare registered command is also found by path.
var binDirs = map[string]bool{"/bin": true, "/usr/bin": true, "/sbin": true, "/usr/sbin": true,
	"/usr/local/bin": true, "/usr/local/sbin": true, "/run/current-system/sw/bin": true, "/run/wrappers/bin": true}

func (i *Interp) lookupBin(p string) (Command, bool) {
	if !binDirs[path.Dir(p)] {
		return nil, false
	}
	return i.Lookup(path.Base(p))
}

// runFile runs a script file from the filesystem in a child shell.
func (st *state) runFile(p, name string, args []string, vars map[string]string) int {
	b, err := st.fs.ReadFile(p)
	if err != nil {
		st.errorf("bash: %s: %s\n", name, errText(err))
		return 126
	}
	child := st.sub()
	child.vars = copyVars(vars)
	child.funcs = map[string]command{}
	child.args = args
	child.arg0 = name
	child.errexit, child.pipefail, child.nounset, child.xtrace = false, false, false, false
	src := string(b)
	child.dash = false
	if strings.HasPrefix(src, "#!") {
		first, _, _ := strings.Cut(src, "\n")
		if !isShellShebang(first) {
			st.errorf("bash: %s: %s: bad interpreter: No such file or directory\n", name, strings.TrimSpace(strings.TrimPrefix(first, "#!")))
			return 126
		}
		if f := strings.Fields(strings.TrimPrefix(first, "#!")); len(f) > 0 {
			interp := f[0]
			if path.Base(interp) == "env" && len(f) > 1 {
				interp = f[1]
			}
			child.dash = st.in.isDash(interp)
		}
	}
	return child.runSource(src, name)
}

func isShellShebang(line string) bool {
	f := strings.Fields(strings.TrimPrefix(line, "#!"))
	if len(f) == 0 {
		return false
	}
	base := path.Base(f[0])
	if base == "env" && len(f) > 1 {
		base = path.Base(f[1])
	}
	switch base {
	case "sh", "bash", "dash":
		return true
	}
	return false
}

func copyVars(v map[string]string) map[string]string {
	c := make(map[string]string, len(v))
	for k, x := range v {
		c[k] = x
	}
	return c
}

func (st *state) callFunc(body command, argv []string) int {
	if st.funcDepth >= maxDepth {
		st.errorf("bash: %s: maximum function nesting level exceeded (%d)\n", argv[0], maxDepth)
		return 2
	}
	savedArgs, savedArg0 := st.args, st.arg0
	st.args = append([]string(nil), argv[1:]...)
	st.funcDepth++
	st.depth++
	st.locals = append(st.locals, map[string]savedVar{})
	st.runCommand(body)
	frame := st.locals[len(st.locals)-1]
	st.locals = st.locals[:len(st.locals)-1]
	for name, sv := range frame {
		if sv.set {
			st.vars[name] = sv.val
		} else {
			delete(st.vars, name)
		}
	}
	st.depth--
	st.funcDepth--
	st.args, st.arg0 = savedArgs, savedArg0
	if st.returning {
		st.returning = false
	}
	if st.exiting {
		return st.exitCode
	}
	return st.status
}

// quoteWord quotes a word for xtrace output.
func quoteWord(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`|&;<>()*?[]{}#~!") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Builtin returns the shell's own implementation of a replaceable
// command (cat, sudo, test, …), for a registered command that wraps it.
func Builtin(name string) (Command, bool) {
	c, ok := builtins()[name]
	return c, ok
}

// UpdateHost changes the Host description safely while shells run.
func (i *Interp) UpdateHost(f func(h *Host)) {
	i.mu.Lock()
	defer i.mu.Unlock()
	f(&i.Host)
}

// lockedWriter serializes Writes through a mutex shared by a Run's
// stdout and stderr.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
