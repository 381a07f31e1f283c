package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	gossh "golang.org/x/crypto/ssh"

	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/config"
	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/steps"
	"github.com/tappaas/tappaas/steps/firewall"
	"github.com/tappaas/tappaas/steps/install"
	"github.com/tappaas/tappaas/steps/platform"
	"github.com/tappaas/tappaas/steps/preflight"
	"github.com/tappaas/tappaas/steps/summary"
	"github.com/tappaas/tappaas/tui"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/keys"
	zonesui "github.com/tappaas/tappaas/tui/screens/zones"
	"github.com/tappaas/tappaas/tui/styles"
	"github.com/tappaas/tappaas/tui/tuitest"
)

// rootFlags are the full-screen installer's flags (on the root command).
var rootFlags struct {
	lab        bool
	labReset   bool
	accessible bool
	logFile    string
	host       string
	labDir     string
	labSpeed   float64
}

// addRootFlags adds the installer's flags to the root command.
func addRootFlags(root *cobra.Command) {
	f := root.Flags()
	f.BoolVar(&rootFlags.lab, "lab", false, "run against an in-process lab instead of a real node")
	f.BoolVar(&rootFlags.labReset, "lab-reset", false, "with --lab: start from a fresh lab")
	f.BoolVar(&rootFlags.accessible, "accessible", false, "plain prompts instead of the full-screen UI (screen readers)")
	f.StringVar(&rootFlags.logFile, "log-file", "", "write the log here (default: under the user cache dir, or /var/log/tappaas as root)")
	f.StringVar(&rootFlags.host, "host", "", "install on a remote node over SSH (root@ADDR)")
	f.StringVar(&rootFlags.labDir, "lab-dir", "", "with --lab: where the lab persists")
	f.Float64Var(&rootFlags.labSpeed, "lab-speed", 0, "with --lab: latency model scale (0 none, 1 realistic)")
	_ = f.MarkHidden("lab-dir")
	_ = f.MarkHidden("lab-speed")
}

// fakeEnv selects the fake backend; a hook for the TUI's own tests only.
const fakeEnv = "TAPPAAS_TUI_FAKE"

