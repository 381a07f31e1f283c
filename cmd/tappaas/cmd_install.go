package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/ssh"
	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/lab"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/firewall"
	"github.com/tappaas/tappaas/steps/install"
)

// installOptions are the flags of `tappaas install` (and join/status).
type installOptions struct {
	answers       string
	yes           bool
	output        string // "text" or "json"
	host          string
	acceptHostKey string
	knownHosts    string
	identity      []string
	lab           bool
	labReset      bool
	labDir        string
	labSpeed      float64
	labFaults     []lab.Fault
	labSite       *lab.Site // several labs on one network (join tests)
	labHostname   string
	// peerExec runs commands on the join peer (tests; the CLI dials --peer-host).
	peerExec     exec.Executor
	printAnswers bool
	resume       bool // use the answers saved with the node's checkpoint
	concurrency  int
	logFile      string
	// labHook, when set, sees the started lab (tests: counters, faults).
	labHook func(*lab.Lab)
	// wrapNode, when set, wraps the node executor (tests: fault injection
	// on exact commands, below the SSH layer's wrapping).
	wrapNode func(exec.Executor) exec.Executor
	// sessionHook, when set, sees the opened session (tests, benchmarks).
	sessionHook func(*session)
}

func newInstallCmd() *cobra.Command {
	var o installOptions
	c := &cobra.Command{
		Use:   "install",
		Short: "Install the first TAPPaaS node (headless with --answers FILE --yes)",
		Long: "Install the first TAPPaaS node: preflight, node, network, cluster, storage, PBS, firewall,\n" +
			"gateway cutover, platform, zones. Headless with --answers FILE --yes; progress as lines or\n" +
			"--output json. Exit codes: 0 done, 1 failed, 2 input needed. A rerun resumes: finished\n" +
			"steps are re-checked on the node and skipped.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			code, err := runInstall(ctx, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if code != 0 {
				if err == nil {
					err = errors.New("install did not finish")
				}
				return exitCode(code, err)
			}
			return nil
		},
	}
	addSessionFlags(c, &o)
	f := c.Flags()
	f.StringVar(&o.answers, "answers", "", "TOML answers file (see --print-answers)")
	f.BoolVar(&o.yes, "yes", false, "run without asking for confirmation")
	f.BoolVar(&o.printAnswers, "print-answers", false, "print a commented answers template and exit")
	f.BoolVar(&o.resume, "resume", false, "resume with the answers saved on the node by the earlier run (instead of --answers)")
	f.IntVar(&o.concurrency, "concurrency", 4, "steps run at once when independent")
	return c
}

func addSessionFlags(c *cobra.Command, o *installOptions) {
	f := c.Flags()
	f.StringVar(&o.output, "output", "text", "progress format: text or json (one event per line)")
	f.StringVar(&o.host, "host", "", "run against a remote node over SSH (root@ADDR); default: this machine")
	f.StringVar(&o.acceptHostKey, "accept-host-key", "", "accept the node's unknown SSH host key only with this fingerprint (SHA256:…)")
	f.StringVar(&o.knownHosts, "known-hosts", "", "known_hosts file (default ~/.ssh/known_hosts)")
	f.StringSliceVarP(&o.identity, "identity", "i", nil, "SSH private key file(s) (default: ssh-agent)")
	f.BoolVar(&o.lab, "lab", false, "run against an in-process lab (a simulated PVE node)")
	f.BoolVar(&o.labReset, "lab-reset", false, "with --lab: start from a fresh lab")
	f.StringVar(&o.labDir, "lab-dir", "", "with --lab: where the lab persists (default: user cache dir/tappaas/lab)")
	f.Float64Var(&o.labSpeed, "lab-speed", 0, "with --lab: latency model scale (0 none, 1 realistic)")
	f.StringVar(&o.logFile, "log-file", "", "write the debug log here (default: user cache dir/tappaas/install.log)")
}

// session is a connected node with its checkpoint store.
type session struct {
	targets *install.Targets
	store   *state.Store
	lab     *lab.Lab
	log     *slog.Logger
	close   []func()
}

