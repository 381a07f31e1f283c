// Package common holds what every screen shares: the Common context
// (styles, keys, logger, clock), the Screen and Dialog contracts, the shared
// messages and the Backend the TUI talks to.
//
// House rules (after crush's internal/ui/AGENTS.md): no IO in Update, no
// state change inside a Cmd, messages are XxxMsg and Cmd builders xxxCmd,
// screens never import each other (the root interprets their messages),
// dialogs sit on the root's overlay stack and see messages first.
package common

import (
	"io"
	"log/slog"
	"time"

	"charm.land/bubbles/v2/help"
	tea "charm.land/bubbletea/v2"

	"github.com/tappaas/tappaas/tui/keys"
	"github.com/tappaas/tappaas/tui/styles"
)

// Common is shared by every screen and component.
type Common struct {
	Styles *styles.Styles
	Keys   *keys.KeyMap
	// Log is the TUI's structured logger (a file, never stdout).
	Log *slog.Logger
	// StepLog receives every output line of a run (the full log; the screen
	// keeps only a bounded tail). May be nil.
	StepLog io.Writer
	// LogPath is where the log file is, shown on done and failure screens.
	LogPath string
	// Now is the clock (tests pin it).
	Now func() time.Time
}

// New returns a Common with defaults for nil fields.
func New(st *styles.Styles, km *keys.KeyMap, log *slog.Logger) *Common {
	if km == nil {
		km = keys.Default()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Common{Styles: st, Keys: km, Log: log, Now: time.Now}
}

// Screen is one full-screen component. The root forwards messages to the
// active screen only and renders its help in the footer.
type Screen interface {
	help.KeyMap
	Init() tea.Cmd
	Update(msg tea.Msg) (Screen, tea.Cmd)
	View() string
	SetSize(width, height int)
	// Title is shown in the header.
	Title() string
}

// Capturer is implemented by screens that are currently taking text input:
// the root then does not interpret single-letter global keys (q, ?).
type Capturer interface{ Capturing() bool }

// Dialog is a modal on the root's overlay stack. It receives messages before
// the screen below it. It closes itself by returning CloseDialogCmd.
type Dialog interface {
	help.KeyMap
	ID() string
	Update(msg tea.Msg) (Dialog, tea.Cmd)
	View(width, height int) string
}

// OpenDialogMsg asks the root to push a dialog.
type OpenDialogMsg struct{ Dialog Dialog }

// CloseDialogMsg asks the root to pop the dialog with this ID.
type CloseDialogMsg struct{ ID string }

// OpenDialogCmd returns a Cmd that opens d.
func OpenDialogCmd(d Dialog) tea.Cmd { return func() tea.Msg { return OpenDialogMsg{Dialog: d} } }

// CloseDialogCmd returns a Cmd that closes the dialog id.
func CloseDialogCmd(id string) tea.Cmd { return func() tea.Msg { return CloseDialogMsg{ID: id} } }

// ErrMsg reports an error for the root to show in an error dialog.
type ErrMsg struct {
	// What names the operation ("read node info").
	What string
	Err  error
}

// ErrorCmd returns a Cmd carrying an ErrMsg.
func ErrorCmd(what string, err error) tea.Cmd {
	return func() tea.Msg { return ErrMsg{What: what, Err: err} }
}

// GoHomeMsg asks the root to show the home screen (and refresh node info).
type GoHomeMsg struct{}

// GoHomeCmd returns a Cmd carrying GoHomeMsg.
func GoHomeCmd() tea.Msg { return GoHomeMsg{} }

// MsgCmd wraps a message in a Cmd.
func MsgCmd(m tea.Msg) tea.Cmd { return func() tea.Msg { return m } }
