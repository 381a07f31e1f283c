package tui

import (
	"context"
	"errors"
)

// HostKeyPrompt is one host-key question from a backend.
type HostKeyPrompt struct {
	Host, KeyType, Fingerprint string
	reply                      chan bool
}

// Prompter carries questions from backends (running in Cmd goroutines) to
// the UI: an unknown SSH host key is shown with its SHA-256 fingerprint and
// the operator decides. Create one with NewPrompter and pass it both to the
// backend (as its trust callback) and to Options.
type Prompter struct{ ch chan *HostKeyPrompt }

// NewPrompter returns a Prompter.
func NewPrompter() *Prompter { return &Prompter{ch: make(chan *HostKeyPrompt)} }

// ErrNoAnswer is returned when the question could not be asked or answered.
var ErrNoAnswer = errors.New("host key not confirmed: no answer from the operator")

// TrustHostKey asks the operator whether to trust host's key; it blocks
// until answered or ctx ends.
func (p *Prompter) TrustHostKey(ctx context.Context, host, keyType, fingerprint string) (bool, error) {
	q := &HostKeyPrompt{Host: host, KeyType: keyType, Fingerprint: fingerprint, reply: make(chan bool, 1)}
	select {
	case p.ch <- q:
	case <-ctx.Done():
		return false, errors.Join(ErrNoAnswer, ctx.Err())
	}
	select {
	case ok := <-q.reply:
		return ok, nil
	case <-ctx.Done():
		return false, errors.Join(ErrNoAnswer, ctx.Err())
	}
}