func (s *session) Close() {
	for i := len(s.close) - 1; i >= 0; i-- {
		s.close[i]()
	}
}

func defaultLabDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "tappaas", "lab")
}

// openSession connects to the node (lab, remote or local) and opens its
// checkpoint store.
func openSession(ctx context.Context, o installOptions, stderr io.Writer) (*session, error) {
	s := &session{}
	logPath := o.logFile
	if logPath == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		logPath = filepath.Join(dir, "tappaas", "install.log")
	}
	lf, err := openLog(logPath)
	if err != nil {
		return nil, err
	}
	s.close = append(s.close, func() { lf.Close() })
	s.log = slog.New(slog.NewJSONHandler(lf, &slog.HandlerOptions{Level: slog.LevelDebug}))

	var t *install.Targets
	switch {
	case o.lab:
		dir := o.labDir
		if dir == "" {
			dir = defaultLabDir()
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			s.Close()
			return nil, fmt.Errorf("lab dir: %w", err)
		}
		l, err := lab.Start(ctx, lab.Options{Dir: dir, Reset: o.labReset, Speed: o.labSpeed, Faults: o.labFaults, Site: o.labSite, Hostname: o.labHostname})
		if err != nil {
			s.Close()
			return nil, err
		}
		s.lab = l
		s.close = append(s.close, func() { l.Close() })
		if o.labHook != nil {
			o.labHook(l)
		}
		info := l.Info()
		// The lab is the trusted channel for its own keys: a lab started
		// afresh (reset, or killed before it first saved) is a new node,
		// so the keys pinned for the previous one are dropped.
		idFile := filepath.Join(dir, "known_hosts.id")
		if id, _ := os.ReadFile(idFile); string(id) != info.SSHFingerprint {
			for _, f := range []string{"known_hosts", "known_hosts.firewall", "known_hosts.vms"} {
				_ = os.Remove(filepath.Join(dir, f))
			}
			if err := os.WriteFile(idFile, []byte(info.SSHFingerprint), 0o600); err != nil {
				s.Close()
				return nil, err
			}
		}
		signer, err := gossh.ParsePrivateKey(info.ClientKeyPEM)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("lab client key: %w", err)
		}
		t, err = install.Connect(ctx, install.ConnectOptions{
			Host: "root@" + info.NodeAddr, Dial: l.Dial, KnownHosts: filepath.Join(dir, "known_hosts"),
			AcceptHostKey: info.SSHFingerprint, Signers: []gossh.Signer{signer},
			FirewallFingerprint: func(context.Context) (string, error) { return l.Info().FirewallFingerprint, nil },
			Pusher:              &labPusher{l: l, log: s.log, knownHosts: filepath.Join(dir, "known_hosts.firewall")},
			VMsDirect:           true, VMKnownHosts: filepath.Join(dir, "known_hosts.vms"), Log: s.log,
			RootPassword: func(context.Context) (string, error) { return info.RootPassword, nil },
		})
		if err != nil {
			s.Close()
			return nil, err
		}
	case o.host != "":
		t, err = install.Connect(ctx, install.ConnectOptions{Host: o.host, KnownHosts: o.knownHosts, AcceptHostKey: o.acceptHostKey,
			KeyFiles: o.identity, UseAgent: len(o.identity) == 0, Log: s.log})
		if err != nil {
			s.Close()
			var unknown *ssh.UnknownHostKeyError
			if errors.As(err, &unknown) || errors.Is(err, ssh.ErrHostKeyUnknown) {
				return nil, &inputError{fmt.Errorf("%w — check the fingerprint on the node's console (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) and pass --accept-host-key SHA256:…", err)}
			}
			return nil, err
		}
		t.OperatorAddr = install.RemoteOperatorAddr(ctx, t.Node)
	default:
		if os.Geteuid() != 0 {
			s.Close()
			return nil, &inputError{errors.New("run tappaas on the node as root, or give --host root@ADDR, or --lab")}
		}
		t = install.Local(install.ConnectOptions{Log: s.log})
		// Run on the node from an SSH login: that login's source.
		t.OperatorAddr = install.OperatorAddr(os.Getenv("SSH_CLIENT"))
	}
	if o.wrapNode != nil {
		t.Node = o.wrapNode(t.Node)
	}
	s.targets = t
	s.close = append(s.close, func() { t.Close() })
	st, err := state.Open(retryFS{state.ExecFS(t.Node, install.StateDir)})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open the checkpoints in %s on the node: %w", install.StateDir, err)
	}
	for _, w := range st.Warnings() {
		fmt.Fprintln(stderr, "warning:", w)
	}
	s.store = st
	t.Secrets = st.Secrets()
	return s, nil
}

