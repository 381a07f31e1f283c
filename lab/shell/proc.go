package shell

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// procGroup is one Run: a shell process, its subshells and background
// jobs. Its pid is $$; kill(1) finds it through the interpreter's table
// while the shell runs. Killing it cancels the context every member runs
// with.
type procGroup struct {
	pid    int
	cancel context.CancelFunc
	// Background jobs run under bgCtx: detached from the caller's
	// cancellation (a closed SSH session does not kill them, as sshd does
	// not for non-pty sessions) but stopped by kill and Interp.KillAll.
	bgCtx    context.Context
	bgCancel context.CancelFunc
	release  func() // called once the shell and all its jobs are done
	// holders are background jobs still writing to the caller's stdout or
	// stderr: Run waits for them, as sshd keeps a session open until every
	// process holding its output has closed it.
	holders sync.WaitGroup

	mu       sync.Mutex
	signal   int // the signal that killed it (0 = none)
	active   int // background jobs still running
	finished bool
}

// kill delivers sig (a terminating one) to the group.
func (g *procGroup) kill(sig int) {
	g.mu.Lock()
	if g.signal == 0 {
		g.signal = sig
	}
	g.mu.Unlock()
	g.cancel()
	g.bgCancel()
}

func (g *procGroup) done() {
	g.cancel()
	g.bgCancel()
	if g.release != nil {
		g.release()
	}
}

func (g *procGroup) killedBy() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.signal
}

// jobStarted and jobDone count background jobs so the group's context is
// released only when the shell and all its jobs are done (background jobs
// outlive the shell, as nohup'd commands do).
func (g *procGroup) jobStarted() {
	g.mu.Lock()
	g.active++
	g.mu.Unlock()
}

func (g *procGroup) jobDone() {
	g.mu.Lock()
	g.active--
	release := g.finished && g.active == 0
	g.mu.Unlock()
	if release {
		g.done()
	}
}

func (g *procGroup) shellDone() {
	g.mu.Lock()
	g.finished = true
	release := g.active == 0
	g.mu.Unlock()
	if release {
		g.done()
	}
}

// newGroup starts a process group under ctx and registers it.
func (i *Interp) newGroup(ctx context.Context) (*procGroup, context.Context) {
	gctx, cancel := context.WithCancel(ctx)
	bgCtx, bgCancel := context.WithCancel(context.WithoutCancel(gctx))
	g := &procGroup{cancel: cancel, bgCtx: bgCtx, bgCancel: bgCancel}
	i.register(g)
	i.pmu.Lock()
	if i.live == nil {
		i.live = map[*procGroup]struct{}{}
	}
	i.live[g] = struct{}{}
	i.pmu.Unlock()
	g.release = func() {
		i.pmu.Lock()
		delete(i.live, g)
		i.pmu.Unlock()
	}
	return g, gctx
}

// KillAll stops every shell and background job of this interpreter
// (including detached ones), as powering the host off would. Shells
// started later are not affected.
func (i *Interp) KillAll() {
	i.pmu.Lock()
	gs := make([]*procGroup, 0, len(i.live))
	for g := range i.live {
		gs = append(gs, g)
	}
	i.pmu.Unlock()
	for _, g := range gs {
		g.kill(9)
	}
}

func (i *Interp) register(g *procGroup) {
	i.pmu.Lock()
	defer i.pmu.Unlock()
	if i.procs == nil {
		i.procs = map[int]*procGroup{}
	}
	i.nextPid++
	if i.nextPid < 1000 {
		i.nextPid = 1000
	}
	g.pid = i.nextPid
	i.procs[g.pid] = g
}

func (i *Interp) unregister(g *procGroup) {
	i.pmu.Lock()
	defer i.pmu.Unlock()
	delete(i.procs, g.pid)
}

func (i *Interp) proc(pid int) (*procGroup, bool) {
	i.pmu.Lock()
	defer i.pmu.Unlock()
	g, ok := i.procs[pid]
	return g, ok
}

// startBg runs an and-or list as a background job in a subshell.
func (st *state) startBg(ao *andOr) {
	c := st.sub()
	c.bgDepth++
	st.bgSeq++
	st.lastBg = st.group.pid*100 + st.bgSeq%100
	st.status = 0
	if st.jobs == nil {
		st.jobs = &sync.WaitGroup{}
	}
	st.jobs.Add(1)
	st.group.jobStarted()
	jobs := st.jobs
	c.ctx = st.group.bgCtx
	holds := holdsStreams(ao)
	if holds {
		st.group.holders.Add(1)
	}
	g := st.group
	go func() {
		defer jobs.Done()
		defer g.jobDone()
		if holds {
			defer g.holders.Done()
		}
		c.runAndOr(ao)
	}()
}