// rootRun starts the full-screen installer.
func rootRun(cmd *cobra.Command, _ []string) error {
	logPath := rootFlags.logFile
	if logPath == "" {
		logPath = defaultLogPath()
	}
	logFile, err := openLog(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	log := slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log.Info("tappaas started", "version", version, "pid", os.Getpid())

	prompter := tui.NewPrompter()
	if rootFlags.accessible {
		prompter = nil // no dialog to answer: unknown host keys are refused
	}
	be, cleanup, err := newTUIBackend(log, prompter)
	if err != nil {
		log.Error("no backend", "err", err)
		return err
	}
	defer cleanup()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	profile := colorprofile.Detect(os.Stdout, os.Environ())
	st := styles.ForProfile(profile)
	if os.Getenv("TERM") == "linux" {
		st.Icons = styles.ASCIIIcons()
	}
	com := common.New(st, keys.Default(), log)
	com.StepLog = logFile
	com.LogPath = logPath
	opts := tui.Options{Backend: be, Common: com, Prompter: prompter}
	if zf, path, err := zonesForTUI(); err != nil {
		log.Warn("zone editor unavailable", "err", err)
	} else {
		deps := zonesui.Deps{Path: path}
		if nb, ok := be.(*nodeBackend); ok {
			// Plan and apply against the node's firewall (the API key the
			// install generated), reached through the same session.
			deps.Plan = func(ctx context.Context, f *cz.File) (*cz.Changes, error) {
				fw, err := nb.zonesFirewall(ctx)
				if err != nil {
					return nil, err
				}
				cur, err := cz.Snapshot(ctx, fw)
				if err != nil {
					return nil, err
				}
				return cz.Plan(f, cur), nil
			}
			deps.Apply = func(ctx context.Context, ch *cz.Changes, out func(string)) error {
				fw, err := nb.zonesFirewall(ctx)
				if err != nil {
					return err
				}
				return cz.Apply(ctx, fw, ch, out)
			}
		}
		opts.Zones = func(com *common.Common) common.Screen { return zonesui.New(com, zf, deps) }
	}

	if rootFlags.accessible {
		err := tui.RunAccessible(ctx, opts, cmd.InOrStdin(), cmd.OutOrStdout())
		if err != nil {
			log.Error("accessible run ended", "err", err)
			return fmt.Errorf("%w (log: %s)", err, logPath)
		}
		return nil
	}
	if !term.IsTerminal(os.Stdout.Fd()) || !term.IsTerminal(os.Stdin.Fd()) {
		return exitCode(2, errors.New("the full-screen installer needs a terminal; use --accessible, or tappaas install --answers FILE --yes"))
	}
	// Nothing may write to the terminal under the UI: the standard loggers
	// and anything printing to fd 2 go to the log file while it runs.
	stdlog.SetOutput(logFile)
	slog.SetDefault(log)
	restore := redirectStderr(logFile, log)
	err = tui.Run(ctx, opts, tea.WithColorProfile(profile))
	restore()
	if err != nil {
		log.Error("ui ended", "err", err)
		return fmt.Errorf("%w (log: %s)", err, logPath)
	}
	log.Info("tappaas exited")
	return nil
}

// redirectStderr points fd 2 at f until the returned func restores it.
func redirectStderr(f *os.File, log *slog.Logger) func() {
	saved, err := syscall.Dup(2)
	if err != nil {
		log.Warn("keep stderr", "err", err)
		return func() {}
	}
	if err := syscall.Dup3(int(f.Fd()), 2, 0); err != nil {
		log.Warn("redirect stderr", "err", err)
		syscall.Close(saved)
		return func() {}
	}
	return func() {
		_ = syscall.Dup3(saved, 2, 0)
		syscall.Close(saved)
	}
}

// zonesForTUI reads ./zones.json, else the built-in default set (saved to
// ./zones.json by the editor). Read before the UI starts: no IO in Update.
func zonesForTUI() (*cz.File, string, error) {
	const path = "zones.json"
	f, err := cz.LoadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		f, err = cz.Default()
	}
	return f, path, err
}

// newTUIBackend picks what the installer talks to.
func newTUIBackend(log *slog.Logger, prompter *tui.Prompter) (tui.Backend, func(), error) {
	if os.Getenv(fakeEnv) == "1" {
		dir := os.Getenv(fakeEnv + "_DIR")
		if dir == "" {
			return nil, nil, fmt.Errorf("%s=1 needs %s_DIR", fakeEnv, fakeEnv)
		}
		delay, _ := time.ParseDuration(os.Getenv(fakeEnv + "_DELAY"))
		lines, _ := strconv.Atoi(os.Getenv(fakeEnv + "_LINES"))
		be, err := tuitest.New(tuitest.Options{Dir: dir, StepDelay: delay, Lines: lines, Log: log,
			FailStep: os.Getenv(fakeEnv + "_FAIL")})
		return be, func() {}, err
	}
	o := installOptions{lab: rootFlags.lab, labReset: rootFlags.labReset, labDir: rootFlags.labDir,
		labSpeed: rootFlags.labSpeed, host: rootFlags.host, logFile: rootFlags.logFile, concurrency: 4}
	if rootFlags.logFile == "" {
		o.logFile = defaultLogPath()
	}
	b := &nodeBackend{o: o, log: log}
	if prompter != nil {
		b.trust = func(host string, key gossh.PublicKey, fp string) (bool, error) {
			return prompter.TrustHostKey(context.Background(), host, key.Type(), fp)
		}
	}
	return b, b.Close, nil
}

