package pve

import (
	"regexp"
	"strings"
	"sync"
	"time"
)

// Fault is one injected failure or slowdown.
type Fault struct {
	// Face is "api", "ssh", "pbs" or "" (any).
	Face string `json:"face,omitempty"`
	// Match selects the call: for the API "METHOD /path" (path relative to
	// /api2/json) as a prefix, e.g. "POST /nodes/tappaas1/qemu"; for SSH a
	// prefix of the command line, e.g. "qm start". Empty matches everything.
	Match string `json:"match,omitempty"`
	// Times is how often it fires (0 = once; -1 = always).
	Times int `json:"times,omitempty"`
	// Status is the HTTP status of an API failure (default 500).
	Status int `json:"status,omitempty"`
	// Message is the error text (default "lab: injected fault").
	Message string `json:"message,omitempty"`
	// Exit is the exit status of a failed command (default 1).
	Exit int `json:"exit,omitempty"`
	// Delay slows the call by this much (unscaled) instead of failing it.
	Delay time.Duration `json:"delay,omitempty"`
	// DropAt drops the SSH connection when the K-th SSH command (counted
	// from 1 over the lab's life) arrives; Match is ignored.
	DropAt int `json:"drop_at,omitempty"`
	// After applies the call first and fails only its reply: the API
	// write is done but the client sees the error (a proxy's 5xx after
	// the backend committed), the command ran but its status is lost;
	// with DropAt the link drops after the command ran, before its exit
	// status is sent.
	After bool `json:"after,omitempty"`
	// Skip lets the first Skip matching calls through: the fault hits the
	// (Skip+1)-th occurrence.
	Skip int `json:"skip,omitempty"`
}

// Faults is a set of armed faults. Safe for concurrent use.
type Faults struct {
	mu   sync.Mutex
	list []*armed
	cmds int
}

type armed struct {
	Fault
	fired, skipped int
}

// NewFaults arms the given faults.
func NewFaults(fs ...Fault) *Faults {
	f := &Faults{}
	for _, x := range fs {
		f.Add(x)
	}
	return f
}

// Add arms one more fault.
func (f *Faults) Add(x Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.list = append(f.list, &armed{Fault: x})
}

// Hit returns the fault that applies to this call (nil if none) and
// consumes one firing of it.
func (f *Faults) Hit(face, op string) *Fault {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.list {
		if a.DropAt > 0 || (a.Face != "" && a.Face != face) || !strings.HasPrefix(op, a.Match) {
			continue
		}
		limit := a.Times
		if limit == 0 {
			limit = 1
		}
		if limit > 0 && a.fired >= limit {
			continue
		}
		if a.skipped < a.Skip {
			a.skipped++
			continue
		}
		a.fired++
		c := a.Fault
		return &c
	}
	return nil
}

// Command counts one SSH command and reports whether the link must drop
// now, and if so whether after the command ran.
func (f *Faults) Command() (drop, after bool) {
	if f == nil {
		return false, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cmds++
	for _, a := range f.list {
		if a.DropAt > 0 && a.DropAt == f.cmds && a.fired == 0 {
			a.fired++
			return true, a.After
		}
	}
	return false, false
}

// Fired reports how often each fault fired, in the order they were armed.
func (f *Faults) Fired() []int {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]int, len(f.list))
	for i, a := range f.list {
		out[i] = a.fired
	}
	return out
}

// Entry is one access-log record.
type Entry struct {
	Time    time.Time         `json:"time"`
	Face    string            `json:"face"` // api, pbs, ssh
	Method  string            `json:"method,omitempty"`
	Path    string            `json:"path,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	Command string            `json:"command,omitempty"`
	User    string            `json:"user,omitempty"`
	Status  int               `json:"status"`
}

var secretParam = regexp.MustCompile(`(?i)(password|secret|token|ticket|key|cipassword|value)`)

// MaskParams replaces secret values.
func MaskParams(p map[string]string) map[string]string {
	if len(p) == 0 {
		return nil
	}
	out := make(map[string]string, len(p))
	for k, v := range p {
		if secretParam.MatchString(k) && k != "sshkeys" {
			v = "***"
		}
		out[k] = v
	}
	return out
}

var secretArg = regexp.MustCompile(`(?i)(--?(password|cipassword|secret|root-pw|token)[= ]+)('[^']*'|"[^"]*"|\S+)`)
var secretInline = regexp.MustCompile(`(?i)(PVEAPIToken=\S+=|PBSAPIToken[= ]\S+:|sshpass -p +)('[^']*'|\S+)`)

// MaskCommand hides secrets in a command line.
func MaskCommand(s string) string {
	s = secretArg.ReplaceAllString(s, "${1}***")
	return secretInline.ReplaceAllString(s, "${1}***")
}