var signalNums = map[string]int{"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15}

func parseSignal(s string) (int, bool) {
	s = strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < 65 {
		return n, true
	}
	n, ok := signalNums[s]
	return n, ok
}

// sbKill is kill(1) for the lab's processes: the shells of running Runs
// ($$ and $!'s groups) and 0 (the caller's own process group). Signal 0
// only checks that the process exists.
func sbKill(st *state, argv []string, line int) int {
	args := argv[1:]
	sig := 15
	if len(args) > 0 && args[0] == "-l" {
		fmt.Fprintln(st.io.out, " 1) SIGHUP	 2) SIGINT	 3) SIGQUIT	 9) SIGKILL	10) SIGUSR1	12) SIGUSR2	13) SIGPIPE	14) SIGALRM	15) SIGTERM")
		return 0
	}
	if len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "--" {
		name := args[0][1:]
		if (name == "s" || name == "n") && len(args) > 1 {
			name = args[1]
			args = args[1:]
		}
		n, ok := parseSignal(name)
		if !ok {
			st.builtinErr(line, "kill", "%s: invalid signal specification", name)
			return 1
		}
		sig = n
		args = args[1:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		st.builtinErr(line, "kill", "usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ... or kill -l [sigspec]")
		return 2
	}
	status := 0
	for _, a := range args {
		pid, err := strconv.Atoi(a)
		if err != nil {
			st.builtinErr(line, "kill", "%s: arguments must be process or job IDs", a)
			status = 1
			continue
		}
		var g *procGroup
		if pid == 0 {
			g = st.group
		} else if pg, ok := st.in.proc(pid); ok {
			g = pg
		} else if st.lastBg != 0 && pid == st.lastBg && st.group != nil {
			g = nil // a finished or running background job of ours: jobs are not separately killable
			if sig == 0 {
				continue
			}
		}
		if g == nil {
			st.builtinErr(line, "kill", "(%d) - No such process", pid)
			status = 1
			continue
		}
		if sig != 0 {
			g.kill(sig)
		}
	}
	return status
}

// sbWait waits for this shell's background jobs.
func sbWait(st *state, argv []string, line int) int {
	if st.jobs != nil {
		done := make(chan struct{})
		go func() { st.jobs.Wait(); close(done) }()
		select {
		case <-done:
		case <-st.ctx.Done():
			return st.killedStatus()
		}
	}
	return 0
}

// killedStatus is the exit status of a shell stopped by its context: 128
// plus the signal that killed its group, or 130 for a plain cancellation.
func (st *state) killedStatus() int {
	if st.sigpipe != nil && st.sigpipe.Load() {
		return 141
	}
	if st.group != nil {
		if s := st.group.killedBy(); s != 0 {
			return 128 + s
		}
	}
	return 130
}

// fdValue returns what descriptor n refers to (io.Reader or io.Writer).
func (s ioSet) fd(n int) (any, bool) {
	switch n {
	case 0:
		return s.in, s.in != nil
	case 1:
		return s.out, s.out != nil
	case 2:
		return s.err, s.err != nil
	}
	v, ok := s.extra[n]
	return v, ok
}

// setFd returns s with descriptor n set to v (nil closes it).
func (s ioSet) setFd(n int, v any) ioSet {
	switch n {
	case 0:
		if r, ok := v.(io.Reader); ok {
			s.in = r
		} else {
			s.in = closedReader{}
		}
		return s
	case 1, 2:
		w, ok := v.(io.Writer)
		if !ok {
			w = closedWriter{}
		}
		if n == 1 {
			s.out = w
		} else {
			s.err = w
		}
		return s
	}
	extra := make(map[int]any, len(s.extra)+1)
	for k, x := range s.extra {
		extra[k] = x
	}
	if v == nil {
		delete(extra, n)
	} else {
		extra[n] = v
	}
	s.extra = extra
	return s
}

// closedReader and closedWriter stand for a closed descriptor.
type closedReader struct{}

func (closedReader) Read([]byte) (int, error) { return 0, io.EOF }

type closedWriter struct{}

func (closedWriter) Write([]byte) (int, error) { return 0, errBadFd }

var errBadFd = fmt.Errorf("bad file descriptor")

// holdsStreams reports whether a background and-or list may write to the
// shell's own stdout or stderr (neither redirected away).
func holdsStreams(ao *andOr) bool {
	for _, pl := range ao.pipes {
		for k, c := range pl.cmds {
			out, errw := fdTargets(c.redirects())
			if errw == "session" || k == len(pl.cmds)-1 && out == "session" {
				return true
			}
		}
	}
	return false
}

// fdTargets follows a command's redirections for descriptors 1 and 2:
// "session" while they still point at the shell's streams.
func fdTargets(rs []*redir) (string, string) {
	fd := map[int]string{1: "session", 2: "session"}
	for _, r := range rs {
		switch r.op {
		case ">", ">>", ">|":
			fd[r.fd] = "file"
		case "&>", "&>>":
			fd[1], fd[2] = "file", "file"
		case ">&":
			t, ok := r.target.literal()
			switch {
			case !ok:
				fd[r.fd] = "file"
			case t == "-":
				fd[r.fd] = "closed"
			case t == "1" || t == "2":
				n := int(t[0] - '0')
				fd[r.fd] = fd[n]
			default:
				if r.fd == 1 {
					fd[1], fd[2] = "file", "file"
				}
			}
		}
	}
	return fd[1], fd[2]
}
