package modules

import (
	"errors"
	"fmt"
	"strings"
)

// Severity of a finding.
type Severity string

// Severities, as upstream's check_json prints them.
const (
	SevError   Severity = "error"
	SevWarning Severity = "warning"
)

// Finding is one validation result. It names the file, the key path in the
// file as written (so a Pattern-A field points into its config block), what
// is wrong and how to fix it.
type Finding struct {
	File     string   `json:"file"`
	Path     string   `json:"path,omitempty"` // jq syntax: .config."cluster:vm".memory
	Severity Severity `json:"severity"`
	Message  string   `json:"message"`
	Fix      string   `json:"fix,omitempty"`
	// Rule names the check: "check_json:<check>" for what upstream's
	// check_json reports too, "tappaas:<check>" for checks it lacks.
	Rule string `json:"rule"`
}

// Upstream reports whether upstream's check_json reports this finding too.
func (f Finding) Upstream() bool { return strings.HasPrefix(f.Rule, "check_json:") }

// String renders "FILE: PATH: message (fix: …)".
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(f.File)
	if f.Path != "" {
		b.WriteString(": " + f.Path)
	}
	b.WriteString(": " + f.Message)
	if f.Fix != "" {
		b.WriteString(" (fix: " + f.Fix + ")")
	}
	return b.String()
}

// Report is the outcome of a validation: every finding at once.
type Report struct {
	Findings []Finding `json:"findings"`
}

// Errors returns the error findings.
func (r Report) Errors() []Finding { return r.filter(SevError) }

// Warnings returns the warning findings.
func (r Report) Warnings() []Finding { return r.filter(SevWarning) }

// OK reports whether there are no errors (warnings pass, as in check_json,
// common-install-routines.sh:958-967).
func (r Report) OK() bool { return len(r.Errors()) == 0 }

func (r Report) filter(s Severity) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Severity == s {
			out = append(out, f)
		}
	}
	return out
}

// ErrInvalid is wrapped by Report.Err.
var ErrInvalid = errors.New("module validation failed")

// Err is nil when OK, else an error listing every error finding.
func (r Report) Err() error {
	errs := r.Errors()
	if len(errs) == 0 {
		return nil
	}
	lines := make([]string, len(errs))
	for i, f := range errs {
		lines[i] = f.String()
	}
	return fmt.Errorf("%w: %d error(s):\n  %s", ErrInvalid, len(errs), strings.Join(lines, "\n  "))
}

func (r *Report) add(f Finding) { r.Findings = append(r.Findings, f) }