// retryFS retries checkpoint I/O when the link to the node dropped under it
// (the SSH client re-dials); other errors pass through.
type retryFS struct{ state.FS }

func linkLost(err error) bool {
	return err != nil && (errors.Is(err, exec.ErrConnectionLost) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF))
}

func (f retryFS) try(op func() error) error {
	var err error
	for i := 0; i < 4; i++ {
		if err = op(); !linkLost(err) {
			return err
		}
		time.Sleep(time.Duration(100<<i) * time.Millisecond) // re-dial backoff, not a wait for a condition
	}
	return err
}

func (f retryFS) ReadFile(name string) (b []byte, err error) {
	err = f.try(func() error { b, err = f.FS.ReadFile(name); return err })
	return b, err
}
func (f retryFS) WriteFileAtomic(name string, data []byte, perm fs.FileMode) error {
	return f.try(func() error { return f.FS.WriteFileAtomic(name, data, perm) })
}
func (f retryFS) AppendFile(name string, data []byte, perm fs.FileMode) error {
	return f.try(func() error { return f.FS.AppendFile(name, data, perm) })
}
func (f retryFS) CreateExclusive(name string, data []byte, perm fs.FileMode) error {
	return f.try(func() error { return f.FS.CreateExclusive(name, data, perm) })
}
func (f retryFS) Remove(name string) error { return f.try(func() error { return f.FS.Remove(name) }) }
func (f retryFS) MkdirAll(name string, perm fs.FileMode) error {
	return f.try(func() error { return f.FS.MkdirAll(name, perm) })
}

// inputError marks errors that need the operator's input (exit 2).
type inputError struct{ err error }

