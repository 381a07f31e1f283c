package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/tappaas/tappaas/tui"
	"github.com/tappaas/tappaas/tui/common"
	"github.com/tappaas/tappaas/tui/keys"
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
}

// addRootFlags adds the installer's flags to the root command.
func addRootFlags(root *cobra.Command) {
	f := root.Flags()
	f.BoolVar(&rootFlags.lab, "lab", false, "run against an in-process lab instead of a real node")
	f.BoolVar(&rootFlags.labReset, "lab-reset", false, "with --lab: start from a fresh lab")
	f.BoolVar(&rootFlags.accessible, "accessible", false, "plain prompts instead of the full-screen UI (screen readers)")
	f.StringVar(&rootFlags.logFile, "log-file", "", "write the log here (default: under the user cache dir, or /var/log/tappaas as root)")
	f.StringVar(&rootFlags.host, "host", "", "install on a remote node over SSH (root@ADDR)")
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

	be, cleanup, err := newTUIBackend(log)
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
	opts := tui.Options{Backend: be, Common: com}

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
	if err := tui.Run(ctx, opts, tea.WithColorProfile(profile)); err != nil {
		log.Error("ui ended", "err", err)
		return fmt.Errorf("%w (log: %s)", err, logPath)
	}
	log.Info("tappaas exited")
	return nil
}

// newTUIBackend picks what the installer talks to.
func newTUIBackend(log *slog.Logger) (tui.Backend, func(), error) {
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
	switch {
	case rootFlags.lab:
		return nil, nil, errNotBuilt("the full-screen installer against --lab (waiting for the install plan)")
	case rootFlags.host != "":
		return nil, nil, errNotBuilt("the full-screen installer over SSH (--host)")
	}
	return nil, nil, errNotBuilt("the full-screen installer on this node (use --lab)")
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