// nodeBackend is the TUI's Backend for the lab, a remote node (--host) or
// this machine: the same session, plans and checkpoint store as the
// headless install.
type nodeBackend struct {
	o   installOptions
	log *slog.Logger
	// trust asks the operator about an unknown SSH host key (--host).
	trust func(host string, key gossh.PublicKey, fingerprint string) (bool, error)

	mu   sync.Mutex
	sess *session
}

// inputsKey is where the TUI keeps the wizard's (non-secret) answers in the
// node's state, so a resume in a later process knows them.
const (
	inputsKey     = "tui.install"
	typedPWSecret = "tui.firewall_root_password"
	// pwUnshownKey marks, with the checkpoint, that a TUI run is about to
	// generate the firewall root password and no done screen has shown it
	// yet: a run stopped before the end shows it on the done screen of the
	// resumed run, in whichever process that is.
	pwUnshownKey = "tui.firewall_password_unshown"
)

func (b *nodeBackend) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sess != nil {
		b.sess.Close()
		b.sess = nil
	}
}

func (b *nodeBackend) session(ctx context.Context) (*session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sess != nil {
		return b.sess, nil
	}
	// Connections outlive the Cmd that opened them.
	ctx = context.WithoutCancel(ctx)
	if b.o.host != "" {
		return b.openHost(ctx)
	}
	sess, err := openSession(ctx, b.o, io.Discard)
	if err != nil {
		return nil, err
	}
	b.sess = sess
	return sess, nil
}

// openHost connects to --host over SSH; an unknown host key is shown to the
// operator (SHA-256 fingerprint) through the TUI's trust dialog. Called
// with b.mu held.
func (b *nodeBackend) openHost(ctx context.Context) (*session, error) {
	s := &session{log: b.log}
	var keys []string
	if home, err := os.UserHomeDir(); err == nil {
		for _, k := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if p := filepath.Join(home, ".ssh", k); fileExists(p) {
				keys = append(keys, p)
			}
		}
	}
	t, err := install.Connect(ctx, install.ConnectOptions{Host: b.o.host, KeyFiles: keys,
		UseAgent: os.Getenv("SSH_AUTH_SOCK") != "", Log: b.log, Trust: b.trust})
	if err != nil {
		return nil, err
	}
	t.OperatorAddr = install.RemoteOperatorAddr(ctx, t.Node)
	s.targets = t
	s.close = append(s.close, func() { t.Close() })
	st, err := state.Open(state.ExecFS(t.Node, install.StateDir))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open the checkpoints in %s on the node: %w", install.StateDir, err)
	}
	s.store = st
	t.Secrets = st.Secrets()
	b.sess = s
	return s, nil
}