func (e *inputError) Error() string { return e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// runInstall is `tappaas install` without cobra: tests call it in-process.
func runInstall(ctx context.Context, o installOptions, stdout, stderr io.Writer) (int, error) {
	if o.printAnswers {
		return 0, config.WriteTemplate(stdout)
	}
	if o.answers == "" && !o.resume {
		return 2, errors.New("input needed: --answers FILE (write a template with --print-answers), --resume, or run `tappaas` for the full-screen installer")
	}
	var cfg config.Install
	fillSums := false // image checksums left empty: take the published ones
	if o.answers != "" {
		f, err := os.Open(o.answers)
		if err != nil {
			return 2, fmt.Errorf("answers: %w", err)
		}
		cfg, err = config.LoadAnswers(f)
		f.Close()
		if err != nil {
			c, ok := missingSumsOnly(o.answers, err)
			if !ok {
				return 2, fmt.Errorf("%s: %w", o.answers, err)
			}
			cfg, fillSums = c, true
		}
	}
	if o.output != "text" && o.output != "json" {
		return 2, fmt.Errorf("--output: want text or json, got %q", o.output)
	}
	sess, err := openSession(ctx, o, stderr)
	if err != nil {
		var ie *inputError
		if errors.As(err, &ie) {
			return 2, err
		}
		return 1, err
	}
	defer sess.Close()
	if o.sessionHook != nil {
		o.sessionHook(sess)
	}
	if o.answers == "" {
		saved, ok := loadAnswers(sess.store)
		if !ok {
			return 2, errors.New("input needed: no answers were saved on the node by an earlier run; give --answers FILE")
		}
		saved.ApplyDefaults()
		if err := saved.Validate(); err != nil {
			return 2, fmt.Errorf("the saved answers: %w", err)
		}
		cfg = saved
	}
	if fillSums {
		note := stdout
		if o.output == "json" {
			note = stderr
		}
		if err := fillPublishedSums(ctx, sess, &cfg, note); err != nil {
			return 2, err
		}
	}
	t := sess.targets
	if name, by, when := sess.store.Plan(); name != "" {
		t.PriorRun = fmt.Sprintf("plan %q last run by %s at %s", name, by, when.Format(time.RFC3339))
	}
	plan, err := install.FirstNodePlan(cfg, t)
	if err != nil {
		return 2, err
	}
	if !o.yes {
		fmt.Fprintf(stdout, "Plan %q (%d steps):\n", plan.Name(), plan.Len())
		for _, si := range plan.Review(nil, sess.store) {
			fmt.Fprintf(stdout, "  %-28s %s\n", si.ID, si.Title)
			for _, c := range si.Changes {
				fmt.Fprintf(stdout, "  %-28s   - %s\n", "", c)
			}
		}
		return 2, errors.New("input needed: review the plan above, then run again with --yes")
	}
	if err := saveAnswers(sess.store, cfg); err != nil {
		return 1, fmt.Errorf("record the answers with the checkpoint: %w", err)
	}
	// A generated root password is shown once. The flag lives with the
	// checkpoint (shared with the TUI), so a run killed after generating it
	// shows it at the end of the run that resumes.
	if _, had := t.Secrets.Secret(firewall.SecretRootPassword); !had && cfg.Firewall.RootPassword == "" {
		if err := sess.store.SetInput(pwUnshownKey, true); err != nil {
			return 1, fmt.Errorf("save the checkpoint: %w", err)
		}
	}
	err = runPlan(ctx, sess, plan, o, stdout)
	var unshown bool
	if raw, ok := sess.store.Inputs()[pwUnshownKey]; ok {
		_ = json.Unmarshal(raw, &unshown)
	}
	if pw, ok := t.Secrets.Secret(firewall.SecretRootPassword); ok && unshown && cfg.Firewall.RootPassword == "" && o.output == "text" {
		// Shown once, straight to the operator's terminal, never to the log.
		fmt.Fprintf(stdout, "\nGenerated firewall root password (shown once; kept 0600 in %s/secrets.json on the node): %s\n\n", install.StateDir, pw)
		if serr := sess.store.SetInput(pwUnshownKey, false); serr != nil {
			fmt.Fprintf(stdout, "warning: could not record that the password was shown: %v\n", serr)
		}
	}
	if err != nil {
		return 1, err
	}
	return 0, nil
}

// sumKeys are the answers that may be left empty and are then taken from
// where the image is published.
var sumKeys = map[string]bool{"firewall.image_sha256": true, "platform.template_image_sha256": true}

// missingSumsOnly returns the answers in file when err says only that image
// checksums are missing (empty).
func missingSumsOnly(file string, err error) (config.Install, bool) {
	var es config.Errors
	if !errors.As(err, &es) {
		return config.Install{}, false
	}
	for _, k := range es.Keys() {
		if !sumKeys[k] {
			return config.Install{}, false
		}
	}
	f, oerr := os.Open(file)
	if oerr != nil {
		return config.Install{}, false
	}
	defer f.Close()
	cfg, derr := config.DecodeAnswers(f)
	if derr != nil {
		return config.Install{}, false
	}
	cfg.ApplyDefaults()
	if cfg.Firewall.ImageSHA256 != "" && cfg.Platform.TemplateImageSHA256 != "" {
		return config.Install{}, false
	}
	return cfg, true
}

// fillPublishedSums takes each empty image checksum from where the image is
// published (the GitHub release's asset digest, read on the node), says
// where it came from on w, and validates the answers again.
func fillPublishedSums(ctx context.Context, sess *session, cfg *config.Install, w io.Writer) error {
	for _, f := range []struct {
		key, url string
		sum      *string
	}{
		{"firewall.image_sha256", cfg.Firewall.ImageURL, &cfg.Firewall.ImageSHA256},
		{"platform.template_image_sha256", cfg.Platform.TemplateImageURL, &cfg.Platform.TemplateImageSHA256},
	} {
		if *f.sum != "" {
			continue
		}
		p, err := firewall.PublishedSum(ctx, sess.targets.Node, f.url)
		if err != nil {
			return fmt.Errorf("input needed: %s is empty and could not be taken from where the image is published (%v); set it in the answers", f.key, err)
		}
		*f.sum = p.SHA256
		fmt.Fprintf(w, "%s = %s (from %s)\n", f.key, p.SHA256, p.Source)
	}
	return cfg.Validate()
}

// runPlan runs a plan with the headless printer.
func runPlan(ctx context.Context, sess *session, plan *steps.Plan, o installOptions, stdout io.Writer) error {
	q := steps.NewQueue(4096)
	r := &steps.Runner{Store: sess.store, Events: q, Policy: steps.PolicyAbort, Concurrency: max(1, o.concurrency), Log: sess.log}
	var wg sync.WaitGroup
	var failed []steps.StepFailed
	wg.Add(1)
	go func() {
		defer wg.Done()
		p := &printer{w: stdout, json: o.output == "json", conc: r.Concurrency}
		tick := time.NewTicker(15 * time.Second)
		defer tick.Stop()
		for {
			select {
			case ev, ok := <-q.C():
				if !ok {
					return
				}
				if f, ok := ev.(steps.StepFailed); ok {
					failed = append(failed, f)
				}
				p.print(ev)
			case now := <-tick.C:
				p.stalls(now)
			}
		}
	}()
	err := r.Run(ctx, plan)
	q.Close()
	wg.Wait()
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted; run the same command again to resume: %w", err)
	}
	if len(failed) > 0 {
		last := failed[len(failed)-1]
		return fmt.Errorf("step %s failed: %v — fix the cause and run the same command again; finished steps are skipped", last.StepID, last.Err)
	}
	return err
}

