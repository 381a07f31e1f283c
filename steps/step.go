package steps

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Step is the unit of work, of display and of resume. See doc.go for the
// contract every implementation must honour.
type Step interface {
	// ID is a stable dotted name ("pbs.datastore"); it is the checkpoint key
	// and must never change once released.
	ID() string
	// Title is a short human label for the step list.
	Title() string
	// Check is read-only. It reports whether the step's effect already
	// exists on the target. An error means "could not check", never "not
	// done".
	Check(ctx context.Context, rt *Runtime) (Status, error)
	// Apply makes the effect exist. It must converge: safe to run again after
	// a partial failure (check before create, fixed IDs, never "another").
	Apply(ctx context.Context, rt *Runtime) error
}

// Needer is implemented by steps that must run after others (by ID).
type Needer interface{ Needs() []string }

// Describer is implemented by steps that can say, before running, what they
// will change. One line per change; used by the plan review screen and
// `plan` sub-commands.
type Describer interface{ Describe(rt *Runtime) []string }

// Cleaner is implemented by steps that leave ephemeral things behind (temp
// files, scheduled rollbacks). Cleanup never deletes infrastructure.
type Cleaner interface {
	Cleanup(ctx context.Context, rt *Runtime) error
}

// Toucher is implemented by steps that declare the resources they touch
// ("node:network", "vm:101", "opnsense"). Two steps sharing a resource never
// run at the same time.
type Toucher interface{ Touches() []string }

// Optionaler is implemented by steps that may be skipped by the operator when
// they fail.
type Optionaler interface{ Optional() bool }

// Status is what Check found.
type Status struct {
	// Done is true when the step's effect is present on the target.
	Done bool
	// Detail says why: what was found, or what is missing. It is shown to
	// the operator as the skip reason.
	Detail string
}

// Done returns a Status saying the effect exists, with the reason.
func Done(format string, a ...any) Status {
	return Status{Done: true, Detail: fmt.Sprintf(format, a...)}
}

// NotDone returns a Status saying the effect is missing, with what is missing.
func NotDone(format string, a ...any) Status {
	return Status{Done: false, Detail: fmt.Sprintf(format, a...)}
}

// Runtime is what a step receives while it runs: the per-run services. The
// step's own configuration and the narrow backend interfaces it needs are
// fields of the step value itself (set when the plan is built).
type Runtime struct {
	// StepID is the step this Runtime was handed to ("" outside a step).
	StepID string
	// Facts are typed values learned by earlier steps (VM IDs, IPs,
	// fingerprints), persisted in state.json. Never put secrets here.
	Facts *Facts
	// Secrets holds credentials; persisted 0600 apart from state.json and
	// never logged.
	Secrets SecretStore
	// Log is the structured logger (goes to the log file, never stdout).
	Log *slog.Logger

	emit func(Event)
	now  func() time.Time
}

// SecretStore keeps credentials out of state.json, logs and errors.
type SecretStore interface {
	// Secret returns the named secret and whether it exists.
	Secret(name string) (string, bool)
	// SetSecret stores a secret durably (0600) before returning.
	SetSecret(name, value string) error
}

// NewRuntime builds a Runtime. emit receives the step's Output and Progress
// events; nil discards them. The runner uses this for each step; tests may
// call it directly.
func NewRuntime(stepID string, facts *Facts, secrets SecretStore, log *slog.Logger, emit func(Event)) *Runtime {
	if facts == nil {
		facts = NewFacts(nil)
	}
	if secrets == nil {
		secrets = NewMemSecrets()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runtime{StepID: stepID, Facts: facts, Secrets: secrets, Log: log, emit: emit, now: time.Now}
}

// ForStep returns a copy of rt bound to another step ID.
func (rt *Runtime) ForStep(id string) *Runtime {
	c := *rt
	c.StepID = id
	return &c
}

// Printf reports one line of human output for the current step (shown in the
// log pane). Secrets must never be passed here.
func (rt *Runtime) Printf(format string, a ...any) {
	rt.Output(StreamInfo, fmt.Sprintf(format, a...))
}

// Output reports one line of a command's output for the current step.
func (rt *Runtime) Output(stream Stream, line string) {
	if rt == nil || rt.emit == nil {
		return
	}
	rt.emit(Output{StepID: rt.StepID, Stream: stream, Lines: []string{line}, At: rt.now()})
}

// Progress reports progress of long work (0..1, or -1 when unknown) with what
// is being waited for ("waiting for the OPNsense API at 10.0.0.1:443").
func (rt *Runtime) Progress(fraction float64, what string) {
	if rt == nil || rt.emit == nil {
		return
	}
	rt.emit(Progress{StepID: rt.StepID, Fraction: fraction, What: what, At: rt.now()})
}

// Wait reports that the step waits for what until deadline, when it gives
// up ("the firewall API at https://10.0.0.1 to accept our key").
func (rt *Runtime) Wait(what string, deadline time.Time) {
	if rt == nil || rt.emit == nil {
		return
	}
	rt.emit(Progress{StepID: rt.StepID, Fraction: -1, What: what, Deadline: deadline, At: rt.now()})
}

// Transfer reports done of total bytes of a download (total 0 when
// unknown).
func (rt *Runtime) Transfer(what string, done, total int64) {
	if rt == nil || rt.emit == nil {
		return
	}
	f := -1.0
	if total > 0 {
		f = min(float64(done)/float64(total), 1)
	}
	rt.emit(Progress{StepID: rt.StepID, Fraction: f, What: what, Done: done, Total: total, At: rt.now()})
}
