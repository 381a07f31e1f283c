// Package steps is tappaas's engine: a Plan is a validated DAG of idempotent
// Steps, and a Runner executes it against targets, recording checkpoints in
// a state.Store (backends/state) so that any run can be resumed.
//
// # Ordering
//
// Plan.Steps is a topological order, stable: among steps ready at the same
// time the one declared first comes first. With Concurrency 1 the runner
// starts steps in exactly that order. A step starts only after every step it
// Needs is done or skipped. Events of one step are emitted in order:
// StepStarted (once per attempt), Output/Progress, then StepDone or
// StepFailed (and, under PolicyAsk, Ask after the final StepFailed).
// PlanStarted comes first and PlanDone last; PlanDone is also emitted when
// the lock cannot be taken (then without PlanStarted).
//
// # Idempotence and the truth
//
// Check is the truth, the checkpoint a hint: every run calls Check first and
// a step whose Check says done is skipped (StepDone{Skipped: true, Reason:
// Status.Detail}), whatever its checkpoint says, so manual fixes between runs
// are honoured and a second run of a finished plan applies nothing. Check
// must be read-only on the target; it may record facts it observes (VM IDs,
// fingerprints) so that a resumed run knows them even when the step that
// learned them is skipped. Apply must converge: safe to run again after a
// partial failure or a crash at any point. After Apply returns nil the
// runner calls Check again; a step still not done is a bug and fails with a
// *BugError (StepFailed{Bug: true}).
//
// # Checkpoints
//
// Before Apply the step is recorded "running", after it "done" or "failed";
// a step found done by Check is recorded "skipped" (unless its checkpoint
// already says done or skipped with the same reason); a step whose run was
// cancelled is recorded "interrupted". Each record is durable (journal
// append + fsync, see backends/state) before the runner moves on. Facts set
// through Runtime.Facts are persisted as soon as they are set; secrets
// through Runtime.Secrets go to the store's 0600 secret file.
//
// # Concurrency
//
// Up to Runner.Concurrency steps run at once (default 1), each in its own
// goroutine; two steps that share a resource named by Touches never overlap.
// The Runtime, Facts and SecretStore handed to steps are safe for concurrent
// use. One Run at a time holds the store's lock; a second (in this or
// another process, on this or another host) gets a *state.LockError naming
// the holder. A caller that must write to the store before the run (its
// answers) takes the lock itself first; Run then uses it and leaves it
// held.
//
// # Failures
//
// A step error marked retryable (MarkRetryable, or any error with a
// `Retryable() bool` method returning true) is retried with Backoff up to
// MaxAttempts attempts. Then, per Policy: PolicyAbort starts no new step,
// lets running ones finish and returns an error matching ErrAborted;
// PolicyAsk sends Ask with the choices retry, skip (optional steps only) and
// abort and waits for Reply; PolicyContinue goes on with the independent
// steps. The dependents of a failed step never run. Cleanup of a Cleaner
// step runs after every Apply, successful or not; its error is logged, not
// fatal. A panic in a step is turned into an error matching ErrBug.
//
// # Cancellation and pause
//
// Cancelling Run's context cancels the running steps' context; they are
// recorded "interrupted", no new step starts, and Run returns an error
// wrapping the context's error once they have returned. Pause lets the
// running steps finish, starts no new one and returns ErrPaused. Either way
// the store stays consistent and the next Run resumes.
//
// # Events
//
// A Sink must not block the runner for long. Queue is the Sink for slow
// consumers: Send never blocks, terminal events are never dropped, Output
// lines are coalesced and, over budget, the oldest are dropped with a
// "[N lines dropped]" marker.
package steps