// printer renders runner events as lines or JSON lines, with the whole
// plan's progress and ETA after each step and a line for a step that has
// gone quiet for longer than expected (as the run view shows them).
type printer struct {
	w    io.Writer
	json bool
	conc int
	mu   sync.Mutex

	est *steps.Estimator
	// last wait or transfer bucket printed per step (waits repeat every
	// poll; downloads report every few seconds).
	shown map[string]string
	// flagged: steps reported quiet, with the silence they had then.
	flagged map[string]time.Duration
}

// progressKey is what makes a Progress worth a line: a new wait, a new
// tenth of a transfer, or new text.
func progressKey(e steps.Progress) string {
	switch {
	case e.Total > 0:
		return fmt.Sprintf("xfer %s %d", e.What, e.Done*10/e.Total)
	case e.Done > 0:
		return fmt.Sprintf("xfer %s %d", e.What, e.Done>>27) // every 128 MiB
	case !e.Deadline.IsZero():
		what, _, _ := strings.Cut(e.What, " (last answer:")
		return "wait " + what + " " + e.Deadline.Format(time.RFC3339)
	}
	return "what " + e.What
}

// stalls reports, once per quiet spell, the steps quiet for longer than
// expected.
func (p *printer) stalls(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.est == nil {
		return
	}
	for _, st := range p.est.Stalled(now) {
		if q, ok := p.flagged[st.StepID]; ok && st.Quiet >= q {
			continue
		}
		p.flagged[st.StepID] = st.Quiet
		if p.json {
			p.line(map[string]any{"event": "stalled", "step": st.StepID, "quiet_ms": st.Quiet.Milliseconds(), "what": st.What,
				"deadline": nilTime(st.Deadline), "message": st.Text(now), "at": now})
			continue
		}
		fmt.Fprintf(p.w, "%s ? %s: %s\n", now.Format("15:04:05"), st.StepID, st.Text(now))
	}
	// A step that spoke again may be flagged again later.
	for id := range p.flagged {
		found := false
		for _, st := range p.est.Stalled(now) {
			found = found || st.StepID == id
		}
		if !found {
			delete(p.flagged, id)
		}
	}
}

func nilTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func (p *printer) line(m map[string]any) {
	if b, err := json.Marshal(m); err == nil {
		fmt.Fprintln(p.w, string(b))
	}
}

func (p *printer) print(ev steps.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ps, ok := ev.(steps.PlanStarted); ok || p.est == nil {
		p.est = steps.NewEstimator(ps.Steps, p.conc)
		p.shown, p.flagged = map[string]string{}, map[string]time.Duration{}
	}
	p.est.Observe(ev)
	if pr, ok := ev.(steps.Progress); ok {
		k := progressKey(pr)
		if p.shown[pr.StepID] == k {
			return
		}
		p.shown[pr.StepID] = k
	}
	if p.json {
		p.printJSON(ev)
		return
	}
	ts := func(t time.Time) string { return t.Format("15:04:05") }
	switch e := ev.(type) {
	case steps.PlanStarted:
		fmt.Fprintf(p.w, "%s plan %s: %d steps\n", ts(e.At), e.Plan, len(e.Steps))
	case steps.StepStarted:
		if e.Attempt > 1 {
			fmt.Fprintf(p.w, "%s > %s (attempt %d)\n", ts(e.At), e.StepID, e.Attempt)
		} else {
			fmt.Fprintf(p.w, "%s > %s\n", ts(e.At), e.StepID)
		}
	case steps.Output:
		for _, l := range e.Lines {
			fmt.Fprintf(p.w, "           %s | %s\n", e.StepID, l)
		}
	case steps.Progress:
		switch {
		case e.Done > 0 || e.Total > 0:
			l := e.What + ": " + steps.Bytes(e.Done)
			if e.Total > 0 {
				l += " of " + steps.Bytes(e.Total)
			}
			fmt.Fprintf(p.w, "%s   %s: %s\n", ts(e.At), e.StepID, l)
		case !e.Deadline.IsZero():
			fmt.Fprintf(p.w, "%s   %s: waiting for %s (gives up at %s, in %s)\n", ts(e.At), e.StepID, e.What, ts(e.Deadline), steps.ShortDuration(e.Deadline.Sub(e.At)))
		default:
			fmt.Fprintf(p.w, "%s   %s: %s\n", ts(e.At), e.StepID, e.What)
		}
	case steps.StepDone:
		est := p.est.Estimate(e.At)
		plan := fmt.Sprintf(" · plan %d%%, about %s left", int(est.Fraction*100), steps.ShortDuration(est.Left))
		if e.Skipped {
			fmt.Fprintf(p.w, "%s = %s skipped: %s%s\n", ts(e.At), e.StepID, e.Reason, plan)
		} else {
			fmt.Fprintf(p.w, "%s + %s done (%s)%s\n", ts(e.At), e.StepID, e.Duration.Round(time.Millisecond), plan)
		}
	case steps.StepFailed:
		tag := ""
		if e.Retryable {
			tag = " (retryable)"
		}
		fmt.Fprintf(p.w, "%s ! %s failed%s: %v\n", ts(e.At), e.StepID, tag, e.Err)
	case steps.Ask:
		e.Reply(steps.ChoiceAbort)
	case steps.PlanDone:
		status := "done"
		switch {
		case e.Interrupted:
			status = "interrupted"
		case e.Err != nil:
			status = "failed"
		}
		fmt.Fprintf(p.w, "%s plan %s %s: %d applied, %d skipped, %d failed in %s\n", ts(e.At), e.Plan, status, e.Applied, e.Skipped, e.Failed, e.Duration.Round(time.Millisecond))
	}
}

