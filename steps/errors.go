package steps

import (
	"errors"
	"fmt"
)

// Retryable reports whether any error in err's chain has a
// `Retryable() bool` method returning true and none is Fatal. Backends mark
// transient failures (a dropped connection, an API 5xx, a lock held by PVE)
// this way; the runner retries them with backoff.
func Retryable(err error) bool {
	return !Fatal(err) && retryable(err)
}

// Fatal reports whether any error in err's chain has a `Fatal() bool`
// method returning true: retrying cannot help and would be unsafe (a
// changed SSH host key, a TLS certificate other than the pinned one). The
// runner never retries it, even when a wrapper marks it retryable, and
// polls stop at once.
func Fatal(err error) bool {
	return chainHas(err, func(e error) bool {
		f, ok := e.(interface{ Fatal() bool })
		return ok && f.Fatal()
	})
}

func retryable(err error) bool {
	return chainHas(err, func(e error) bool {
		r, ok := e.(interface{ Retryable() bool })
		return ok && r.Retryable()
	})
}

// chainHas reports whether is holds for err or any error it wraps (both
// Unwrap forms).
func chainHas(err error, is func(error) bool) bool {
	for err != nil {
		if is(err) {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if chainHas(e, is) {
					return true
				}
			}
			return false
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return false
		}
	}
	return false
}

// MarkRetryable wraps err so that Retryable reports true; nil stays nil.
func MarkRetryable(err error) error {
	if err == nil {
		return nil
	}
	return &retryableError{err}
}

type retryableError struct{ err error }

func (e *retryableError) Error() string   { return e.err.Error() }
func (e *retryableError) Unwrap() error   { return e.err }
func (e *retryableError) Retryable() bool { return true }

// ErrBug is matched (errors.Is) by *BugError.
var ErrBug = errors.New("bug in step")

// BugError says a step's Apply returned nil but its Check still says the
// effect is missing: the step is wrong, not the target.
type BugError struct {
	StepID string
	Detail string // what Check found after Apply
}

// Error says which step is wrong and what Check found.
func (e *BugError) Error() string {
	return fmt.Sprintf("bug in step %s: Apply reported success but Check still says not done (%s); please report this", e.StepID, e.Detail)
}

// Is makes errors.Is(err, ErrBug) true.
func (e *BugError) Is(target error) bool { return target == ErrBug }

// StepError is a step's failure as Run returns it.
type StepError struct {
	StepID string
	Err    error
}

// Error names the step and its error.
func (e *StepError) Error() string { return fmt.Sprintf("step %s: %v", e.StepID, e.Err) }

// Unwrap returns the step's error.
func (e *StepError) Unwrap() error { return e.Err }

// ErrPaused is returned by Run after Pause: running steps finished, no new
// step was started; run the plan again to continue.
var ErrPaused = errors.New("run paused")

// ErrAborted is matched by the error Run returns when the operator chose
// abort (policy ask) or the policy is abort.
var ErrAborted = errors.New("run aborted")
