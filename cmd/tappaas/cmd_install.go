package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"sync"
	"syscall"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/ssh"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/lab"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/firewall"
	"github.com/tappaas/tappaas/steps/install"
	"github.com/tappaas/tappaas/steps/node"
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
	labFaults     []lab.Fault   // tests; added to the fault flags
	faultFlags    labFaultFlags // --fail-api, --fail-ssh, --drop-ssh-at, --slow (with --lab)
	labSite       *lab.Site     // several labs on one network (join tests)
	labHostname   string
	// peerExec runs commands on the join peer (tests; the CLI dials --peer-host).
	peerExec     exec.Executor
	printAnswers bool
	resume       bool // use the answers saved with the node's checkpoint
	concurrency  int
	logFile      string
	// sourceTimeout bounds each dashboard source (status).
	sourceTimeout time.Duration
	// labHook, when set, sees the started lab (tests: counters, faults).
	labHook func(*lab.Lab)
	// wrapNode, when set, wraps the node executor (tests: fault injection
	// on exact commands, below the SSH layer's wrapping).
	wrapNode func(exec.Executor) exec.Executor
	// tty: stdout is a terminal (a secret is printed only to one).
	tty bool
	// sessionHook, when set, sees the opened session (tests, benchmarks).
	sessionHook func(*install.Session)
	// defaultKeys (the TUI): with no --identity, try ~/.ssh's default keys
	// and the agent when there is one.
	defaultKeys bool
	// trust, when set, asks the operator about an unknown SSH host key
	// (the TUI's dialog).
	trust func(host string, key gossh.PublicKey, fingerprint string) (bool, error)
	// log, when set, is the debug log (the TUI's); else logFile is opened.
	log *slog.Logger
}

