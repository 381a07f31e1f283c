package pve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Sentinel errors; match with errors.Is.
var (
	// ErrNotFound: the object does not exist (HTTP 404, or PVE's 500
	// "… does not exist" / "no such …").
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: authentication failed (401) or the credentials lack
	// the permission (403, also matches ErrForbidden).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: permission check failed (403).
	ErrForbidden = errors.New("permission denied")
	// ErrNotImplemented: unknown path or method (501).
	ErrNotImplemented = errors.New("not implemented")
	// ErrNeedTicket: the call needs a root@pam ticket (LoginTicket) and the
	// client has only a token.
	ErrNeedTicket = errors.New("this call needs a root@pam ticket")
)

// APIError is any non-2xx reply of the PVE API. Message is PVE's error
// text (the body's "message", else the HTTP reason phrase).
type APIError struct {
	Method  string
	Path    string // API path without query (never contains secrets)
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
}

// Is maps statuses and PVE's texts to the sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	case ErrNotImplemented:
		return e.Status == http.StatusNotImplemented
	case ErrNotFound:
		if e.Status == http.StatusNotFound {
			return true
		}
		m := strings.ToLower(e.Message)
		return e.Status == http.StatusInternalServerError && (strings.Contains(m, "does not exist") || strings.Contains(m, "no such "))
	}
	return false
}

// Retryable reports transient failures (gateway and proxy errors, 429,
// PVE's 595/596 for an unreachable cluster member) and a 500 that only
// says a lock was not acquired in time, so nothing changed
// (proxmox/pve-cluster src/PVE/Cluster.pm cfs_lock: "cfs-lock '…' error:
// got lock request timeout"; proxmox/pve-common src/PVE/Tools.pm
// lock_file_full: "can't lock file '…' - got timeout"). Callers retry
// writes only after checking whether they landed (the step contract).
func (e *APIError) Retryable() bool {
	switch e.Status {
	case 429, 502, 503, 504, 595, 596:
		return true
	case http.StatusInternalServerError:
		return strings.Contains(e.Message, "got lock request timeout") || strings.Contains(e.Message, "' - got timeout")
	}
	return false
}

// ParamError is PVE's 400 "Parameter verification failed." with the
// per-parameter messages.
type ParamError struct {
	APIError
	Errors map[string]string // parameter → message
}

func (e *ParamError) Error() string {
	keys := make([]string, 0, len(e.Errors))
	for k := range e.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Errors[k]
	}
	if len(parts) == 0 {
		return e.APIError.Error()
	}
	return fmt.Sprintf("%s %s: %d %s (%s)", e.Method, e.Path, e.Status, strings.TrimSuffix(e.Message, "."), strings.Join(parts, "; "))
}

// Unwrap exposes the APIError (for Is on status).
func (e *ParamError) Unwrap() error { return &e.APIError }

// decodeError builds the typed error of a non-2xx reply.
func decodeError(method, path string, status int, reason string, body []byte) error {
	var env struct {
		Message string          `json:"message"`
		Errors  json.RawMessage `json:"errors"`
	}
	_ = json.Unmarshal(body, &env)
	msg := strings.TrimSpace(env.Message)
	if msg == "" {
		msg = strings.TrimSpace(reason)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	ae := APIError{Method: method, Path: path, Status: status, Message: msg}
	if len(env.Errors) > 0 && string(env.Errors) != "null" {
		var m map[string]any
		if json.Unmarshal(env.Errors, &m) == nil && len(m) > 0 {
			pe := &ParamError{APIError: ae, Errors: map[string]string{}}
			for k, v := range m {
				if s, ok := v.(string); ok {
					pe.Errors[k] = strings.TrimSpace(s)
				} else {
					b, _ := json.Marshal(v)
					pe.Errors[k] = string(b)
				}
			}
			return pe
		}
	}
	if status == http.StatusBadRequest {
		return &ParamError{APIError: ae, Errors: map[string]string{}}
	}
	return &ae
}

// TaskError is a PVE task that finished with an error exit status.
type TaskError struct {
	UPID       string
	Type       string // task type ("qmcreate", "clustercreate", …)
	ExitStatus string // PVE's exitstatus (the error text)
	LogTail    []string
}

func (e *TaskError) Error() string {
	return fmt.Sprintf("task %s failed: %s", e.Type, e.ExitStatus)
}