func (p *printer) printJSON(ev steps.Event) {
	var m map[string]any
	errText := func(err error) any {
		if err == nil {
			return nil
		}
		return err.Error()
	}
	switch e := ev.(type) {
	case steps.PlanStarted:
		ids := make([]string, len(e.Steps))
		for i, s := range e.Steps {
			ids[i] = s.ID
		}
		m = map[string]any{"event": "plan_started", "plan": e.Plan, "steps": ids, "at": e.At}
	case steps.StepStarted:
		m = map[string]any{"event": "step_started", "step": e.StepID, "attempt": e.Attempt, "at": e.At}
	case steps.Output:
		m = map[string]any{"event": "output", "step": e.StepID, "stream": e.Stream, "lines": e.Lines, "at": e.At}
	case steps.Progress:
		m = map[string]any{"event": "progress", "step": e.StepID, "fraction": e.Fraction, "what": e.What, "at": e.At}
		if e.Done > 0 || e.Total > 0 {
			m["done_bytes"], m["total_bytes"] = e.Done, e.Total
		}
		if !e.Deadline.IsZero() {
			m["deadline"] = e.Deadline
		}
	case steps.StepDone:
		est := p.est.Estimate(e.At)
		m = map[string]any{"event": "step_done", "step": e.StepID, "skipped": e.Skipped, "reason": e.Reason, "duration_ms": e.Duration.Milliseconds(),
			"plan_fraction": est.Fraction, "plan_left_ms": est.Left.Milliseconds(), "at": e.At}
	case steps.StepFailed:
		m = map[string]any{"event": "step_failed", "step": e.StepID, "error": errText(e.Err), "attempt": e.Attempt, "retryable": e.Retryable, "bug": e.Bug, "at": e.At}
	case steps.Ask:
		e.Reply(steps.ChoiceAbort)
		return
	case steps.PlanDone:
		m = map[string]any{"event": "plan_done", "plan": e.Plan, "applied": e.Applied, "skipped": e.Skipped, "failed": e.Failed, "interrupted": e.Interrupted, "error": errText(e.Err), "duration_ms": e.Duration.Milliseconds(), "at": e.At}
	default:
		return
	}
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	fmt.Fprintln(p.w, string(b))
}

// labPusher delivers the firewall configuration in the lab: over SSH with
// the bootstrap password when the lab's firewall offers SSH, otherwise by
// handing the rendered config.xml to the simulated firewall (what its
// /conf/config.xml + rc.reload_all would do).
type labPusher struct {
	l          *lab.Lab
	log        *slog.Logger
	knownHosts string
}

func (p *labPusher) Push(ctx context.Context, rt *steps.Runtime, configXML []byte) error {
	err := pollUntil(ctx, rt, "the lab firewall to boot", 10*time.Minute, func() bool {
		c, err := p.l.Dial(ctx, "tcp", net.JoinHostPort(config.FirewallLANIP, "443"))
		if err != nil {
			return false
		}
		c.Close()
		return p.l.Firewall() != nil
	})
	if err != nil {
		return err
	}
	if c, err := p.l.Dial(ctx, "tcp", net.JoinHostPort(config.FirewallLANIP, "22")); err == nil {
		c.Close()
		sp := &install.SSHPusher{Dial: p.l.Dial, KnownHosts: p.knownHosts, Log: p.log}
		return sp.Push(ctx, rt, configXML)
	}
	n, err := p.l.Firewall().ApplyConfigXML(configXML)
	if err != nil {
		return err
	}
	rt.Printf("lab: configuration applied to the simulated firewall (%d API key(s))", n)
	return nil
}

func pollUntil(ctx context.Context, rt *steps.Runtime, what string, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	d := 50 * time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s", what)
		}
		rt.Wait(what, deadline)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		d = min(2*d, time.Second)
	}
	return nil
}

// inputAnswers is the checkpoint input holding the answers (without the
// firewall root password), so a resume needs no answers file.
const inputAnswers = "answers"

// saveAnswers records the answers with the checkpoint.
func saveAnswers(st *state.Store, cfg config.Install) error {
	cfg.Firewall.RootPassword = ""
	return st.SetInput(inputAnswers, cfg)
}

// loadAnswers reads the answers saved with the checkpoint.
func loadAnswers(st *state.Store) (config.Install, bool) {
	raw, ok := st.Inputs()[inputAnswers]
	if !ok {
		return config.Install{}, false
	}
	var cfg config.Install
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return config.Install{}, false
	}
	return cfg, true
}