func newInstallCmd() *cobra.Command {
	var o installOptions
	c := &cobra.Command{
		Use:   "install",
		Short: "Install the first TAPPaaS node (headless with --answers FILE --yes)",
		Long: "Install the first TAPPaaS node: preflight, node, network, cluster, storage, PBS, firewall,\n" +
			"gateway cutover, platform, zones. Headless with --answers FILE --yes; progress as lines or\n" +
			"--output json. Exit codes: 0 done, 1 failed, 2 input needed, 130 interrupted. A rerun resumes: finished\n" +
			"steps are re-checked on the node and skipped.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if f, ok := cmd.OutOrStdout().(*os.File); ok {
				o.tty = term.IsTerminal(f.Fd())
			}
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
	addLabFaultFlags(f, &o.faultFlags, "with --lab: ")
	f.StringVar(&o.logFile, "log-file", "", "write the debug log here (default: user cache dir/tappaas/install.log)")
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
func openSession(ctx context.Context, o installOptions, stderr io.Writer) (*install.Session, error) {
	s := &install.Session{Log: o.log}
	if s.Log == nil {
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
		s.OnClose(func() { lf.Close() })
		s.Log = slog.New(slog.NewJSONHandler(lf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	var err error

	if o.faultFlags.set() && !o.lab {
		s.Close()
		return nil, &inputError{errors.New("--fail-api, --fail-ssh, --drop-ssh-at and --slow inject faults into the lab: add --lab")}
	}
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
		faults, err := parseFaultFlags(o.faultFlags)
		if err != nil {
			s.Close()
			return nil, &inputError{err}
		}
		faults = append(faults, o.labFaults...)
		l, err := lab.Start(ctx, lab.Options{Dir: dir, Reset: o.labReset, Speed: o.labSpeed, Faults: faults, Site: o.labSite, Hostname: o.labHostname})
		if err != nil {
			s.Close()
			return nil, err
		}
		s.OnClose(func() { l.Close() })
		if o.labHook != nil {
			o.labHook(l)
		}
		info := l.Info()
		// The lab is the trusted channel for its own keys: a lab started
		// afresh (reset, or killed before it first saved) is a new node,
		// so the keys pinned for the previous one are dropped.
		idFile := filepath.Join(dir, "known_hosts.id")
		if id, _ := os.ReadFile(idFile); string(id) != info.SSHFingerprint {
			_ = os.Remove(filepath.Join(dir, "known_hosts"))
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
			Pusher:              &labPusher{l: l, log: s.Log},
			VMsDirect:           true, Log: s.Log,
			RootPassword: func(context.Context) (string, error) { return info.RootPassword, nil },
		})
		if err != nil {
			s.Close()
			return nil, err
		}
	case o.host != "":
		keys, agent := o.identity, len(o.identity) == 0
		if o.defaultKeys && len(keys) == 0 {
			keys, agent = defaultKeyFiles(), os.Getenv("SSH_AUTH_SOCK") != ""
		}
		t, err = install.Connect(ctx, install.ConnectOptions{Host: o.host, KnownHosts: o.knownHosts, AcceptHostKey: o.acceptHostKey,
			KeyFiles: keys, UseAgent: agent, Log: s.Log, Trust: o.trust})
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
		t = install.Local(install.ConnectOptions{Log: s.Log})
	}
	if o.wrapNode != nil {
		t.Node = o.wrapNode(t.Node)
	}
	if err := s.OpenStore(t); err != nil {
		s.Close()
		return nil, err
	}
	for _, w := range s.Store.Warnings() {
		fmt.Fprintln(stderr, "warning:", w)
	}
	return s, nil
}

// defaultKeyFiles are the operator's usual SSH keys that exist.
func defaultKeyFiles() []string {
	var keys []string
	if home, err := os.UserHomeDir(); err == nil {
		for _, k := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if p := filepath.Join(home, ".ssh", k); fileExists(p) {
				keys = append(keys, p)
			}
		}
	}
	return keys
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// exitCodeOf is the exit code of a failed session open: 2 when the
// operator's input is needed, 1 otherwise.
func exitCodeOf(err error) int {
	var ie *inputError
	if errors.As(err, &ie) {
		return 2
	}
	return 1
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
		return exitCodeOf(err), err
	}
	defer sess.Close()
	if o.sessionHook != nil {
		o.sessionHook(sess)
	}
	if o.yes {
		// A run follows: lock before reading the saved answers and before
		// the first write (as Terraform does).
		if err := sess.Lock(ctx, stderr); err != nil {
			if errors.Is(err, context.Canceled) {
				return exitInterrupted, fmt.Errorf("interrupted while taking the state lock; run the same command again to resume: %w", err)
			}
			return 1, err
		}
	}
	if o.answers == "" {
		saved, ok := install.LoadAnswers(sess.Store)
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
	t := sess.Targets
	t.PriorRun = sess.PriorRun()
	plan, err := install.FirstNodePlan(cfg, t)
	if err != nil {
		return 2, err
	}
	if !o.yes {
		fmt.Fprintf(stdout, "Plan %q (%d steps):\n", plan.Name(), plan.Len())
		for _, si := range plan.Review(nil, sess.Store) {
			fmt.Fprintf(stdout, "  %-28s %s\n", si.ID, si.Title)
			for _, c := range si.Changes {
				fmt.Fprintf(stdout, "  %-28s   - %s\n", "", c)
			}
		}
		return 2, errors.New("input needed: review the plan above, then run again with --yes")
	}
	if err := install.SaveAnswers(sess.Store, cfg); err != nil {
		return 1, fmt.Errorf("record the answers with the checkpoint: %w", err)
	}
	// A generated root password is shown once. The flag lives with the
	// checkpoint (shared with the TUI), so a run killed after generating it
	// shows it at the end of the run that resumes.
	if err := install.NoteGeneratedPassword(sess.Store, cfg); err != nil {
		return 1, err
	}
	err = runPlan(ctx, sess, plan, o, stdout)
	if pw, ok := install.UnshownPassword(sess.Store, cfg); ok {
		showGeneratedPassword(stdout, o, pw, sess)
	}
	if errors.Is(err, context.Canceled) {
		return exitInterrupted, err
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
func fillPublishedSums(ctx context.Context, sess *install.Session, cfg *config.Install, w io.Writer) error {
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
		p, err := firewall.PublishedSum(ctx, sess.Targets.Node, f.url)
		if err != nil {
			return fmt.Errorf("input needed: %s is empty and could not be taken from where the image is published (%v); set it in the answers", f.key, err)
		}
		*f.sum = p.SHA256
		fmt.Fprintf(w, "%s = %s (from %s)\n", f.key, p.SHA256, p.Source)
	}
	return cfg.Validate()
}

// showGeneratedPassword shows a generated firewall root password once,
// straight to the operator's terminal, never to a log: when the output is
// not a terminal (CI logs, a pipe) or JSON, it says where the password is
// kept and how to read it instead, and leaves it unshown for a later run on
// a terminal (or the TUI's done screen).
func showGeneratedPassword(stdout io.Writer, o installOptions, pw string, sess *install.Session) {
	const name = "firewall root password"
	read := install.ReadSecretCommand(firewall.SecretRootPassword)
	switch {
	case o.output == "json":
		b, _ := json.Marshal(map[string]any{"event": "secret", "name": name, "stored": install.SecretsPath + " on the node (0600)",
			"read": read, "at": time.Now()})
		fmt.Fprintln(stdout, string(b))
		return
	case !o.tty:
		fmt.Fprintf(stdout, "\nA %s was generated. It is not printed: the output is not a terminal.\n"+
			"It is kept 0600 in %s on the node; read it there with:\n  %s\n\n", name, install.SecretsPath, read)
		return
	}
	fmt.Fprintf(stdout, "\nGenerated %s (shown once; kept 0600 in %s on the node): %s\n\n", name, install.SecretsPath, pw)
	if err := install.MarkPasswordShown(sess.Store); err != nil {
		fmt.Fprintf(stdout, "warning: could not record that the password was shown: %v\n", err)
	}
}

// exitInterrupted is the exit code of a run stopped by a signal (128+SIGINT),
// the same in the TUI.
const exitInterrupted = 130

// runPlan runs a plan with the headless printer.
func runPlan(ctx context.Context, sess *install.Session, plan *steps.Plan, o installOptions, stdout io.Writer) error {
	q := steps.NewQueue(4096)
	r := &steps.Runner{Store: sess.Store, Events: q, Policy: steps.PolicyAbort, Concurrency: max(1, o.concurrency), Log: sess.Log}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p := &steps.Printer{W: stdout, JSON: o.output == "json", Concurrency: r.Concurrency}
		tick := time.NewTicker(15 * time.Second)
		defer tick.Stop()
		for {
			select {
			case ev, ok := <-q.C():
				if !ok {
					return
				}
				p.Print(ev)
			case now := <-tick.C:
				p.Stalls(now)
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
	// The steps that ended failed, from the runner's result (not the last
	// StepFailed event: that may be an attempt of a step that was retried
	// and succeeded).
	if ferr := failedSteps(err); ferr != nil {
		return ferr
	}
	return err
}

// failedSteps names the step(s) a run ended with, and what to do; nil
// when err names no step.
func failedSteps(err error) error {
	var ids []string
	var first *steps.StepError
	var walk func(error)
	walk = func(e error) {
		var se *steps.StepError
		switch {
		case e == nil:
		case errors.As(e, &se) && se == e:
			if first == nil {
				first = se
			}
			ids = append(ids, se.StepID)
		default:
			if j, ok := e.(interface{ Unwrap() []error }); ok {
				for _, x := range j.Unwrap() {
					walk(x)
				}
			} else if u := errors.Unwrap(e); u != nil {
				walk(u)
			}
		}
	}
	walk(err)
	if first == nil {
		return nil
	}
	more := ""
	if len(ids) > 1 {
		more = fmt.Sprintf(" (and %s)", strings.Join(ids[1:], ", "))
	}
	if steps.Fatal(first.Err) {
		// A changed key or certificate says itself what to check and run.
		return fmt.Errorf("step %s failed%s: %v", first.StepID, more, first.Err)
	}
	return fmt.Errorf("step %s failed%s: %v — fix the cause and run the same command again; finished steps are skipped", first.StepID, more, first.Err)
}

// labPusher delivers the firewall configuration in the lab: over SSH with
// the bootstrap password when the lab's firewall offers SSH, otherwise by
// handing the rendered config.xml to the simulated firewall (what its
// /conf/config.xml + rc.reload_all would do).
type labPusher struct {
	l   *lab.Lab
	log *slog.Logger
}

func (p *labPusher) Push(ctx context.Context, rt *steps.Runtime, configXML []byte) error {
	err := node.Poll(ctx, rt, "the lab firewall to boot", 10*time.Minute, time.Second, func(ctx context.Context) (bool, error) {
		c, err := p.l.Dial(ctx, "tcp", net.JoinHostPort(config.FirewallLANIP, "443"))
		if err != nil {
			return false, nil
		}
		c.Close()
		return p.l.Firewall() != nil, nil
	})
	if err != nil {
		return err
	}
	if c, err := p.l.Dial(ctx, "tcp", net.JoinHostPort(config.FirewallLANIP, "22")); err == nil {
		c.Close()
		sp := &install.SSHPusher{Dial: p.l.Dial, Log: p.log}
		return sp.Push(ctx, rt, configXML)
	}
	n, err := p.l.Firewall().ApplyConfigXML(configXML)
	if err != nil {
		return err
	}
	rt.Printf("lab: configuration applied to the simulated firewall (%d API key(s))", n)
	return nil
}
