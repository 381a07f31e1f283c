package steps

import "time"

// Event is one thing the runner reports. The TUI and the headless printers
// consume the same stream. Terminal events (StepDone, StepFailed, Ask,
// PlanDone) are never dropped; Output lines may be coalesced under load.
type Event interface{ isEvent() }

// Stream tells where an output line came from.
type Stream string

// Streams of Output lines.
const (
	StreamInfo   Stream = "info"   // the step's own narration (rt.Printf)
	StreamStdout Stream = "stdout" // a command's standard output
	StreamStderr Stream = "stderr" // a command's standard error
)

// StepInfo describes one step of a plan for display.
type StepInfo struct {
	ID       string
	Title    string
	Needs    []string
	Optional bool
	// Changes is the step's Describe output (may be empty).
	Changes []string
	// Checkpoint is the status recorded by an earlier run ("done",
	// "failed", "interrupted", "" when never run).
	Checkpoint string
	// Expected is how long the step usually takes when it applies (0
	// when unknown); the run view's whole-plan ETA starts from it.
	Expected time.Duration
}

// PlanStarted opens a run.
type PlanStarted struct {
	Plan  string
	Steps []StepInfo
	// Warnings are what the operator must be told before the steps run
	// (a stale lock of a dead run taken over).
	Warnings []string
	At       time.Time
}

// StepStarted says a step is about to be checked/applied.
type StepStarted struct {
	StepID  string
	Attempt int // 1 for the first attempt
	At      time.Time
}

// Output carries one or more lines from a step (coalesced under load).
type Output struct {
	StepID string
	Stream Stream
	Lines  []string
	// Dropped counts lines dropped under load just before these; the
	// first of Lines is then a "[N lines dropped]" marker.
	Dropped int
	At      time.Time
}

// Progress reports progress of long work inside a step: a fraction, a
// transfer (Done of Total bytes) or a wait (What is awaited until
// Deadline, when the step gives up).
type Progress struct {
	StepID   string
	Fraction float64 // 0..1, or -1 when unknown
	What     string
	// Done and Total are the bytes transferred so far and in all (Total 0
	// when unknown); both 0 when this is not a transfer.
	Done, Total int64
	// Deadline is when a wait gives up (zero when this is not a wait).
	Deadline time.Time
	At       time.Time
}

// StepDone says a step finished: applied, or skipped because it was already
// done (Reason carries Check's Detail).
type StepDone struct {
	StepID   string
	Skipped  bool
	Reason   string
	Duration time.Duration
	At       time.Time
}

// StepFailed says a step failed. The runner then asks, aborts or retries per
// its policy.
type StepFailed struct {
	StepID    string
	Err       error
	Attempt   int
	Retryable bool
	Optional  bool
	// Bug is true when Apply returned nil but Check still says not done.
	Bug bool
	// Interrupted is true when the run's context ended (cancel): the step
	// is recorded "interrupted" and will be re-checked by the next run.
	Interrupted bool
	At          time.Time
}

// Choice is an answer to an Ask.
type Choice int

// Answers to an Ask.
const (
	ChoiceRetry Choice = iota
	ChoiceSkip         // only offered for optional steps
	ChoiceAbort
)

func (c Choice) String() string {
	switch c {
	case ChoiceRetry:
		return "retry"
	case ChoiceSkip:
		return "skip"
	case ChoiceAbort:
		return "abort"
	}
	return "unknown"
}

// Ask is sent under the ask policy when a step fails. The consumer must call
// Reply exactly once; the runner waits (or until the run's context ends).
type Ask struct {
	StepID  string
	Err     error
	Choices []Choice
	Reply   func(Choice)
	At      time.Time
}

// PlanDone closes a run. Err is nil when every step is done or skipped.
type PlanDone struct {
	Plan                     string
	Applied, Skipped, Failed int
	Interrupted              bool
	Err                      error
	Duration                 time.Duration
	At                       time.Time
}

func (PlanStarted) isEvent() {}
func (StepStarted) isEvent() {}
func (Output) isEvent()      {}
func (Progress) isEvent()    {}
func (StepDone) isEvent()    {}
func (StepFailed) isEvent()  {}
func (Ask) isEvent()         {}
func (PlanDone) isEvent()    {}
