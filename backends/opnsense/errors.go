package opnsense

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors; match with errors.Is.
var (
	// ErrNotFound: the record does not exist (GET answered [] or a delete
	// answered "not found").
	ErrNotFound = errors.New("opnsense: not found")
	// ErrUnauthorized: HTTP 401, the API key or secret is wrong.
	ErrUnauthorized = errors.New("opnsense: authentication failed (check the API key and secret)")
	// ErrForbidden: HTTP 403, the key's user lacks the privilege for the URL.
	ErrForbidden = errors.New("opnsense: forbidden (the API key's user lacks the privilege for this page)")
	// ErrEndpointNotFound: HTTP 404 "Endpoint not found" — the firmware has no
	// such module/controller/command (plugin not installed, wrong dialect).
	ErrEndpointNotFound = errors.New("opnsense: endpoint not found")
	// ErrUnsupported: the firmware's dialect lacks the feature; nothing was sent.
	ErrUnsupported = errors.New("opnsense: not supported by this firmware")
	// ErrFailed: the API answered result "failed" without validation details.
	ErrFailed = errors.New("opnsense: request failed")
)

// ValidationError is a {"result":"failed","validations":{…}} reply (HTTP 200).
// Fields maps "<monad>.<field>" to the message (several messages joined by
// "; ").
type ValidationError struct {
	Op     string            // e.g. "interfaces/vlan_settings/addItem"
	Fields map[string]string // "vlan.tag" → "Tag for this device must be unique."
}

// Error lists the failing fields in order.
func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "opnsense: %s: validation failed", e.Op)
	for i, k := range keys {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s: %s", k, e.Fields[k])
	}
	return b.String()
}

// Is makes errors.Is(err, ErrFailed) true for validation failures too.
func (e *ValidationError) Is(target error) bool { return target == ErrFailed }

// APIError is a non-200 reply (or a 200 with an unexpected shape). It unwraps
// to ErrUnauthorized, ErrForbidden or ErrEndpointNotFound where those apply.
type APIError struct {
	Op      string // "GET interfaces/vlan_settings/searchItem"
	Status  int    // HTTP status
	Message string // "message" or "errorMessage" of the body
	Title   string // "errorTitle" when present
	kind    error
}

// Error names the call, the status and the firewall's message.
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "no message"
	}
	if e.kind != nil {
		return fmt.Sprintf("%v: %s: HTTP %d: %s", e.kind, e.Op, e.Status, msg)
	}
	return fmt.Sprintf("opnsense: %s: HTTP %d: %s", e.Op, e.Status, msg)
}

// Unwrap returns the sentinel for the status, if any.
func (e *APIError) Unwrap() error { return e.kind }

// Retryable reports whether repeating the request may succeed (gateway
// errors while the firewall reloads its web GUI).
func (e *APIError) Retryable() bool {
	return e.Status == 502 || e.Status == 503 || e.Status == 504
}

// transportError wraps a network failure; retryable.
type transportError struct {
	op  string
	err error
}

func (e *transportError) Error() string   { return fmt.Sprintf("opnsense: %s: %v", e.op, e.err) }
func (e *transportError) Unwrap() error   { return e.err }
func (e *transportError) Retryable() bool { return true }