// zonesFirewall is the node's firewall for the zone editor.
func (b *nodeBackend) zonesFirewall(ctx context.Context) (cz.Firewall, error) {
	sess, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	return sess.targets.ZonesFirewall(), nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func (b *nodeBackend) target() string {
	switch {
	case b.o.lab:
		return "in-process lab (simulated PVE node)"
	case b.o.host != "":
		return b.o.host + " over SSH"
	}
	return "this machine"
}

// savedInputs returns the answers saved by an earlier TUI run.
func (b *nodeBackend) savedInputs(sess *session) (config.Install, bool) {
	raw, ok := sess.store.Inputs()[inputsKey]
	if !ok {
		return config.Install{}, false
	}
	var cfg config.Install
	if err := json.Unmarshal(raw, &cfg); err != nil {
		b.log.Warn("saved answers unreadable", "err", err)
		return config.Install{}, false
	}
	if pw, ok := sess.store.Secrets().Secret(typedPWSecret); ok {
		cfg.Firewall.RootPassword = pw
	}
	return cfg, true
}

// NodeInfo implements tui.Backend.
func (b *nodeBackend) NodeInfo(ctx context.Context) (tui.NodeInfo, error) {
	info := tui.NodeInfo{Target: b.target()}
	sess, err := b.session(ctx)
	if err != nil {
		return info, err
	}
	inv, err := preflight.Gather(ctx, sess.targets.Node)
	if err != nil {
		return info, err
	}
	info.Hostname, info.PVEVersion, info.Address = inv.Hostname, inv.PVEVersion, inv.InstallCIDR
	cfg, ok := b.savedInputs(sess)
	if !ok {
		return info, nil
	}
	plan, err := install.FirstNodePlan(cfg, sess.targets)
	if err != nil {
		b.log.Warn("rebuild plan for the checkpoint", "err", err)
		return info, nil
	}
	info.Checkpoint = common.CheckpointOf(plan, sess.store, common.GoalInstall)
	info.Installed = common.Installed(plan, sess.store)
	info.Steps = common.StepStates(plan, sess.store)
	return info, nil
}

// Detect implements tui.Backend.
func (b *nodeBackend) Detect(ctx context.Context) (tui.Detected, error) {
	sess, err := b.session(ctx)
	if err != nil {
		return tui.Detected{}, err
	}
	inv, err := preflight.Gather(ctx, sess.targets.Node)
	if err != nil {
		return tui.Detected{}, err
	}
	det := tui.Detected{Install: config.Defaults()}
	if saved, ok := b.savedInputs(sess); ok {
		det.Install = saved
	}
	in := &det.Install
	if config.ValidateHostname(inv.Hostname) == nil && in.Node.Hostname == "tappaas1" {
		in.Node.Hostname = inv.Hostname
		if ip, err := config.MgmtIPForHostname(inv.Hostname); err == nil {
			in.Node.ManagementCIDR = ip.String() + "/24"
		}
	}
	var free []string
	for _, n := range inv.NICs {
		det.NICs = append(det.NICs, common.NIC{Name: n.Name, MAC: n.MAC, Link: n.Up, SpeedMbps: n.Speed, Internet: n.Upstream,
			Address: strings.Join(inv.Addrs[n.Name], ", ")})
		switch {
		case n.Upstream && in.Node.WANNIC == "":
			in.Node.WANNIC = n.Name
		case !n.Upstream && n.Up && in.Node.LANNIC == "":
			in.Node.LANNIC = n.Name
		}
	}
	for _, d := range inv.Disks {
		use := ""
		switch {
		case d.System:
			use = "system disk"
		case d.Pool != "":
			use = "ZFS pool " + d.Pool
		case d.HasData:
			use = "has partitions or data"
		default:
			free = append(free, d.Name)
		}
		det.Disks = append(det.Disks, common.Disk{Name: d.Name, Model: d.Model, SizeBytes: uint64(max(d.Size, 0)), InUse: use})
	}
	if len(in.Storage.Pools) == 0 && len(free) > 0 {
		in.Storage.Pools = []config.Pool{{Name: "tanka1", Layout: "single", Disks: free[:1]}}
	}
	in.ApplyDefaults()
	det.OperatorAddr, det.Upstream = sess.targets.OperatorAddr, inv.InstallCIDR
	if in.Node.AdminNetwork == "" {
		in.Node.AdminNetwork = common.DefaultAdminNetwork(det.OperatorAddr, det.Upstream)
	}
	det.Images = []common.ImageSum{
		publishedSum(ctx, sess, "firewall image", in.Firewall.ImageURL, &in.Firewall.ImageSHA256),
		publishedSum(ctx, sess, "NixOS template image", in.Platform.TemplateImageURL, &in.Platform.TemplateImageSHA256),
	}
	return det, nil
}

// publishedSum fills *sum from where the image is published (the GitHub
// release's asset digest, read on the node, which downloads the image)
// unless earlier answers already hold one; it says where the value came
// from, or why there is none.
func publishedSum(ctx context.Context, sess *session, what, url string, sum *string) common.ImageSum {
	is := common.ImageSum{What: what, URL: url}
	if *sum != "" {
		is.SHA256, is.Source = *sum, "the saved answers"
		return is
	}
	p, err := firewall.PublishedSum(ctx, sess.targets.Node, url)
	if err != nil {
		is.Source = err.Error()
		return is
	}
	*sum = p.SHA256
	is.SHA256, is.Source = p.SHA256, p.Source
	return is
}

// Preflight implements tui.Backend: the plan's own read-only checks.
func (b *nodeBackend) Preflight(ctx context.Context, req tui.Request) ([]tui.Check, error) {
	sess, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	cfg := config.Defaults()
	if req.Install != nil {
		cfg = *req.Install
	}
	role := preflight.RoleFirst
	if req.Goal == common.GoalJoin {
		role = preflight.RoleJoin
	}
	pc := &preflight.Checks{Node: sess.targets.Node, Cfg: cfg, Role: role, OperatorAddr: sess.targets.OperatorAddr}
	res, _, err := pc.Run(ctx)
	if err != nil {
		return nil, err
	}
	var out []tui.Check
	for _, r := range res {
		st := common.CheckPass
		switch r.Outcome {
		case preflight.Fail:
			st = common.CheckFail
		case preflight.Unknown:
			st = common.CheckUnknown
		}
		out = append(out, tui.Check{Name: r.Name, Status: st, Detail: r.Detail, Fix: r.Fix})
	}
	return out, nil
}

// Plan implements tui.Backend.
func (b *nodeBackend) Plan(ctx context.Context, req tui.Request) (tui.Job, error) {
	sess, err := b.session(ctx)
	if err != nil {
		return nil, err
	}
	if req.Goal == common.GoalJoin {
		if req.Install == nil {
			return nil, errors.New("a join needs the join wizard's answers: start it from the home screen")
		}
		pw := req.PeerPassword // used once by the join step, never stored
		plan, err := install.JoinPlan(*req.Install, sess.targets, install.Peer{
			Password: func(context.Context) (string, error) { return pw, nil }})
		if err != nil {
			return nil, err
		}
		r := &steps.Runner{Store: sess.store, Policy: steps.PolicyAsk, Concurrency: max(1, b.o.concurrency), Log: sess.log}
		return common.NewRunnerJob(plan, r, nil), nil
	}
	var cfg config.Install
	switch {
	case req.Install != nil:
		cfg = *req.Install
		saved := cfg
		saved.Firewall.RootPassword = ""
		if err := sess.store.SetInput(inputsKey, saved); err != nil {
			return nil, fmt.Errorf("save the answers with the checkpoint: %w", err)
		}
		if cfg.Firewall.RootPassword != "" {
			if err := sess.store.Secrets().SetSecret(typedPWSecret, cfg.Firewall.RootPassword); err != nil {
				return nil, err
			}
		}
	default:
		var ok bool
		if cfg, ok = b.savedInputs(sess); !ok {
			return nil, errors.New("there is no saved install to resume: start a new install from the home screen")
		}
	}
	t := sess.targets
	if name, by, when := sess.store.Plan(); name != "" {
		t.PriorRun = fmt.Sprintf("plan %q last run by %s at %s", name, by, when.Format(time.RFC3339))
	}
	plan, err := install.FirstNodePlan(cfg, t)
	if err != nil {
		return nil, err
	}
	if _, had := t.Secrets.Secret(firewall.SecretRootPassword); !had && cfg.Firewall.RootPassword == "" {
		if err := sess.store.SetInput(pwUnshownKey, true); err != nil {
			return nil, fmt.Errorf("save the checkpoint: %w", err)
		}
	}
	r := &steps.Runner{Store: sess.store, Policy: steps.PolicyAsk, Concurrency: max(1, b.o.concurrency), Log: sess.log}
	return common.NewRunnerJob(plan, r, nil), nil
}

// Summary implements tui.Backend.
func (b *nodeBackend) Summary(ctx context.Context, req tui.Request) (tui.Summary, error) {
	sess, err := b.session(ctx)
	if err != nil {
		return tui.Summary{}, err
	}
	if req.Goal == common.GoalJoin && req.Install != nil {
		in := req.Install
		return tui.Summary{
			Built: []string{fmt.Sprintf("%s joined cluster %s through %s", in.Node.Hostname, config.ClusterName, in.Join.Peer)},
			URLs:  []common.Link{{Name: "Proxmox VE", URL: "https://" + in.MgmtPrefix().Addr().String() + ":8006", User: common.UserPVE}},
			Next:  []string{"check the cluster in the PVE web UI (Datacenter → Cluster)", "tappaas status"},
		}, nil
	}
	cfg, ok := b.savedInputs(sess)
	if req.Install != nil {
		cfg, ok = *req.Install, true
	}
	if !ok {
		return tui.Summary{}, errors.New("no answers saved for this install")
	}
	mgmt := cfg.MgmtPrefix().Addr().String()
	facts := steps.NewFacts(sess.store.Facts())
	cicd, _ := steps.Get(facts, platform.FactCICDIP)
	s := tui.Summary{
		Built: []string{
			fmt.Sprintf("Node %s: lan/wan bridges, cluster %s, pools %s", cfg.Node.Hostname, config.ClusterName, strings.Join(cfg.PoolNames(), ", ")),
			fmt.Sprintf("Firewall VM %d (OPNsense) at %s, zones pushed", cfg.Firewall.VMID, config.FirewallLANIP),
			fmt.Sprintf("tappaas-cicd VM %d", config.CICDVMID),
		},
		URLs: []common.Link{{Name: "Proxmox VE", URL: "https://" + mgmt + ":8006", User: common.UserPVE},
			{Name: "Firewall", URL: "https://" + config.FirewallLANIP, User: common.UserFirewall}},
		Credentials: []common.Credential{
			{Name: "Firewall root password", Where: install.StateDir + "/secrets.json on the node (0600)"},
			{Name: "Firewall API key", Where: install.StateDir + "/secrets.json on the node (0600)"},
		},
		Next: []string{"tappaas status: check every step", "tappaas join on tappaas2..9 to grow the cluster",
			"on tappaas-cicd: acme-setup.sh for TLS certificates for " + cfg.Site.Domain, "the full summary is in " + summary.File + " on the node"},
	}
	if cfg.BackupEnabled() {
		s.Built = append(s.Built, "Proxmox Backup Server, datastore "+cfg.Backup.Datastore)
		s.URLs = append(s.URLs, common.Link{Name: "Backup server", URL: "https://" + mgmt + ":8007", User: common.UserPVE})
	}
	upstream, _ := steps.Get(facts, preflight.FactInstallCIDR)
	upstream, _, _ = strings.Cut(upstream, "/")
	s.Reach = common.ManagementReach(cfg.Node.LANNIC, upstream, mgmt)
	if cicd != "" {
		s.URLs = append(s.URLs, common.Link{Name: "tappaas-cicd", URL: "ssh tappaas@" + cicd})
	}
	var unshown bool
	if raw, ok := sess.store.Inputs()[pwUnshownKey]; ok {
		_ = json.Unmarshal(raw, &unshown)
	}
	if pw, ok := sess.store.Secrets().Secret(firewall.SecretRootPassword); ok && unshown && cfg.Firewall.RootPassword == "" {
		s.Generated = append(s.Generated, common.Secret{Name: "Firewall root password", Value: pw,
			Where: install.StateDir + "/secrets.json (0600)"})
		// Shown once: the next done screen lists it under stored credentials only.
		if err := sess.store.SetInput(pwUnshownKey, false); err != nil {
			b.log.Warn("record that the generated password was shown", "err", err)
		}
	}
	return s, nil
}

// defaultLogPath is /var/log/tappaas/tappaas.log for root on a PVE node,
// else under the user's cache directory.
func defaultLogPath() string {
	if os.Geteuid() == 0 && !rootFlags.lab {
		if _, err := os.Stat("/etc/pve"); err == nil {
			return "/var/log/tappaas/tappaas.log"
		}
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "tappaas", "tappaas.log")
}

func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	return f, nil
}
