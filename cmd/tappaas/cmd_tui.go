package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	cz "github.com/tappaas/tappaas/config/zones"
	"github.com/tappaas/tappaas/steps/install"
	"github.com/tappaas/tappaas/tui"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/keys"
	zonesui "github.com/tappaas/tappaas/tui/screens/zones"
	"github.com/tappaas/tappaas/tui/styles"
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
	identity   []string
}

// addRootFlags adds the installer's flags to the root command.
func addRootFlags(root *cobra.Command) {
	f := root.Flags()
	f.BoolVar(&rootFlags.lab, "lab", false, "run against an in-process lab instead of a real node")
	f.BoolVar(&rootFlags.labReset, "lab-reset", false, "with --lab: start from a fresh lab")
	f.BoolVar(&rootFlags.accessible, "accessible", false, "plain prompts instead of the full-screen UI (screen readers)")
	f.StringVar(&rootFlags.logFile, "log-file", "", "write the log here (default: under the user cache dir, or /var/log/tappaas as root)")
	f.StringVar(&rootFlags.host, "host", "", "install on a remote node over SSH (root@ADDR)")
	f.StringSliceVarP(&rootFlags.identity, "identity", "i", nil, "with --host: SSH private key file(s) (default: ~/.ssh/id_ed25519, id_ecdsa, id_rsa and ssh-agent)")
	f.StringVar(&rootFlags.labDir, "lab-dir", "", "with --lab: where the lab persists")
	f.Float64Var(&rootFlags.labSpeed, "lab-speed", 0, "with --lab: latency model scale (0 none, 1 realistic)")
	_ = f.MarkHidden("lab-dir")
	_ = f.MarkHidden("lab-speed")
}

// fakeBackend, set only in binaries built with -tags tuifake (the TUI's
// own tmux tests), returns the fake backend when TAPPAAS_TUI_FAKE=1 asks for
// it. The shipped binary links no test code.
var fakeBackend func(log *slog.Logger) (tui.Backend, bool, error)

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

	// Unknown host keys are asked about: in a dialog, or as a numbered
	// question in accessible mode.
	prompter := tui.NewPrompter()
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
	aopts := tui.AccessibleOptions{Again: againCommand(os.Args)}
	if zf, path, err := zonesForTUI(cz.LiveFiles); err != nil {
		log.Warn("zone editor unavailable", "err", err)
	} else {
		deps := zonesui.Deps{Path: path}
		if nb, ok := be.(*tui.NodeBackend); ok {
			deps = nb.ZoneDeps(path)
		}
		opts.Zones = func(com *common.Common) common.Screen { return zonesui.New(com, zf, deps) }
		aopts.ZonesFile, aopts.ZoneDeps = zf, deps
	}

	if rootFlags.accessible {
		return runAccessible(ctx, cmd, opts, aopts)
	}
	if !term.IsTerminal(os.Stdout.Fd()) || !term.IsTerminal(os.Stdin.Fd()) {
		return exitCode(2, errors.New("the full-screen installer needs a terminal; use --accessible, or tappaas install --answers FILE --yes"))
	}
	// Nothing may write to the terminal under the UI: the standard loggers
	// and anything printing to fd 2 go to the log file while it runs.
	stdlog.SetOutput(logFile)
	slog.SetDefault(log)
	restore := redirectStderr(logFile, log)
	out, err := tui.Run(ctx, opts, againCommand(os.Args), tea.WithColorProfile(profile))
	restore()
	if err != nil {
		log.Error("ui ended", "err", err)
		return fmt.Errorf("%w (log: %s)", err, logPath)
	}
	// One line after the alternate screen is gone: the state, the log
	// file, how to resume.
	fmt.Fprintln(cmd.ErrOrStderr(), out.Line)
	log.Info("tappaas exited", "code", out.Code, "outcome", out.Line)
	if out.Code != 0 {
		return exitCode(out.Code, nil)
	}
	return nil
}

// runAccessible runs the plain-prompt face: Ctrl+C interrupts (the one
// line says the state, the log file and how to resume; exit 130), and the
// exit codes are the headless ones.
func runAccessible(ctx context.Context, cmd *cobra.Command, opts tui.Options, aopts tui.AccessibleOptions) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	aopts.Options = opts
	// A generated secret is printed only to a terminal.
	if f, ok := cmd.OutOrStdout().(*os.File); ok && term.IsTerminal(f.Fd()) {
		aopts.ShowSecrets = true
	}
	if f, ok := cmd.InOrStdin().(*os.File); ok && term.IsTerminal(f.Fd()) {
		fd := int(f.Fd())
		if saved, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
			aopts.Echo = func(on bool) {
				t := *saved
				if !on {
					t.Lflag &^= unix.ECHO
				}
				_ = unix.IoctlSetTermios(fd, unix.TCSETS, &t)
			}
			defer aopts.Echo(true)
		}
	}
	out := tui.RunAccessible(ctx, aopts, cmd.InOrStdin(), cmd.OutOrStdout())
	if out.Code == tui.ExitInterrupted {
		// The terminal echoed ^C mid-line: the one line starts a new one.
		fmt.Fprintln(cmd.ErrOrStderr())
	}
	fmt.Fprintln(cmd.ErrOrStderr(), out.Line)
	opts.Common.Log.Info("tappaas exited", "code", out.Code, "outcome", out.Line)
	if out.Code != 0 {
		return exitCode(out.Code, nil)
	}
	return nil
}

// againCommand is the command line that starts the installer on the same
// node again: this one without --lab-reset (which would wipe the lab).
func againCommand(args []string) string {
	var out []string
	for _, a := range args {
		if a == "--lab-reset" || strings.HasPrefix(a, "--lab-reset=") {
			continue
		}
		if a == "" || strings.ContainsAny(a, " \t'\"$`\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out = append(out, a)
	}
	return strings.Join(out, " ")
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

// zonesForTUI reads the platform's live zones.json when this machine has
// one, else ./zones.json, else the built-in default set (saved there by the
// editor). Read before the UI starts: no IO in Update.
func zonesForTUI(live []string) (*cz.File, string, error) {
	path := defaultZonesPath(live)
	f, err := cz.LoadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		f, err = cz.Default()
	}
	return f, path, err
}

// newTUIBackend picks what the installer talks to.
func newTUIBackend(log *slog.Logger, prompter *tui.Prompter) (tui.Backend, func(), error) {
	if fakeBackend != nil {
		if be, ok, err := fakeBackend(log); ok {
			return be, func() {}, err
		}
	}
	o := installOptions{lab: rootFlags.lab, labReset: rootFlags.labReset, labDir: rootFlags.labDir,
		labSpeed: rootFlags.labSpeed, host: rootFlags.host, identity: rootFlags.identity, logFile: rootFlags.logFile, log: log, defaultKeys: true}
	if prompter != nil {
		o.trust = func(host string, key gossh.PublicKey, fp string) (bool, error) {
			return prompter.TrustHostKey(context.Background(), host, key.Type(), fp)
		}
	}
	target := "this machine"
	switch {
	case o.lab:
		target = "in-process lab (simulated PVE node)"
	case o.host != "":
		target = o.host + " over SSH"
	}
	b := tui.NewNodeBackend(tui.NodeOptions{Target: target, Concurrency: 4, Log: log,
		Open: func(ctx context.Context) (*install.Session, error) { return openSession(ctx, o, io.Discard) }})
	return b, b.Close, nil
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
