package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"time"

	"github.com/tappaas/tappaas/backends/exec"
	"github.com/tappaas/tappaas/backends/state"
	"github.com/tappaas/tappaas/config"
	"github.com/tappaas/tappaas/steps/firewall"
)

// Session is a connected node with its checkpoint store: what the headless
// commands and the TUI run plans against.
type Session struct {
	Targets *Targets
	Store   *state.Store
	Log     *slog.Logger
	closers []func()
}

// OnClose registers fn to run at Close (last registered runs first).
func (s *Session) OnClose(fn func()) { s.closers = append(s.closers, fn) }

// Close closes the targets' connections and whatever was registered.
func (s *Session) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}

// OpenStore opens the checkpoint store in StateDir on t's node, retrying
// when the link drops under it, and points t.Secrets at its secrets; the
// session closes t when it closes.
func (s *Session) OpenStore(t *Targets) error {
	s.Targets = t
	s.OnClose(func() { t.Close() })
	st, err := state.Open(retryFS{state.ExecFS(t.Node, StateDir)})
	if err != nil {
		return fmt.Errorf("open the checkpoints in %s on the node: %w", StateDir, err)
	}
	s.Store = st
	t.Secrets = st.Secrets()
	t.Checkpoint = st
	return nil
}

// PriorRun describes the plan last recorded in the store ("" none), for
// Targets.PriorRun.
func (s *Session) PriorRun() string {
	if name, by, when := s.Store.Plan(); name != "" {
		return fmt.Sprintf("plan %q last run by %s at %s", name, by, when.Format(time.RFC3339))
	}
	return ""
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

// inputAnswers is the checkpoint input holding the headless answers
// (without the firewall root password), so a resume needs no answers file.
const inputAnswers = "answers"

// SaveAnswers records the answers with the checkpoint (never the password).
func SaveAnswers(st *state.Store, cfg config.Install) error {
	cfg.Firewall.RootPassword = ""
	return st.SetInput(inputAnswers, cfg)
}

// LoadAnswers reads the answers saved with the checkpoint.
func LoadAnswers(st *state.Store) (config.Install, bool) {
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

// inputPasswordUnshown marks, with the checkpoint, that a run is about to
// generate the firewall root password and no run has shown it yet: a run
// stopped before the end shows it at the end of the run that resumes, in
// whichever process (headless or TUI) that is.
const inputPasswordUnshown = "tui.firewall_password_unshown"

// NoteGeneratedPassword records, before a run of cfg, that the run will
// generate the firewall root password (none typed, none generated yet).
func NoteGeneratedPassword(st *state.Store, cfg config.Install) error {
	if _, had := st.Secrets().Secret(firewall.SecretRootPassword); had || cfg.Firewall.RootPassword != "" {
		return nil
	}
	if err := st.SetInput(inputPasswordUnshown, true); err != nil {
		return fmt.Errorf("save the checkpoint: %w", err)
	}
	return nil
}

// UnshownPassword returns the generated firewall root password when no run
// has shown it yet; MarkPasswordShown records that it was.
func UnshownPassword(st *state.Store, cfg config.Install) (string, bool) {
	var unshown bool
	if raw, ok := st.Inputs()[inputPasswordUnshown]; ok {
		_ = json.Unmarshal(raw, &unshown)
	}
	pw, ok := st.Secrets().Secret(firewall.SecretRootPassword)
	if !ok || !unshown || cfg.Firewall.RootPassword != "" {
		return "", false
	}
	return pw, true
}

// SecretsPath is the node's credential file (0600).
const SecretsPath = StateDir + "/" + state.SecretsFile

// ReadSecretCommand is the shell command that shows the secret name on
// the node, as "name":"value" (secrets.json is compact JSON written by
// backends/state; a stock PVE node has no jq).
func ReadSecretCommand(name string) string {
	return fmt.Sprintf(`grep -o '"%s":"[^"]*"' %s`, name, SecretsPath)
}

// MarkPasswordShown records that the generated password was shown.
func MarkPasswordShown(st *state.Store) error {
	return st.SetInput(inputPasswordUnshown, false)
}

// Lock takes the node's run lock for the session unless it holds it
// already: before anything is written (nothing touches the state before
// the lock, and the store re-reads the checkpoint under it). The lock is
// released when the session closes; a failed release is logged and, when
// warn is not nil, said there.
func (s *Session) Lock(ctx context.Context, warn io.Writer) error {
	if _, held := s.Store.Held(); held {
		return nil
	}
	unlock, err := s.Store.Lock(ctx, state.CurrentHolder())
	if err != nil {
		return err
	}
	s.OnClose(func() {
		if err := unlock(); err != nil {
			s.Log.Error("release state lock", "err", err)
			if warn != nil {
				fmt.Fprintln(warn, "warning: release the state lock:", err)
			}
		}
	})
	return nil
}
